"""The wall clock outside the process under test: a supervising parent and a worker process.

``pytest spec --impl NAME`` (and ``python -m channels_conformance``) runs
its checks in a worker: a second pytest process that collects the same
tests, runs those the parent hands it, and writes one JSON line to a file
per thing the parent must know, *before* it happens where that matters:

* ``start``: a test begins (its node id);
* ``run``: a run of the model begins, with the head and tail of its replay script;
* ``step``: a step begins: its number, its event, the clauses that the model
  expects of it, and the line it adds to the replay (or a whole replay);
* ``stepped``: the step ended;
* ``report``: a pytest report, serialized by pytest's own hook, with the
  worker's counters (:func:`spec.conftest.run_counts`);
* ``retire``: the worker left something running that would slow every later
  check (a trio run that outlived its cancellation): replace it;
* ``finished``: the worker ran every item it was given that it collected.

The parent replays each report through its own hooks (``-x``, ``-k``,
``-q``, junit and the terminal summary see ordinary reports) and holds the
only hard bounds, with its own clock: a step open for longer than
``--step-bound`` seconds, and a test that outlives its budget
(:func:`test_budget`), end with the worker killed. The first is NO-HANG of
the implementation, reported with the hung step's clauses and its replay;
the second is the suite's budget, never a clause. A worker that ends by
itself in the middle of a test (``os._exit``, a crash of an extension) has
that test's step reported with how the worker ended. Either way a fresh
worker runs the checks that remain. Nothing here uses signals, tracing,
threads or ctypes inside the process under test, so the same code runs
wherever Python does.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import pytest

# The kit's own checks, which --test-bound governs (not the tests of a repository that runs them too).
KIT = Path(__file__).resolve().parent
# The option that makes a pytest process a worker: the directory of its message and item files.
WORKER_OPTION = "--supervised-worker"
# How often the parent looks for new messages when there were none.
POLL = 0.01
# Seconds past --test-bound that a test's own code (Hypothesis, the model, a report's search)
# may run before the parent stops it: the worker ends an over-budget test itself at its next step.
GRACE = 10.0

# -- the worker's side -----------------------------------------------------------

_messages: IO[str] | None = None
_retire: str = ""


def _send(message: dict[str, Any]) -> None:
    if _messages is not None:
        _messages.write(json.dumps(message) + "\n")
        _messages.flush()


def run_begins(head: str, tail: str) -> None:
    """A run of the model begins: its replay script is ``head``, a line per step, then ``tail``."""
    _send({"kind": "run", "head": head, "tail": tail})


def step_begins(number: int, event: str, clauses: list[str], line: str = "", replay: str = "") -> None:
    """A step begins: the parent's step bound runs from now until :func:`step_ends`.

    ``line`` is what the step adds to the run's replay script; ``replay`` is
    a whole replay, for a step that belongs to no run of the model.
    """
    _send(
        {"kind": "step", "number": number, "event": event, "clauses": clauses, "line": line, "replay": replay}
    )


def step_ends() -> None:
    _send({"kind": "stepped"})


def retire(reason: str) -> None:
    """Ask for a fresh worker once the running test has been reported: this one is no longer clean."""
    global _retire
    _retire = _retire or reason


class Worker:
    """The plugin of a worker process: runs the parent's items in its order, and says what happens."""

    def __init__(self, config: pytest.Config, directory: Path, counts: Callable[[], dict[str, Any]]) -> None:
        global _messages
        self.config = config
        self.directory = directory
        self.counts = counts
        _messages = (directory / "messages.jsonl").open("a", encoding="utf-8")

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        wanted = (self.directory / "items.txt").read_text(encoding="utf-8").splitlines()
        by_id = {item.nodeid: item for item in items}
        items[:] = [by_id[nodeid] for nodeid in wanted if nodeid in by_id]

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        _send({"kind": "start", "nodeid": nodeid})

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = self.config.hook.pytest_report_to_serializable(config=self.config, report=report)
        _send({"kind": "report", "report": data, "counts": self.counts()})
        if report.when == "teardown" and _retire:
            _send({"kind": "retire", "reason": _retire})
            # What still runs here (a thread that spins, say) ends with the process, at once.
            os._exit(0)

    def pytest_sessionfinish(self) -> None:
        _send({"kind": "finished"})


