"""``pytest spec --impl NAME`` selects the implementation that the suite checks.

Everything the suite needs from pytest is here, so that it runs the same from
this repository and as the installed ``channels_conformance`` package.

Every test of spec/ runs within the bounds of :class:`spec.loops.Bounds`
(``--step-bound``, ``--test-bound``): a test that runs out of its bound fails
with the shortest failure of each kind found so far, or NO-HANG. What finalizers raise
outside the suite's steps is collected here too, so that an implementation's
noise fails the test that caused it under NO-NOISE, never a later one; and
the run ends with the list of the clauses that the implementation violates.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Callable, Generator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

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
        help=f"seconds of wall-clock time after which a step fails NO-HANG (default {BOUNDS.step:g})",
    )
    group.addoption(
        "--test-bound",
        type=float,
        default=BOUNDS.test,
        help=f"seconds after which a test ends with NO-HANG (default {BOUNDS.test:g})",
    )
    group.addoption(
        "--shrink-bound",
        type=float,
        default=BOUNDS.shrink,
        help=f"seconds after its first failure at which a test ends with its shortest failures so far "
        f"(default {BOUNDS.shrink:g})",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "backend(name): the backend (asyncio or trio) that this test runs on")
    BOUNDS.step = config.getoption("--step-bound")
    BOUNDS.test = config.getoption("--test-bound")
    BOUNDS.shrink = config.getoption("--shrink-bound")
    config.stash[VERDICT] = {}


VERDICT = pytest.StashKey[dict[str, list[str]]]()

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
    if failure is None:
        if noise is not None:
            raise noise
        return
    if noise is not None:
        item.stash[NOISE] = noise
    if not exhausted:
        raise failure
    # OutOfTestBound, or what Hypothesis made of it when it interrupted a test case.
    if not found:
        raise _failure(
            f"{impl_name} violates NO-HANG: {exhausted} (each step within {BOUNDS.step:g} s): "
            "it is too slow to check",
            [],
            ["NO-HANG"],
        ) from None
    raise _failure(
        "\n\n".join(map(str, found)),
        [f"(the shortest failure of each kind found when {exhausted}: Hypothesis's shrinking was cut short)"],
        list(dict.fromkeys(clause for fault in found for clause in getattr(fault, "clauses", []))),
    ) from None


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
    if call.excinfo is not None:
        clauses = item.config.stash[VERDICT]
        failures = _leaves(call.excinfo.value)
        noise = item.stash.get(NOISE, None)
        if noise is not None and call.when == "call":
            # Found while the test ran, and reported after its first failure, which it must not hide.
            failures.append(noise)
            report.sections.append(("NO-NOISE, also found by this test", str(noise)))
        cited = [clause for mark in item.iter_markers("clause") for clause in mark.args]
        for failure in failures:
            # A failure that names no clause breaks the one clause its test cites, if it cites one.
            for clause in getattr(failure, "clauses", None) or (cited if len(cited) == 1 else []):
                clauses.setdefault(clause, []).append(item.nodeid)
    return report


def _leaves(exc: BaseException) -> list[BaseException]:
    """The failures in ``exc``: Hypothesis reports several distinct ones as an exception group."""
    inner = getattr(exc, "exceptions", None)  # an exception group, without 3.11's name for it
    if isinstance(inner, tuple):
        return [leaf for exception in inner for leaf in _leaves(exception)]
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
    from .conformance import STATS
    from .coverage import summary

    for line in summary():  # what the transition cover ran, and the share of the table it took
        terminalreporter.write_line(line)

    if STATS["runs"]:
        terminalreporter.write_line(
            f"conformance: {STATS['runs']} runs, {STATS['steps']} steps compared with the model "
            f"(Hypothesis profile {os.environ.get('HYPOTHESIS_PROFILE', 'dev')})"
        )

    clauses = config.stash[VERDICT]
    impl_name = config.getoption("--impl")
    if clauses:
        terminalreporter.write_sep("=", f"{impl_name} violates {len(clauses)} clauses", red=True)
        for clause, nodeids in sorted(clauses.items()):
            terminalreporter.write_line(f"{clause}: {', '.join(sorted(set(nodeids)))}")
