"""Sphinx configuration: html with the furo theme, and the doctest builder.

Builds offline: no intersphinx. The state diagrams are laid out by Graphviz's
``dot`` (the Debian package ``graphviz``), which ``_ext/protocol.py`` runs on
graphs it draws from ``spec/model.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# channels.py and spec/ are imported from this checkout, never from site-packages.
sys.path[:0] = [str(ROOT), str(DOCS / "_ext")]

from versions import read_changelog, release_label  # noqa: E402

import channels  # noqa: E402

project = "channels"
author = "The channels maintainers"
copyright = "the channels maintainers"
# version: the last release, which channels.py states (the build checks that the
# changelog agrees); release: what these pages describe, which may be ahead of it.
version = channels.__version__
release = release_label(read_changelog(DOCS / "changelog.rst"), version)

# The repository and its issue tracker, as in pyproject.toml's [project.urls].
repository = "https://github.com/rendezvous-channels/channels"
issues = f"{repository}/issues"
# `repository`_ and `issue tracker`_ on any page.
rst_epilog = f"""
.. _repository: {repository}
.. _issue tracker: {issues}
"""

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "myst_parser",
    "protocol",
    "includes",
    "versions",
]

# `text` in the model's clause strings is code, as in Markdown.
default_role = "code"
# README.md is for the repository's readers (myst-parser would make it a page).
exclude_patterns = ["_build", "_placeholder", "Thumbs.db", ".DS_Store", "README.md"]
templates_path: list[str] = []
html_static_path = ["_static"]
html_css_files = ["channels.css"]
html_theme = "furo"
html_title = f"channels {release}"
html_show_sourcelink = False
# GitHub's mark, as furo's documentation gives it for footer_icons.
_GITHUB_MARK = (
    '<svg stroke="currentColor" fill="currentColor" stroke-width="0" viewBox="0 0 16 16">'
    '<path fill-rule="evenodd" d="M8 0C3.58 0 0 3.58 0 8c0 3.54 2.29 6.53 5.47 7.59.4.07.55-.17'
    ".55-.38 0-.19-.01-.82-.01-1.49-2.01.37-2.53-.49-2.69-.94-.09-.23-.48-.94-.82-1.13-.28-.15-.68"
    "-.52-.01-.53.63-.01 1.08.58 1.23.82.72 1.21 1.87.87 2.33.66.07-.52.28-.87.51-1.07-1.78-.2-3.64"
    "-.89-3.64-3.95 0-.87.31-1.59.82-2.15-.08-.2-.36-1.02.08-2.12 0 0 .67-.21 2.2.82.64-.18 1.32-.27"
    " 2-.27.68 0 1.36.09 2 .27 1.53-1.04 2.2-.82 2.2-.82.44 1.1.16 1.92.08 2.12.51.56.82 1.27.82 2.15"
    " 0 3.07-1.87 3.75-3.65 3.95.29.25.54.73.54 1.48 0 1.07-.01 1.93-.01 2.2 0 .21.15.46.55.38A8.013"
    ' 8.013 0 0 0 16 8c0-4.42-3.58-8-8-8z"></path></svg>'
)
html_theme_options = {
    # "View this page" and "Edit this page" on every page.
    "source_repository": repository + "/",
    "source_branch": "main",
    "source_directory": "docs/",
    "footer_icons": [
        {"name": "Repository", "url": repository, "html": _GITHUB_MARK, "class": ""},
    ],
}
pygments_style = "sphinx"
pygments_dark_style = "monokai"

# -- autodoc --------------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autodoc_default_options = {"members": True, "show-inheritance": True}

# -- doctest: every snippet of the tutorial and the recipes runs ----------------
# Every snippet runs as pasted: nothing but the checkout's root on the path, and
# no import made for it (sys is for the :skipif: options, which Sphinx evaluates
# in the setup's namespace).
doctest_path = [str(ROOT)]
doctest_global_setup = """
import sys
"""
doctest_test_doctest_blocks = ""  # only the explicit testcode/testoutput pairs

# -- the protocol pages (_ext/protocol.py) --------------------------------------
protocol_root = str(ROOT)
protocol_model = "spec.model"
protocol_test_dirs = ["tests", "spec"]
# Transition tables beyond TRANSITIONS, if the model defines them: name -> number prefix.
protocol_extra_transitions = {"STREAM_TRANSITIONS": "S"}
# Tables whose closure under the model the build checks -> ChannelModel()/events() arguments.
protocol_closure = {"TRANSITIONS": {"stream": False}, "STREAM_TRANSITIONS": {"stream": True}}
graphviz_output_format = "svg"  # the protocol diagrams link each state to its transitions
