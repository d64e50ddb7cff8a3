"""``pytest spec --impl NAME`` selects the implementation that the suite checks.

Everything the suite needs from pytest is here, so that it runs the same from
this repository and as the installed ``channels_conformance`` package.

The checks run in a worker process that a supervising parent bounds with its
own clock (:mod:`spec.supervisor`; ``--no-supervisor`` runs them in this
process, with no hard bound, for coverage tools and debuggers). A step that
outlives ``--step-bound`` fails NO-HANG; a test that runs out of its budget
(``--test-bound``, and ``--shrink-bound`` once it failed) ends with the
shortest failure of each kind found so far, or, with none, as the suite's
budget exceeded: never a clause. What finalizers raise outside the suite's
steps is collected here too, so that an implementation's noise fails the
test that caused it under NO-NOISE, never a later one.

The run ends with three outcomes kept apart (:func:`pytest_terminal_summary`):
the clauses violated, each with its tests; what was not checked, why, and
how to check it; the budgets exceeded, with the flag that raises each. The
exit status is 0 when the implementation conforms (whatever was not
checked), 1 when it violates a clause (or a check failed without naming
one), and :data:`BUDGET_EXCEEDED` when the only failures are the suite's
budget.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import os
from collections.abc import Callable, Generator
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, settings

from . import supervisor
from .impl import DEFAULT, load
from .loops import BOUNDS, bounding_test, ignored_exceptions, loop_factories

settings.register_profile(
    "ci",
    max_examples=100,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=40, stateful_step_count=20, deadline=None)
settings.register_profile(
    "thorough",
    max_examples=600,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("channels spec")
    group.addoption(
        "--impl",
        default=DEFAULT,
        help="the implementation under test: a dotted module name or a path to a .py file "
        "that defines Channel and StreamChannel (default: channels)",
    )
    group.addoption(
        "--backend",
        choices=BACKEND_CHOICES,
        default="all",
        help="the backend whose checks run: asyncio (its loop and uvloop's), trio, or all of those "
        "that the implementation runs on (default: all; an implementation that does not run on trio "
        "has its trio checks skipped, naming BACKENDS)",
    )
    group.addoption(
        "--exhaustive-depth",
        type=int,
        default=0,
        help="also run every event sequence of this depth (spec/test_exhaustive.py; default 0: the "
        "transition cover alone; tox -e spec-exhaustive uses 6)",
    )
    group.addoption(
        "--step-bound",
        type=float,
        default=BOUNDS.step,
        help=f"seconds of wall-clock time after which a step fails NO-HANG, by the supervising "
        f"process's clock (default {BOUNDS.step:g})",
    )
    group.addoption(
        "--test-bound",
        type=float,
        default=BOUNDS.test,
        help=f"the budget of a test in seconds: one that runs out of it with no failure is reported as "
        f"the suite's budget exceeded, not as a violation (default {BOUNDS.test:g})",
    )
    group.addoption(
        "--shrink-bound",
        type=float,
        default=BOUNDS.shrink,
        help=f"seconds after its first failure at which a test ends with its shortest failures so far "
        f"(default {BOUNDS.shrink:g})",
    )
    group.addoption(
        "--no-supervisor",
        action="store_true",
        help="run the checks in this process, with no hard bound on a step: for coverage tools and "
        "debuggers (by default a supervising process runs them in a worker, and ends one that hangs)",
    )
    group.addoption(supervisor.WORKER_OPTION, help=argparse.SUPPRESS)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "backend(name): the backend (asyncio or trio) that this test runs on")
    BOUNDS.step = supervisor.bound(config, "--step-bound")
    BOUNDS.test = supervisor.bound(config, "--test-bound")
    BOUNDS.shrink = supervisor.bound(config, "--shrink-bound")
    config.stash[OUTCOMES] = Outcomes()
    config.pluginmanager.register(Recorder(config.stash[OUTCOMES]), "outcomes")
    worker_directory = config.getoption(supervisor.WORKER_OPTION)
    if worker_directory:
        config.pluginmanager.register(supervisor.Worker(config, Path(worker_directory), run_counts), "worker")
    elif not config.getoption("--no-supervisor"):
        config.pluginmanager.register(supervisor.Supervisor(config), "supervisor")


# The exit status of a run whose only failures are the suite's budget exceeded (0: conforms;
# 1: violates a clause; 2 to 5: pytest's own, for an interrupted or unusable run).
BUDGET_EXCEEDED = 6


@dataclasses.dataclass
class Outcomes:
    """What the run found, kept apart: violations, checks not run, budgets exceeded, other failures."""

    # clause: node ids
    violations: dict[str, list[str]] = dataclasses.field(default_factory=dict[str, list[str]])
    # reason: node ids
    not_checked: dict[str, list[str]] = dataclasses.field(default_factory=dict[str, list[str]])
    # node id: the bound and its flag
    budgets: dict[str, str] = dataclasses.field(default_factory=dict[str, str])
    unnamed: list[str] = dataclasses.field(default_factory=list[str])  # failures that name no clause


OUTCOMES = pytest.StashKey[Outcomes]()


def run_counts() -> dict[str, dict[str, int]]:
    """What this process counted of the run, for the summary: a worker sends it with each report."""
    from . import coverage
    from .conformance import STATS

    return {"conformance": dict(STATS), **coverage.counts()}


BACKEND_CHOICES = ("asyncio", "trio", "all")


def backend_of(item: pytest.Item) -> str | None:
    """The backend a check of spec/ runs on, or None for a check of no backend (the model's own, say).

    A ``backend`` mark says it; else a ``backend`` parameter ("trio", "anyio-asyncio", "anyio-trio")
    names it last; else a check on the ``loop_factory`` fixture runs on asyncio.
    """
    mark = item.get_closest_marker("backend")
    if mark is not None:
        return str(mark.args[0])
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "backend" in callspec.params:
        return str(callspec.params["backend"]).rpartition("-")[2]
    return "asyncio" if "loop_factory" in getattr(item, "fixturenames", ()) else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    chosen = config.getoption("--backend")
    if chosen == "all":
        return
    here = Path(__file__).resolve().parent
    deselected = [
        item for item in items if item.path.is_relative_to(here) and backend_of(item) not in (None, chosen)
    ]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item not in deselected]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    impl_name = item.config.getoption("--impl")
    failure: BaseException | None = None
    with bounding_test(), ignored_exceptions() as stray:
        try:
            yield
        except BaseException as exc:
            failure = exc
        finally:
            # The test's garbage is finalized while its noise is still its own.
            gc.collect()
        exhausted, found, noise = BOUNDS.exhausted, list(BOUNDS.shortest.values()), BOUNDS.noise
    if noise is None and stray:
        noise = _failure(f"{impl_name} violates NO-NOISE outside the steps of the test:", stray, ["NO-NOISE"])
    if failure is None and not exhausted:
        if noise is not None:
            raise noise
        return
    if noise is not None:
        item.stash[NOISE] = noise
    if not exhausted:
        assert failure is not None
        raise failure
    # OutOfTestBound, what Hypothesis made of it when it interrupted a test case, or nothing at all: a
    # test that ran out of its budget did not do all it was to do, whatever it returned.
    if not found:
        raise SuiteBudgetExceeded(
            f"{impl_name}: suite budget exceeded: {exhausted}, with no failure found"
        ) from None
    raise _failure(
        "\n\n".join(map(str, found)),
        [f"(the shortest failure of each kind found when {exhausted}: Hypothesis's shrinking was cut short)"],
        list(dict.fromkeys(clause for fault in found for clause in getattr(fault, "clauses", []))),
    ) from None


class SuiteBudgetExceeded(Exception):
    """A test ran out of its budget before it found anything: the suite's limit, not a clause.

    Its message names the bound and the flag that raises it.
    """


def _failure(headline: str, lines: list[str], clauses: list[str]) -> AssertionError:
    from .conformance import ConformanceError

    return ConformanceError("\n".join([headline, *(f"  {line}" for line in lines)]), clauses)


NOISE = pytest.StashKey[AssertionError]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    # Formatting the failure allocates: a collection may finalize objects of the implementation
    # then. Their noise is recorded here, never formatted by pytest's hook, whose traceback
    # formatting parses source with ast: re-entered from a finalizer while pytest itself parses,
    # CPython 3.11 before 3.11.8 raises "SystemError: AST constructor recursion depth mismatch"
    # (python/cpython#106905), the INTERNALERROR that sav.channels 0.4 used to end the run with.
    with ignored_exceptions() as late:
        report = yield
    if late:
        report.sections.append(("NO-NOISE, while the report was made", "\n".join(late)))
    # What the report means for the verdict travels with it, from a worker to its supervisor.
    report.clauses, report.budget = [], ""
    if report.failed and call.excinfo is not None:
        if isinstance(call.excinfo.value, SuiteBudgetExceeded):
            report.budget = report.longrepr = str(call.excinfo.value)
            return report
        failures = _leaves(call.excinfo.value)
        noise = item.stash.get(NOISE, None)
        if noise is not None and call.when == "call":
            # Found while the test ran, and reported after its first failure, which it must not hide.
            failures.append(noise)
            report.sections.append(("NO-NOISE, also found by this test", str(noise)))
        cited = [clause for mark in item.iter_markers("clause") for clause in mark.args]
        # A failure is filed under the clauses its report blames (those of the step that broke one
        # first: the report was rendered above); one that names no clause breaks the one clause its
        # test cites, if it cites one.
        report.clauses = list(
            dict.fromkeys(
                clause
                for failure in failures
                for clause in getattr(failure, "blamed", None)
                or getattr(failure, "clauses", None)
                or (cited if len(cited) == 1 else [])
            )
        )
    return report


class Recorder:
    """Files each report under one of the run's outcomes: in this process, or in the supervisor that
    replays a worker's reports."""

    def __init__(self, outcomes: Outcomes) -> None:
        self.outcomes = outcomes

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.record(report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self.record(report)

    def record(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        outcomes = self.outcomes
        if report.skipped and isinstance(report.longrepr, tuple):
            reason = str(report.longrepr[2]).removeprefix("Skipped: ")
            outcomes.not_checked.setdefault(reason, []).append(report.nodeid)
        elif not report.failed:
            return
        elif getattr(report, "budget", ""):
            outcomes.budgets[report.nodeid] = report.budget
        elif getattr(report, "clauses", []):
            for clause in report.clauses:
                outcomes.violations.setdefault(clause, []).append(report.nodeid)
        else:
            outcomes.unnamed.append(report.nodeid or "collection")


def _leaves(exc: BaseException) -> list[BaseException]:
    """The failures in ``exc``: Hypothesis reports several distinct ones as an exception group."""
    inner = getattr(exc, "exceptions", None)  # an exception group, without 3.11's name for it
    if isinstance(inner, tuple):
        members = cast(tuple[BaseException, ...], inner)  # an exception group holds exceptions only
        return [leaf for exception in members for leaf in _leaves(exception)]
    return [exc]


@pytest.fixture(scope="session")
def impl_name(request: pytest.FixtureRequest) -> str:
    return str(request.config.getoption("--impl"))


@pytest.fixture(scope="session")
def impl(impl_name: str) -> ModuleType:
    return load(impl_name)


@pytest.fixture(params=sorted(loop_factories()))
def loop_factory(request: pytest.FixtureRequest) -> Callable[[], asyncio.AbstractEventLoop]:
    """Each event loop that the suite runs on: asyncio's, and uvloop's where it is installed."""
    return loop_factories()[request.param]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    from . import coverage

    watching = config.pluginmanager.get_plugin("supervisor")
    counts = watching.totals() if isinstance(watching, supervisor.Supervisor) else run_counts()
    outcomes = config.stash[OUTCOMES]
    stopped = bool(outcomes.violations or outcomes.unnamed or outcomes.budgets)
    for line in coverage.summary(counts, partial=stopped):  # what the cover ran, and the share it took
        terminalreporter.write_line(line)
    stats = counts.get("conformance", {})
    if stats.get("runs"):
        terminalreporter.write_line(
            f"conformance: {stats['runs']} runs, {stats['steps']} steps compared with the model "
            f"(Hypothesis profile {os.environ.get('HYPOTHESIS_PROFILE', 'dev')})"
        )
    if config.getoption("--collect-only"):
        return
    impl_name = config.getoption("--impl")
    if outcomes.violations:
        count = len(outcomes.violations)
        terminalreporter.write_sep(
            "=", f"{impl_name} violates {count} clause{'' if count == 1 else 's'}", red=True
        )
        for clause, nodeids in sorted(outcomes.violations.items()):
            terminalreporter.write_line(f"{clause}: {', '.join(sorted(set(nodeids)))}")
    if outcomes.unnamed:
        terminalreporter.write_sep(
            "=", f"{impl_name}: {len(outcomes.unnamed)} failed without naming a clause", red=True
        )
        terminalreporter.write_line(", ".join(outcomes.unnamed))
    if not (outcomes.violations or outcomes.unnamed or outcomes.budgets):
        terminalreporter.write_sep("=", f"{impl_name} conforms", green=True)
    for reason, nodeids in sorted(outcomes.not_checked.items()):
        checks = len(set(nodeids))
        terminalreporter.write_line(f"not checked: {reason} ({checks} check{'' if checks == 1 else 's'})")
    for nodeid, budget in sorted(outcomes.budgets.items()):
        terminalreporter.write_line(
            f"suite budget exceeded: {nodeid}: {budget.partition('suite budget exceeded: ')[2]}"
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    outcomes = session.config.stash[OUTCOMES]
    only_budgets = outcomes.budgets and not (outcomes.violations or outcomes.unnamed)
    if exitstatus == pytest.ExitCode.TESTS_FAILED and only_budgets:
        session.exitstatus = BUDGET_EXCEEDED
