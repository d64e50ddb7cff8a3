"""The kit's wheel carries spec/ alone, and, installed, gives a correct implementation its true verdict.

The kit is installed as an implementer installs it: in a fresh virtual
environment, from the wheel built from conformance/, with its dependencies from
the package index. It is run, whole, on a copy of channels.py under another name
in a directory outside this repository, from that directory: with the ``trio``
extra the verdict is "conforms" on both backends; without it, "conforms" and a
line that says what was not checked and how to install it. The two environments
are built once per test session and shared by the tests of this file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "spec"
# spec/'s tools that work on this repository's channels.py only, and its broken implementations.
REPOSITORY_ONLY = {"mutation.py", "mutation-survivors.md", "bugs.py", "power.py", "power.md", "broken"}
# The name the copy of channels.py goes by: nothing of this repository is called so.
RIVAL = "rival_channels.py"


def build_kit(directory: Path) -> Path:
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run([*command, "-w", directory, ROOT / "conformance"], check=True, capture_output=True)
    (wheel,) = directory.glob("rendezvous_channels_conformance-*.whl")
    return wheel


@pytest.fixture(scope="session")
def kit_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_kit(tmp_path_factory.mktemp("kit-wheel"))


def fresh_environment(directory: Path, requirement: str) -> Path:
    """The python of a new virtual environment in ``directory`` into which pip installed ``requirement``."""
    subprocess.run([sys.executable, "-m", "venv", directory], check=True, capture_output=True)
    python = directory / ("Scripts" if os.name == "nt" else "bin") / "python"
    subprocess.run([python, "-m", "pip", "install", "-q", requirement], check=True, capture_output=True)
    return python


@pytest.fixture(scope="session")
def kit_python(tmp_path_factory: pytest.TempPathFactory, kit_wheel: Path) -> Path:
    """An environment with the kit and its required dependencies alone: no trio, no anyio."""
    return fresh_environment(tmp_path_factory.mktemp("kit-venv"), str(kit_wheel))


@pytest.fixture(scope="session")
def kit_python_with_trio(tmp_path_factory: pytest.TempPathFactory, kit_wheel: Path) -> Path:
    return fresh_environment(tmp_path_factory.mktemp("kit-trio-venv"), f"{kit_wheel}[trio]")


@pytest.fixture(scope="session")
def rival(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A correct implementation that is not ours by name: channels.py copied outside this repository."""
    copy = tmp_path_factory.mktemp("elsewhere") / RIVAL
    shutil.copyfile(ROOT / "channels.py", copy)
    assert not copy.resolve().is_relative_to(ROOT)
    return copy


def run_kit(python: Path, directory: Path, *arguments: str | Path) -> subprocess.CompletedProcess[str]:
    """``python -m channels_conformance ARGUMENTS`` in ``directory``, as an implementer runs it there."""
    # Nothing of this test's environment reaches the kit: not our checkout on PYTHONPATH, not the
    # development mode of tox's envs; the Hypothesis profile is the kit's default one.
    environment = {
        name: value for name, value in os.environ.items() if name not in {"PYTHONPATH", "PYTHONDEVMODE"}
    }
    environment["HYPOTHESIS_PROFILE"] = "dev"
    # -P: the directory of the command, or a stray spec/, must not be importable (3.11+).
    isolate: list[str] = ["-P"] if sys.version_info >= (3, 11) else []
    return subprocess.run(
        [python, *isolate, "-m", "channels_conformance", *arguments],
        cwd=directory,
        env=environment,
        capture_output=True,
        text=True,
    )


def not_checked(output: str) -> list[str]:
    """The lines that say what was not checked: each "not checked:" line and the indented ones after it."""
    lines: list[str] = []
    inside = False
    for line in output.splitlines():
        inside = line.startswith("not checked:") or (inside and line.startswith((" ", "\t")))
        if inside:
            lines.append(line)
    return lines


