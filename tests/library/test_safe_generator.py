"""channels.as_safe_generator on asyncio, uvloop, trio and anyio on both backends.

Each test is a plain function whose coroutine runs once per backend (the
``run`` fixture): bodies and consumers use anyio's primitives, which work on
every one of them. The test fails on the asyncio loops if the loop's
exception handler was called (NO-NOISE).
"""

from __future__ import annotations

import asyncio
import functools
import gc
import inspect
import subprocess
import sys
import textwrap
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, aclosing
from typing import Any

import anyio
import pytest
import trio
from aiostream import pipe, stream
from typing_extensions import assert_type

from channels import AlreadyRunningError, Channel, ChannelInUseError, ServerCancelledError, as_safe_generator
from spec.loops import loop_factories

# A test that takes longer than this hangs: fail it instead of the whole run.
TEST_TIMEOUT = 10.0

BACKENDS = [*loop_factories(), "trio", "anyio-asyncio", "anyio-trio"]

Test = Callable[[], Awaitable[None]]


class Boom(Exception):
    pass


def run_on(backend: str, test: Test) -> None:
    """Run ``test`` on ``backend``, bounded; on asyncio, fail on an exception-handler call."""

    async def bounded() -> None:
        with anyio.fail_after(TEST_TIMEOUT):
            await test()

    if backend == "trio":
        trio.run(bounded)
    elif backend.startswith("anyio-"):
        anyio.run(bounded, backend=backend.removeprefix("anyio-"))
    else:
        logged: list[dict[str, Any]] = []
        loop = loop_factories()[backend]()
        loop.set_exception_handler(lambda _loop, context: logged.append(context))
        try:
            loop.run_until_complete(bounded())
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
        gc.collect()
        assert not logged, logged


@pytest.fixture(params=BACKENDS)
def run(request: pytest.FixtureRequest) -> Callable[[Test], None]:
    backend: str = request.param
    return lambda test: run_on(backend, test)


def on_asyncio(test: Test) -> None:
    run_on("asyncio", test)


def running(agen: AsyncGenerator[Any, Any]) -> bool:
    """ag_running, which an AsyncGenerator's type leaves out."""
    result: bool = getattr(agen, "ag_running")  # noqa: B009
    return result


# -- no read-ahead ----------------------------------------------------------------


@pytest.mark.clause("SAFE-GEN-NO-READ-AHEAD")
def test_the_body_runs_only_when_the_consumer_asks(run: Callable[[Test], None]) -> None:
    log: list[str] = []

    @as_safe_generator
    async def numbers() -> AsyncGenerator[int, None]:
        log.append("start")
        yield 1
        log.append("after 1")
        yield 2

    async def test() -> None:
        async with numbers() as agen:
            await anyio.wait_all_tasks_blocked()
            assert log == []
            assert await anext(agen) == 1
            await anyio.wait_all_tasks_blocked()
            assert log == ["start"]
            assert await anext(agen) == 2
            assert log == ["start", "after 1"]

    run(test)


@pytest.mark.clause("SAFE-GEN-NO-READ-AHEAD")
def test_asend_and_athrow_reach_the_body_at_its_yield(run: Callable[[Test], None]) -> None:
    seen: list[object] = []

    @as_safe_generator
    async def echo() -> AsyncGenerator[int, str]:
        reply = yield 0
        seen.append(reply)
        try:
            yield 1
        except Boom as exc:
            seen.append(exc)
            yield 2

    async def test() -> None:
        async with echo() as agen:
            assert await anext(agen) == 0
            assert await agen.asend("hello") == 1
            boom = Boom()
            assert await agen.athrow(boom) == 2
            assert seen == ["hello", boom]
            with pytest.raises(StopAsyncIteration):
                await anext(agen)

    run(test)


# -- leaving closes the body ----------------------------------------------------------


