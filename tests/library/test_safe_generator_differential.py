"""Real consumers over a native generator and over as_safe_generator, compared.

Each scenario is one generator body and one consumer. The body runs twice: as
a native async generator under ``contextlib.aclosing``, and decorated with
``channels.as_safe_generator``; the consumer drives both through the same
``async with``, with real third-party code (aiostream, asyncstdlib,
aioitertools, anyio). Each run writes one observation log: what the body and
the consumer did in order (values, exceptions with their chain, the body's
cleanup relative to the consumer's steps), the run's outcome, the warnings
issued and the asyncio loop's exception-handler calls. The two logs must be
equal, or, where the decorator differs on purpose (the docs list each case),
differ exactly as the scenario says.

``python tests/library/test_safe_generator_differential.py`` prints the table
"scenario, native, decorator, equal or why not" from the same runs.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import re
import sys
import warnings
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, aclosing
from dataclasses import dataclass, field
from typing import Any, cast

import anyio
import asyncstdlib
import pytest
import trio
from aioitertools import builtins as aioitertools_builtins
from aioitertools import itertools as aioitertools_itertools
from aiostream import pipe, stream

from channels import as_safe_generator

if sys.version_info >= (3, 11):
    from builtins import BaseExceptionGroup
else:  # trio's dependency on 3.10
    from exceptiongroup import BaseExceptionGroup  # type: ignore[import-not-found,unused-ignore]


class Boom(Exception):
    pass


# -- the observation log ---------------------------------------------------------------


@dataclass
class Log:
    """What one run observed, in order; shared by the body and the consumer."""

    events: list[str] = field(default_factory=list[str])
    # Set by a body once it waits on its own I/O: lets a consumer's timeout
    # fire then, deterministically, instead of after some delay.
    reached: Any = None

    def __call__(self, event: str) -> None:
        self.events.append(event)


def describe(exc: BaseException) -> str:
    """An exception as a consumer sees it: its type and args, its group's leaves, its chain."""
    if isinstance(exc, BaseExceptionGroup):
        group = cast(BaseExceptionGroup[BaseException], exc)
        inner = ", ".join(describe(leaf) for leaf in group.exceptions)
        text = f"{type(group).__name__}[{inner}]"
    elif isinstance(exc, (asyncio.CancelledError, trio.Cancelled)):
        # Their words name the task and the scope at hand: objects, not outcomes.
        text = type(exc).__name__
    else:
        text = f"{type(exc).__name__}{exc.args!r}" if exc.args else type(exc).__name__
    if exc.__cause__ is not None:
        text += f" from {describe(exc.__cause__)}"
    elif exc.__context__ is not None and not exc.__suppress_context__:
        text += f" during {describe(exc.__context__)}"
    return text


# An object's address in a message: where it lives, not what happened.
ADDRESS = re.compile(r" at 0x[0-9a-f]+")

Body = Callable[[Log, str], AsyncGenerator[Any, Any]]
Opener = Callable[[str], AbstractAsyncContextManager[AsyncGenerator[Any, Any]]]
Consumer = Callable[[Opener, Log], Awaitable[None]]


@dataclass(frozen=True)
class Scenario:
    name: str
    body: Body
    consume: Consumer
    backends: tuple[str, ...] = ("asyncio",)
    # Why the decorator's log differs from the native one; empty when they are equal.
    differs: str = ""
    # Where it differs: events that the decorator's log shows, in this order (what the docs promise).
    shows: tuple[str, ...] = ()


def native(body: Body, log: Log) -> Opener:
    return lambda label: aclosing(body(log, label))


def decorated(body: Body, log: Log) -> Opener:
    return lambda label: as_safe_generator(body)(log, label)


def observe(scenario: Scenario, kind: Callable[[Body, Log], Opener], backend: str) -> list[str]:
    """Run the scenario's consumer over one kind of generator; return its log."""
    log = Log()
    handler_calls: list[str] = []

    async def main() -> None:
        log.reached = anyio.Event()
        if backend != "trio":
            asyncio.get_running_loop().set_exception_handler(
                lambda _loop, context: handler_calls.append(ADDRESS.sub("", str(context.get("message"))))
            )
        with anyio.fail_after(10):
            await scenario.consume(kind(scenario.body, log), log)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if backend == "uvloop":
                anyio.run(main, backend="asyncio", backend_options={"use_uvloop": True})
            else:
                anyio.run(main, backend=backend)
        except BaseException as exc:
            log(f"run raised {describe(exc)}")
        else:
            log("run returned")
    log.events.extend(
        f"warning {w.category.__name__} at {w.filename}:{w.lineno}: {w.message}" for w in caught
    )
    log.events.extend(f"loop exception handler: {message}" for message in handler_calls)
    return log.events


