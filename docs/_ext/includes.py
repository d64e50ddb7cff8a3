"""Include files that other parts of the project generate, guarded.

``.. optional-literalinclude:: ../spec/adapters/sav_channels_04.report.txt``
    with ``:fallback: PATH`` (optional): the first file that
    exists is shown; when it is the fallback, a note says so.

``.. optional-markdown:: ../bench/results/results.md``
    renders a small subset of Markdown (headings, paragraphs, pipe tables,
    bullet lists, fenced code, images, inline code, emphasis, links), so
    that the docs need no Markdown parser; while the file does not exist,
    a note tells how to produce it.

``.. optional-figure:: ../bench/results/results.png``
    an image with a caption (the content), or the same kind of note.

Paths are relative to the page, as with ``literalinclude``. A missing file
is no warning: the page is simply re-read on every build until it exists.
"""

from __future__ import annotations

import re
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


class _Optional(SphinxDirective):
    required_arguments = 1
    option_spec: ClassVar[dict[str, Any]] = {"missing": directives.unchanged}

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
    option_spec: ClassVar[dict[str, Any]] = {
        **_Optional.option_spec,
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


class OptionalFigure(_Optional):
    has_content = True
    option_spec: ClassVar[dict[str, Any]] = {
        **_Optional.option_spec,
        "clause-headings": directives.unchanged,
        "class": directives.class_option,
        "alt": directives.unchanged,
        "width": directives.unchanged,
    }

    def run(self) -> list[nodes.Node]:
        rel, path = self.resolve(self.arguments[0])
        if not path.is_file():
            return self.missing(rel, "{path} does not exist yet.")
        figure = nodes.figure()
        # Sphinx's image collector resolves the uri, as for ``.. figure::``.
        image = nodes.image(uri=self.arguments[0], alt=self.options.get("alt", ""))
        if "width" in self.options:
            image["width"] = self.options["width"]
        figure += image
        if self.content:
            caption = nodes.caption()
            parsed, messages = self.state.inline_text(" ".join(self.content), self.lineno)
            caption.extend(parsed)
            figure += caption
            figure += messages
        return [figure]


# -- a small Markdown subset, converted to reStructuredText -------------------

_CODE = re.compile(r"`([^`]+)`")
_LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)")
_IMAGE = re.compile(r"^!\[([^\]]*)\]\(([^)\s]+)\)\s*$")


def _inline(text: str) -> str:
    parts = re.split(r"(`[^`]+`)", text)
    out = []
    for part in parts:
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            out.append(f"``{part[1:-1]}``")
        else:
            part = _LINK.sub(lambda m: f"`{m.group(1)} <{m.group(2)}>`__", part)
            part = part.replace("|", "\\|")
            out.append(part)
    return "".join(out)


def _cells(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|"):
        line = line[:-1]
    return [c.strip() for c in re.split(r"(?<!\\)\|", line)]


def markdown_to_rst(text: str, image_base: str) -> list[str]:
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped:
            i += 1
            continue
        if stripped.startswith("```"):
            language = stripped[3:].strip() or "text"
            i += 1
            body = []
            while i < len(lines) and not lines[i].strip().startswith("```"):
                body.append(lines[i])
                i += 1
            i += 1
            out += [f".. code-block:: {language}", ""] + ["   " + b for b in body] + [""]
            continue
        heading = re.match(r"^(#{1,6})\s+(.*?)\s*#*$", stripped)
        if heading:
            out += [f".. rubric:: {_inline(heading.group(2))}", ""]
            i += 1
            continue
        image = _IMAGE.match(stripped)
        if image:
            uri = image.group(2)
            if "://" not in uri:
                uri = f"{image_base}/{uri}"
            out += [f".. image:: {uri}", f"   :alt: {image.group(1)}", ""]
            i += 1
            continue
        if stripped.startswith("|") and i + 1 < len(lines) and re.match(r"^\s*\|?\s*:?-{3,}", lines[i + 1]):
            header = _cells(stripped)
            rows = []
            i += 2
            while i < len(lines) and lines[i].strip().startswith("|"):
                rows.append(_cells(lines[i]))
                i += 1
            out += [".. list-table::", "   :header-rows: 1", "   :class: bench-results", ""]
            for row in [header, *rows]:
                row = (row + [""] * len(header))[: len(header)]
                for k, cell in enumerate(row):
                    out.append(f"   {'*' if k == 0 else ' '} - {_inline(cell) or '..'}")
            out.append("")
            continue
        if re.match(r"^[-*+]\s+", stripped):
            while i < len(lines) and lines[i].strip():
                item = lines[i].strip()
                if re.match(r"^[-*+]\s+", item):
                    out.append("* " + _inline(re.sub(r"^[-*+]\s+", "", item)))
                else:
                    out.append("  " + _inline(item))
                i += 1
            out.append("")
            continue
        paragraph = []
        while i < len(lines) and lines[i].strip() and not lines[i].strip().startswith(("#", "|", "```")):
            paragraph.append(_inline(lines[i].strip()))
            i += 1
        if not paragraph:  # a stray table row or similar: keep it as text
            paragraph.append(_inline(stripped))
            i += 1
        out += [" ".join(paragraph), ""]
    return out


class OptionalMarkdown(_Optional):
    def run(self) -> list[nodes.Node]:
        rel, path = self.resolve(self.arguments[0])
        if not path.is_file():
            return self.missing(rel, "{path} does not exist yet.")
        image_base = str(Path(rel).parent.as_posix())
        if not image_base.startswith("/"):
            image_base = "/" + image_base  # relative to the source directory
        rst = markdown_to_rst(path.read_text(encoding="utf-8"), image_base)
        container = nodes.container(classes=["included-markdown"])
        nested_parse_with_titles(self.state, StringList(rst, source=str(path)), container)
        return [container]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("optional-literalinclude", OptionalLiteralInclude)
    app.add_directive("optional-markdown", OptionalMarkdown)
    app.add_directive("optional-figure", OptionalFigure)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