@pytest.mark.clause("SAFE-GEN-CLOSE")
def test_leaving_raises_generator_exit_at_the_yield_and_waits_for_the_cleanup(
    run: Callable[[Test], None],
) -> None:
    log: list[str] = []

    @as_safe_generator
    async def numbers() -> AsyncGenerator[int, None]:
        try:
            yield 1
            yield 2
        except GeneratorExit:
            log.append("GeneratorExit at the yield")
            raise
        finally:
            await anyio.lowlevel.checkpoint()
            log.append("cleanup")

    async def test() -> None:
        async with numbers() as agen:
            async for item in agen:
                log.append(f"got {item}")
                break
        log.append("left")

    run(test)
    assert log == ["got 1", "GeneratorExit at the yield", "cleanup", "left"]


@pytest.mark.clause("SAFE-GEN-CLOSE")
def test_leaving_cancels_a_body_that_waits_on_anything_else(run: Callable[[Test], None]) -> None:
    log: list[str] = []

    @as_safe_generator
    async def waits_forever(reached: anyio.Event) -> AsyncGenerator[int, None]:
        try:
            reached.set()
            await anyio.sleep_forever()
            yield 1
        finally:
            log.append("cleanup")

    async def test() -> None:
        waiting = anyio.Event()
        async with waits_forever(waiting) as agen, anyio.create_task_group() as group:
            # The consumer's call is cancelled while the body waits on its own:
            # the body goes on until the block is left.
            group.start_soon(anext, agen)
            await waiting.wait()
            group.cancel_scope.cancel()
        log.append("left")

    run(test)
    assert log == ["cleanup", "left"]


@pytest.mark.clause("SAFE-GEN-CLOSE")
def test_a_lock_taken_in_the_body_is_released_when_aclosing_exits(run: Callable[[Test], None]) -> None:
    @as_safe_generator
    async def locked(lock: anyio.Lock) -> AsyncGenerator[int, None]:
        async with lock:
            yield 1
            await anyio.lowlevel.checkpoint()
            yield 2

    async def test() -> None:
        lock = anyio.Lock()
        async with locked(lock) as agen:
            async with aclosing(agen):
                assert await anext(agen) == 1
                assert lock.locked()
            assert not lock.locked()
            with pytest.raises(StopAsyncIteration):
                await anext(agen)

    run(test)


@pytest.mark.clause("SAFE-GEN-CLOSE")
def test_an_error_in_the_cleanup_leaves_the_block_as_aclosing_raises_it(run: Callable[[Test], None]) -> None:
    @as_safe_generator
    async def failing_cleanup() -> AsyncGenerator[int, None]:
        try:
            yield 1
        finally:
            raise Boom("cleanup")

    async def leave_after_one() -> None:
        with pytest.raises(Boom, match="cleanup") as raised:
            async with failing_cleanup() as agen:
                await anext(agen)
        assert isinstance(raised.value.__context__, GeneratorExit)

    async def leave_with_an_error() -> None:
        # As aclosing: the cleanup's error replaces the consumer's, and its
        # context is the GeneratorExit that closed the body.
        async def leave() -> None:
            async with failing_cleanup() as agen:
                await anext(agen)
                raise KeyError("consumer")

        with pytest.raises(Boom, match="cleanup") as raised:
            await leave()
        assert isinstance(raised.value.__context__, GeneratorExit)

    async def aclose_raises_it_once() -> None:
        async with failing_cleanup() as agen:
            await anext(agen)
            with pytest.raises(Boom, match="cleanup"):
                await agen.aclose()
            await agen.aclose()  # closed: nothing more to raise

    run(leave_after_one)
    run(leave_with_an_error)
    run(aclose_raises_it_once)


@pytest.mark.clause("SAFE-GEN-UNSTARTED")
def test_a_block_left_before_the_first_item_never_runs_the_body(run: Callable[[Test], None]) -> None:
    log: list[str] = []

    @as_safe_generator
    async def numbers() -> AsyncGenerator[int, None]:
        try:
            log.append("started")
            yield 1
        finally:
            log.append("cleanup")

    async def leave() -> None:
        async with numbers():
            pass

    async def aclose_first() -> None:
        async with numbers() as agen:
            await agen.aclose()
            with pytest.raises(StopAsyncIteration):
                await anext(agen)

    async def athrow_first() -> None:
        async with numbers() as agen:
            with pytest.raises(Boom):
                await agen.athrow(Boom())

    async def leave_after_the_first_request_waited() -> None:
        async with numbers() as agen:
            await anyio.wait_all_tasks_blocked()  # the body's task waits for the first request
            assert not running(agen)

    for test in (leave, aclose_first, athrow_first, leave_after_the_first_request_waited):
        run(test)
    assert log == []


