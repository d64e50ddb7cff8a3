"""Behaviours of channels.py that the model does not drive, each proving a clause.

The conformance suite (spec/) checks every interleaving of calls against the
model; these tests cover what lies outside its alphabet: misuse, the garbage
collector, typing, repr, and the stream operations at scale. What an
implementation must keep of it is checked for any implementation by
spec/test_outside_the_model.py; what stays here is channels.py's own: the
wording of its errors, its repr, its types, its cycles.
"""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import gc
import sys
import weakref
from collections.abc import AsyncGenerator, Iterator
from types import TracebackType
from typing import Any

import pytest

from channels import (
    AlreadyRunningError,
    Channel,
    ChannelClosedError,
    ChannelError,
    ChannelInUseError,
    ClientClosedError,
    ReplyPendingError,
    ServerCancelledError,
    ServerEnd,
    StreamChannel,
)
from spec.loops import settle


class Boom(Exception):
    pass


async def serve(channel: Channel[Any, Any], *items: Any) -> list[Any] | None:
    """A producer that sends ``items`` and returns the replies; None if its block ended early, on the
    client's exception, which the block keeps from the producer's task."""
    async with channel.server() as server:
        return [await server.asend(item) for item in items]
    return None


def lend_server(channel: Channel[Any, Any]) -> tuple[asyncio.Future[None], asyncio.Future[Any]]:
    """A producer task that enters its block, lends the server end to the test, and waits."""
    server_ready: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def produce() -> None:
        async with channel.server() as server:
            server_ready.set_result(server)
            await asyncio.Event().wait()

    return asyncio.ensure_future(produce()), server_ready


def deprecated_athrow_signature() -> contextlib.AbstractContextManager[Any]:
    """Expect the DeprecationWarning of athrow(typ, val, tb) where CPython gives it.

    That is on Python 3.12 and later (MIRROR-ATHROW-SIGNATURE).
    """
    if sys.version_info >= (3, 12):
        return pytest.warns(DeprecationWarning, match=r"signature of athrow\(\) is deprecated")
    return contextlib.nullcontext()


# -- the mirror of PEP 525, where the model cannot go -------------------------


@pytest.mark.clause("MIRROR-IGNORED-EXIT", "REPR-SHOWS-STATE")
async def test_a_server_that_sends_after_generator_exit_gets_channel_closed_error() -> None:
    channel: Channel[int, None] = Channel()
    client = channel.client()
    outcomes: list[str] = []

    async def stubborn() -> None:
        async with channel.server() as server:
            try:
                await server.asend(1)
            except GeneratorExit:
                outcomes.append("GeneratorExit")
            assert "server=exiting" in repr(server)  # it must let GeneratorExit end the block
            with pytest.raises(ChannelClosedError, match="GeneratorExit"):
                await server.asend(2)
            outcomes.append("ChannelClosedError")

    producer = asyncio.ensure_future(stubborn())
    assert await anext(client) == 1
    await client.aclose()
    await producer
    assert outcomes == ["GeneratorExit", "ChannelClosedError"]


@pytest.mark.clause("MIRROR-ATHROW")
async def test_an_uncaught_athrow_goes_back_to_the_client_and_leaves_the_server_task_quiet() -> None:
    channel: Channel[int, None] = Channel()
    client = channel.client()
    producer = asyncio.ensure_future(serve(channel, 1, 2))
    assert await anext(client) == 1
    boom = Boom()
    with pytest.raises(Boom) as raised:
        await client.athrow(boom)
    assert raised.value is boom
    # The exception belonged to the client: the producer's task ends without it.
    assert await producer is None


@pytest.mark.clause("MIRROR-ATHROW-UNSTARTED")
async def test_athrow_before_the_first_item_raises_at_once_and_closes_the_client() -> None:
    # As athrow() on an async generator that never started: the exception comes straight back,
    # the generator is closed, and its body never runs.
    channel: Channel[int, None] = Channel()
    client = channel.client()
    boom = Boom()
    with pytest.raises(Boom) as raised:
        await client.athrow(boom)
    assert raised.value is boom
    with pytest.raises(StopAsyncIteration):
        await anext(client)
    # The producer that comes later never enters its block: the client closed before it asked.
    with pytest.raises(ClientClosedError):
        async with channel.server():
            pass


