"""Every Python snippet of the docs and of README.md passes ``mypy --strict``.

The doctest build runs the snippets; this checks their types, as a reader's
own checker would once they are pasted: each snippet is one module, checked
against this checkout's ``channels.py``. A snippet marked
``:skipif: sys.version_info < (3, N)`` is checked for Python 3.N, the others
for the oldest Python that ``channels`` supports.

It runs wherever mypy is installed, and in ``tox -e type`` (skipped elsewhere).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if not (ROOT / "docs").is_dir():
    # The sdist carries tests/ but not docs/.
    pytest.skip("the docs are not in this tree", allow_module_level=True)
OLDEST_PYTHON = (3, 10)
# The directives whose content is a whole Python program.
_PYTHON_DIRECTIVE = re.compile(
    r"^(?P<indent>[ \t]*)\.\. (?:testcode::.*|(?:code-block|code|sourcecode):: +(?:python|python3|py))\s*$"
)
_OPTION = re.compile(r"^\s*:[\w-]+:")
_SKIPIF_VERSION = re.compile(r":skipif: +sys\.version_info *< *\((\d+), *(\d+)\)")
_MARKDOWN_FENCE = re.compile(r"^```(?:python|python3|py)\s*$")


@dataclass(frozen=True)
class Snippet:
    source: Path
    line: int  # of the snippet's first line of code in its file
    code: str
    python: tuple[int, int]

    @property
    def name(self) -> str:
        return f"{self.source.relative_to(ROOT)}:{self.line}"

    @property
    def module(self) -> str:
        stem = re.sub(r"\W", "_", self.source.stem.lower())
        return f"snippet_{stem}_{self.line}"


def rst_snippets(path: Path) -> list[Snippet]:
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Snippet] = []
    for index, line in enumerate(lines):
        directive = _PYTHON_DIRECTIVE.match(line)
        if not directive:
            continue
        indent = len(directive["indent"].expandtabs())
        python = OLDEST_PYTHON
        body = index + 1
        while body < len(lines) and _OPTION.match(lines[body]):
            if version := _SKIPIF_VERSION.search(lines[body]):
                python = (int(version[1]), int(version[2]))
            body += 1
        end = body
        while end < len(lines) and (
            not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > indent
        ):
            end += 1
        while end > body and not lines[end - 1].strip():
            end -= 1
        first = next(n for n in range(body, end) if lines[n].strip())
        code = textwrap.dedent("\n".join(lines[first:end])) + "\n"
        found.append(Snippet(path, first + 1, code, python))
    return found


def markdown_snippets(path: Path) -> list[Snippet]:
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Snippet] = []
    start: int | None = None
    for index, line in enumerate(lines):
        if start is None and _MARKDOWN_FENCE.match(line):
            start = index + 1
        elif start is not None and line.startswith("```"):
            found.append(Snippet(path, start + 1, "\n".join(lines[start:index]) + "\n", OLDEST_PYTHON))
            start = None
    return found


def snippets() -> list[Snippet]:
    found = [snippet for page in sorted((ROOT / "docs").glob("*.rst")) for snippet in rst_snippets(page)]
    return found + markdown_snippets(ROOT / "README.md")


SNIPPETS = snippets()


@pytest.mark.clause("DOCS-SNIPPETS-TYPED")
def test_the_docs_have_snippets_to_check() -> None:
    # The extraction must find the pages' programs: the front page's first of all.
    pages = {snippet.source.name for snippet in SNIPPETS}
    assert {"index.rst", "tutorial.rst", "recipes.rst", "README.md"} <= pages
    assert all("import" in snippet.code for snippet in SNIPPETS)


@pytest.fixture(scope="module")
def mypy_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Each snippet's errors, from one mypy run per Python version that the snippets target."""
    pytest.importorskip("mypy", reason="mypy checks the snippets in tox -e type")
    folder = tmp_path_factory.mktemp("snippets")
    errors: dict[str, list[str]] = {snippet.module: [] for snippet in SNIPPETS}
    by_module = {snippet.module: snippet for snippet in SNIPPETS}
    for python in sorted({snippet.python for snippet in SNIPPETS}):
        files: list[Path] = []
        for snippet in SNIPPETS:
            if snippet.python == python:
                files.append(folder / f"{snippet.module}.py")
                files[-1].write_text(snippet.code, encoding="utf-8")
        checked = subprocess.run(
            [
                sys.executable,
                "-m",
                "mypy",
                "--strict",
                "--python-version",
                f"{python[0]}.{python[1]}",
                "--cache-dir",
                str(folder / ".mypy_cache"),
                "--no-error-summary",
                "--show-error-codes",
                *map(str, files),
            ],
            capture_output=True,
            text=True,
            # This checkout's channels.py, before any installed copy.
            env={**os.environ, "MYPYPATH": str(ROOT)},
            cwd=folder,  # no configuration file: the snippets are the reader's code, not ours
            check=False,
        )
        if checked.returncode not in (0, 1) or checked.stderr.strip():
            pytest.fail(f"mypy did not run: {checked.stderr or checked.stdout}")
        for report in checked.stdout.splitlines():
            where, _, message = report.partition(": ")
            file, _, line = where.partition(":")
            snippet = by_module[Path(file).stem]
            shown_line = snippet.line + int(line.partition(":")[0]) - 1
            errors[snippet.module].append(f"{snippet.source.relative_to(ROOT)}:{shown_line}: {message}")
    return errors


@pytest.mark.clause("DOCS-SNIPPETS-TYPED")
@pytest.mark.parametrize("snippet", SNIPPETS, ids=lambda snippet: snippet.name)
def test_snippet_passes_mypy_strict(snippet: Snippet, mypy_errors: dict[str, list[str]]) -> None:
    if mypy_errors[snippet.module]:
        pytest.fail("\n".join(mypy_errors[snippet.module]), pytrace=False)
