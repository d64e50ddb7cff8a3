"""Check that the suite discriminates: an adapted library must fail exactly its expected clauses.

``python -m spec.against ADAPTER`` (tox -e sav04 and sav05) runs against the
adapter module ``spec.adapters.ADAPTER`` every event sequence of depth 5
(both channel kinds, on asyncio) and every check of
``spec/test_outside_the_model.py`` and ``spec/test_backends.py``, run by
pytest under the supervising process (a check that hangs fails, and one that
skips, such as a trio check of an implementation that does not run on trio,
violates nothing), collects the clauses that their failures
violate, writes the shortest failure of each clause to
``spec/adapters/ADAPTER.report.txt`` (each under a ``== CLAUSE-ID`` line),
and exits non-zero unless the set of violated clauses is exactly the one
checked in as ``spec/adapters/ADAPTER.expected.txt``. ``--update`` rewrites
that file instead. An adapter is a module that gives an implementation of
another shape the names the suite calls (``Channel``, ``StreamChannel``);
it changes no behaviour.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import pytest

from .conformance import Conformance, ConformanceError
from .impl import load
from .model import Event, sequences
from .supervisor import WORKER_OPTION

ADAPTERS = Path(__file__).parent / "adapters"
DEPTH = 5


def model_violations(module: ModuleType, impl_name: str, depth: int) -> dict[str, tuple[int, str]]:
    """The clauses that event sequences violate, each with its shortest failure (length, report)."""
    found: dict[str, tuple[int, str]] = {}
    failed_prefixes: set[tuple[Event, ...]] = set()
    for stream in (False, True):
        for events in sequences(depth, stream=stream):
            if any(events[:n] in failed_prefixes for n in range(1, depth)):
                continue
            # A loop of its own: what an earlier channel's finalizers log must not be blamed on this one.
            run = Conformance(module, asyncio.new_event_loop, stream, impl_name)
            try:
                try:
                    for event in events:
                        run.step(event)
                except ConformanceError:
                    with contextlib.suppress(ConformanceError):
                        run.close()
                    raise
                run.close()  # it closes the run's loop, whatever it raises
            except ConformanceError as failure:
                failed_prefixes.add(tuple(run.events))
                for clause in failure.clauses:
                    if clause not in found or len(run.events) < found[clause][0]:
                        found[clause] = (len(run.events), str(failure))
    return found


# Where the checks outside the model, run by pytest, record their failures (this module as a plugin).
REPORT_ENV = "SPEC_AGAINST_REPORT"


_recording = True


def pytest_configure(config: pytest.Config) -> None:
    global _recording
    # The supervising process replays each report of its worker: recorded there alone, once.
    _recording = not config.getoption(WORKER_OPTION, default=None)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = os.environ.get(REPORT_ENV)
    if path and report.failed and _recording:
        # The failure's message, without the traceback (whose addresses and paths change every run).
        crash = getattr(report.longrepr, "reprcrash", None)
        record = {
            "test": report.nodeid,
            "clauses": getattr(report, "clauses", []),
            "report": crash.message.partition(": ")[2] if crash is not None else report.longreprtext,
        }
        with open(path, "a", encoding="utf-8") as file:
            file.write(json.dumps(record) + "\n")


def check_violations(impl_name: str) -> dict[str, tuple[int, str]]:
    """The clauses that the checks outside the model find violated, each with its report.

    They run as ``pytest`` runs them, on asyncio's loop (and trio, for those
    of trio), in a worker that the supervising process bounds: a check that
    hangs is reported, never waited for (:mod:`spec.supervisor`).
    """
    here = Path(__file__).resolve().parent
    with tempfile.TemporaryDirectory(prefix="spec-against-") as tmp:
        failures = Path(tmp) / "failures.jsonl"
        subprocess.run(
            [
                *[sys.executable, "-m", "pytest", "-c", str(here / "pytest-kit.ini"), "--rootdir", str(here)],
                *[str(here / "test_outside_the_model.py"), str(here / "test_backends.py")],
                *["--impl", impl_name, "-k", "not uvloop", "-q", "-p", f"{__package__}.against"],
            ],
            env={**os.environ, REPORT_ENV: str(failures)},
            stdout=subprocess.DEVNULL,
            check=False,
        )
        records = [json.loads(line) for line in failures.read_text(encoding="utf-8").splitlines()]
    found: dict[str, tuple[int, str]] = {}
    for record in records:
        for clause in record["clauses"]:
            # A model sequence of any length reports a clause before a check does.
            found.setdefault(clause, (sys.maxsize, f"{record['test']}:\n{record['report']}"))
    return found


def violations(impl_name: str, depth: int) -> dict[str, str]:
    """The violated clauses, each with the report of its shortest failure."""
    module = load(impl_name)
    found = check_violations(impl_name)
    for clause, failure in model_violations(module, impl_name, depth).items():
        if clause not in found or failure[0] < found[clause][0]:
            found[clause] = failure
    return {clause: report for clause, (_, report) in sorted(found.items())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("adapter", help="a module of spec/adapters, such as sav_channels_04")
    parser.add_argument("--update", action="store_true", help="rewrite the adapter's expected clauses")
    args = parser.parse_args(argv)
    expected_file = ADAPTERS / f"{args.adapter}.expected.txt"
    found = violations(f"{__package__}.adapters.{args.adapter}", DEPTH)
    (ADAPTERS / f"{args.adapter}.report.txt").write_text(
        "".join(f"== {clause}\n{report}\n\n" for clause, report in found.items()), encoding="utf-8"
    )
    print(f"{args.adapter} violates {len(found)} clauses: {', '.join(found)}")
    if args.update:
        expected_file.write_text("".join(f"{clause}\n" for clause in found), encoding="utf-8")
        return 0
    expected = expected_file.read_text(encoding="utf-8").split()
    if sorted(found) != sorted(expected):
        print(f"expected exactly: {', '.join(expected)}", file=sys.stderr)
        print(f"missing: {sorted(set(expected) - set(found))}", file=sys.stderr)
        print(f"unexpected: {sorted(set(found) - set(expected))}", file=sys.stderr)
        return 1
    print(f"the conformance suite rejects {args.adapter} on exactly the expected clauses")
    return 0


if __name__ == "__main__":
    sys.exit(main())