@pytest.mark.clause("MIRROR-ATHROW")
async def test_athrow_accepts_the_legacy_type_and_value_form() -> None:
    channel: Channel[int, None] = Channel()
    client = channel.client()
    caught: list[BaseException] = []

    async def produce() -> None:
        async with channel.server() as server:
            try:
                await server.asend(1)
            except Boom as exc:
                caught.append(exc)
                await server.asend(2)

    producer = asyncio.ensure_future(produce())
    assert await anext(client) == 1
    with deprecated_athrow_signature():
        legacy = client.athrow(Boom, "why")
    assert await legacy == 2
    assert caught[0].args == ("why",)
    with pytest.raises(StopAsyncIteration):
        await anext(client)
    await producer
    with pytest.raises(TypeError), deprecated_athrow_signature():
        # Wrong on purpose: a value beside an exception instance.
        await client.athrow(Boom(), "value")  # type: ignore[call-overload]  # pyright: ignore[reportCallIssue, reportArgumentType]
    with pytest.raises(TypeError, match="deriving from BaseException, not str"):
        await client.athrow("not an exception")  # type: ignore[call-overload]


@pytest.mark.clause("MIRROR-ATHROW")
async def test_athrow_keeps_a_traceback_it_is_given() -> None:
    channel: Channel[int, None] = Channel()
    client = channel.client()
    caught: list[BaseException] = []

    def origin() -> TracebackType | None:
        try:
            raise Boom
        except Boom as exc:
            return exc.__traceback__

    async def produce() -> None:
        async with channel.server() as server:
            try:
                await server.asend(1)
            except Boom as exc:
                caught.append(exc)

    producer = asyncio.ensure_future(produce())
    assert await anext(client) == 1
    with pytest.raises(StopAsyncIteration), deprecated_athrow_signature():
        await client.athrow(Boom, None, origin())
    await producer
    frames: list[str] = []
    tb = caught[0].__traceback__
    while tb is not None:
        frames.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    assert "origin" in frames


@pytest.mark.clause("MIRROR-ATHROW")
async def test_server_athrow_raises_in_the_client_and_returns_its_next_request() -> None:
    channel: Channel[int, int] = Channel()
    client = channel.client()

    async def produce() -> int | None:
        async with channel.server() as server:
            await server.asend(1)
            return await server.athrow(Boom("for the client"))
        return None  # reached only if the block keeps an exception from the task

    producer = asyncio.ensure_future(produce())
    assert await client.asend(None) == 1
    with pytest.raises(Boom, match="for the client"):
        await client.asend(5)
    with pytest.raises(StopAsyncIteration):
        await client.asend(6)
    assert await producer == 6


# -- cancellation -----------------------------------------------------------


@pytest.mark.clause("CANCEL-REQUEST-UNTAKEN")
async def test_a_timeout_loop_around_anext_gets_every_item_exactly_once() -> None:
    channel: Channel[int, None] = Channel()
    client = channel.client()

    async def produce() -> None:
        async with channel.server() as server:
            for item in range(200):
                if item % 3 == 0:
                    await asyncio.sleep(0.002)  # slower than the consumer's timeout
                await server.asend(item)

    producer = asyncio.ensure_future(produce())
    received: list[int] = []
    while True:
        try:
            received.append(await asyncio.wait_for(anext(client), 0.001))
        except asyncio.TimeoutError:
            continue
        except StopAsyncIteration:
            break
    await producer
    assert received == list(range(200))


@pytest.mark.clause("SERVER-BLOCK-ENTER")
async def test_entering_the_server_block_waits_for_the_first_request() -> None:
    channel: Channel[int, None] = Channel()
    client = channel.client()
    entered: list[Any] = []

    async def produce() -> None:
        async with channel.server() as server:
            entered.append(server)
            await server.asend(1)

    producer = asyncio.ensure_future(produce())
    await settle(producer)
    assert entered == []  # no request yet: the block has not started
    assert await anext(client) == 1
    assert len(entered) == 1
    assert isinstance(entered[0], ServerEnd)
    with pytest.raises(StopAsyncIteration):
        await anext(client)
    await producer


