"""The event loops that tests and the conformance suite run on, and the bounds that every step runs under.

Each step of the suite runs the loop with :func:`run_bounded`, which ends it
after :data:`BOUNDS.step <Bounds>` seconds of wall-clock time whatever the code under test does: a
call that never resolves, a task that swallows its cancellation, code that
spins without yielding or blocks its thread in ``time.sleep``. The bound
does not rely on cancellation: an alarm signal raises :class:`OutOfTime` in
the main thread, again every :data:`REPEAT` seconds until the step is left,
and the loop it interrupted is then abandoned (:func:`abandon`).
"""

from __future__ import annotations

import _thread
import asyncio
import atexit
import collections
import contextlib
import re
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

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
    """The wall-clock bounds of the suite, in seconds (``pytest spec --step-bound/--test-bound``).

    A step (one run of the event loop: an event and the quiescence after it)
    ends within ``step`` seconds; a test ends within ``test`` seconds, and
    within ``shrink`` seconds of its first failure (Hypothesis's shrinking is
    then cut short, and the verdict is the shortest failure found so far of
    each kind: a class of failure and the clauses it names).
    """

    step: float = 2.0
    test: float = 120.0
    shrink: float = 10.0
    # Of the test that runs now: when it must end, its shortest failure so far of each
    # kind, and whether it ran out of time (Hypothesis may report that as an error of its own).
    deadline: float | None = None
    shortest: dict[tuple[str, ...], AssertionError] = field(default_factory=dict)
    exhausted: str = ""
    # Its shortest NO-NOISE failure, which does not stop it (:func:`defer_noise`).
    noise: AssertionError | None = None


BOUNDS = Bounds()

# How often the alarm rings again once a bound is passed, until the step is left.
REPEAT = 0.05


class OutOfTime(SystemExit):
    """What the alarm raises in the code that runs when a bound passes.

    A SystemExit: asyncio's and uvloop's loops let only SystemExit and
    KeyboardInterrupt out of a callback or a task, and ``except Exception`` in
    the code under test does not catch it.
    """


class StepTimeout(AssertionError):
    """A step did not end within its bound; its event loop was abandoned."""


class OutOfTestBound(BaseException):
    """The test ran out of its bound: not an Exception, so that Hypothesis stops at once."""


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
def bounding_test() -> Iterator[None]:
    """The bound of one test: :func:`run_bounded` raises OutOfTestBound once it passes."""
    BOUNDS.deadline, BOUNDS.shortest, BOUNDS.exhausted = time.monotonic() + BOUNDS.test, {}, ""
    BOUNDS.noise = None
    try:
        yield
    finally:
        BOUNDS.deadline = None


# What a step that was cut short leaves behind: kept alive to the end of the
# process, so that the finalizers of the code under test (a coroutine that
# ignores GeneratorExit, a __del__ that raises) never run during a later test.
ABANDONED: list[Any] = []


@atexit.register
def _quiet_abandoned() -> None:
    # The interpreter's shutdown finalizes what was abandoned: its noise is about
    # steps that were reported already, after the verdict.
    if ABANDONED:
        sys.unraisablehook = lambda _unraisable: None


def keep(*objects: Any) -> None:
    """Keep ``objects`` alive to the end of the process: what holds tasks that would not end."""
    ABANDONED.append(objects)


def abandon(loop: asyncio.AbstractEventLoop, *held: Any) -> None:
    """Give ``loop`` up for good: it never runs again, and nothing it (or ``held``) holds is finalized."""
    keep(loop, *held)
    if not isinstance(loop, asyncio.AbstractEventLoop):
        # A loop of another backend that run_bounded drives (spec.trio_harness.TrioLoop) gives itself up.
        loop.abandon()
        return
    loop.set_exception_handler(lambda _loop, _context: None)
    if not loop.is_running() and not loop.is_closed():
        # Its file descriptors; its pending callbacks are dropped, never run.
        with contextlib.suppress(Exception):
            loop.close()


def _out_of_test_bound() -> str:
    if not BOUNDS.shortest:
        BOUNDS.exhausted = f"the test ran longer than its bound of {BOUNDS.test:g} s"
    else:
        BOUNDS.exhausted = f"the test ran longer than {BOUNDS.shrink:g} s after its first failure"
    return BOUNDS.exhausted


