"""The event loops that tests and the conformance suite run on, and the bounds of the suite's tests.

Each step of the suite runs the loop with :func:`run_step`, which tells the
supervising parent (:mod:`spec.supervisor`) that the step begins and when it
ends: the parent's clock, outside this process, is the only hard bound on a
step, whatever the code under test does (spin, block its thread, swallow
every exception, end the interpreter). What stays here needs no clock, or
only reads one between steps: settling a loop (:func:`settle`, a number of
loop iterations), and the budget of a test (:class:`Bounds`), which ends a
test at its next step once it has run out.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import re
import sys
import time
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from . import supervisor

T = TypeVar("T")


def loop_factories() -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    factories: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {"asyncio": asyncio.new_event_loop}
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is not on every platform
        pass
    else:
        factories["uvloop"] = uvloop.new_event_loop
    return factories


def blocked(task: asyncio.Task[Any]) -> bool:
    """Whether ``task`` is finished or waits on a future that is still pending."""
    if task.done():
        return True
    waiter = getattr(task, "_fut_waiter", None)
    return waiter is not None and not waiter.done()


# The largest number of loop iterations that settling may take.
SETTLE_ROUNDS = 200


async def settle(*tasks: asyncio.Task[Any] | asyncio.Future[Any]) -> None:
    """Run the event loop until each of ``tasks`` is finished or blocked: no clock involved."""
    for _ in range(SETTLE_ROUNDS):
        await asyncio.sleep(0)
        if all(blocked(task) for task in tasks):  # type: ignore[arg-type]
            return
    raise AssertionError(f"no quiescence after {SETTLE_ROUNDS} loop iterations")


# -- bounds ------------------------------------------------------------------


@dataclass
class Bounds:
    """The bounds of the suite, in seconds (``pytest spec --step-bound/--test-bound/--shrink-bound``).

    A step (one run of the event loop: an event and the quiescence after it)
    ends within ``step`` seconds, or the supervising parent kills this
    process (NO-HANG); trio's quiescence waits half of it. A test has a
    budget of ``test`` seconds, and of ``shrink`` seconds after its first
    failure (Hypothesis's shrinking is then cut short, and the verdict is the
    shortest failure found so far of each kind: a class of failure and the
    clauses it names): :func:`run_step` ends it at the next step once it
    has run out. Running out of the budget with no failure is the suite's
    limit, never the implementation's fault (:class:`OutOfTestBound`).
    """

    step: float = 2.0
    test: float = 120.0
    shrink: float = 10.0
    # Of the test that runs now: when it must end, its shortest failure so far of each
    # kind, and whether it ran out of time (Hypothesis may report that as an error of its own).
    deadline: float | None = None
    shortest: dict[tuple[str, ...], AssertionError] = field(
        default_factory=dict[tuple[str, ...], AssertionError]
    )
    exhausted: str = ""
    # Its shortest NO-NOISE failure, which does not stop it (:func:`defer_noise`).
    noise: AssertionError | None = None


BOUNDS = Bounds()


class OutOfTestBound(BaseException):
    """The test ran out of its budget: not an Exception, so that Hypothesis stops at once."""


def note_failure(failure: AssertionError) -> None:
    """Record a failure of the running test: it is the verdict if the test runs out of its bound."""
    if BOUNDS.deadline is None or not getattr(failure, "ends_the_test", True):
        return
    # The message as raised: str() may render a longer report, and replay to do so.
    kind = (type(failure).__name__, *getattr(failure, "clauses", ()))
    if kind not in BOUNDS.shortest or len(failure.args[0]) < len(BOUNDS.shortest[kind].args[0]):
        BOUNDS.shortest[kind] = failure
    BOUNDS.deadline = min(BOUNDS.deadline, time.monotonic() + BOUNDS.shrink)


def defer_noise(failure: AssertionError) -> bool:
    """Within a test, keep a NO-NOISE failure for the test to report at its end, rather than raise it.

    An implementation whose finalizers are noisy on every run would
    otherwise fail every example with NO-NOISE, and Hypothesis would look no
    further for the failures of its behaviour.
    """
    if BOUNDS.deadline is None:
        return False
    if BOUNDS.noise is None or len(failure.args[0]) < len(BOUNDS.noise.args[0]):
        BOUNDS.noise = failure
    return True


@contextlib.contextmanager
def bounding_test() -> Generator[None, None, None]:
    """The budget of one test: :func:`run_step` raises OutOfTestBound once it is spent."""
    BOUNDS.deadline, BOUNDS.shortest, BOUNDS.exhausted = time.monotonic() + BOUNDS.test, {}, ""
    BOUNDS.noise = None
    try:
        yield
    finally:
        BOUNDS.deadline = None


# What holds tasks of the code under test that would not end: kept alive to the end of the
# process, so that their finalizers (a coroutine that ignores GeneratorExit, a __del__
# that raises) never run during a later test.
ABANDONED: list[Any] = []


@atexit.register
def _quiet_abandoned() -> None:
    # The interpreter's shutdown finalizes what was kept: its noise is about
    # steps that were reported already, after the verdict.
    if ABANDONED:
        sys.unraisablehook = lambda _unraisable: None


def keep(*objects: Any) -> None:
    """Keep ``objects`` alive to the end of the process: what holds tasks that would not end."""
    ABANDONED.append(objects)


def abandon(loop: Any, *held: Any) -> None:
    """Give ``loop`` up for good, with tasks of the code under test that would not end: it never runs
    again, and nothing it (or ``held``) holds is finalized during a later test."""
    keep(loop, *held)
    if isinstance(loop, asyncio.AbstractEventLoop):
        loop.set_exception_handler(lambda _loop, _context: None)
    else:
        # A loop of another backend (spec.trio_harness.TrioLoop), whose tasks may run in a thread.
        loop.abandon()


def _out_of_test_bound() -> str:
    if not BOUNDS.shortest:
        BOUNDS.exhausted = (
            f"the test ran longer than its budget of {BOUNDS.test:g} s (raise it with --test-bound)"
        )
    else:
        BOUNDS.exhausted = (
            f"the test ran longer than {BOUNDS.shrink:g} s after its first failure "
            "(raise it with --shrink-bound)"
        )
    return BOUNDS.exhausted


@dataclass(frozen=True)
class Step:
    """What the supervising parent is told of a step before it runs (:func:`spec.supervisor.step_begins`)."""

    event: str
    clauses: tuple[str, ...] = ()
    number: int = 0
    line: str = ""  # what the step adds to its run's replay script
    replay: str = ""  # or a whole replay script of its own


def run_step(loop: Any, step: Awaitable[T], announced: Step) -> T:
    """``loop.run_until_complete(step)``, announced to the supervising parent, which bounds it.

    ``loop`` is an asyncio event loop or a loop of another backend with the
    same method (:class:`spec.trio_harness.TrioLoop`). Raises
    :class:`OutOfTestBound`, and runs nothing, once the test has run out of
    its budget.
    """
    try:
        with stepping(announced):
            return loop.run_until_complete(step)  # type: ignore[no-any-return]
    except OutOfTestBound:
        close = getattr(step, "close", None)
        if close is not None:
            close()  # never awaited, and never to be
        raise


@contextlib.contextmanager
def stepping(announced: Step) -> Generator[None, None, None]:
    """Run the block as one step that the supervising parent bounds; once the test's budget is spent,
    raise :class:`OutOfTestBound` and run nothing."""
    if BOUNDS.deadline is not None and time.monotonic() >= BOUNDS.deadline:
        raise OutOfTestBound(_out_of_test_bound())
    supervisor.step_begins(
        announced.number, announced.event, list(announced.clauses), announced.line, announced.replay
    )
    try:
        yield
    finally:
        supervisor.step_ends()


@contextlib.contextmanager
def ignored_exceptions() -> Generator[list[str], None, None]:
    """Collect what the interpreter would print as "Exception ignored" while the block runs.

    Finalizers and ``__del__`` methods that raise report through
    ``sys.unraisablehook``: caught here, they are a finding of the step that
    caused them (NO-NOISE), not an error of whichever test runs when pytest's
    own hook reports them.
    """
    found: list[str] = []
    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        try:
            where = f"{unraisable.err_msg or 'Exception ignored in'}: {unraisable.object!r}"
        except Exception:  # the repr of a half-finalized object may fail too
            where = f"Exception ignored in a {type(unraisable.object).__name__}"
        found.append(f"{where}: {unraisable.exc_type.__name__}: {unraisable.exc_value}")

    sys.unraisablehook = hook
    try:
        yield found
    finally:
        sys.unraisablehook = previous
        # One line per kind of noise, with its count: addresses differ, the finding does not.
        counts = collections.Counter(re.sub(r" at 0x[0-9a-fA-F]+", "", line) for line in found)
        found[:] = [line if count == 1 else f"{line} ({count} times)" for line, count in counts.items()]