@pytest.mark.clause("CANCEL-SEND-UNTAKEN", "MIRROR-FIRST-SEND-NONE")
async def test_a_cancelled_first_request_that_nobody_took_is_withdrawn() -> None:
    channel: Channel[int, int] = Channel()
    client = channel.client()
    request = asyncio.ensure_future(anext(client))  # offered: no server yet
    await settle(request)
    request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await request
    # Withdrawn, so never sent: the client is unstarted again, and its first call must send None.
    assert client.delivered == 0
    assert "client=unstarted" in repr(client)
    with pytest.raises(TypeError, match="just-started"):
        await client.asend(5)
    producer = asyncio.ensure_future(serve(channel, 7))
    assert await anext(client) == 7
    assert client.delivered == 1  # the second request, once: the withdrawn one never arrived
    with pytest.raises(StopAsyncIteration):
        await anext(client)
    await producer


@pytest.mark.clause("CANCEL-SEND-UNTAKEN", "CANCEL-LEAVES-USABLE")
async def test_a_cancelled_later_request_that_nobody_took_is_withdrawn() -> None:
    channel: Channel[int, int] = Channel()
    client = channel.client()
    producer, server_ready = lend_server(channel)
    first = asyncio.ensure_future(anext(client))
    server = await server_ready
    sending = asyncio.ensure_future(server.asend(1))
    assert await first == 1
    await settle(sending)
    sending.cancel()  # the server no longer waits: the client's next request can only be offered
    with pytest.raises(asyncio.CancelledError):
        await sending
    request = asyncio.ensure_future(client.asend(2))
    await settle(request)
    request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await request
    assert client.delivered == 1  # the first request only: the second was withdrawn
    assert "client=open" in repr(client)  # a client that started stays started
    reply = asyncio.ensure_future(anext(server))  # the server receives what it is owed...
    await settle(reply)
    assert not reply.done()  # ... which is not the withdrawn request
    asking = asyncio.ensure_future(client.asend(3))
    assert await reply == 3
    assert client.delivered == 2
    producer.cancel()
    await asyncio.gather(producer, asking, return_exceptions=True)
    assert isinstance(asking.exception(), ServerCancelledError)


@pytest.mark.clause("CANCEL-SEND-TAKEN", "REPLY-PENDING")
async def test_delivered_tells_a_cancelled_sender_whether_its_value_arrived() -> None:
    channel: Channel[str, int] = Channel()
    client = channel.client()
    producer, server_ready = lend_server(channel)
    request = asyncio.ensure_future(client.asend(None))
    server = await server_ready
    before = server.delivered
    sending = asyncio.ensure_future(server.asend("item"))
    await settle(sending, request)
    sending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sending
    assert server.delivered == before + 1  # the item reached the client
    assert await request == "item"
    with pytest.raises(ReplyPendingError, match="anext"):
        await server.asend("another")
    reply = asyncio.ensure_future(anext(server))  # receive the reply that is owed
    asking = asyncio.ensure_future(client.asend(42))
    assert await reply == 42
    producer.cancel()
    await asyncio.gather(producer, asking, return_exceptions=True)
    assert isinstance(asking.exception(), ServerCancelledError)


@pytest.mark.clause("CANCEL-SERVER-TASK")
async def test_a_cancelled_server_gives_the_client_server_cancelled_error() -> None:
    channel: Channel[int, None] = Channel()
    client = channel.client()
    producer = asyncio.ensure_future(serve(channel, 1, 2))
    assert await anext(client) == 1
    await settle(producer)  # the server waits for the client's next request
    producer.cancel()
    with pytest.raises(ServerCancelledError) as raised:
        await anext(client)
    assert not isinstance(raised.value, asyncio.CancelledError)
    assert isinstance(raised.value.__cause__, asyncio.CancelledError)
    assert producer.cancelled()


@pytest.mark.clause("CANCEL-SERVER-TASK")
async def test_a_server_cancelled_while_entering_gives_the_client_server_cancelled_error() -> None:
    channel: Channel[int, None] = Channel()
    client = channel.client()
    producer = asyncio.ensure_future(serve(channel, 1))
    await settle(producer)
    producer.cancel()
    await asyncio.gather(producer, return_exceptions=True)
    with pytest.raises(ServerCancelledError):
        await anext(client)


# -- nothing hangs ----------------------------------------------------------


