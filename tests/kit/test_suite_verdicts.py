"""The suite fails each implementation of spec/broken/, naming the expected clause, within its bounds.

Each fixture is checked as an implementer would check their own:
``python -m pytest SELECTED --impl spec/broken/NAME.py``, in a subprocess,
restricted to the spec test that finds its defect (:data:`spec.broken.VERDICTS`),
on each backend the fixture lists (asyncio's loop, uvloop's, trio), with ``-x``, the dev
Hypothesis profile with a fixed seed and small bounds (:data:`STEP_BOUND`, :data:`TEST_BOUND`,
:data:`SHRINK_BOUND`), two at a time. The subprocess's own timeout is only a safety net: the
suite's supervising process ends each run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import pytest

from spec.broken import VERDICTS

ROOT = Path(__file__).resolve().parents[2]
# A step of the suite itself may take a few hundred milliseconds on a loaded machine: a bound
# closer to that would name NO-HANG for a fixture whose defect is elsewhere.
STEP_BOUND = 1.0
TEST_BOUND = 30.0
# Enough for each fixture's failure to shrink to the step that names its clause.
SHRINK_BOUND = 2.0
# Interpreter start-up and collection, which no bound of the suite covers.
START_UP = 30.0
SAFETY_NET = 300.0


class Outcome(NamedTuple):
    returncode: int
    clauses: set[str]
    seconds: float
    tests: int
    output: str


# The trio twin of the conformance test, which the fixtures of every backend select.
TRIO_SELECT = {"spec/test_conformance.py": "spec/test_trio_conformance.py"}


def check(name: str, backend: str) -> Outcome:
    select = VERDICTS[name].select
    chosen = ["--backend=trio", TRIO_SELECT[select]] if backend == "trio" else ["-k", backend, select]
    command = [
        sys.executable,
        "-m",
        "pytest",
        *chosen,
        f"--impl=spec/broken/{name}.py",
        "-x",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--step-bound={STEP_BOUND}",
        f"--test-bound={TEST_BOUND}",
        f"--shrink-bound={SHRINK_BOUND}",
        # The same examples on every run: the verdict of a fixture is not left to chance.
        "--hypothesis-seed=0",
    ]
    # Not in development mode, which the test envs set: asyncio's debug checks would only slow the
    # fixtures' steps towards their bound.
    env = {**os.environ, "HYPOTHESIS_PROFILE": "dev", "PYTHONDEVMODE": ""}
    start = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=SAFETY_NET)
    seconds = time.monotonic() - start
    verdict = done.stdout.partition(" violates ")[2]
    clauses = set(re.findall(r"^([A-Z][A-Z0-9-]+): spec/", verdict, re.MULTILINE))
    tests = len(re.findall(r"^(?:PASSED|FAILED|ERROR) ", done.stdout, re.MULTILINE)) or 1
    return Outcome(done.returncode, clauses, seconds, tests, done.stdout[-4000:] + done.stderr[-2000:])


CHECKS = [(name, backend) for name, verdict in sorted(VERDICTS.items()) for backend in verdict.backends]


@pytest.fixture(scope="module")
def outcomes() -> dict[tuple[str, str], Outcome]:
    # Two at a time: CI has two cores, and most of a run waits on its bounds or shrinks.
    def run(name_and_test: tuple[str, str]) -> Outcome:
        return check(*name_and_test)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(CHECKS, pool.map(run, CHECKS), strict=True))


@pytest.mark.clause("NO-HANG", "CANCEL-PROMPT", "NO-NOISE")
@pytest.mark.parametrize(("name", "backend"), CHECKS)
def test_the_suite_fails_a_broken_implementation_naming_its_clause(
    outcomes: dict[tuple[str, str], Outcome], name: str, backend: str
) -> None:
    outcome = outcomes[name, backend]
    assert outcome.returncode == 1, outcome.output
    assert outcome.clauses & VERDICTS[name].clauses, (
        f"expected one of {sorted(VERDICTS[name].clauses)}, got {sorted(outcome.clauses)}\n{outcome.output}"
    )
    assert VERDICTS[name].says in outcome.output
    # Not a measurement: the suite's own bounds guarantee this, and the margin is start-up.
    assert outcome.seconds < outcome.tests * TEST_BOUND + START_UP, outcome.output
