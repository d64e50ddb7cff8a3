"""The channel on trio, and through anyio on asyncio and on trio: the same
handoff, with trio's cancellation (cancel scopes, trio.Cancelled, the abort
protocol), abandonment through the run's token, and a channel bound to one run.

Each test is a plain function that starts its own trio.run or anyio.run,
bounded by a deadline (a test that hangs fails instead of the whole run).
"""

from __future__ import annotations

import asyncio
import gc
import runpy
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import anyio
import pytest
import trio
import trio.testing

import channels
from channels import Channel, ServerCancelledError, StreamChannel, WrongEventLoopError
from spec.trio_harness import require_trio

# A test that takes longer than this hangs: fail it instead of the whole run.
TEST_TIMEOUT = 10.0

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

anyio_backends = pytest.mark.parametrize("backend", ["asyncio", "trio"])


class Boom(Exception):
    pass


def run_trio(test: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        with trio.fail_after(TEST_TIMEOUT):
            await test()

    trio.run(bounded)


def run_anyio(test: Callable[[], Awaitable[None]], backend: str) -> None:
    async def bounded() -> None:
        with anyio.fail_after(TEST_TIMEOUT):
            await test()

    anyio.run(bounded, backend=backend)


async def produce(channel: Channel[Any, Any], items: list[Any], replies: list[Any]) -> None:
    async with channel.server() as server:
        for item in items:
            replies.append(await server.asend(item))


# -- the conformance kit's trio checks --------------------------------------------


@pytest.mark.clause("BACKENDS")
def test_the_conformance_kit_checks_channels_on_trio_and_never_skips_it() -> None:
    # trio is optional for an implementation (BACKENDS): spec/ skips its trio
    # checks for one that refuses a call inside trio.run. channels.py must not.
    try:
        require_trio(channels)
    except pytest.skip.Exception as skipped:
        pytest.fail(f"channels.py must run on trio: {skipped}")


# -- athrow and aclose ------------------------------------------------------------


@pytest.mark.clause("MIRROR-ATHROW", "MIRROR-ACLOSE", "BACKENDS")
def test_athrow_and_aclose_on_trio() -> None:
    async def test() -> None:
        channel: Channel[str, None] = Channel()
        seen: list[str] = []

        async def producer() -> None:
            async with channel.server() as server:
                try:
                    await server.asend("first")
                except Boom:
                    seen.append("boom")
                try:
                    await server.asend("second")
                except GeneratorExit:
                    seen.append("exit")
                    raise

        async with trio.open_nursery() as nursery:
            nursery.start_soon(producer)
            client = channel.client()
            assert await anext(client) == "first"
            assert await client.athrow(Boom()) == "second"
            await client.aclose()
        assert seen == ["boom", "exit"]

    run_trio(test)


# -- cancellation through cancel scopes -------------------------------------------


@pytest.mark.clause("CANCEL-SEND-UNTAKEN", "CANCEL-LEAVES-USABLE")
def test_cancel_scope_withdraws_an_untaken_request_at_once() -> None:
    async def test() -> None:
        channel: Channel[str, None] = Channel()
        client = channel.client()
        scope = trio.CancelScope()

        async def request() -> None:
            with scope:
                await anext(client)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(request)
            await trio.testing.wait_all_tasks_blocked()
            scope.cancel()
            # Prompt: the request ends before any server exists.
            await trio.testing.wait_all_tasks_blocked()
            assert scope.cancelled_caught
            assert client.delivered == 0
            # The channel goes on, from its start.
            nursery.start_soon(produce, channel, ["a"], list[None]())
            assert [item async for item in client] == ["a"]

    run_trio(test)


@pytest.mark.clause("CANCEL-SEND-TAKEN", "REPLY-PENDING", "TRIO-CANCELLATION")
def test_cancel_scope_after_delivery_leaves_the_reply_to_the_next_call() -> None:
    async def test() -> None:
        channel: Channel[str, int] = Channel()
        client = channel.client()
        replies: list[int] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(produce, channel, ["a", "b"], replies)
            assert await anext(client) == "a"
            with trio.CancelScope() as scope:
                scope.cancel()
                # Level-triggered: the call delivers its value, then its wait
                # is cancelled at once.
                await client.asend(1)
            assert scope.cancelled_caught
            assert client.delivered == 2
            assert await anext(client) == "b"
            await client.aclose()
        assert replies == [1]

    run_trio(test)


@pytest.mark.clause("CANCEL-RECEIVE-RACE")
def test_a_message_handed_over_is_received_even_if_the_scope_is_cancelled_next() -> None:
    async def test() -> None:
        stream: StreamChannel[int] = StreamChannel()
        reader = stream.client()
        outcome: list[Any] = []

        async def read(scope: trio.CancelScope) -> None:
            with scope:
                outcome.append(await reader.read_items(2))

        scope = trio.CancelScope()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(read, scope)
            async with stream.server() as writer:
                # The item goes into the pending batch, which has room for one
                # more, so asend returns at once: the reader has not resumed.
                await writer.asend(1)
                scope.cancel()
                await trio.testing.wait_all_tasks_blocked()
                # On trio the reader was rescheduled with the item: the
                # cancellation cannot take it back (on asyncio it raises
                # CancelledError and the next call returns the item).
                assert outcome == [[1]]
                assert not scope.cancelled_caught

    run_trio(test)


@pytest.mark.clause("CANCEL-SERVER-TASK", "TRIO-CANCELLATION")
def test_a_cancelled_server_task_reaches_the_client_as_server_cancelled_on_trio() -> None:
    async def test() -> None:
        channel: Channel[str, None] = Channel()
        client = channel.client()

        async def producer(task_status: trio.TaskStatus[Any]) -> None:
            with trio.CancelScope() as scope:
                task_status.started(scope)
                async with channel.server() as server:
                    await server.asend("only")
                    await trio.sleep_forever()

        async with trio.open_nursery() as nursery:
            scope = await nursery.start(producer)
            assert await anext(client) == "only"
            scope.cancel()
            with pytest.raises(ServerCancelledError) as raised:
                await anext(client)
            assert isinstance(raised.value.__cause__, trio.Cancelled)

    run_trio(test)


@pytest.mark.clause("CANCEL-REQUEST-UNTAKEN", "BACKENDS")
@anyio_backends
def test_a_timeout_loop_around_anext_gets_every_item_once_through_anyio(backend: str) -> None:
    async def test() -> None:
        channel: Channel[int, None] = Channel()
        client = channel.client()
        producer_may_go = anyio.Event()

        async def producer() -> None:
            async with channel.server() as server:
                await server.asend(0)
                await producer_may_go.wait()
                for item in (1, 2):
                    await server.asend(item)

        received: list[int] = []
        async with anyio.create_task_group() as group:
            group.start_soon(producer)
            received.append(await anext(client))
            with anyio.CancelScope() as scope:
                anyio_request = anext(client)
                scope.cancel()
                await anyio_request
            assert scope.cancelled_caught
            producer_may_go.set()
            received.extend([item async for item in client])
        assert received == [0, 1, 2]

    run_anyio(test, backend)


# -- abandonment ----------------------------------------------------------------


async def produce_until_closed(channel: Channel[int, None], ended: list[str]) -> None:
    """Send 1 and 2 until the client goes: ``ended`` names the thread that saw GeneratorExit, then "quietly"
    once the block has absorbed it."""
    async with channel.server() as server:
        try:
            await server.asend(1)
            await server.asend(2)
        except GeneratorExit:
            ended.append(f"exit in {threading.current_thread().name}")
            raise
    ended.append("quietly")


@pytest.mark.clause("ABANDON-CLIENT-GC")
def test_an_abandoned_client_closes_its_channel_from_the_trio_run() -> None:
    async def test() -> None:
        channel: Channel[int, None] = Channel()
        ended: list[str] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(produce_until_closed, channel, ended)
            client = channel.client()
            assert await anext(client) == 1
            del client
            gc.collect()
            await trio.testing.wait_all_tasks_blocked()
        assert ended == [f"exit in {threading.current_thread().name}", "quietly"]

    run_trio(test)


@pytest.mark.clause("ABANDON-CLIENT-GC")
def test_a_client_dropped_in_another_thread_closes_its_channel_in_the_trio_run() -> None:
    async def test() -> None:
        channel: Channel[int, None] = Channel()
        ended: list[str] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(produce_until_closed, channel, ended)
            holder = [channel.client()]
            assert await anext(holder[0]) == 1
            # The last reference dies in a worker thread, which runs the finalizer.
            await trio.to_thread.run_sync(holder.clear)
            await trio.testing.wait_all_tasks_blocked()
        assert ended == [f"exit in {threading.current_thread().name}", "quietly"]

    run_trio(test)


@pytest.mark.clause("ABANDON-CLIENT-GC", "NO-NOISE")
def test_a_client_abandoned_after_its_run_ended_does_nothing() -> None:
    channel: Channel[int, None] = Channel()
    clients = [channel.client()]

    async def start() -> None:
        with pytest.raises(trio.TooSlowError):
            with trio.fail_after(0):
                await anext(clients[0])

    trio.run(start)
    del clients[0]
    gc.collect()  # no "Exception ignored in" (filterwarnings = error catches the warning)


# -- misuse -----------------------------------------------------------------------


@pytest.mark.clause("MISUSE-WRONG-LOOP")
def test_a_channel_bound_to_one_trio_run_is_refused_by_another() -> None:
    channel: Channel[int, None] = Channel()
    client = channel.client()

    async def bind() -> None:
        with trio.move_on_after(0):
            await anext(client)

    async def reuse() -> None:
        with pytest.raises(WrongEventLoopError, match="trio run"):
            await anext(client)

    trio.run(bind)
    trio.run(reuse)


@pytest.mark.clause("MISUSE-WRONG-LOOP")
def test_a_channel_is_refused_across_asyncio_and_trio() -> None:
    to_trio: Channel[int, None] = Channel()
    to_asyncio: Channel[int, None] = Channel()
    from_asyncio, from_trio = to_trio.client(), to_asyncio.client()

    async def bind_asyncio() -> None:
        request = asyncio.ensure_future(anext(from_asyncio))
        await asyncio.sleep(0)
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request

    async def use_in_trio() -> None:
        with pytest.raises(WrongEventLoopError):
            await anext(from_asyncio)
        with trio.move_on_after(0):
            await anext(from_trio)

    async def use_in_asyncio() -> None:
        with pytest.raises(WrongEventLoopError, match="trio run"):
            await anext(from_trio)

    asyncio.run(bind_asyncio())
    trio.run(use_in_trio)
    asyncio.run(use_in_asyncio())


@pytest.mark.clause("BACKENDS")
@pytest.mark.parametrize("trio_in_use", [False, True])
def test_outside_any_loop_a_call_says_where_to_run_it(
    trio_in_use: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if trio_in_use:
        trio.run(trio.lowlevel.checkpoint)  # trio imported and bound: the message stays the same
    else:
        monkeypatch.setattr(channels._trio, "runs", None)  # pyright: ignore[reportPrivateUsage]
        monkeypatch.delitem(sys.modules, "trio")
    channel: Channel[int, None] = Channel()
    with pytest.raises(RuntimeError, match=r"inside an asyncio \(or uvloop\) event loop or trio.run"):
        channel.client().asend(None).send(None)


@pytest.mark.clause("BACKENDS")
def test_a_client_used_in_a_finished_trio_run_says_where_to_run_it() -> None:
    client = Channel[int, None]().client()

    async def bind() -> None:
        with trio.move_on_after(0):
            await anext(client)  # the client's end now waits through its trio waiter

    trio.run(bind)
    with pytest.raises(RuntimeError, match=r"inside an asyncio \(or uvloop\) event loop or trio.run"):
        client.asend(None).send(None)


# -- the seed's examples, with trio under asyncio's two names they use --------------


def trio_run(main: Coroutine[Any, Any, None]) -> None:
    trio.run(lambda: main)


async def trio_gather(*coroutines: Coroutine[Any, Any, None]) -> None:
    async with trio.open_nursery() as nursery:
        for coroutine in coroutines:
            nursery.start_soon(_awaited, coroutine)


async def _awaited(coroutine: Coroutine[Any, Any, None]) -> None:
    await coroutine


@pytest.mark.clause("SEED-EXAMPLES", "BACKENDS")
@pytest.mark.parametrize(
    ("script", "output"),
    [("simplex.py", "One\nTwo\nThree\n"), ("duplex.py", "A\n0\nB\n1\n")],
)
def test_seed_example_on_trio(
    script: str, output: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # pytest leaves syspath_prepend's argument unannotated.
    monkeypatch.syspath_prepend(str(EXAMPLES))  # pyright: ignore[reportUnknownMemberType]
    monkeypatch.delitem(sys.modules, "foo", raising=False)
    monkeypatch.setattr(asyncio, "run", trio_run)
    monkeypatch.setattr(asyncio, "gather", trio_gather)
    runpy.run_path(str(EXAMPLES / script), run_name="__main__")
    assert capsys.readouterr().out == output
