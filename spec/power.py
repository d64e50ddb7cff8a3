"""The suite's power: the implementer's default command against realistic bugs.

``python -m spec.power [--seeds N] [--workers 2] [--only NAME,...] [--write spec/power.md]``
runs ``python -m spec --impl COPY --hypothesis-seed=S`` (the command of
spec/__main__.py with its default Hypothesis profile, nothing else) against
a copy of channels.py with each bug of spec/bugs.py, for seeds 0..N-1, in
subprocesses, ``--workers`` at a time. Each run starts in a fresh directory,
so that Hypothesis's example database does not carry a failure from one run
to the next. A bug is caught by a run when the command fails; the report
gives per bug how many runs caught it, the clauses that the failures named
(whether the bug's own clause is among them), the time to the first failure
and the time of the whole command (CONFORMANCE-POWER).

Loaded as a pytest plugin (``-p spec.power``, added by the runner), this
module writes each failing test's node id, the clauses its failure names
(its ``violates`` line, else the test's clause marks) and the time since the
session started to the file named by ``$SPEC_POWER_REPORT``; it changes
nothing of what the suite runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .bugs import BUGS, BY_NAME, Bug, apply
from .supervisor import WORKER_OPTION

ROOT = Path(__file__).resolve().parent.parent
REPORT_ENV = "SPEC_POWER_REPORT"
TIMEOUT = 600.0
_VIOLATES = re.compile(r"violates ((?:[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+(?:, )?)+)")

# -- the pytest plugin ------------------------------------------------------

_started = time.monotonic()
_marks: dict[str, list[str]] = {}
_recording = True


def pytest_configure(config: Any) -> None:
    global _recording
    # The supervising process replays each report of its worker (spec.supervisor): recorded there
    # alone, a failure is recorded once, and "at" counts from the start of the run.
    _recording = not config.getoption(WORKER_OPTION, default=None)


def pytest_collection_modifyitems(items: list[Any]) -> None:
    for item in items:
        _marks[item.nodeid] = [arg for mark in item.iter_markers("clause") for arg in mark.args]


def pytest_runtest_logreport(report: Any) -> None:
    path = os.environ.get(REPORT_ENV)
    if not path or not report.failed or not _recording:
        return
    named = [clause for match in _VIOLATES.finditer(report.longreprtext) for clause in match[1].split(", ")]
    record = {
        "test": report.nodeid,
        "clauses": list(dict.fromkeys(named or _marks.get(report.nodeid, []))),
        "at": round(time.monotonic() - _started, 1),
    }
    with open(path, "a") as file:
        file.write(json.dumps(record) + "\n")


# -- the runner -------------------------------------------------------------


@dataclass
class Run:
    seed: int
    status: str  # caught, missed, hang (no verdict within TIMEOUT), error
    seconds: float
    first: float | None = None
    clauses: list[str] = field(default_factory=list[str])
    tests: list[str] = field(default_factory=list[str])


def run(bug: Bug, seed: int, timeout: float, exitfirst: bool) -> Run:
    with tempfile.TemporaryDirectory(prefix=f"power-{bug.name}-") as tmp:
        impl = apply(bug, Path(tmp))
        report = Path(tmp) / "failures.jsonl"
        env = {**os.environ, REPORT_ENV: str(report), "PYTHONPATH": str(ROOT)}
        env.pop("HYPOTHESIS_PROFILE", None)
        command = [sys.executable, "-m", "spec", "--impl", str(impl), f"--hypothesis-seed={seed}"]
        start = time.monotonic()
        try:
            done = subprocess.run(
                [*command, *(["-x"] if exitfirst else []), "-q", "-p", "spec.power"],
                cwd=tmp,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return Run(seed, "hang", timeout)
        seconds = time.monotonic() - start
        records = [json.loads(line) for line in report.read_text().splitlines()] if report.exists() else []
        status = {0: "missed", 1: "caught"}.get(done.returncode, "error")
        if status == "error":
            sys.stderr.write(f"{bug.name} seed {seed}: exit {done.returncode}\n{done.stdout[-2000:]}\n")
        return Run(
            seed,
            status,
            seconds,
            min((r["at"] for r in records), default=None),
            list(dict.fromkeys(c for r in records for c in r["clauses"])),
            [r["test"] for r in records],
        )


def verdict(runs: list[Run]) -> str:
    caught = sum(run.status == "caught" for run in runs)
    return "every time" if caught == len(runs) else "never" if not caught else "sometimes"


def table(results: dict[str, list[Run]], seeds: int) -> str:
    lines = [
        f"| bug | clause it breaks | caught ({seeds} seeds) | own clause named "
        "| first failure (s) | whole command (s) | clauses the failures name | first failing tests |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, runs in results.items():
        bug = BY_NAME[name]
        caught = sum(run.status == "caught" for run in runs)
        other = ", ".join(sorted({run.status for run in runs} - {"caught", "missed"}))
        named = sum(bug.clause in run.clauses for run in runs)
        firsts = [run.first for run in runs if run.first is not None]
        clauses = list(dict.fromkeys(clause for run in runs for clause in run.clauses))
        shown = ", ".join(clauses[:5]) + (" ..." if len(clauses) > 5 else "")
        counted = f"{caught}/{len(runs)}" + (f", {other}" if other else "")
        # Each run's first failing test, without its file: where the suite catches the bug first.
        first_tests = ", ".join(sorted({run.tests[0].rpartition("::")[2] for run in runs if run.tests}))
        lines.append(
            f"| {name} | {bug.clause} | {verdict(runs)} ({counted}) "
            f"| {named}/{len(runs)} | {max(firsts) if firsts else '-'} "
            f"| {max(run.seconds for run in runs):.0f} | {shown} | {first_tests} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m spec.power", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--seeds", type=int, default=3, help="Hypothesis seeds 0..N-1 per bug (default 3)")
    parser.add_argument("--workers", type=int, default=2, help="runs at a time (default 2)")
    parser.add_argument("--only", help="comma-separated bug names (default: every bug of spec/bugs.py)")
    parser.add_argument("--timeout", type=float, default=TIMEOUT, help="seconds without a verdict: a hang")
    parser.add_argument(
        "-x",
        "--exitfirst",
        action="store_true",
        help="stop each run at its first failure: the same caught or missed, the first verdict sooner",
    )
    parser.add_argument("--write", metavar="FILE", help="also write the table (markdown) to FILE")
    args = parser.parse_args(argv)
    bugs = [BY_NAME[name] for name in args.only.split(",")] if args.only else BUGS
    start = time.monotonic()
    results: dict[str, list[Run]] = {bug.name: [] for bug in bugs}
    with ThreadPoolExecutor(args.workers) as pool:
        futures = {
            pool.submit(run, bug, seed, args.timeout, args.exitfirst): bug
            for seed in range(args.seeds)
            for bug in bugs
        }
        for future in as_completed(futures):
            bug, result = futures[future], future.result()
            results[bug.name].append(result)
            print(
                f"{bug.name} seed {result.seed}: {result.status} in {result.seconds:.0f} s, {result.clauses}"
            )
    verdicts = [verdict(runs) for runs in results.values()]
    summary = (
        f"{len(results)} bugs, {args.seeds} seeds each: caught every time {verdicts.count('every time')}, "
        f"sometimes {verdicts.count('sometimes')}, never {verdicts.count('never')}; "
        f"{time.monotonic() - start:.0f} s with {args.workers} workers"
    )
    text = table(results, args.seeds)
    print(text, summary, sep="\n")
    if args.write:
        Path(args.write).write_text(text + "\n\n" + summary + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