def run_bounded(loop: asyncio.AbstractEventLoop, step: Awaitable[T], *held: Any) -> T:
    """``loop.run_until_complete(step)``, ended after the step's bound whatever the code under test does.

    Raises :class:`StepTimeout` when the step passed its bound and
    :class:`OutOfTestBound` when the test passed its own; in both cases
    ``loop`` (and ``held``: what holds the tasks of the code under test) is
    abandoned, and the interpreter's state that running a loop changes is
    restored. Where there is no SIGALRM the alarm is a watchdog thread that
    interrupts the main thread (a blocking system call is then not cut short);
    outside the main thread no signal can reach the step, and only the
    suite's bounds in loop iterations hold.
    """
    now = time.monotonic()
    limit = now + BOUNDS.step
    if BOUNDS.deadline is not None:
        if now >= BOUNDS.deadline:
            abandon(loop, step, *held)
            raise OutOfTestBound(_out_of_test_bound())
        limit = min(limit, BOUNDS.deadline)
    hooks, depth = sys.get_asyncgen_hooks(), sys.get_coroutine_origin_tracking_depth()
    alarm = _Alarm(limit)
    try:
        with alarm:
            result = loop.run_until_complete(step)
    except OutOfTime:
        pass
    else:
        if not alarm.rang:
            return result
    # An interrupted run_forever may not have undone what it set up.
    asyncio.events._set_running_loop(None)
    sys.set_asyncgen_hooks(*hooks)
    sys.set_coroutine_origin_tracking_depth(depth)
    abandon(loop, step, *held)
    if BOUNDS.deadline is not None and time.monotonic() >= BOUNDS.deadline:
        raise OutOfTestBound(_out_of_test_bound())
    raise StepTimeout(
        f"the step ran longer than its bound of {BOUNDS.step:g} s of wall-clock time "
        "(a busy loop, a blocking call, or a task that never ends); its event loop was abandoned"
    )


@contextlib.contextmanager
def ignored_exceptions() -> Iterator[list[str]]:
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


class _Alarm:
    """Raise OutOfTime in the main thread at ``limit`` (time.monotonic()), and again until left.

    Code that catches everything in a loop would catch every ring: from the
    second ring on, every line of each function that a ring interrupted
    raises OutOfTime too (a trace function), so that the exception escapes
    from its ``except`` clause, and from its callers' at the next rings.
    """

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.rang = False
        self.active = False
        self.stuck: set[Any] = set()  # the code objects that the rings interrupted
        self.tracing = False
        self.trace: Any = None  # the trace function before ours (a coverage tool's, say)
        self.previous: Any = None
        self.watchdog: threading.Thread | None = None
        # Plain flags, not a threading.Event: a ring inside Event.set() would
        # leave its lock held, and the next set() would wait for it forever.
        self.over = False
        self.watched = False
        in_main = threading.current_thread() is threading.main_thread()
        self.signum = (
            None if not in_main else signal.SIGALRM if hasattr(signal, "setitimer") else signal.SIGINT
        )

    def ring(self, _signum: int, frame: Any) -> None:
        if self.rang and frame is not None:
            self.stuck.add(frame.f_code)
            frame.f_trace, frame.f_trace_lines = self.line, True
            if not self.tracing:
                self.tracing, self.trace = True, sys.gettrace()
                sys.settrace(self.line)
        self.rang = True
        raise OutOfTime

    def line(self, frame: Any, event: str, _arg: Any) -> Any:
        if not self.active or frame.f_code not in self.stuck:
            return None
        if event == "line":
            raise OutOfTime
        return self.line

    def __enter__(self) -> None:
        if self.signum is None:
            return
        self.previous = signal.signal(self.signum, self.ring)
        self.active = True
        delay = max(self.limit - time.monotonic(), 1e-3)
        if self.signum == getattr(signal, "SIGALRM", None):
            signal.setitimer(signal.ITIMER_REAL, delay, REPEAT)
        else:  # pragma: no cover - Windows: a thread simulates the signal
            self.watchdog = threading.Thread(target=self.watch, daemon=True)
            self.watchdog.start()

    def watch(self) -> None:  # pragma: no cover - Windows only
        try:
            while not self.over:
                late = time.monotonic() >= self.limit
                if late:
                    _thread.interrupt_main(self.signum)
                time.sleep(REPEAT if late else min(REPEAT, max(self.limit - time.monotonic(), 0.0)))
        finally:
            self.watched = True

    def __exit__(self, *exc_info: object) -> None:
        if self.signum is None:
            return
        # First stop the rings, with calls that take no lock: a ring may still
        # come while they run, and is caught here (the step is over by then).
        while True:
            try:
                self.over = True
                if self.watchdog is None:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                else:  # pragma: no cover - Windows: wait until the thread rings no more
                    while not self.watched:
                        time.sleep(REPEAT / 5)
                signal.signal(self.signum, self.previous)
                break
            except OutOfTime:
                continue
        # No ring can come now: a signal still pending finds the previous handler.
        self.active = False
        if self.tracing:
            sys.settrace(self.trace)
            self.tracing = False
