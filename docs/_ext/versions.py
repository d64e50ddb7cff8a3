"""Released and unreleased, told apart on every page.

The docs are built from a checkout, which may be ahead of the last release.
``docs/changelog.rst`` says by how much: its version sections, newest first,
may start with an ``Unreleased`` section, and the first numbered section is
the last release. From it:

* :func:`release_label` gives the version the sidebar shows: ``1.0.0``, or
  ``1.0.0 + unreleased changes`` while the changelog has an ``Unreleased``
  section;
* the build warns (an error under ``-W``) when the last release of the
  changelog is not ``channels.__version__``, or when a ``versionadded:: next``
  marker stands on a page while the changelog has no ``Unreleased`` section
  (a release must turn each ``next`` into its number, as CPython's docs do);
* ``.. versionadded:: next`` and ``.. versionchanged:: next`` mark what is
  newer than the last release, and read "New since 1.0.0, not released yet".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.domains.changeset import VersionChange
from sphinx.util import logging

logger = logging.getLogger(__name__)

CHANGELOG = "changelog.rst"  # in the docs' source directory
UNRELEASED = "Unreleased"
NEXT = "next"
_SECTION = re.compile(r"^(?P<title>[^\n]+)\n-{3,}\s*$", re.M)
_VERSION = re.compile(r"^\d+\.\d+\.\d+\b")


@dataclass(frozen=True)
class Changelog:
    last_release: str | None  # the newest numbered section
    unreleased: bool  # an Unreleased section comes before it


def read_changelog(path: Path) -> Changelog:
    """The version sections of the changelog (underlined with ``-``), newest first."""
    titles = [match["title"].strip() for match in _SECTION.finditer(path.read_text(encoding="utf-8"))]
    versions = [title for title in titles if title == UNRELEASED or _VERSION.match(title)]
    released = [title for title in versions if title != UNRELEASED]
    last = _VERSION.match(released[0]) if released else None
    return Changelog(last[0] if last else None, bool(versions) and versions[0] == UNRELEASED)


def release_label(changelog: Changelog, version: str) -> str:
    return f"{version} + unreleased changes" if changelog.unreleased else version


class NextAwareVersionChange(VersionChange):
    """``versionadded``/``versionchanged``, where the version ``next`` is the unreleased one."""

    def run(self) -> list[nodes.Node]:
        if self.arguments[0] != NEXT:
            return super().run()
        changelog = read_changelog(self.env.srcdir / CHANGELOG)
        if not changelog.unreleased:
            logger.warning(
                "'%s:: next' while the changelog has no Unreleased section: give the released version",
                self.name,
                location=self.get_location(),
            )
        result = super().run()
        verb = "New" if self.name == "versionadded" else "Changed"
        shown = f"{verb} since {changelog.last_release}, not released yet"
        for label in result[0].findall(nodes.inline):
            if "versionmodified" in label["classes"]:
                ending = label.astext()[-2:] if label.astext().endswith(": ") else "."
                label.clear()
                label += nodes.Text(shown + ending)
                break
        return result


def _check_release(app: Sphinx, _config: Any) -> None:
    changelog = read_changelog(app.srcdir / CHANGELOG)
    if changelog.last_release != app.config.version:
        logger.warning(
            "the changelog's last release is %s, channels.__version__ is %s: "
            "a release adds its section to docs/changelog.rst and sets the version together",
            changelog.last_release,
            app.config.version,
        )


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("config-inited", _check_release)
    app.add_directive("versionadded", NextAwareVersionChange, override=True)
    app.add_directive("versionchanged", NextAwareVersionChange, override=True)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