# -- bodies ------------------------------------------------------------------------------


async def counting(log: Log, label: str) -> AsyncGenerator[int, Any]:
    """Yields 1, 2, 3, logging each step and its cleanup."""
    try:
        for item in (1, 2, 3):
            log(f"{label} yields {item}")
            reply = yield item
            if reply is not None:
                log(f"{label} got {reply!r}")
    except BaseException as exc:
        log(f"{label} raised at its yield: {describe(exc)}")
        raise
    finally:
        log(f"{label} cleanup")


async def waits_on_its_io(log: Log, label: str) -> AsyncGenerator[int, Any]:
    """Waits on its own I/O (an event nobody sets) before its first item."""
    try:
        log(f"{label} waits on its I/O")
        log.reached.set()
        await anyio.Event().wait()
        yield 1
    except BaseException as exc:
        log(f"{label} raised: {describe(exc)}")
        raise
    finally:
        log(f"{label} cleanup")


async def one_fast_one_waiting(log: Log, label: str) -> AsyncGenerator[int, Any]:
    """Source b waits on its own I/O; source a yields once b waits, so that b's call is pending."""
    if label == "a":
        await log.reached.wait()
    source = counting(log, label) if label == "a" else waits_on_its_io(log, label)
    async with aclosing(source):
        async for item in source:
            yield item


async def failing(log: Log, label: str) -> AsyncGenerator[int, Any]:
    yield 1
    log(f"{label} raises")
    raise Boom(label)


async def failing_cleanup(log: Log, label: str) -> AsyncGenerator[int, Any]:
    try:
        yield 1
        yield 2
    finally:
        log(f"{label} cleanup raises")
        raise Boom("cleanup")


async def locked(log: Log, label: str) -> AsyncGenerator[int, Any]:
    async with LOCKS.setdefault(label, anyio.Lock()) as _:
        log(f"{label} took the lock")
        yield 1
        yield 2


LOCKS: dict[str, anyio.Lock] = {}

REQUEST: contextvars.ContextVar[str] = contextvars.ContextVar("REQUEST", default="unset")


async def reads_a_context_variable(log: Log, label: str) -> AsyncGenerator[int, Any]:
    log(f"{label} sees REQUEST={REQUEST.get()}")
    yield 1


async def timeout_around_a_yield(log: Log, label: str) -> AsyncGenerator[int, Any]:
    with anyio.move_on_after(0) as scope:
        yield 1
    log(f"{label} timed out at its yield: {scope.cancelled_caught}")
    yield 2


async def task_group_across_yields(log: Log, label: str) -> AsyncGenerator[int, Any]:
    async def helper() -> None:
        try:
            await anyio.sleep_forever()
        finally:
            log(f"{label} helper cancelled")

    async with anyio.create_task_group() as group:
        group.start_soon(helper)
        try:
            yield 1
            yield 2
        finally:
            group.cancel_scope.cancel()


# -- consumers ---------------------------------------------------------------------------


async def fire_when_reached(log: Log, scope: anyio.CancelScope) -> None:
    await log.reached.wait()
    scope.cancel()


async def timeout_in_a_task_group(open_: Opener, log: Log) -> None:
    async with anyio.create_task_group() as group, open_("producer") as agen:
        with anyio.CancelScope() as timeout:
            group.start_soon(fire_when_reached, log, timeout)
            await anext(agen)
        log(f"consumer timed out: {timeout.cancelled_caught}")
    log("task group exited")


async def timeout_around_the_block(open_: Opener, log: Log) -> None:
    async with anyio.create_task_group() as group:
        with anyio.CancelScope() as timeout:
            group.start_soon(fire_when_reached, log, timeout)
            async with open_("producer") as agen:
                await anext(agen)
        log(f"consumer timed out: {timeout.cancelled_caught}")
    log("task group exited")


