"""The table of realistic bugs still applies to channels.py, and the suite catches them.

The full measure is ``python -m spec.power`` (spec/power.md); CI checks that
no bug has rotted (its fragment is still in channels.py exactly once) and that
the implementer's command fails on a cheap one naming the broken clause.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from spec.bugs import BUGS, BY_NAME, SOURCE, StaleBug, apply
from spec.clauses import CLAUSES, PROTOCOL
from spec.power import REPORT_ENV, ROOT


@pytest.mark.clause("CONFORMANCE-POWER")
def test_every_bug_still_applies_to_channels_py_and_breaks_a_protocol_clause() -> None:
    original = SOURCE.read_text()
    for bug in BUGS:
        changed = bug.source(original)
        assert changed != original, bug.name
        compile(changed, f"channels.py ({bug.name})", "exec")
        assert CLAUSES[bug.clause].kind == PROTOCOL, bug.name


@pytest.mark.clause("CONFORMANCE-POWER")
def test_a_bug_whose_fragment_is_gone_fails_loudly() -> None:
    stale = BY_NAME["server-error-swallowed"]
    with pytest.raises(StaleBug, match=r"update spec/bugs\.py"):
        stale.source(SOURCE.read_text().replace(stale.fragment, ""))


@pytest.mark.clause("CONFORMANCE-POWER")
def test_the_implementers_command_fails_on_a_cheap_bug_naming_its_clause(tmp_path: Path) -> None:
    bug = BY_NAME["first-send-not-none-accepted"]
    report = tmp_path / "failures.jsonl"
    env = {**os.environ, REPORT_ENV: str(report), "PYTHONPATH": str(ROOT)}
    env.pop("HYPOTHESIS_PROFILE", None)
    impl = apply(bug, tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "spec", "--impl", str(impl), "-x", "-q", "-p", "spec.power"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout[-3000:]
    (failure,) = [json.loads(line) for line in report.read_text().splitlines()]  # -x: the first
    assert bug.clause in failure["clauses"], failure
