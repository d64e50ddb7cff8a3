"""``pytest spec --backend asyncio|trio|all`` runs the checks of the chosen backend, and those of none."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def collected(backend: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-m", "spec", "--impl", "channels", "--backend", backend, "--collect-only", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return [line for line in result.stdout.splitlines() if "::" in line]


# What names a check of one backend in its node id: its loop_factory or backend parameter, else its name.
ASYNCIO_MARKS = ("[asyncio", "[uvloop", "anyio-asyncio", "on_asyncio_never_imports")
TRIO_MARKS = ("test_trio_", "[trio-", "anyio-trio", "_on_trio")


def backend(nodeid: str) -> str | None:
    if any(mark in nodeid for mark in ASYNCIO_MARKS):
        return "asyncio"
    return "trio" if any(mark in nodeid for mark in TRIO_MARKS) else None


@pytest.mark.clause("BACKENDS")
def test_each_backend_runs_its_own_checks_and_the_backend_free_ones() -> None:
    every, asyncio_only, trio_only = collected("all"), collected("asyncio"), collected("trio")
    assert {backend(nodeid) for nodeid in asyncio_only} == {"asyncio", None}
    assert {backend(nodeid) for nodeid in trio_only} == {"trio", None}
    assert set(asyncio_only) | set(trio_only) == set(every)