# -- errors ------------------------------------------------------------------------


@pytest.mark.clause("SAFE-GEN-ERROR")
def test_the_body_error_reaches_the_consumer_once_as_itself(run: Callable[[Test], None]) -> None:
    boom = Boom()

    @as_safe_generator
    async def failing() -> AsyncGenerator[int, None]:
        yield 1
        raise boom

    async def caught_inside() -> None:
        async with failing() as agen:
            assert await anext(agen) == 1
            with pytest.raises(Boom) as raised:
                await anext(agen)
            assert raised.value is boom
            with pytest.raises(StopAsyncIteration):
                await anext(agen)

    async def let_out() -> None:
        async def consume() -> None:
            async with failing() as agen:
                async for _ in agen:
                    pass

        with pytest.raises(Boom) as raised:
            await consume()
        assert raised.value is boom
        assert raised.value.__context__ is None

    run(caught_inside)
    run(let_out)


@pytest.mark.clause("SAFE-GEN-ERROR", "SAFE-GEN-SCOPE-AT-YIELD")
def test_an_error_raised_while_the_consumer_is_away_is_raised_by_the_block(
    run: Callable[[Test], None],
) -> None:
    @as_safe_generator
    async def fails_at_its_deadline() -> AsyncGenerator[int, None]:
        with anyio.move_on_after(0):
            yield 1
        raise Boom("while away")

    async def test() -> None:
        async def take_one_and_wait() -> None:
            async with fails_at_its_deadline() as agen:
                assert await anext(agen) == 1
                await anyio.wait_all_tasks_blocked()

        with pytest.raises(Boom, match="while away"):
            await take_one_and_wait()

    run(test)


# -- scopes across yields ---------------------------------------------------------------


@pytest.mark.clause("SAFE-GEN-SCOPE-AT-YIELD")
def test_a_timeout_around_a_yield_fires_in_the_body_at_that_yield(run: Callable[[Test], None]) -> None:
    seen: list[object] = []

    @as_safe_generator
    async def timed() -> AsyncGenerator[int, str]:
        # The deadline has passed: the scope fires at the yield, in the body,
        # while the consumer holds the item.
        with anyio.move_on_after(0) as scope:
            seen.append((yield 1))
        seen.append(("timed out", scope.cancelled_caught))
        seen.append((yield 2))

    async def test() -> None:
        async with timed() as agen:
            assert await anext(agen) == 1
            # No yield waits for this value any more: it is dropped.
            assert await agen.asend("dropped") == 2
            with pytest.raises(StopAsyncIteration):
                await agen.asend("kept")
        assert seen == [("timed out", True), "kept"]

    run(test)


@pytest.mark.clause("SAFE-GEN-SCOPE-AT-YIELD")
@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout is new in 3.11")
def test_an_asyncio_timeout_around_a_yield_fires_in_the_body() -> None:
    @as_safe_generator
    async def timed() -> AsyncGenerator[int, None]:
        try:
            async with asyncio.timeout(0):  # type: ignore[attr-defined,unused-ignore]
                yield 1
        except TimeoutError:
            yield 2

    async def test() -> None:
        async with timed() as agen:
            assert [item async for item in agen] == [1, 2]

    on_asyncio(test)


@pytest.mark.clause("SAFE-GEN-SCOPE-AT-YIELD", "SAFE-GEN-CLOSE")
def test_a_task_group_across_yields_ends_quietly_when_the_consumer_leaves(
    run: Callable[[Test], None],
) -> None:
    log: list[str] = []

    @as_safe_generator
    async def with_a_helper() -> AsyncGenerator[int, None]:
        async def helper() -> None:
            try:
                await anyio.sleep_forever()
            finally:
                log.append("helper cancelled")

        async with anyio.create_task_group() as group:
            group.start_soon(helper)
            try:
                yield 1
                yield 2
            finally:
                group.cancel_scope.cancel()

    async def test() -> None:
        async with with_a_helper() as agen:
            async for _ in agen:
                break
        log.append("left")

    run(test)
    assert log == ["helper cancelled", "left"]