@pytest.mark.clause("CONFORMANCE-KIT")
def test_the_kit_wheel_carries_spec_as_channels_conformance_and_nothing_else(kit_wheel: Path) -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "spec"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split()
    expected = {
        f"channels_conformance/{Path(name).relative_to('spec').as_posix()}"
        for name in tracked
        if not REPOSITORY_ONLY & {Path(name).name, Path(name).parts[1]}
    }
    with zipfile.ZipFile(kit_wheel) as archive:
        names = {name for name in archive.namelist() if ".dist-info/" not in name}
        assert names == expected | {"channels_conformance/LICENSE"}
        for name in expected:
            assert archive.read(name) == (SPEC / name.removeprefix("channels_conformance/")).read_bytes()
        metadata = archive.read(next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA")))
    assert b"\nName: rendezvous-channels-conformance\n" in metadata
    assert b"\nRequires-Dist: pytest" in metadata


@pytest.mark.clause("CONFORMANCE-KIT", "BACKENDS")
def test_the_whole_kit_without_trio_says_a_correct_copy_conforms_and_what_it_did_not_check(
    kit_python: Path, rival: Path
) -> None:
    run = run_kit(kit_python, rival.parent, "--impl", RIVAL)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert f"{RIVAL} conforms" in output
    assert "violates" not in output
    # What was not checked is said apart from the verdict, with how to check it.
    unchecked = "\n".join(not_checked(output))
    assert "trio" in unchecked, output
    assert "install" in unchecked, output


@pytest.mark.clause("CONFORMANCE-KIT", "BACKENDS")
def test_the_whole_kit_with_trio_says_a_correct_copy_conforms_on_both_backends(
    kit_python_with_trio: Path, rival: Path
) -> None:
    run = run_kit(kit_python_with_trio, rival.parent, "--impl", RIVAL, "-v")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert f"{RIVAL} conforms" in output
    assert "violates" not in output
    # Nothing is left unchecked but what the running Python itself lacks (asyncio.TaskGroup before 3.11).
    assert [line for line in not_checked(output) if "is new in Python" not in line] == [], output
    results = [line for line in run.stdout.splitlines() if "::" in line]
    assert [line for line in results if " PASSED" not in line and " SKIPPED" not in line] == []
    assert [line for line in results if " SKIPPED" in line and "is new in Python" not in line] == []
    assert any("trio" in line for line in results), output
    assert any("asyncio" in line for line in results), output
    # Printed relative to the kit's directory, not as paths into the environment it is installed in.
    assert [line for line in results if not line.startswith("test_")] == []


@pytest.mark.clause("CONFORMANCE-KIT")
def test_the_installed_kit_takes_back_the_ids_it_prints_from_another_directory(
    kit_python: Path, rival: Path
) -> None:
    def collected(*arguments: str) -> list[str]:
        run = run_kit(kit_python, rival.parent, "--impl", RIVAL, "--collect-only", "-q", *arguments)
        assert run.returncode == 0, run.stdout + run.stderr
        return [line for line in run.stdout.splitlines() if "::" in line]

    every = collected()
    assert [nodeid for nodeid in every if not nodeid.startswith("test_")] == []
    oracle = next(nodeid for nodeid in every if nodeid.startswith("test_oracle.py::"))
    assert collected("--deselect", oracle) == [nodeid for nodeid in every if nodeid != oracle]
    assert collected(oracle) == [oracle]


@pytest.mark.clause("CONFORMANCE-KIT")
def test_the_installed_kit_runs_under_its_own_configuration_and_replays_under_its_own_name(
    kit_python: Path, tmp_path: Path
) -> None:
    # A configuration that would fail the suite if it were read: the kit brings its own.
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --no-such-option\n", encoding="utf-8")
    run = run_kit(kit_python, tmp_path, "--impl", ROOT / "channels.py", "-k", "outside_the_model and asyncio")
    assert run.returncode == 0, run.stdout + run.stderr
    site = subprocess.run(
        [kit_python, "-c", "import channels_conformance, pathlib; print(channels_conformance.__path__[0])"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert f"rootdir: {site}" in run.stdout  # not this checkout's spec/
    assert "warning" not in run.stdout.lower(), run.stdout
    replay = "from channels_conformance.conformance import script; print(script('x', False, []))"
    script = subprocess.run(
        [kit_python, "-c", replay],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert script.startswith("from channels_conformance.conformance import replay\n")
