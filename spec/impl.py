"""Load the implementation under test: a dotted module name or a path to a .py file."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

DEFAULT = "channels"


def not_installed(package: str) -> str:
    """Why the checks that need ``package`` (trio or anyio) were not run, and how to run them."""
    return (
        f"BACKENDS: {package} is not installed, so its checks do not run "
        "(to run them: pip install 'rendezvous-channels-conformance[trio]')"
    )


def load(name: str = DEFAULT) -> ModuleType:
    if name.endswith(".py") or "/" in name or "\\" in name:
        path = Path(name).resolve()
        spec = importlib.util.spec_from_file_location(f"channels_under_test_{path.stem}", path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load an implementation from {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(name)
    missing = [attr for attr in ("Channel", "StreamChannel") if not hasattr(module, attr)]
    if missing:
        raise ImportError(f"{name} does not define {', '.join(missing)}")
    return module
