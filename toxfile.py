"""Let tox find the interpreters that pyenv installed, even off PATH.

tox looks for ``python3.X`` on PATH; this adds the pythons under the pyenv
root (``$PYENV_ROOT`` or ``~/.pyenv``) to its discovery, unless ``--discover``
was given. Interpreters that exist nowhere are skipped (tox.ini).
"""

from __future__ import annotations

import os
from glob import glob
from typing import Any

from tox.plugin import impl


@impl
def tox_add_core_config(core_conf: Any, state: Any) -> None:
    options = state.conf.options
    if getattr(options, "discover", None):
        return
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    options.discover = sorted(glob(os.path.join(root, "versions", "3.*", "bin", "python3")))