async def merge_take_one(open_: Opener, log: Log) -> None:
    async with open_("a") as a, open_("b") as b:
        items = await (stream.merge(a, b) | pipe.take(1) | pipe.list())
        log(f"consumer got {items}")


async def take_zero(open_: Opener, log: Log) -> None:
    async with open_("producer") as agen:
        items = await (stream.iterate(agen) | pipe.take(0) | pipe.list())
        log(f"consumer got {items}")


async def zip_with_an_empty_iterable(open_: Opener, log: Log) -> None:
    async with open_("producer") as agen:
        log(f"consumer got {await asyncstdlib.list(asyncstdlib.zip(list[object](), agen))}")


async def break_after_one(open_: Opener, log: Log) -> None:
    async with open_("producer") as agen:
        async for item in agen:
            log(f"consumer got {item}")
            break
        log("consumer left the loop")
    log("consumer left the block")


async def iterate_all(open_: Opener, log: Log) -> None:
    async with open_("producer") as agen:
        async for item in agen:
            log(f"consumer got {item}")


async def catch_inside(open_: Opener, log: Log) -> None:
    async with open_("producer") as agen:
        try:
            async for item in agen:
                log(f"consumer got {item}")
        except Boom as exc:
            log(f"consumer caught {describe(exc)}")
        log(f"then anext raises {await next_outcome(agen)}")


async def next_outcome(agen: AsyncGenerator[Any, Any]) -> str:
    try:
        return f"returns {await anext(agen)}"
    except BaseException as exc:
        return describe(exc)


async def aclosing_releases_the_lock(open_: Opener, log: Log) -> None:
    LOCKS.clear()
    async with open_("producer") as agen:
        async with aclosing(agen):
            log(f"consumer got {await anext(agen)}")
        log(f"after aclosing, locked: {LOCKS['producer'].locked()}")


async def asend_and_athrow(open_: Opener, log: Log) -> None:
    async with open_("producer") as agen:
        log(f"consumer got {await anext(agen)}")
        log(f"asend: {await agen.asend('hello')}")
        log(f"athrow: {await next_outcome_of(agen.athrow(Boom('thrown')))}")
        log(f"then: {await next_outcome(agen)}")


async def next_outcome_of(call: Awaitable[Any]) -> str:
    try:
        return f"returns {await call}"
    except BaseException as exc:
        return describe(exc)


async def athrow_with_a_type_and_a_value(open_: Opener, log: Log) -> None:
    # Deprecated since Python 3.12, which warns where it is called.
    async with open_("producer") as agen:
        log(f"consumer got {await anext(agen)}")
        log(f"athrow: {await next_outcome_of(agen.athrow(Boom, Boom('thrown')))}")


async def asend_a_value_first(open_: Opener, log: Log) -> None:
    async with open_("producer") as agen:
        log(f"asend('early'): {await next_outcome_of(agen.asend('early'))}")
        log(f"then: {await next_outcome(agen)}")
        await agen.aclose()
        log(f"after aclose, asend('late'): {await next_outcome_of(agen.asend('late'))}")


async def ignores_generator_exit(log: Log, label: str) -> AsyncGenerator[int, Any]:
    try:
        yield 1
    except GeneratorExit:
        log(f"{label} ignores GeneratorExit")
        yield 2


async def asyncstdlib_islice(open_: Opener, log: Log) -> None:
    async with open_("producer") as agen:
        log(f"consumer got {await asyncstdlib.list(asyncstdlib.islice(agen, 2))}")
        log(f"then: {await next_outcome(agen)}")


async def aioitertools_enumerate_and_islice(open_: Opener, log: Log) -> None:
    async with open_("producer") as agen:
        pairs = [
            pair async for pair in aioitertools_itertools.islice(aioitertools_builtins.enumerate(agen), 2)
        ]
        log(f"consumer got {pairs}")


async def aiostream_throws_the_consumer_error_in(open_: Opener, log: Log) -> None:
    # aiostream's streamcontext throws an exception of its block into the
    # source at its yield (athrow), as it does for a native generator.
    async with open_("producer") as agen:
        try:
            async with stream.iterate(agen).stream() as streamer:
                async for item in streamer:
                    log(f"consumer got {item}")
                    raise KeyError("consumer")
        except KeyError as exc:
            log(f"consumer caught {describe(exc)}")


