"""Protocol clauses outside the model's alphabet, checked on the implementation under test.

The model drives calls and cancellations on one event loop; these checks
cover what it does not: a block that raises StopAsyncIteration or ignores
GeneratorExit, a server coroutine closed outside a task, a server end used
after its block or while another task sends on it, and a channel used from a
second event loop. Each takes the implementation (``--impl``) as a
parameter and matches exceptions as the conformance suite does: by class
name in the implementation's module, else by the builtin base class
(:func:`spec.harness.matches`).
"""

from __future__ import annotations

import asyncio
import sys
import warnings
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine
from types import ModuleType
from typing import Any

import pytest

from .clauses import CLAUSES
from .conformance import ConformanceError, LoopFactory
from .harness import Boom, describe, matches
from .loops import Step, run_step, settle

# The bound of a check that spec/test_backends.py runs on trio or anyio, where trio's own
# fail_after bounds it (relying on cancellation) within the step that the supervising parent bounds.
BOUND = 5.0


def run(impl: ModuleType, clause: str, loop_factory: LoopFactory, scenario: Coroutine[Any, Any, Any]) -> Any:
    """Run ``scenario`` on a fresh loop as one step that the supervising parent bounds
    (:func:`spec.loops.run_step`); whatever goes wrong, the failure names ``clause``."""
    loop = loop_factory()
    try:
        return run_step(loop, scenario, Step(event=f"a check of {clause}", clauses=(clause,)))
    except AssertionError:
        raise
    except (Exception, asyncio.CancelledError) as error:
        raise violation(impl, clause, f"the check raised {error!r}") from error
    finally:
        if not loop.is_closed():
            loop.close()


def violation(impl: ModuleType, clause: str, problem: str) -> AssertionError:
    return ConformanceError(
        f"{impl.__name__} violates {clause}\n  {clause}: {CLAUSES[clause].statement}\n  {problem}", [clause]
    )


class Outcome:
    """What one awaited call did: its value, or the exception it raised."""

    def __init__(self, value: Any = None, error: BaseException | None = None) -> None:
        self.value = value
        self.error = error

    @property
    def observed(self) -> tuple[str, Any]:
        return ("ok", self.value) if self.error is None else ("raise", type(self.error))


async def outcome(call: Awaitable[Any]) -> Outcome:
    try:
        return Outcome(await call)
    except asyncio.CancelledError as error:
        task = asyncio.current_task()
        if task is not None and sys.version_info >= (3, 11) and task.cancelling():
            raise  # the bound cancelled the check: the call hangs, it did not raise
        return Outcome(error=error)
    except BaseException as error:  # GeneratorExit too: it is the outcome under test
        return Outcome(error=error)


def expect(impl: ModuleType, clause: str, what: str, got: Outcome, name: str) -> None:
    """Fail naming ``clause`` unless ``got`` raised ``name`` (by the suite's matching)."""
    if not matches(impl, ("raise", name), got.observed):
        error = f" ({got.error!r})" if got.error is not None else ""
        raise violation(impl, clause, f"{what}: expected to raise {name}; it {describe(got.observed)}{error}")


def serve(channel: Any, *items: Any) -> Coroutine[Any, Any, list[Any]]:
    """A producer that sends ``items`` and returns the replies."""

    async def produce() -> list[Any]:
        async with channel.server() as server:
            return [await server.asend(item) for item in items]

    return produce()


# -- the mirror of PEP 525 --------------------------------------------------


@pytest.mark.clause("MIRROR-STOPASYNCITERATION")
@pytest.mark.parametrize("raised", [StopAsyncIteration, StopIteration], ids=lambda kind: kind.__name__)
def test_stop_iteration_in_the_block_reaches_the_client_as_runtime_error(
    impl: ModuleType, loop_factory: LoopFactory, raised: type[Exception]
) -> None:
    clause = "MIRROR-STOPASYNCITERATION"

    async def scenario() -> None:
        channel = impl.Channel()
        client = channel.client()

        async def produce() -> None:
            async with channel.server() as server:
                await server.asend(1)
                raise raised

        producer = asyncio.ensure_future(produce())
        assert await client.__anext__() == 1
        got = await outcome(client.__anext__())
        await asyncio.gather(producer, return_exceptions=True)
        # async for would end quietly on a StopAsyncIteration: the bug must show, as PEP 525 shows it.
        expect(
            impl, clause, f"the client's call after the block raised {raised.__name__}", got, "RuntimeError"
        )
        assert got.error is not None  # expect() passed: the call raised
        if f"raised {raised.__name__}" not in str(got.error) or not isinstance(got.error.__cause__, raised):
            problem = f"the RuntimeError says {str(got.error)!r} and its cause is {got.error.__cause__!r}"
            raise violation(impl, clause, f"{problem}; the block raised {raised.__name__}")

    run(impl, clause, loop_factory, scenario())


