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

import channels  # noqa: E402

project = "channels"
author = "The channels maintainers"
copyright = "the channels maintainers"
release = version = channels.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "protocol",
    "includes",
]

# `text` in the model's clause strings is code, as in Markdown.
default_role = "code"
exclude_patterns = ["_build", "_placeholder", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []
html_static_path = ["_static"]
html_css_files = ["channels.css"]
html_theme = "furo"
html_title = f"channels {release}"
html_show_sourcelink = False
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
