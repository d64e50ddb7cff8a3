"""The traceability index: for every clause, where channels.py implements it and which tests prove it.

``python -m spec.traceability --write`` regenerates ``spec/traceability.txt``;
``python -m spec.traceability --check`` exits 1 when the checked-in index is
stale, or when a protocol clause has no code site or no test that names it
directly (tests/kit/test_traceability.py runs it).

* A *code site* is the function or class of channels.py, by qualified name,
  whose lines (code, comment or docstring) name the clause id. The module's
  docstring and its header comments name clauses too, but point nowhere.
* A *test* is a test function, by pytest node id (without the parameters),
  whose ``@pytest.mark.clause(...)`` marks carry the id, as pytest's own
  collection reports them: parametrised marks and marks of a class count.
  It names the clause *directly* when the id is written out literally in a
  ``clause(...)`` mark of its own source (its decorators) or of its
  ``pytest.param``, so that ``grep -rn '"ID"' tests spec`` lands on it; a
  mark spread from a tuple (``clause(*MODEL_CLAUSES)``) still lists the test
  but does not count as naming the clause.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import inspect
import io
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .clauses import CLAUSES, PROTOCOL

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "channels.py"
INDEX = Path(__file__).resolve().parent / "traceability.txt"
TEST_PATHS = ("tests", "spec")

_CLAUSE_ID = re.compile(r"\b[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*\b")
# A clause mark's argument list, which may span lines: ids written out in it name their clause directly.
_CLAUSE_MARK = re.compile(r"\bclause\(([^()]*)\)")


def _scopes(tree: ast.Module) -> Iterator[tuple[str, int, int]]:
    """(qualified name, first line, last line) of every function and class."""

    def walk(node: ast.AST, prefix: str) -> Iterator[tuple[str, int, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                yield name, first, child.end_lineno or child.lineno
                yield from walk(child, f"{name}.")
            else:
                yield from walk(child, prefix)

    return walk(tree, "")


def code_sites(source: str) -> dict[str, list[str]]:
    """Each clause id, and the qualified names of the innermost scopes whose lines name it."""
    scopes = list(_scopes(ast.parse(source)))
    sites: dict[str, list[str]] = {}
    for number, line in enumerate(source.splitlines(), start=1):
        ids = [found for found in _CLAUSE_ID.findall(line) if found in CLAUSES]
        enclosing = [(last - first, name) for name, first, last in scopes if first <= number <= last]
        if not ids or not enclosing:
            continue
        innermost = min(enclosing)[1]
        for clause in ids:
            names = sites.setdefault(clause, [])
            if innermost not in names:
                names.append(innermost)
    return sites


def _written_out(text: str) -> set[str]:
    """The clause ids written out literally in the ``clause(...)`` marks of ``text``."""
    return {
        found
        for arguments in _CLAUSE_MARK.findall(text)
        for found in re.findall(r'"([A-Z0-9-]+)"', arguments)
    }


class _MarkCollector:
    """A pytest plugin that records the clause marks of every collected test."""

    def __init__(self) -> None:
        self.marks: dict[str, set[str]] = {}  # test function node id -> clause ids
        self.direct: dict[str, set[str]] = {}  # ... -> those that its own marks write out

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        files: dict[Path, set[str]] = {}
        for item in items:
            function = item.nodeid.split("[", 1)[0]
            clauses = {str(arg) for mark in item.iter_markers("clause") for arg in mark.args}
            self.marks.setdefault(function, set()).update(clauses)
            written = (
                _written_out(inspect.getsource(item.obj)) if isinstance(item, pytest.Function) else set[str]()
            )
            callspec = getattr(item, "callspec", None)
            if callspec is not None:
                # A pytest.param's marks are written out in its file, beside the parameter.
                if item.path not in files:
                    files[item.path] = _written_out(item.path.read_text())
                own = {str(arg) for mark in callspec.marks if mark.name == "clause" for arg in mark.args}
                written |= own & files[item.path]
            self.direct.setdefault(function, set()).update(clauses & written)


def collect_marks(paths: tuple[str, ...] = TEST_PATHS) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Each test function's clause marks, and the ones it names directly, by pytest's own collection."""
    collector = _MarkCollector()
    arguments = ["--collect-only", "-qq", "-p", "no:cacheprovider", "--rootdir", str(ROOT)]
    report = io.StringIO()  # pytest's listing of what it collected, shown only if it failed
    with contextlib.redirect_stdout(report):
        code = pytest.main([*arguments, *(str(ROOT / path) for path in paths)], plugins=[collector])
    if code != pytest.ExitCode.OK:
        raise RuntimeError(
            f"pytest could not collect {' '.join(paths)} (exit code {code}):\n{report.getvalue()}"
        )
    return collector.marks, collector.direct


def render(sites: dict[str, list[str]], marks: dict[str, set[str]], direct: dict[str, set[str]]) -> str:
    lines = [
        "# The traceability index: every clause of spec/clauses.py, its code sites in channels.py",
        "# (qualified names) and the tests that mark it (pytest node ids; '*' names it directly in",
        "# its clause mark). Generated by `python -m spec.traceability --write`: do not edit.",
    ]
    for clause in CLAUSES.values():
        lines += ["", f"{clause.id} ({clause.kind})"]
        lines += [f"  code: {name}" for name in sites.get(clause.id, [])]
        tests = sorted(function for function, clauses in marks.items() if clause.id in clauses)
        lines += [f"  test: {function}{' *' if clause.id in direct[function] else ''}" for function in tests]
    return "\n".join(lines) + "\n"


def gaps(sites: dict[str, list[str]], marks: dict[str, set[str]], direct: dict[str, set[str]]) -> list[str]:
    """What the index lacks: a protocol clause without a code site, or without a test that
    names it; a test that marks no clause, or an id that is no clause."""
    named = set[str]().union(*direct.values())
    problems: list[str] = []
    for function, clauses in sorted(marks.items()):
        if not clauses:
            problems.append(f'{function}: marks no clause: mark it with @pytest.mark.clause("ID", ...)')
        problems += [
            f"{function}: marks {clause!r}, which is no clause" for clause in sorted(clauses - set(CLAUSES))
        ]
    for clause in CLAUSES.values():
        if clause.kind != PROTOCOL:
            continue
        if clause.id not in sites:
            problems.append(f"{clause.id}: no function or class of channels.py names it")
        if clause.id not in named:
            problems.append(f'{clause.id}: no test names it in a mark: @pytest.mark.clause("{clause.id}")')
    return problems


def build() -> tuple[str, list[str]]:
    """The index as it should read, and its gaps."""
    sites = code_sites(SOURCE.read_text())
    marks, direct = collect_marks()
    return render(sites, marks, direct), gaps(sites, marks, direct)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m spec.traceability", description=(__doc__ or "").split("\n\n")[0]
    )
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help=f"write {INDEX.relative_to(ROOT)}")
    action.add_argument("--check", action="store_true", help="exit 1 if the index is stale or has gaps")
    options = parser.parse_args(argv)
    index, problems = build()
    if options.write:
        INDEX.write_text(index)
    elif INDEX.read_text() != index:
        problems.insert(0, f"{INDEX.relative_to(ROOT)} is stale: run python -m spec.traceability --write")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