@pytest.mark.clause("ABANDON-CLIENT-GC")
async def test_a_consumer_that_breaks_out_of_async_for_never_strands_its_producer() -> None:
    channel: Channel[int, None] = Channel()
    sent: list[int] = []

    async def produce() -> None:
        async with channel.server() as server:
            for item in range(10):
                await server.asend(item)
                sent.append(item)

    async def consume() -> None:
        async for item in channel.client():
            if item == 3:
                break

    producer = asyncio.ensure_future(produce())
    await consume()
    await asyncio.wait_for(producer, 5)  # ends quietly, without hanging
    assert sent == [0, 1, 2]


@pytest.mark.clause("ABANDON-CLIENT-GC", "MIRROR-ACLOSE-UNSTARTED")
async def test_an_abandoned_client_that_never_asked_stops_the_server_entering() -> None:
    channel: Channel[int, None] = Channel()
    channel.client()  # dropped at once
    with pytest.raises(ClientClosedError, match="before it asked"):
        await serve(channel, 1)
    assert "client=closed, server=closed" in repr(channel)


# -- misuse fails loudly ----------------------------------------------------


@pytest.mark.clause("MISUSE-SECOND-END")
async def test_a_second_client_or_server_is_refused() -> None:
    channel: Channel[int, None] = Channel()
    channel.client()
    channel.server()
    with pytest.raises(ChannelInUseError, match="create another Channel"):
        channel.client()
    with pytest.raises(ChannelInUseError, match="create another Channel"):
        channel.server()


@pytest.mark.clause("MISUSE-CLOSED-SERVER")
async def test_a_server_end_used_after_its_block_raises_channel_closed_error() -> None:
    channel: Channel[int, None] = Channel()
    client = channel.client()
    kept: list[Any] = []

    async def produce() -> None:
        async with channel.server() as server:
            kept.append(server)
            await server.aclose()
            await server.aclose()  # closing twice is harmless
            with pytest.raises(ChannelClosedError, match="closed"):
                await server.asend(1)

    producer = asyncio.ensure_future(produce())
    with pytest.raises(StopAsyncIteration):
        await anext(client)
    await producer
    with pytest.raises(ChannelClosedError):
        await kept[0].asend(2)


@pytest.mark.clause("MIRROR-ALREADY-RUNNING")
async def test_two_tasks_on_one_server_end_get_already_running_error() -> None:
    channel: Channel[int, None] = Channel()
    client = channel.client()
    producer, server_ready = lend_server(channel)
    request = asyncio.ensure_future(anext(client))
    server = await server_ready
    first = asyncio.ensure_future(server.asend(1))
    await settle(first)
    with pytest.raises(AlreadyRunningError, match="another task"):
        await server.asend(2)
    assert isinstance(AlreadyRunningError("x"), RuntimeError)
    assert await request == 1
    producer.cancel()
    await asyncio.gather(producer, first, return_exceptions=True)
    # The block ended under the delegate: it is told, and nothing hangs.
    assert producer.cancelled()
    assert isinstance(first.exception(), ChannelClosedError)


@pytest.mark.clause("NO-NOISE")
async def test_a_finished_channel_leaves_no_cycle_behind() -> None:
    gc.collect()
    gc.disable()
    try:
        channel: Channel[int, None] = Channel()
        client = channel.client()
        producer = asyncio.ensure_future(serve(channel, 1, 2))
        assert [item async for item in client] == [1, 2]
        await producer
        refs = [weakref.ref(obj) for obj in (channel, client, producer)]
        del channel, client, producer
        # Reference counting alone frees them: nothing waits for the cycle collector.
        assert [ref() for ref in refs] == [None, None, None]
    finally:
        gc.enable()


@pytest.mark.clause("NO-NOISE", "ABANDON-CLIENT-GC")
async def test_an_abandoned_client_is_freed_by_reference_counting() -> None:
    gc.disable()
    try:
        channel: Channel[int, None] = Channel()
        client = channel.client()
        producer = asyncio.ensure_future(serve(channel, 1, 2))
        assert await anext(client) == 1
        ref = weakref.ref(client)
        del client
        assert ref() is None
        await asyncio.wait_for(producer, 5)
    finally:
        gc.enable()


