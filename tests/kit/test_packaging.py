"""The wheel that pip installs carries the module and, for type checkers, its stub package."""

from __future__ import annotations

import os
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


SPEC = ROOT / "spec"
# spec/'s tools that work on this repository's channels.py only, and its broken implementations.
REPOSITORY_ONLY = {"mutation.py", "mutation-survivors.md", "bugs.py", "power.py", "power.md", "broken"}


def build_kit(directory: Path) -> Path:
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run([*command, "-w", directory, ROOT / "conformance"], check=True, capture_output=True)
    (wheel,) = directory.glob("rendezvous_channels_conformance-*.whl")
    return wheel


@pytest.mark.clause("CONFORMANCE-KIT")
def test_the_kit_wheel_carries_spec_as_channels_conformance_and_nothing_else(tmp_path: Path) -> None:
    wheel = build_kit(tmp_path)
    tracked = subprocess.run(
        ["git", "ls-files", "spec"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split()
    expected = {
        f"channels_conformance/{Path(name).relative_to('spec').as_posix()}"
        for name in tracked
        if not REPOSITORY_ONLY & {Path(name).name, Path(name).parts[1]}
    }
    with zipfile.ZipFile(wheel) as archive:
        names = {name for name in archive.namelist() if ".dist-info/" not in name}
        assert names == expected | {"channels_conformance/LICENSE"}
        for name in expected:
            assert archive.read(name) == (SPEC / name.removeprefix("channels_conformance/")).read_bytes()
        metadata = archive.read(next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA")))
    assert b"\nName: rendezvous-channels-conformance\n" in metadata
    assert b"\nRequires-Dist: pytest" in metadata


@pytest.mark.clause("CONFORMANCE-KIT")
def test_the_installed_kit_runs_from_another_directory_and_replays_under_its_own_name(tmp_path: Path) -> None:
    wheel = build_kit(tmp_path / "wheel")
    site = tmp_path / "site"
    command = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", site]
    subprocess.run([*command, wheel], check=True, capture_output=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # A configuration that would fail the suite if it were read: the kit brings its own.
    (elsewhere / "pytest.ini").write_text("[pytest]\naddopts = --no-such-option\n", encoding="utf-8")
    environment = {**os.environ, "PYTHONPATH": str(site)}
    # -P: the directory of the command, or a stray spec/, must not be importable (3.11+).
    isolate = ["-P"] if sys.version_info >= (3, 11) else []
    selection = ["-k", "outside_the_model and asyncio"]
    run = subprocess.run(
        [sys.executable, *isolate, "-m", "channels_conformance", "--impl", ROOT / "channels.py", *selection],
        cwd=elsewhere,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"rootdir: {site / 'channels_conformance'}" in run.stdout  # not this checkout's spec/
    assert "warning" not in run.stdout.lower(), run.stdout
    script = subprocess.run(
        [
            sys.executable,
            *isolate,
            "-c",
            "from channels_conformance.conformance import script; print(script('x', False, []))",
        ],
        cwd=elsewhere,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert script.startswith("from channels_conformance.conformance import replay\n")
