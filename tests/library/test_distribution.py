"""The wheel that pip installs carries the module and, for type checkers, its stub package."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.clause("TYPED-GENERICS")
def test_the_wheel_carries_the_module_and_its_stub_package(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run([*command, "-w", tmp_path, ROOT], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("rendezvous_channels-*.whl")
    source = (ROOT / "channels.py").read_bytes()
    with zipfile.ZipFile(wheel) as archive:
        # PEP 561 has no marker for one module: the stub package is how mypy finds the types.
        assert archive.read("channels.py") == source
        assert archive.read("channels-stubs/__init__.pyi") == source
