"""The traceability index is current, and every protocol clause has a code site and a direct test."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from spec.clauses import CLAUSES
from spec.traceability import ROOT, code_sites, gaps


@pytest.mark.clause("TRACEABILITY")
def test_the_checked_in_index_is_current_and_complete() -> None:
    # In a subprocess: the index is read through a pytest collection of its own.
    done = subprocess.run(
        [sys.executable, "-m", "spec.traceability", "--check"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.clause("TRACEABILITY")
def test_a_clause_is_sited_at_the_innermost_scope_that_names_it() -> None:
    source = (
        "# MIRROR-ASEND at module level points nowhere\n"
        "class Outer:\n"
        "    def method(self) -> None:\n"
        "        pass  # CANCEL-PROMPT\n"
        '    """NO-HANG"""\n'
    )
    assert code_sites(source) == {"CANCEL-PROMPT": ["Outer.method"], "NO-HANG": ["Outer"]}


@pytest.mark.clause("TRACEABILITY")
def test_a_clause_without_a_site_or_a_direct_test_and_a_test_without_a_clause_are_gaps() -> None:
    protocol = [clause.id for clause in CLAUSES.values() if clause.kind == "protocol"]
    sites = {clause: ["somewhere"] for clause in protocol[1:]}
    direct = {"tests/test_x.py::test_x": set(protocol[:-1])}
    marks = {**direct, "tests/test_x.py::test_y": set[str](), "tests/test_x.py::test_z": {"NO-SUCH-CLAUSE"}}
    assert gaps(sites, marks, direct) == [
        'tests/test_x.py::test_y: marks no clause: mark it with @pytest.mark.clause("ID", ...)',
        "tests/test_x.py::test_z: marks 'NO-SUCH-CLAUSE', which is no clause",
        f"{protocol[0]}: no function or class of channels.py names it",
        f'{protocol[-1]}: no test names it in a mark: @pytest.mark.clause("{protocol[-1]}")',
    ]