# -- the parent's side -----------------------------------------------------------


@dataclass
class Step:
    """What the worker said it was doing, as the parent last heard."""

    number: int = 0
    event: str = ""
    clauses: list[str] = field(default_factory=list[str])
    replay: str = ""  # a whole replay, or "" for the run's replay up to this step
    lines: int = 0  # how many of the run's replay lines lead up to this step
    since: float | None = None  # when it began, by the parent's clock; None once it ended

    @property
    def name(self) -> str:
        """ "step N" of a run of the model; "the step" of a check outside it."""
        return f"step {self.number}" if self.number else "the step"


@dataclass
class Current:
    """The test that the worker runs now, and its step."""

    item: pytest.Item
    since: float
    step: Step = field(default_factory=Step)
    run_head: str = ""
    run_tail: str = ""
    run_lines: list[str] = field(default_factory=list[str])
    reported: set[str] = field(default_factory=set[str])  # the phases already reported


def bound(config: pytest.Config, option: str) -> float:
    """The value of a bound's option in seconds (spec/conftest.py declares each with ``type=float``)."""
    value = config.getoption(option)
    if not isinstance(value, (int, float)):
        raise TypeError(f"{option} is {value!r}, not a number of seconds")
    return float(value)


def test_budget(config: pytest.Config) -> float:
    """Seconds that a test may take, as the parent counts them: ``--test-bound`` and what may follow it.

    A test that runs out of ``--test-bound`` with no failure ends at its next
    step, in the worker (the suite's budget, not a clause); one that failed
    gets ``--shrink-bound`` more to shrink, and a step each to end.
    """
    return bound(config, "--test-bound") + bound(config, "--shrink-bound") + GRACE