# -- the block's task ----------------------------------------------------------------


@pytest.mark.clause("SAFE-GEN-CLOSE")
def test_a_cancelled_exit_cancels_the_cleanup_once_and_is_raised_after_it() -> None:
    log: list[str] = []

    @as_safe_generator
    async def slow_cleanup(
        reached: asyncio.Event, cancelled: asyncio.Event, release: asyncio.Event
    ) -> AsyncGenerator[int, None]:
        try:
            yield 1
        finally:
            reached.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                log.append("cleanup cancelled")
                cancelled.set()
            # Cancelled once only, as a TaskGroup forwards one cancellation:
            # the rest of the cleanup runs.
            await release.wait()
            log.append("cleanup done")

    async def test() -> None:
        reached, cancelled, release = asyncio.Event(), asyncio.Event(), asyncio.Event()

        async def consume() -> None:
            async with slow_cleanup(reached, cancelled, release) as agen:
                await anext(agen)

        task = asyncio.create_task(consume())
        await reached.wait()
        task.cancel()
        await cancelled.wait()
        task.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        log.append("consumer cancelled")

    on_asyncio(test)
    assert log == ["cleanup cancelled", "cleanup done", "consumer cancelled"]


@pytest.mark.clause("SAFE-GEN-CLOSE")
def test_aclose_while_a_call_is_pending_raises_and_leaving_cancels_the_body(
    run: Callable[[Test], None],
) -> None:
    log: list[str] = []

    @as_safe_generator
    async def waits_forever() -> AsyncGenerator[int, None]:
        try:
            await anyio.sleep_forever()
            yield 1
        finally:
            log.append("cleanup")

    async def test() -> None:
        async with anyio.create_task_group() as group:
            async with waits_forever() as agen:

                async def pending_call() -> None:
                    # The body's task ended before it answered.
                    with pytest.raises(ServerCancelledError):
                        await anext(agen)

                group.start_soon(pending_call)
                await anyio.wait_all_tasks_blocked()
                assert running(agen)
                with pytest.raises(AlreadyRunningError):
                    await agen.aclose()
            log.append("left")

    run(test)
    assert log == ["cleanup", "left"]


@pytest.mark.clause("SAFE-GEN-CLOSE")
def test_a_request_cancelled_as_the_block_is_left_never_strands_the_exit() -> None:
    """The request reaches the body's task, and the call is cancelled in the same turn.

    trio then resumes the two tasks in random order: the body's first, and it
    runs the step the call asked for (a cancelled call does not cancel the
    body) until the block's exit cancels it; or the consumer's first, and the
    block is left before the body's task sees the request, which closes the
    body at its yield instead. Either way the exit waits for the cleanup and
    nothing hangs; twenty runs take both orders.
    """

    @as_safe_generator
    async def numbers(log: list[str]) -> AsyncGenerator[int, None]:
        try:
            yield 1
            log.append("step")
            await trio.sleep_forever()
            yield 2
        except BaseException as exc:
            log.append(type(exc).__name__)
            raise
        finally:
            log.append("cleanup")

    async def leave_with_a_cancelled_request(log: list[str]) -> None:
        async with numbers(log) as agen:
            await anext(agen)
            with trio.CancelScope() as scope:
                scope.cancel()
                await anext(agen)
        log.append("left")

    for _ in range(20):
        log: list[str] = []
        run_on("trio", functools.partial(leave_with_a_cancelled_request, log))
        assert log in (["step", "Cancelled", "cleanup", "left"], ["GeneratorExit", "cleanup", "left"])


@pytest.mark.clause("SAFE-GEN-UNSTARTED")
def test_a_block_is_entered_once(run: Callable[[Test], None]) -> None:
    @as_safe_generator
    async def numbers() -> AsyncGenerator[int, None]:
        yield 1

    async def test() -> None:
        block = numbers()
        async with block:
            with pytest.raises(ChannelInUseError, match="already entered"):
                await block.__aenter__()

    run(test)