@pytest.mark.clause("REPR-SHOWS-STATE")
async def test_repr_shows_the_state_of_both_ends() -> None:
    channel: Channel[int, None] = Channel()
    assert "client=absent, server=absent" in repr(channel)
    client = channel.client()
    block = channel.server()
    assert "client=unstarted" in repr(client)
    assert "server=entering" in repr(block)
    producer = asyncio.ensure_future(serve_from(block, 1))
    assert await anext(client) == 1
    assert "client=open, server=open" in repr(channel)
    with pytest.raises(StopAsyncIteration):
        await anext(client)
    await producer
    assert "client=closed, server=closed" in repr(client)


async def serve_from(block: Any, *items: Any) -> None:
    async with block as server:
        assert "server=open" in repr(server)
        for item in items:
            await server.asend(item)


@pytest.mark.clause("TYPED-GENERICS")
def test_the_ends_are_async_generators_and_the_channels_generic() -> None:
    channel: Channel[int, str] = Channel[int, str]()
    client = channel.client()
    assert isinstance(client, collections.abc.AsyncGenerator)
    # The end that the block lends, read without entering it.
    assert isinstance(channel.server()._end, collections.abc.AsyncGenerator)  # pyright: ignore[reportPrivateUsage]
    assert isinstance(StreamChannel[int]().client(), collections.abc.AsyncGenerator)
    assert issubclass(ChannelInUseError, ChannelError)
    assert issubclass(ChannelInUseError, RuntimeError)
    assert issubclass(ServerCancelledError, ChannelError)
    assert not issubclass(ServerCancelledError, asyncio.CancelledError)
    del client


# -- streams ----------------------------------------------------------------


def counted(limit: int, pulled: list[int]) -> Iterator[int]:
    for item in range(limit):
        pulled.append(item)
        yield item


@pytest.mark.clause("WRITE-ITEMS-LAZY")
async def test_write_items_pulls_nothing_before_a_reader_asks() -> None:
    stream: StreamChannel[int] = StreamChannel()
    reader = stream.client()
    pulled: list[int] = []
    block = stream.server()

    async def write() -> None:
        async with block as writer:
            await writer.write_items(counted(5, pulled))

    writing = asyncio.ensure_future(write())
    first = asyncio.ensure_future(reader.read_once())
    await settle(first, writing)
    assert await first == 0
    assert pulled == [0]  # one taker, one item: nothing waits pulled and undelivered
    writing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await writing
    assert pulled == [0]


@pytest.mark.clause("WRITE-ITEMS-BATCH", "READ-ITEMS-BATCH", "READ-ITEMS-END")
async def test_bulk_transfer_moves_each_batch_in_one_wake_up() -> None:
    stream: StreamChannel[int] = StreamChannel()
    reader = stream.client()

    async def write() -> None:
        async with stream.server() as writer:
            await writer.write_items(iter(range(2500)))
            assert writer.delivered == 2500

    writing = asyncio.ensure_future(write())
    batches: list[list[int]] = []
    while True:
        try:
            batches.append(await reader.read_items(1000))
        except StopAsyncIteration:
            break
    await writing
    assert [len(batch) for batch in batches] == [1000, 1000, 500]
    assert [item for batch in batches for item in batch] == list(range(2500))
    with pytest.raises(ValueError, match="at least 1"):
        await reader.read_items(0)


@pytest.mark.clause("READ-ITEMS-BATCH")
async def test_asend_into_a_batch_with_room_returns_without_the_event_loop() -> None:
    stream: StreamChannel[str] = StreamChannel()
    reader = stream.client()

    async def write() -> None:
        async with stream.server() as writer:
            for item in "abc":
                await writer.asend(item)  # the batch has room: no suspension
            await writer.write_items(iter("de"))  # fills the same batch, still in this step

    batch = asyncio.ensure_future(reader.read_items(6))
    writing = asyncio.ensure_future(write())
    assert await batch == ["a", "b", "c", "d", "e"]
    await writing


@pytest.mark.clause("READ-ITEMS-BATCH")
async def test_asend_fills_a_batch_and_then_waits_for_the_reader() -> None:
    stream: StreamChannel[int] = StreamChannel()
    reader = stream.client()
    sent: list[int] = []

    async def write() -> None:
        async with stream.server() as writer:
            for item in (1, 2, 3):
                await writer.asend(item)  # 1 joins the batch; 2 fills it and waits
                sent.append(item)

    batch = asyncio.ensure_future(reader.read_items(2))
    writing = asyncio.ensure_future(write())
    assert await batch == [1, 2]
    await settle(writing)
    assert sent == [1]
    # This call is the reply to 2; then 3 joins its batch, and the block ends.
    assert await reader.read_items(2) == [3]
    await writing
    assert sent == [1, 2, 3]


