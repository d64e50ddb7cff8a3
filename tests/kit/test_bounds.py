"""The supervising process bounds every step of the suite, whatever the code under test does.

tests/kit/supervised_checks.py runs one step of each defect (spin swallowing
every exception, block the thread, swallow cancellation, end the interpreter)
on asyncio and on trio, under ``pytest -p spec.conftest``: the parent must
end each at its step bound (or see its worker end), report it with the step's
clauses and replay, and run the next check in a fresh worker. The suite's own
budget and what was not checked are reported apart from any violation, each
with an exit status of its own.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKS = "tests/kit/supervised_checks.py"
# Far above a step of the checks that pass, which return at once even on a loaded machine.
STEP_BOUND = 1.0

pytest.importorskip("trio")


def supervised(*options: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pytest", CHECKS, "-p", "spec.conftest", "-p", "no:cacheprovider"]
    return subprocess.run(
        [*command, f"--step-bound={STEP_BOUND}", *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def junit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("junit") / "defects.xml"


@pytest.fixture(scope="module")
def defects(junit: Path) -> subprocess.CompletedProcess[str]:
    return supervised("-rA", "-k", "defect or fresh_worker or not_checked", f"--junitxml={junit}")


def _section(output: str, nodeid: str) -> str:
    """The failure report of one check, from its header to the next one."""
    header = f" {nodeid.partition('::')[2]} "
    start = next(index for index, line in enumerate(output.splitlines()) if header in line and "___" in line)
    lines = output.splitlines()[start + 1 :]
    end = next(
        (index for index, line in enumerate(lines) if line.startswith("___") or line.startswith("===")), None
    )
    return "\n".join(lines[:end])


HANGS = ["spins swallowing everything", "blocks its thread", "swallows its cancellation"]


@pytest.mark.clause("NO-HANG")
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize("defect", HANGS)
def test_a_step_that_never_ends_is_no_hang_with_its_clauses_and_replay(
    defects: subprocess.CompletedProcess[str], defect: str, backend: str
) -> None:
    report = _section(defects.stdout, f"{CHECKS}::test_defect[{defect}-{backend}]")
    assert f"violates NO-HANG: step 1 ran longer than its bound of {STEP_BOUND:g} s" in report, defects.stdout
    assert f"at step 1, a step that {defect} (the clauses it is expected to keep: CANCEL-PROMPT)" in report
    assert f"the replay of {defect} on {backend}" in report


@pytest.mark.clause("NO-HANG")
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_worker_that_ends_names_the_step_and_how_it_ended(
    defects: subprocess.CompletedProcess[str], backend: str
) -> None:
    report = _section(defects.stdout, f"{CHECKS}::test_defect[ends the interpreter-{backend}]")
    assert "the worker process ended with exit status 3 during the step" in report, defects.stdout
    assert (
        "at step 1, a step that ends the interpreter (the clauses it is expected to keep: CANCEL-PROMPT)"
        in report
    )


@pytest.mark.clause("NO-HANG")
def test_the_checks_after_a_hang_run_in_a_fresh_worker(defects: subprocess.CompletedProcess[str]) -> None:
    assert defects.returncode == 1, defects.stdout
    for backend in ("asyncio", "trio"):
        assert f"PASSED {CHECKS}::test_a_later_check_runs_in_a_fresh_worker[{backend}]" in defects.stdout
    # Every defect is filed under NO-HANG or its step's clause, never as the suite's budget.
    assert "suite budget exceeded" not in defects.stdout
    assert "violates 2 clauses" in defects.stdout


@pytest.mark.clause("NO-HANG")
def test_junit_gets_the_reports_that_the_supervisor_replays(
    defects: subprocess.CompletedProcess[str], junit: Path
) -> None:
    cases = {case.get("name"): case for case in ElementTree.parse(junit).iter("testcase")}
    for defect in HANGS:
        (failure,) = cases[f"test_defect[{defect}-asyncio]"]
        assert failure.tag == "failure"
        assert "violates NO-HANG" in failure.get("message", ""), defects.stdout
    assert not list(cases["test_a_later_check_runs_in_a_fresh_worker[trio]"])
    (skipped,) = cases["test_not_checked"]
    assert skipped.tag == "skipped"


@pytest.mark.clause("NO-HANG")
def test_a_test_out_of_its_budget_is_the_suites_limit_not_a_violation() -> None:
    done = supervised("-k", "budget", "--test-bound=1")
    assert done.returncode == 6, done.stdout
    assert "suite budget exceeded: " in done.stdout
    assert "(raise it with --test-bound)" in done.stdout
    assert " violates " not in done.stdout
    assert " conforms" not in done.stdout


@pytest.mark.clause("BACKENDS")
def test_a_check_not_run_is_reported_apart_and_the_implementation_conforms() -> None:
    done = supervised("-k", "not_checked or fresh_worker")
    assert done.returncode == 0, done.stdout
    lines = done.stdout.splitlines()
    assert any("channels conforms" in line for line in lines), done.stdout
    assert (
        "not checked: BACKENDS: a check that cannot run here (install what it needs to run it) (1 check)"
        in lines
    )
    assert " violates " not in done.stdout


@pytest.mark.clause("NO-HANG")
def test_exitfirst_stops_the_run_at_the_first_hang() -> None:
    done = supervised("-x", "-k", "defect and asyncio")
    assert done.returncode == 1, done.stdout
    assert "1 failed" in done.stdout
    assert "stopping after 1 failures" in done.stdout