@pytest.mark.clause("BACKENDS")
def test_a_safe_generator_on_asyncio_never_imports_trio() -> None:
    script = textwrap.dedent(
        """
        import asyncio, sys
        from collections.abc import AsyncGenerator
        from channels import as_safe_generator

        @as_safe_generator
        async def numbers() -> AsyncGenerator[int, None]:
            yield 1

        async def main() -> None:
            async with numbers() as agen:
                print([item async for item in agen])

        asyncio.run(main())
        print("trio" in sys.modules)
        """
    )
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert output.stdout.splitlines() == ["[1]", "False"]


@pytest.mark.clause("BACKENDS")
def test_entering_outside_any_event_loop_says_where_to_enter(monkeypatch: pytest.MonkeyPatch) -> None:
    @as_safe_generator
    async def numbers() -> AsyncGenerator[int, None]:
        yield 1

    monkeypatch.delitem(sys.modules, "trio")  # as in a program that never imported it
    entering = numbers().__aenter__()
    with pytest.raises(RuntimeError, match="enter a safe generator inside asyncio"):
        entering.send(None)


@pytest.mark.clause("SAFE-GEN-CLOSE")
def test_leaving_while_a_call_is_pending_before_the_body_task_ran_cancels_that_task() -> None:
    @as_safe_generator
    async def numbers() -> AsyncGenerator[int, None]:
        yield 1

    async def test() -> None:
        async with numbers() as agen:
            # An eager task's first step (3.12's eager_task_factory): the call
            # is pending before the body's task has run at all.
            pending = agen.__anext__()
            pending.send(None)
            assert running(agen)
        with pytest.raises(BaseException):  # noqa: PT011, B017 - whatever a closed coroutine raises
            pending.throw(GeneratorExit)

    on_asyncio(test)


@pytest.mark.clause("SAFE-GEN-CLOSE")
def test_a_cancelled_aclose_on_trio_cancels_the_cleanup_and_is_raised_after_it() -> None:
    log: list[str] = []

    @as_safe_generator
    async def slow_cleanup(reached: trio.Event) -> AsyncGenerator[int, None]:
        try:
            yield 1
        finally:
            reached.set()
            try:
                await trio.sleep_forever()
            except trio.Cancelled:
                log.append("cleanup cancelled")
                raise

    async def test() -> None:
        reached = trio.Event()
        async with slow_cleanup(reached) as agen:
            await anext(agen)
            async with trio.open_nursery() as nursery:

                async def close() -> None:
                    with trio.CancelScope() as scope:
                        nursery.start_soon(cancel_when_reached, scope)
                        await agen.aclose()
                    log.append(f"aclose cancelled: {scope.cancelled_caught}")

                async def cancel_when_reached(scope: trio.CancelScope) -> None:
                    await reached.wait()
                    scope.cancel()

                nursery.start_soon(close)

    run_on("trio", test)
    assert log == ["cleanup cancelled", "aclose cancelled: True"]


# -- what consumers inspect ------------------------------------------------------------


@pytest.mark.clause("SAFE-GEN-INSPECT")
def test_the_safe_generator_shows_the_body_as_a_native_generator_does(run: Callable[[Test], None]) -> None:
    @as_safe_generator
    async def numbers() -> AsyncGenerator[int, None]:
        await anyio.sleep_forever()
        yield 1

    async def test() -> None:
        async with numbers() as generator, anyio.create_task_group() as group:
            agen: Any = generator  # what an AsyncGenerator's type leaves out
            assert agen.__name__ == "numbers"
            assert agen.__qualname__.endswith("<locals>.numbers")
            assert "numbers" in repr(agen)
            assert "numbers" in repr(numbers())
            assert agen.ag_code is numbers.__wrapped__.__code__  # type: ignore[attr-defined]
            assert agen.ag_frame is not None
            assert not running(agen)
            assert agen.ag_await is None
            group.start_soon(anext, agen)
            await anyio.wait_all_tasks_blocked()
            # A step is running: the body awaits its sleep.
            assert agen.ag_running
            assert agen.ag_await is not None
            group.cancel_scope.cancel()
        # The body has ended. (agen is bound before anyio's group, whose exit may swallow an
        # exception, can end the block.)
        assert agen.ag_frame is None  # pyright: ignore[reportPossiblyUnboundVariable]

    run(test)