async def reads_after_setting_a_context_variable(open_: Opener, log: Log) -> None:
    async with open_("producer") as agen:
        REQUEST.set("set by the consumer")
        log(f"consumer got {await anext(agen)}")


async def checks_isasyncgen(open_: Opener, log: Log) -> None:
    async with open_("producer") as agen:
        log(f"inspect.isasyncgen: {inspect.isasyncgen(agen)}")
        log(f"inspect.getasyncgenstate: {getasyncgenstate(agen)}")


def getasyncgenstate(agen: Any) -> str:
    """inspect.getasyncgenstate (3.12) without its ag_suspended: the attributes consumers read."""
    if agen.ag_running:
        return "AGEN_RUNNING"
    return "AGEN_CLOSED" if agen.ag_frame is None else "AGEN_CREATED or AGEN_SUSPENDED"


async def take_two_with_a_timeout_at_a_yield(open_: Opener, log: Log) -> None:
    async with open_("producer") as agen:
        log(f"consumer got {await anext(agen)}")
        log(f"then: {await next_outcome(agen)}")


async def leave_early(open_: Opener, log: Log) -> None:
    async with open_("producer") as agen:
        log(f"consumer got {await anext(agen)}")
    log("consumer left the block")


async def raise_after_one(open_: Opener, log: Log) -> None:
    async with open_("producer") as agen:
        log(f"consumer got {await anext(agen)}")
        raise KeyError("consumer")


async def aclose_first(open_: Opener, log: Log) -> None:
    async with open_("producer") as agen:
        await agen.aclose()
        log(f"then: {await next_outcome(agen)}")


CANCELLED_CALL = (
    "a cancelled call does not cancel the body, whose item would go to the next call (a timeout "
    "loop around anext gets every item once): the body is cancelled when the block is left, after "
    "the consumer's next steps, and nothing hangs or raises"
)
ASYNCIO_LOOPS = ("asyncio", "uvloop")
ANYIO_BACKENDS = ("asyncio", "uvloop", "trio")