def athrow_warnings(call: Callable[[], Any]) -> list[tuple[type[Warning], str]]:
    """The warnings that making the awaitable of ``call()`` gives, which is then closed unawaited."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call().close()
    return [(warning.category, str(warning.message)) for warning in caught]


async def native() -> AsyncGenerator[int, None]:
    yield 1


@pytest.mark.clause("MIRROR-ATHROW-SIGNATURE", "MIRROR-ATHROW-UNSTARTED")
def test_the_three_argument_athrow_warns_where_the_running_python_does(
    impl: ModuleType, loop_factory: LoopFactory
) -> None:
    clause = "MIRROR-ATHROW-SIGNATURE"
    # What a native async generator warns on the running Python: nothing before 3.12.
    expected = athrow_warnings(lambda: native().athrow(Boom, Boom(), None))
    client = impl.Channel().client()
    got = athrow_warnings(lambda: client.athrow(Boom, Boom(), None))
    if got != expected:
        raise violation(
            impl, clause, f"athrow(typ, val, tb) warns {got}; the running Python warns {expected}"
        )
    got = athrow_warnings(lambda: client.athrow(Boom()))
    if got:
        raise violation(impl, clause, f"athrow(exc) warns {got}: the single-argument form is not deprecated")
    # The call works as before: it raises at once on a client that never asked.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        call = client.athrow(Boom, Boom(), None)
    got = run(impl, clause, loop_factory, outcome(call))
    expect(impl, "MIRROR-ATHROW-UNSTARTED", "athrow(typ, val, tb) on a client that never asked", got, "Boom")


@pytest.mark.clause("MIRROR-IGNORED-EXIT")
def test_a_server_that_sends_after_generator_exit_gets_channel_closed_error(
    impl: ModuleType, loop_factory: LoopFactory
) -> None:
    async def scenario() -> None:
        channel = impl.Channel()
        client = channel.client()
        caught: list[Outcome] = []

        async def stubborn() -> None:
            async with channel.server() as server:
                caught.append(await outcome(server.asend(1)))
                caught.append(await outcome(server.asend(2)))

        producer = asyncio.ensure_future(stubborn())
        assert await client.__anext__() == 1
        await client.aclose()
        await asyncio.gather(producer, return_exceptions=True)
        what = "server.asend(1) pending when the client closed"
        expect(impl, "MIRROR-ACLOSE", what, caught[0], "GeneratorExit")
        what = "server.asend(2) after the server caught GeneratorExit"
        expect(impl, "MIRROR-IGNORED-EXIT", what, caught[1], "ChannelClosedError")
        if "ignored GeneratorExit" not in str(caught[1].error):
            raise violation(
                impl, "MIRROR-IGNORED-EXIT", f"{what}: its message {str(caught[1].error)!r} does not say it"
            )

    run(impl, "MIRROR-IGNORED-EXIT", loop_factory, scenario())


# -- nothing hangs ----------------------------------------------------------


@pytest.mark.clause("ABANDON-SERVER")
def test_a_server_coroutine_closed_from_outside_a_task_closes_its_channel(
    impl: ModuleType, loop_factory: LoopFactory
) -> None:
    async def scenario() -> None:
        channel = impl.Channel()
        client = channel.client()
        request = asyncio.ensure_future(client.__anext__())
        await settle(request)
        producer = serve(channel, 1, 2)
        producer.send(None)  # enters, hands over 1, waits for the reply
        assert await request == 1
        producer.close()  # what the garbage collector does to an abandoned coroutine
        what = "the client's call after the server's coroutine was closed"
        expect(impl, "ABANDON-SERVER", what, await outcome(client.__anext__()), "ServerCancelledError")

    run(impl, "ABANDON-SERVER", loop_factory, scenario())


# -- misuse fails loudly ----------------------------------------------------


@pytest.mark.clause("MISUSE-CLOSED-SERVER")
@pytest.mark.parametrize("kind", ["Channel", "StreamChannel"])
def test_a_server_end_used_after_its_block_or_its_aclose_raises_channel_closed_error(
    impl: ModuleType, loop_factory: LoopFactory, kind: str
) -> None:
    async def scenario() -> None:
        channel = getattr(impl, kind)()
        client = channel.client()
        kept: list[Any] = []
        inside: list[Outcome] = []

        async def produce() -> None:
            async with channel.server() as server:
                kept.append(server)
                await server.aclose()
                inside.append(await outcome(server.asend(1)))

        producer = asyncio.ensure_future(produce())
        ended = await outcome(client.__anext__())
        await asyncio.gather(producer, return_exceptions=True)
        clause = "MISUSE-CLOSED-SERVER"
        what = "the client's call after server.aclose()"
        expect(impl, "MIRROR-SERVER-RETURN", what, ended, "StopAsyncIteration")
        expect(impl, clause, "server.asend(1) after server.aclose()", inside[0], "ChannelClosedError")
        after = await outcome(kept[0].asend(2))
        expect(impl, clause, "server.asend(2) after the block", after, "ChannelClosedError")
        if kind == "StreamChannel":
            after = await outcome(kept[0].write_items(iter([3])))
            expect(impl, clause, "write_items after the block", after, "ChannelClosedError")

    run(impl, "MISUSE-CLOSED-SERVER", loop_factory, scenario())


@pytest.mark.clause("MISUSE-EXIT-WHILE-DELEGATED")
def test_leaving_the_block_while_a_delegate_still_sends_closes_the_channel_loudly(
    impl: ModuleType, loop_factory: LoopFactory
) -> None:
    async def scenario() -> None:
        channel = impl.Channel()
        client = channel.client()
        request = asyncio.ensure_future(client.__anext__())
        delegates: list[asyncio.Future[Any]] = []
        refused: list[Outcome] = []

        async def produce() -> None:
            async with channel.server() as server:
                delegates.append(asyncio.ensure_future(server.asend(1)))
                await settle(delegates[0])
                # As PEP 525 refuses to close a running generator.
                refused.append(await outcome(server.aclose()))
                assert await request == 1

        clause = "MISUSE-EXIT-WHILE-DELEGATED"
        left = await outcome(produce())
        expect(impl, clause, "server.aclose() while a delegate sends", refused[0], "AlreadyRunningError")
        expect(impl, clause, "leaving the block while a delegate sends", left, "AlreadyRunningError")
        expect(
            impl, clause, "the delegate's server.asend(1)", await outcome(delegates[0]), "ChannelClosedError"
        )
        after = await outcome(client.__anext__())
        expect(impl, clause, "the client's call after the block", after, "StopAsyncIteration")

    run(impl, "MISUSE-EXIT-WHILE-DELEGATED", loop_factory, scenario())


def on_other_loop(impl: ModuleType, clause: str, loop_factory: LoopFactory) -> Callable[[str, Any], None]:
    """Run one call on a fresh loop and check that it raises WrongEventLoopError."""

    def check(what: str, call: Coroutine[Any, Any, Any]) -> None:
        expect(impl, clause, what, run(impl, clause, loop_factory, outcome(call)), "WrongEventLoopError")

    return check


@pytest.mark.clause("MISUSE-WRONG-LOOP")
def test_a_client_used_from_another_event_loop_raises_wrong_event_loop_error(
    impl: ModuleType, loop_factory: LoopFactory
) -> None:
    client = impl.Channel().client()

    async def ask() -> None:
        task = asyncio.ensure_future(client.__anext__())
        await settle(task)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    run(impl, "MISUSE-WRONG-LOOP", loop_factory, ask())
    check = on_other_loop(impl, "MISUSE-WRONG-LOOP", loop_factory)
    check("client.__anext__() on a second loop", client.__anext__())
    # Every call checks, even one that would close a client that never started,
    # and one on a client that is closed already.
    check("client.athrow(Boom()) on a second loop", client.athrow(Boom()))
    closed = impl.Channel().client()
    run(impl, "MISUSE-WRONG-LOOP", loop_factory, closed.aclose())
    check("athrow on a client closed on another loop", closed.athrow(Boom()))


@pytest.mark.clause("MISUSE-WRONG-LOOP")
def test_a_server_end_used_from_another_event_loop_raises_wrong_event_loop_error(
    impl: ModuleType, loop_factory: LoopFactory
) -> None:
    stream = impl.StreamChannel()
    client = stream.client()
    lent: list[Any] = []

    async def lend() -> None:
        async def produce() -> None:
            async with stream.server() as writer:
                lent.append(writer)
                await asyncio.Event().wait()

        producer = asyncio.ensure_future(produce())
        request = asyncio.ensure_future(client.__anext__())
        await settle(producer, request)
        for task in (request, producer):
            task.cancel()
        await asyncio.gather(request, producer, return_exceptions=True)

    run(impl, "MISUSE-WRONG-LOOP", loop_factory, lend())
    assert lent, "SERVER-BLOCK-ENTER: the server block was not entered after the client's request"
    check = on_other_loop(impl, "MISUSE-WRONG-LOOP", loop_factory)
    # The loop is checked before anything else, the end being closed included.
    check("server.asend(1) on a second loop", lent[0].asend(1))
    check("server.write_items on a second loop", lent[0].write_items(iter([1])))