@pytest.mark.clause("SAFE-GEN-INSPECT")
def test_a_client_end_is_running_while_a_call_is_pending(run: Callable[[Test], None]) -> None:
    async def test() -> None:
        channel: Channel[int, None] = Channel()
        client = channel.client()
        assert not client.ag_running
        assert client.ag_await is None

        async def pending_call() -> None:
            with pytest.raises(StopAsyncIteration):
                await anext(client)

        async with anyio.create_task_group() as group:
            group.start_soon(pending_call)
            await anyio.wait_all_tasks_blocked()
            assert client.ag_running
            assert client.ag_await is not None
            async with channel.server() as server:
                await server.aclose()
        assert not client.ag_running

    run(test)


# -- the decorated function --------------------------------------------------------------


@pytest.mark.clause("SAFE-GEN-SIGNATURE")
def test_the_decorated_function_keeps_its_name_docstring_and_signature() -> None:
    async def numbers(n: int, *, start: int = 0) -> AsyncGenerator[int, None]:
        """Count from start."""
        for i in range(start, start + n):
            yield i

    safe = as_safe_generator(numbers)
    assert safe.__name__ == "numbers"
    assert safe.__qualname__ == numbers.__qualname__
    assert safe.__doc__ == "Count from start."
    assert inspect.signature(safe) == inspect.signature(numbers)
    # Binding the arguments happens at the call, as for a generator function.
    with pytest.raises(TypeError):
        safe(1, 2)  # type: ignore[call-arg]

    block = safe(3, start=1)
    assert_type(block, AbstractAsyncContextManager[AsyncGenerator[int, None]])

    async def test() -> None:
        async with block as agen:
            assert_type(agen, AsyncGenerator[int, None])
            assert [i async for i in agen] == [1, 2, 3]

    on_asyncio(test)


@pytest.mark.clause("SAFE-GEN-SIGNATURE")
def test_iterating_the_call_without_async_with_says_what_to_write() -> None:
    # The habit of a generator function's user: `async for i in numbers()`. The body never runs.
    ran: list[bool] = []

    @as_safe_generator
    async def numbers() -> AsyncGenerator[int, None]:
        ran.append(True)
        yield 1

    async def test() -> None:
        with pytest.raises(TypeError, match=r"async with numbers\(\.\.\.\) as agen: async for item in agen"):
            async for _ in numbers():  # type: ignore[attr-defined]
                pass

    on_asyncio(test)
    assert ran == []


@pytest.mark.clause("SAFE-GEN-INSPECT")
async def test_aiostream_merge_and_take_leave_a_pending_channel_client_to_its_owner() -> None:
    """aiostream's merge | take(1) stops while the other source's call is pending: it reads
    ag_running and leaves that client alone, instead of calling aclose() on a running end."""
    fast: Channel[int, None] = Channel()
    slow: Channel[int, None] = Channel()
    reached = asyncio.Event()

    async def produce_at_once() -> None:
        async with fast.server() as server:
            await server.asend(1)

    async def produce_after_io() -> None:
        async with slow.server() as server:
            reached.set()
            await asyncio.Event().wait()
            await server.asend(2)

    async def first_once_slow_waits(client: AsyncGenerator[int, None]) -> AsyncGenerator[int, None]:
        await reached.wait()
        async for item in client:
            yield item

    producers = [asyncio.create_task(produce_at_once()), asyncio.create_task(produce_after_io())]
    fast_client, slow_client = fast.client(), slow.client()
    items = await (stream.merge(first_once_slow_waits(fast_client), slow_client) | pipe.take(1) | pipe.list())
    assert items == [1]
    # What take(1) left open is closed by its owner.
    await fast_client.aclose()
    await slow_client.aclose()
    for producer in producers:
        producer.cancel()
    await asyncio.gather(*producers, return_exceptions=True)