SCENARIOS = [
    Scenario(
        "timeout inside a task group while the producer waits on its own I/O",
        waits_on_its_io,
        timeout_in_a_task_group,
        ANYIO_BACKENDS,
        differs=CANCELLED_CALL,
        shows=("consumer timed out: True", "producer cleanup", "task group exited", "run returned"),
    ),
    Scenario(
        "timeout around the block while the producer waits on its own I/O",
        waits_on_its_io,
        timeout_around_the_block,
        ANYIO_BACKENDS,
    ),
    Scenario(
        "aiostream merge(a, b) | take(1)",
        one_fast_one_waiting,
        merge_take_one,
        ASYNCIO_LOOPS,
        differs=CANCELLED_CALL,
        shows=("consumer got [1]", "b cleanup", "run returned"),
    ),
    Scenario(
        "aiostream take(0): the consumer returns before the first item", counting, take_zero, ASYNCIO_LOOPS
    ),
    Scenario(
        "asyncstdlib zip([], agen): the consumer returns before the first item",
        counting,
        zip_with_an_empty_iterable,
        ANYIO_BACKENDS,
    ),
    Scenario("break after the first item", counting, break_after_one, ANYIO_BACKENDS),
    Scenario("error in the cleanup", failing_cleanup, break_after_one, ANYIO_BACKENDS),
    Scenario("error raised by the body, let out of the block", failing, iterate_all, ANYIO_BACKENDS),
    Scenario("error raised by the body, caught by the consumer", failing, catch_inside, ANYIO_BACKENDS),
    Scenario(
        "a lock taken in the body is released when aclosing exits",
        locked,
        aclosing_releases_the_lock,
        ASYNCIO_LOOPS,
    ),
    Scenario("asend and athrow", counting, asend_and_athrow, ANYIO_BACKENDS),
    Scenario("asyncstdlib islice(agen, 2)", counting, asyncstdlib_islice, ANYIO_BACKENDS),
    Scenario("athrow(type, value), deprecated in 3.12", counting, athrow_with_a_type_and_a_value),
    Scenario("asend(value) before the first item", counting, asend_a_value_first, ANYIO_BACKENDS),
    Scenario("a body that ignores GeneratorExit", ignores_generator_exit, break_after_one, ANYIO_BACKENDS),
    Scenario("aioitertools enumerate and islice", counting, aioitertools_enumerate_and_islice, ASYNCIO_LOOPS),
    Scenario(
        "aiostream throws the consumer's error into the source",
        counting,
        aiostream_throws_the_consumer_error_in,
        ASYNCIO_LOOPS,
    ),
    Scenario(
        "a timeout around a yield in the body (PEP 789)",
        timeout_around_a_yield,
        take_two_with_a_timeout_at_a_yield,
        ANYIO_BACKENDS,
        differs="PEP 789: in a native generator the scope is entered in the consumer's task, "
        "where it cannot fire while the consumer is away (it would cancel the consumer's own "
        "awaits instead); with the decorator it belongs to the body's task and fires at the yield",
        shows=("producer timed out at its yield: True", "then: returns 2", "run returned"),
    ),
    Scenario(
        "a task group across yields, the consumer leaves early (PEP 789)",
        task_group_across_yields,
        leave_early,
        ANYIO_BACKENDS,
        differs="the task group wraps the GeneratorExit of aclose() in an exception group, which "
        "aclose() and aclosing let out of a native generator; the decorator's block recognises "
        "the close inside the group and ends quietly",
        shows=("producer helper cancelled", "consumer left the block", "run returned"),
    ),
    Scenario(
        "error in the cleanup while the consumer raises",
        failing_cleanup,
        raise_after_one,
        ANYIO_BACKENDS,
    ),
    Scenario("aclose before the first item", counting, aclose_first, ANYIO_BACKENDS),
    Scenario(
        "a context variable set by the consumer after entering",
        reads_a_context_variable,
        reads_after_setting_a_context_variable,
        ANYIO_BACKENDS,
        differs="the body runs in its own task, whose context is a copy of the consumer's when "
        "the block was entered: what the consumer sets later is not seen by the body",
        shows=("producer sees REQUEST=unset",),
    ),
    Scenario(
        "inspect.isasyncgen and the state that consumers read",
        counting,
        checks_isasyncgen,
        differs="the safe generator is not a native async generator object (inspect.isasyncgen is "
        "False), though it has the attributes that consumers read",
        shows=("inspect.isasyncgen: False", "inspect.getasyncgenstate: AGEN_CREATED or AGEN_SUSPENDED"),
    ),
]

CASES = [pytest.param(s, backend, id=f"{s.name} [{backend}]") for s in SCENARIOS for backend in s.backends]


@pytest.mark.clause("SAFE-GEN-DIFFERENTIAL")
@pytest.mark.parametrize(("scenario", "backend"), CASES)
def test_a_real_consumer_sees_the_same_as_with_a_native_generator(scenario: Scenario, backend: str) -> None:
    native_log = observe(scenario, native, backend)
    decorated_log = observe(scenario, decorated, backend)
    if scenario.differs:
        assert native_log != decorated_log, "listed as a difference, but the logs are equal"
        shown = iter(decorated_log)
        assert all(event in shown for event in scenario.shows), (scenario.shows, decorated_log)
    else:
        assert native_log == decorated_log


@pytest.mark.clause("SAFE-GEN-DIFFERENTIAL")
def test_every_scenario_of_the_issue_is_here() -> None:
    names = " / ".join(s.name for s in SCENARIOS)
    for words in (
        "timeout inside a task group",
        "merge(a, b) | take(1)",
        "before the first item",
        "error in the cleanup",
        "error raised by the body",
        "lock taken in the body",
    ):
        assert words in names


def table() -> str:
    """The table "scenario, native, decorator, equal or why not", from the same runs."""
    rows = ["| scenario | backend | native | decorator | equal or why not |", "|---|---|---|---|---|"]
    for scenario in SCENARIOS:
        for backend in scenario.backends:
            native_log = observe(scenario, native, backend)
            decorated_log = observe(scenario, decorated, backend)
            verdict = (
                "equal" if native_log == decorated_log else f"differs: {scenario.differs or 'UNEXPECTED'}"
            )
            cells = [
                "; ".join(native_log),
                "; ".join(decorated_log) if native_log != decorated_log else "(same)",
            ]
            rows.append(f"| {scenario.name} | {backend} | {cells[0]} | {cells[1]} | {verdict} |")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.stdout.write(table() + "\n")