@pytest.mark.clause("READ-ITEMS-BATCH", "WRITE-ITEMS-BATCH")
async def test_a_batch_never_takes_more_than_it_asked_for() -> None:
    stream: StreamChannel[int] = StreamChannel()
    reader = stream.client()
    sent: list[int] = []

    async def write() -> None:
        async with stream.server() as writer:
            await writer.write_items(iter([1, 2]))  # leaves room for one more
            for item in (3, 4):
                await writer.asend(item)  # 3 fills the batch and waits for the reader
                sent.append(item)

    batch = asyncio.ensure_future(reader.read_items(3))
    writing = asyncio.ensure_future(write())
    assert await batch == [1, 2, 3]
    await settle(writing)
    assert sent == []
    assert await reader.read_items(3) == [4]
    writing.cancel()
    await asyncio.gather(writing, return_exceptions=True)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.TaskGroup is new in 3.11")
@pytest.mark.clause("CANCEL-LEAVES-USABLE")
async def test_a_task_group_producer_and_consumer_shut_down_cleanly() -> None:
    channel: Channel[int, None] = Channel()
    received: list[int] = []

    async def consume() -> None:
        async for item in channel.client():
            received.append(item)

    # asyncio.TaskGroup is 3.11's (the test skips on 3.10): the checkers read the stubs of 3.10.
    async with asyncio.TaskGroup() as group:  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType, reportUnknownVariableType]
        group.create_task(consume())  # pyright: ignore[reportUnknownMemberType]
        group.create_task(serve(channel, *range(5)))  # pyright: ignore[reportUnknownMemberType]
    assert received == list(range(5))


@pytest.mark.clause("READ-ITEMS-BATCH", "MIRROR-ATHROW")
async def test_a_throw_after_items_in_one_batch_raises_on_the_next_call() -> None:
    stream: StreamChannel[int] = StreamChannel()
    reader = stream.client()
    batch = asyncio.ensure_future(reader.read_items(5))

    async def write() -> None:
        async with stream.server() as writer:
            assert writer.delivered == 0
            await writer.asend(1)  # room left: returns at once, in the same step
            with pytest.raises(GeneratorExit):
                await writer.athrow(Boom())

    writing = asyncio.ensure_future(write())
    assert await batch == [1]
    with pytest.raises(Boom):
        await reader.read_once()
    assert reader.delivered == 1  # its first request; reading what is owed sends nothing
    await reader.aclose()
    await writing


@pytest.mark.clause("MISUSE-EXIT-WHILE-DELEGATED", "WRITE-ITEMS-LAZY")
async def test_a_delegated_write_items_learns_that_the_block_ended() -> None:
    stream: StreamChannel[int] = StreamChannel()
    reader = stream.client()
    first = asyncio.ensure_future(reader.read_once())
    delegates: list[asyncio.Future[None]] = []

    async def write() -> None:
        async with stream.server() as writer:
            assert [request async for request in _one(writer)] == []
            first.cancel()
            await asyncio.gather(first, return_exceptions=True)
            # No reader call is pending: the delegate waits for a taker.
            delegates.append(asyncio.ensure_future(writer.write_items(iter([2, 3]))))
            await settle(delegates[0])

    with pytest.raises(AlreadyRunningError):
        await write()
    with pytest.raises(ChannelClosedError):
        await delegates[0]
    with pytest.raises(StopAsyncIteration):
        await reader.read_once()


async def _one(server: Any) -> AsyncGenerator[Any, None]:
    # ServerEnd is its own async iterator, as an async generator is.
    assert aiter(server) is server
    return
    yield


@pytest.mark.clause("ABANDON-CLIENT-GC")
async def test_a_client_held_only_by_its_pending_call_is_not_taken_for_abandoned() -> None:
    channel: Channel[int, None] = Channel()
    request = asyncio.ensure_future(anext(channel.client()))  # no other reference to the end
    gc.collect()
    await settle(request)
    producer = asyncio.ensure_future(serve(channel, 1))
    assert await request == 1
    # Now nothing holds the client: it is abandoned, and the producer ends quietly.
    await asyncio.wait_for(producer, 5)
