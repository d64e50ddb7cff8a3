"""The kit's test ids are short and stable: printed relative to the suite, and accepted as printed.

``python -m spec`` (in this repository; ``python -m channels_conformance`` once
installed, which tests/kit/test_packaging.py checks the same way) prints
``test_oracle.py::test_...`` from whichever directory it is started, and takes
such an id back as it is, with ``--deselect`` or as an argument.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def collected(directory: Path, *arguments: str) -> list[str]:
    """The test ids that ``python -m spec --impl channels --collect-only -q`` prints, run in ``directory``."""
    result = subprocess.run(
        [sys.executable, "-m", "spec", "--impl", "channels", "--collect-only", "-q", *arguments],
        cwd=directory,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    return [line for line in result.stdout.splitlines() if "::" in line]


@pytest.mark.clause("CONFORMANCE-KIT")
def test_the_ids_are_relative_to_the_suite_and_select_as_printed_from_another_directory(
    tmp_path: Path,
) -> None:
    every = collected(tmp_path)
    assert every, "nothing collected"
    assert [nodeid for nodeid in every if "/" in nodeid.partition("::")[0]] == []
    oracle = next(nodeid for nodeid in every if nodeid.startswith("test_oracle.py::"))
    assert collected(tmp_path, "--deselect", oracle) == [nodeid for nodeid in every if nodeid != oracle]
    assert collected(tmp_path, oracle) == [oracle]