class Supervisor:
    """The plugin of the parent process: runs the collected items in workers, bounded by its own clock."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.step_bound = bound(config, "--step-bound")
        self.budget = test_budget(config)
        self.workers = 0
        self.counts: dict[int, dict[str, dict[str, int]]] = {}  # each worker's latest counters

    def totals(self) -> dict[str, dict[str, int]]:
        """The counters of every worker of the run, added up."""
        totals: dict[str, dict[str, int]] = {}
        for counts in self.counts.values():
            for name, counters in counts.items():
                for key, value in counters.items():
                    totals.setdefault(name, {})[key] = totals.get(name, {}).get(key, 0) + value
        return totals

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool | None:
        if session.testsfailed and not session.config.option.continue_on_collection_errors:
            raise session.Interrupted(f"{session.testsfailed} error(s) during collection")
        if session.config.option.collectonly or not session.items:
            return None
        pending = list(session.items)
        with tempfile.TemporaryDirectory(prefix="channels-spec-") as tmp:
            while pending and not (session.shouldfail or session.shouldstop):
                self.workers += 1
                directory = Path(tmp) / f"worker-{self.workers}"
                directory.mkdir()
                pending = self.drive(session, directory, pending)
        if session.shouldfail:
            raise session.Failed(session.shouldfail)
        if session.shouldstop:
            raise session.Interrupted(session.shouldstop)
        return True

    def command(self, directory: Path) -> list[str]:
        args = list(self.config.invocation_params.args)
        if getattr(self.config.option, "xmlpath", None):
            # The junit file is the parent's to write, from the reports it replays.
            args.append(f"--junitxml={directory / 'junit.xml'}")
        # The interpreter's own options too: -P keeps the directory it starts from off sys.path, so
        # that a checkout's channels.py does not shadow the implementation under test (spec.mutation).
        interpreter = subprocess._args_from_interpreter_flags()  # type: ignore[attr-defined]
        # The parent decides when the run stops (-x, --maxfail): the worker runs until it is ended.
        return [
            sys.executable,
            *interpreter,
            "-m",
            "pytest",
            *args,
            "--maxfail=0",
            f"{WORKER_OPTION}={directory}",
        ]

    def drive(
        self, session: pytest.Session, directory: Path, pending: list[pytest.Item]
    ) -> list[pytest.Item]:
        """Run ``pending`` in a fresh worker until it ends or must be ended; return what is left."""
        (directory / "items.txt").write_text(
            "".join(f"{item.nodeid}\n" for item in pending), encoding="utf-8"
        )
        messages = directory / "messages.jsonl"
        messages.touch()
        by_id = {item.nodeid: item for item in pending}
        done: set[str] = set()
        current: Current | None = None
        heard = False
        with (directory / "stderr.txt").open("w+", encoding="utf-8", errors="replace") as stderr:
            worker = subprocess.Popen(
                self.command(directory),
                # Where the command was started: --impl and the other paths are relative to it
                # (the installed kit's runner makes pytest's own invocation directory the kit's).
                cwd=os.getcwd(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
            try:
                for message in _follow(messages, worker):
                    if message is None:  # no news: is the worker within its bounds?
                        ended = self.out_of_bounds(current)
                        if ended:
                            worker.kill()
                            worker.wait()
                            assert current is not None
                            self.fail_current(current, *ended)
                            done.add(current.item.nodeid)
                            break
                        continue
                    heard = True
                    kind = message["kind"]
                    if kind == "start":
                        current = Current(by_id[message["nodeid"]], time.monotonic())
                        session.ihook.pytest_runtest_logstart(
                            nodeid=current.item.nodeid, location=current.item.location
                        )
                    elif kind == "run" and current is not None:
                        current.run_head, current.run_tail, current.run_lines = (
                            message["head"],
                            message["tail"],
                            [],
                        )
                    elif kind == "step" and current is not None:
                        if message["line"]:
                            current.run_lines.append(message["line"])
                        current.step = Step(
                            message["number"],
                            message["event"],
                            message["clauses"],
                            message["replay"],
                            len(current.run_lines),
                            time.monotonic(),
                        )
                    elif kind == "stepped" and current is not None:
                        current.step.since = None
                    elif kind == "report":
                        self.counts[self.workers] = message["counts"]
                        report = self.config.hook.pytest_report_from_serializable(
                            config=self.config, data=message["report"]
                        )
                        longrepr: object = report.longrepr
                        if isinstance(longrepr, list):
                            # A skip's (path, line, reason), which JSON made a list.
                            report.longrepr = (*longrepr,)
                        session.ihook.pytest_runtest_logreport(report=report)
                        if current is not None:
                            current.reported.add(report.when)
                        if report.when == "teardown":
                            item = by_id[report.nodeid]
                            session.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
                            done.add(item.nodeid)
                            current = None
                            if session.shouldfail or session.shouldstop:
                                break
                    elif kind == "retire":
                        break
                    elif kind == "finished":
                        self.not_collected(session, [item for item in pending if item.nodeid not in done])
                        return []
                else:
                    if not heard:
                        # It never started a test: the suite's own failure, not the implementation's.
                        stderr.seek(0)
                        raise RuntimeError(
                            f"the worker process ended with exit status {worker.returncode} before it ran "
                            f"a test:\n{stderr.read()}"
                        )
                    # The worker ended by itself, before its end: the test it ran is to blame, or,
                    # between two tests, the next one (whose setup it had begun).
                    if current is None:
                        left = [item for item in pending if item.nodeid not in done]
                        current = Current(left[0], time.monotonic())
                        session.ihook.pytest_runtest_logstart(
                            nodeid=current.item.nodeid, location=current.item.location
                        )
                    stderr.seek(0)
                    self.fail_current(current, *_death(worker.returncode, stderr.read()))
                    done.add(current.item.nodeid)
            finally:
                if worker.poll() is None:
                    worker.kill()
                    worker.wait()
        return [item for item in pending if item.nodeid not in done]

    def not_collected(self, session: pytest.Session, items: list[pytest.Item]) -> None:
        """Report as errors the items that a worker did not collect: never run, never silently dropped."""
        for item in items:
            session.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
            report = pytest.TestReport(
                item.nodeid,
                item.location,
                {name: 1 for name in item.keywords},
                "failed",
                "the worker process did not collect this check: its collection differs from the "
                "supervising process's (a test id that depends on the process?)",
                "setup",
            )
            session.ihook.pytest_runtest_logreport(report=report)
            session.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)

    def out_of_bounds(self, current: Current | None) -> tuple[list[str], str, str] | None:
        """(clauses, headline, the flag of the budget exceeded or "") if the running test must be stopped
        now; else None."""
        if current is None:
            return None
        now = time.monotonic()
        step = current.step
        if step.since is not None and now - step.since > self.step_bound:
            return (
                ["NO-HANG", *[clause for clause in step.clauses if clause != "NO-HANG"]],
                f"violates NO-HANG: {step.name} ran longer than its bound of {self.step_bound:g} s "
                "of wall-clock time (a busy loop, a blocking call, or a task that never ends); "
                "the worker process was killed",
                "",
            )
        if current.item.path.is_relative_to(KIT) and now - current.since > self.budget:
            return (
                [],
                f"suite budget exceeded: the test ran longer than {self.budget:g} s "
                f"(--test-bound, plus --shrink-bound and {GRACE:g} s to end) with no step running long: "
                "raise --test-bound to check it",
                "--test-bound",
            )
        return None

    def fail_current(self, current: Current, clauses: list[str], headline: str, flag: str) -> None:
        """Report the running test as failed for what the parent found (``flag``: a budget's flag), and
        finish it."""
        item, step = current.item, current.step
        impl = self.config.getoption("--impl")
        if flag:
            lines = [f"{impl}: {headline}"]
        else:
            lines = [f"{impl} {headline}"]
            if step.event:
                expected = ", ".join(step.clauses) or "none named"
                lines.append(f"at {step.name}, {step.event} (the clauses it is expected to keep: {expected})")
            replay = step.replay or (
                "\n".join([current.run_head, *current.run_lines[: step.lines], current.run_tail])
                if current.run_head
                else ""
            )
            if replay:
                lines += ["Reproduce with:", *("  " + line for line in replay.splitlines())]
            # A death names the step's clauses; with no step announced, those the test cites.
            cited = [clause for mark in item.iter_markers("clause") for clause in mark.args]
            clauses = list(dict.fromkeys([*clauses, *(step.clauses or cited)]))
        phases: list[Literal["setup", "call", "teardown"]] = [
            when for when in ("setup", "call", "teardown") if when not in current.reported
        ]
        failing = phases[0]
        for when in phases:
            if failing == "setup" and when == "call":
                continue  # pytest runs no call after a failed setup
            failed = when == failing
            report = pytest.TestReport(
                item.nodeid,
                item.location,
                {name: 1 for name in item.keywords},
                "failed" if failed else "passed",
                "\n".join(lines) if failed else None,
                when,
                duration=time.monotonic() - current.since if failed else 0.0,
                clauses=clauses if failed else [],
                budget=lines[0] if flag and failed else "",
            )
            self.config.hook.pytest_runtest_logreport(report=report)
        self.config.hook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)


def _death(returncode: int | None, stderr: str) -> tuple[list[str], str, str]:
    if returncode is not None and returncode < 0:
        try:
            how = f"was ended by signal {signal.Signals(-returncode).name}"
        except ValueError:
            how = f"was ended by signal {-returncode}"
    else:
        how = f"ended with exit status {returncode}"
    tail = stderr.strip().splitlines()[-10:]
    detail = "\n".join(["what the worker wrote last:", *("  " + line for line in tail)]) if tail else ""
    headline = f"violates the step's clauses: the worker process {how} during the step"
    return [], headline + (f"\n{detail}" if detail else ""), ""


def _follow(path: Path, worker: subprocess.Popen[bytes]) -> Iterator[dict[str, Any] | None]:
    """The worker's messages as they come; None whenever there is nothing new. Ends when the worker does."""
    buffer = ""
    with path.open("r", encoding="utf-8") as file:
        while True:
            chunk = file.read()
            if chunk:
                buffer += chunk
                *lines, buffer = buffer.split("\n")
                for line in lines:
                    yield json.loads(line)
                continue
            if worker.poll() is not None:
                # Its last words were written before it ended.
                rest = file.read()
                for line in (buffer + rest).split("\n"):
                    if line.strip():
                        yield json.loads(line)
                return
            yield None
            time.sleep(POLL)
