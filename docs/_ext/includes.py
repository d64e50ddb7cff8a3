"""Include files that other parts of the project generate, guarded.

``.. optional-literalinclude:: ../spec/adapters/sav_channels_04.report.txt``
    with ``:fallback: PATH`` (optional): the first file that
    exists is shown; when it is the fallback, a note says so.

``.. optional-markdown:: ../bench/results/results.md``
    the file parsed by myst-parser (its images included); while it does
    not exist, a note tells how to produce it (``:missing:``).

Paths are relative to the page, as with ``literalinclude``. A missing file
is no warning: the page is simply re-read on every build until it exists.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

logger = logging.getLogger(__name__)


# A directive's options: each name with the function that converts its text (docutils' option_spec).
OptionSpec = dict[str, Callable[[str], Any]]

_MISSING_OPTION: OptionSpec = {"missing": directives.unchanged}


class _Optional(SphinxDirective):
    required_arguments = 1
    option_spec: ClassVar[OptionSpec | None] = _MISSING_OPTION

    def resolve(self, argument: str) -> tuple[str, Path]:
        rel, absolute = self.env.relfn2path(argument, self.env.docname)
        # A missing dependency makes Sphinx re-read the page on every build.
        self.env.note_dependency(absolute)
        return rel, Path(absolute)

    def missing(self, rel: str, default: str) -> list[nodes.Node]:
        note = nodes.admonition(classes=["note", "not-yet-generated"])
        note += nodes.title(text="Not generated yet")
        text = self.options.get("missing", default)
        paragraph = nodes.paragraph()
        shown = rel.removeprefix("../")  # the path from the repository root
        parsed, messages = self.state.inline_text(text.replace("{path}", f"``{shown}``"), self.lineno)
        paragraph.extend(parsed)
        note += paragraph
        return [note, *messages]


class OptionalLiteralInclude(_Optional):
    option_spec: ClassVar[OptionSpec | None] = {
        **_MISSING_OPTION,
        "clause-headings": directives.unchanged,
        "class": directives.class_option,
        "fallback": directives.unchanged,
        "language": directives.unchanged,
    }

    def run(self) -> list[nodes.Node]:
        rel, path = self.resolve(self.arguments[0])
        out: list[nodes.Node] = []
        if not path.is_file() and "fallback" in self.options:
            fallback_rel, fallback = self.resolve(self.options["fallback"])
            if fallback.is_file():
                note = nodes.admonition(classes=["note", "placeholder"])
                note += nodes.title(text="Placeholder")
                note += nodes.paragraph(
                    "",
                    "",
                    nodes.Text(
                        f"{self.arguments[0].lstrip('./')} has not been generated yet; this page shows "
                    ),
                    nodes.literal(text=f"docs/{fallback_rel}"),
                    nodes.Text(" in its place, which has the same form."),
                )
                out.append(note)
                rel, path = fallback_rel, fallback
        if not path.is_file():
            return self.missing(rel, "{path} does not exist yet.")
        text = path.read_text(encoding="utf-8")
        prefix = self.options.get("clause-headings")
        if prefix:
            # A report made of sections headed "<prefix>CLAUSE-ID": list them,
            # linked to their clauses (an unknown id is a warning).
            ids = [line[len(prefix) :].strip() for line in text.splitlines() if line.startswith(prefix)]
            if ids:
                summary = f"{len(ids)} sections, one per violated clause: " + ", ".join(
                    f":clause:`{i}`" for i in ids
                )
                parsed, messages = self.state.inline_text(summary + ".", self.lineno)
                out.append(nodes.paragraph("", "", *parsed))
                out.extend(messages)
        block = nodes.literal_block(text, text, source=str(path), classes=self.options.get("class", []))
        block["language"] = self.options.get("language", "text")
        out.append(block)
        return out


class OptionalMarkdown(_Optional):
    """A Markdown file parsed by myst-parser, as ``.. include:: :parser: myst_parser.sphinx_`` does.

    Its headings become sections below the one the directive stands in, and
    its images' paths, which are relative to the Markdown file, are made
    relative to the source directory, where Sphinx looks for them.
    """

    def run(self) -> list[nodes.Node]:
        rel, path = self.resolve(self.arguments[0])
        if not path.is_file():
            return self.missing(rel, "{path} does not exist yet.")
        include = [f".. include:: {self.arguments[0]}", "   :parser: myst_parser.sphinx_"]
        parsed = nodes.Element()
        nested_parse_with_titles(self.state, StringList(include, source=self.get_source_info()[0]), parsed)
        folder = Path(rel).parent.as_posix()  # rel is relative to the source directory
        for image in parsed.findall(nodes.image):
            if "://" not in image["uri"] and not image["uri"].startswith("/"):
                image["uri"] = f"/{folder}/{image['uri']}"
        for table in parsed.findall(nodes.table):
            table["classes"].append("included-markdown")
        return list(parsed.children)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("optional-literalinclude", OptionalLiteralInclude)
    app.add_directive("optional-markdown", OptionalMarkdown)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
