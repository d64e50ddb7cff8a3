"""Each contender's producer and consumer for every workload it takes part in.

A workload builder returns the coroutine functions of one pair (a producer and
a consumer, or a single consumer when there is no handoff), which the runner
starts as tasks. Every pair waits at the gate once it is ready to move items,
so that the clock starts when every pair is set up, and each consumer checks
that it received every item (``Gate.expect``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import aclosing
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Protocol

Side = Callable[[], Coroutine[Any, Any, None]]

CHANNEL = "Channel"
CHANNEL_COPY = "Channel (a second copy)"
STREAM = "StreamChannel read_items(k)"
FUTURES = "two futures (floor)"
GUARDED = "two futures behind ends, with the checks"
ASYNC_GENERATOR = "async generator (one task)"
QUEUE = "asyncio.Queue(1)"
TRIO = "trio memory channel(0)"
TRIO_FLOOR = "two trio reschedules (floor)"
ANYIO = "anyio memory stream(0)"
SAV = "sav.channels 0.4 Channel"
SAV_STREAM = "sav.channels 0.4 StreamChannel read_items(k)"
SAFE_GENERATOR = "as_safe_generator"
NATIVE_ACLOSING = "async generator under aclosing (one task)"
TRIO_SAFE_CHANNEL = "trio.as_safe_channel"


# Each consumer does the least that checks delivery: it adds up what it
# receives, item by item from an async iterator, batch by batch (sum) from
# read_items, so that the figures are the cost of moving the items.


class DeliveryError(AssertionError):
    """A consumer did not receive exactly the items its producer sent."""


class Event(Protocol):
    def set(self) -> None: ...
    async def wait(self) -> Any: ...


class Gate:
    """Holds every pair back until all of them are ready, then lets them go."""

    def __init__(self, pairs: int, ready: Event, opened: Event) -> None:
        self.pairs = pairs
        self.ready = ready
        self.opened = opened
        self.waiting = 0
        self.ended = 0.0  # perf_counter() when the last side ended

    async def wait(self) -> None:
        self.waiting += 1
        if self.waiting == self.pairs:
            self.ready.set()
        await self.opened.wait()

    @staticmethod
    def expect(received: int, sent: int) -> None:
        if received != sent:
            raise DeliveryError(f"the consumer received a total of {received}, the producer sent {sent}")


def total(items: int) -> int:
    """The sum of the items 1..items that every workload sends."""
    return items * (items + 1) // 2


# Builders: (gate, items) for simplex and pairs, (gate, rounds) for duplex,
# (gate, depth, items) for delegation, (gate, batch, items) for stream.
Simplex = Callable[[Gate, int], list[Side]]
Duplex = Callable[[Gate, int], list[Side]]
Delegation = Callable[[Gate, int, int], list[Side]]
Stream = Callable[[Gate, int, int], list[Side]]
Lifecycle = Callable[[], Awaitable[None]]


@dataclass
class Contender:
    name: str
    loops: tuple[str, ...]
    simplex: Simplex | None = None
    duplex: Duplex | None = None
    delegation: Delegation | None = None
    stream: Stream | None = None
    stream_batches: tuple[int, ...] = ()
    lifecycle: Lifecycle | None = None
    # Whether it takes part in the 1 / 100 / 10,000 concurrent pairs workload.
    pairs: bool = False
    notes: list[str] = field(default_factory=list[str])


async def _nested(depth: int, send: Callable[[int], Awaitable[Any]], items: int) -> None:
    """Send the items from ``depth`` coroutines below the caller."""
    if depth > 1:
        await _nested(depth - 1, send, items)
        return
    for item in range(1, items + 1):
        await send(item)


# -- our Channel (channels.py, or a second copy of it) ----------------------


def channel(
    module: ModuleType,
    name: str,
    stream_end: type[BaseException] | tuple[type[BaseException], ...] = StopAsyncIteration,
) -> Contender:
    def simplex(gate: Gate, items: int) -> list[Side]:
        return delegation(gate, 1, items)

    def delegation(gate: Gate, depth: int, items: int) -> list[Side]:
        channel = module.Channel()

        async def produce() -> None:
            async with channel.server() as server:
                await gate.wait()
                await _nested(depth, server.asend, items)

        async def consume() -> None:
            received = 0
            async for item in channel.client():
                received += item
            gate.expect(received, total(items))

        return [produce, consume]

    def duplex(gate: Gate, rounds: int) -> list[Side]:
        channel = module.Channel()

        async def serve() -> None:
            value = 0
            async with channel.server() as server:
                await gate.wait()
                for _ in range(rounds):
                    value = await server.asend(value + 1)
            gate.expect(value, rounds)

        async def echo() -> None:
            client = channel.client()
            try:
                value = await client.asend(None)
                while True:
                    value = await client.asend(value)
            except StopAsyncIteration:
                pass

        return [serve, echo]

    def stream(gate: Gate, batch: int, items: int) -> list[Side]:
        stream = module.StreamChannel()

        async def write() -> None:
            async with stream.server() as writer:
                await gate.wait()
                await writer.write_items(range(1, items + 1))

        async def read() -> None:
            reader = stream.client()
            received = 0
            try:
                while True:
                    received += sum(await reader.read_items(batch))
            except stream_end:
                pass
            gate.expect(received, total(items))

        return [write, read]

    async def lifecycle() -> None:
        channel = module.Channel()

        async def produce() -> None:
            async with channel.server() as server:
                await server.asend(1)

        task = asyncio.create_task(produce())
        async for _ in channel.client():
            pass
        await task

    return Contender(
        name,
        ("asyncio", "uvloop"),
        simplex=simplex,
        duplex=duplex,
        delegation=delegation,
        stream=stream,
        lifecycle=lifecycle,
        pairs=True,
    )


def channel_on_trio(module: ModuleType, name: str) -> Contender:
    """The same pairs on trio (the lifecycle workload starts its tasks the asyncio way)."""
    whole = channel(module, name)
    return Contender(
        name, ("trio",), simplex=whole.simplex, duplex=whole.duplex, delegation=whole.delegation, pairs=True
    )


def stream_channel(module: ModuleType) -> Contender:
    whole = channel(module, STREAM)
    return Contender(STREAM, ("asyncio", "uvloop"), stream=whole.stream, stream_batches=(1, 10, 100, 1000))


# -- two bare futures: the handoff floor ------------------------------------


class _FutureLink:
    """One future per direction: the consumer's request, the producer's item.

    It is the least a channel can do: the producer answers a request with an
    item and waits for the next request, as ``asend`` does, with one coroutine
    call per item on each side, as a channel's API needs.
    """

    __slots__ = ("create_future", "item", "request")

    def __init__(self) -> None:
        self.create_future = asyncio.get_running_loop().create_future
        self.request: asyncio.Future[Any] = self.create_future()
        self.item: asyncio.Future[Any] = self.create_future()

    async def first_request(self) -> Any:
        return await self.request

    async def asend(self, item: Any) -> Any:
        """Answer the pending request with ``item``; return the next request."""
        request = self.request = self.create_future()
        self.item.set_result(item)
        return await request

    def close(self) -> None:
        self.item.set_result(None)

    async def receive(self, request: Any) -> Any:
        """Send ``request``; return the producer's item (None at the end)."""
        item = self.item = self.create_future()
        self.request.set_result(request)
        return await item

    async def first_receive(self) -> Any:
        """Send the first request; return the first item."""
        return await self.receive(None)


class Link(Protocol):
    """A floor's handoff: what _FutureLink and _TrioLink share."""

    async def first_request(self) -> Any: ...
    async def first_receive(self) -> Any: ...
    async def asend(self, item: Any) -> Any: ...
    async def receive(self, request: Any) -> Any: ...
    def close(self) -> None: ...


def floor(name: str, loops: tuple[str, ...], new_link: Callable[[], Link]) -> Contender:
    """The pairs of a floor, the same on every loop: only the link differs."""

    def simplex(gate: Gate, items: int) -> list[Side]:
        return delegation(gate, 1, items)

    def delegation(gate: Gate, depth: int, items: int) -> list[Side]:
        link = new_link()

        async def produce() -> None:
            await link.first_request()
            await gate.wait()
            await _nested(depth, link.asend, items)
            link.close()

        async def consume() -> None:
            received = 0
            item = await link.first_receive()
            while item is not None:
                received += item
                item = await link.receive(None)
            gate.expect(received, total(items))

        return [produce, consume]

    def duplex(gate: Gate, rounds: int) -> list[Side]:
        link = new_link()

        async def serve() -> None:
            value = 0
            await link.first_request()
            await gate.wait()
            for _ in range(rounds):
                value = await link.asend(value + 1)
            link.close()
            gate.expect(value, rounds)

        async def echo() -> None:
            value = await link.first_receive()
            while value is not None:
                value = await link.receive(value)

        return [serve, echo]

    return Contender(name, loops, simplex=simplex, duplex=duplex, delegation=delegation, pairs=True)


def futures() -> Contender:
    async def lifecycle() -> None:
        link = _FutureLink()

        async def produce() -> None:
            await link.first_request()
            await link.asend(1)
            link.close()

        task = asyncio.create_task(produce())
        while await link.receive(None) is not None:
            pass
        await task

    contender = floor(FUTURES, ("asyncio", "uvloop"), _FutureLink)
    contender.lifecycle = lifecycle
    return contender


# -- the floor behind ends, with the checks every call makes ----------------

_END_OF_ITEMS: Any = object()


class GuardedLink:
    """The two futures behind a channel's ends, with the checks that every call makes.

    It measures what the API and the least of the guarantees cost before any
    bookkeeping: the consumer reaches the link through ``async for``, the
    producer through an end's ``asend``, and every call checks that it runs on
    the link's loop (MISUSE-WRONG-LOOP), that its end has no call running
    (MIRROR-ALREADY-RUNNING), that the link is open, and that the peer's
    pending call was not cancelled (CANCEL-SEND-UNTAKEN). It keeps no count,
    no offer and no reply owed: it is only right when the peer always waits,
    which the simplex workload provides, and it is not a channel. Each call
    is one coroutine, as the floor's and a channel's are, so ``asend`` and
    ``receive`` repeat the same steps: a shared helper would add a call per
    item to what is measured.
    """

    __slots__ = ("closed", "consumer", "loop", "producer")

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.consumer: asyncio.Future[Any] | None = None  # each side's pending call
        self.producer: asyncio.Future[Any] | None = None
        self.closed = False

    async def first_request(self) -> Any:
        waiter = self.producer = self.loop.create_future()
        try:
            return await waiter
        finally:
            self.producer = None

    async def asend(self, item: Any) -> Any:
        loop = asyncio.get_running_loop()
        if loop is not self.loop or self.producer is not None:
            raise RuntimeError("asend(): another loop's task, or a call already running")
        if self.closed:
            raise RuntimeError("asend(): the link is closed")
        consumer = self.consumer
        if consumer is None or consumer.done():
            raise RuntimeError("asend(): the consumer has no pending call")
        consumer.set_result(item)
        waiter = self.producer = loop.create_future()
        try:
            return await waiter
        finally:
            self.producer = None

    def close(self) -> None:
        self.closed = True
        if self.consumer is not None and not self.consumer.done():
            self.consumer.set_result(_END_OF_ITEMS)

    async def receive(self, request: Any) -> Any:
        loop = asyncio.get_running_loop()
        if loop is not self.loop or self.consumer is not None:
            raise RuntimeError("receive(): another loop's task, or a call already running")
        if self.closed:
            raise StopAsyncIteration
        producer = self.producer
        if producer is None or producer.done():
            raise RuntimeError("receive(): the producer has no pending call")
        producer.set_result(request)
        waiter = self.consumer = loop.create_future()
        try:
            item = await waiter
        finally:
            self.consumer = None
        if item is _END_OF_ITEMS:
            raise StopAsyncIteration
        return item


class _GuardedClient:
    """The consumer's end: an async iterator whose ``__anext__`` is the link's call, as a channel's is."""

    __slots__ = ("link",)

    def __init__(self, link: GuardedLink) -> None:
        self.link = link

    def __aiter__(self) -> _GuardedClient:
        return self

    def __anext__(self) -> Coroutine[Any, Any, Any]:
        return self.link.receive(None)


class _GuardedServer:
    """The producer's end, whose ``asend`` is the link's call, as a channel's is."""

    __slots__ = ("link",)

    def __init__(self, link: GuardedLink) -> None:
        self.link = link

    def asend(self, item: Any) -> Coroutine[Any, Any, Any]:
        return self.link.asend(item)


def guarded_futures() -> Contender:
    def simplex(gate: Gate, items: int) -> list[Side]:
        link = GuardedLink()
        server = _GuardedServer(link)

        async def produce() -> None:
            await link.first_request()
            await gate.wait()
            await _nested(1, server.asend, items)
            link.close()

        async def consume() -> None:
            received = 0
            async for item in _GuardedClient(link):
                received += item
            gate.expect(received, total(items))

        return [produce, consume]

    return Contender(GUARDED, ("asyncio", "uvloop"), simplex=simplex)


# -- a native async generator in one task: no handoff ----------------------


async def _generate(items: int) -> AsyncGenerator[int, None]:
    for item in range(1, items + 1):
        yield item


async def _relay(source: AsyncIterator[int]) -> AsyncIterator[int]:
    async for item in source:
        yield item


def async_generator() -> Contender:
    def simplex(gate: Gate, items: int) -> list[Side]:
        return delegation(gate, 1, items)

    def delegation(gate: Gate, depth: int, items: int) -> list[Side]:
        # An async generator cannot hand its body down to a coroutine: each
        # extra level is a generator that re-yields every item.
        async def consume() -> None:
            source: AsyncIterator[int] = _generate(items)
            for _ in range(depth - 1):
                source = _relay(source)
            await gate.wait()
            received = 0
            async for item in source:
                received += item
            gate.expect(received, total(items))

        return [consume]

    def duplex(gate: Gate, rounds: int) -> list[Side]:
        async def serve() -> AsyncGenerator[int, int]:
            value = 0
            for _ in range(rounds):
                value = yield value + 1
            gate.expect(value, rounds)

        async def echo() -> None:
            server = serve()
            await gate.wait()
            try:
                value = await anext(server)
                while True:
                    value = await server.asend(value)
            except StopAsyncIteration:
                pass

        return [echo]

    def stream(gate: Gate, batch: int, items: int) -> list[Side]:
        return delegation(gate, 1, items)

    async def lifecycle() -> None:
        async for _ in _generate(1):
            pass

    return Contender(
        ASYNC_GENERATOR,
        ("asyncio", "uvloop"),
        simplex=simplex,
        duplex=duplex,
        delegation=delegation,
        stream=stream,
        stream_batches=(1,),
        lifecycle=lifecycle,
    )


# -- asyncio.Queue(maxsize=1) -------------------------------------------------


def queue() -> Contender:
    def simplex(gate: Gate, items: int) -> list[Side]:
        queue: asyncio.Queue[int | None] = asyncio.Queue(maxsize=1)

        async def produce() -> None:
            await gate.wait()
            for item in range(1, items + 1):
                await queue.put(item)
            await queue.put(None)

        async def consume() -> None:
            received = 0
            while (item := await queue.get()) is not None:
                received += item
            gate.expect(received, total(items))

        return [produce, consume]

    def duplex(gate: Gate, rounds: int) -> list[Side]:
        to_client: asyncio.Queue[int | None] = asyncio.Queue(maxsize=1)
        to_server: asyncio.Queue[int] = asyncio.Queue(maxsize=1)

        async def serve() -> None:
            value = 0
            await gate.wait()
            for _ in range(rounds):
                await to_client.put(value + 1)
                value = await to_server.get()
            await to_client.put(None)
            gate.expect(value, rounds)

        async def echo() -> None:
            while (value := await to_client.get()) is not None:
                await to_server.put(value)

        return [serve, echo]

    async def lifecycle() -> None:
        queue: asyncio.Queue[int | None] = asyncio.Queue(maxsize=1)

        async def produce() -> None:
            await queue.put(1)
            await queue.put(None)

        task = asyncio.create_task(produce())
        while await queue.get() is not None:
            pass
        await task

    return Contender(
        QUEUE, ("asyncio", "uvloop"), simplex=simplex, duplex=duplex, lifecycle=lifecycle, pairs=True
    )


# -- trio's floor: two reschedules per item ---------------------------------


class _TrioLink:
    """trio's handoff floor: each side hands the other a value with
    ``reschedule`` and waits with ``wait_task_rescheduled``, two per item,
    as the two-futures floor does on asyncio. Its waits cannot be cancelled
    and it checks nothing."""

    __slots__ = ("consumer", "lowlevel", "producer", "value")

    def __init__(self, trio: ModuleType, value: type[Any]) -> None:
        self.lowlevel = trio.lowlevel
        self.value = value
        self.producer: Any = None
        self.consumer: Any = None

    @staticmethod
    def refuse_abort(raise_cancel: Any) -> Any:
        import trio

        return trio.lowlevel.Abort.FAILED

    async def first_request(self) -> None:
        """Wait for the consumer's first request, unless it came first."""
        if self.consumer is None:
            self.producer = self.lowlevel.current_task()
            await self.lowlevel.wait_task_rescheduled(self.refuse_abort)

    async def first_receive(self) -> Any:
        """Send the first request (to the producer if it waits for it); return the first item."""
        lowlevel = self.lowlevel
        self.consumer = lowlevel.current_task()
        if self.producer is not None:
            lowlevel.reschedule(self.producer, self.value(None))
        return await lowlevel.wait_task_rescheduled(self.refuse_abort)

    async def asend(self, item: Any) -> Any:
        """Answer the pending request with ``item``; return the next request."""
        lowlevel = self.lowlevel
        self.producer = lowlevel.current_task()
        lowlevel.reschedule(self.consumer, self.value(item))
        return await lowlevel.wait_task_rescheduled(self.refuse_abort)

    def close(self) -> None:
        self.lowlevel.reschedule(self.consumer, self.value(None))

    async def receive(self, request: Any) -> Any:
        """Send ``request``; return the producer's item (None at the end)."""
        lowlevel = self.lowlevel
        self.consumer = lowlevel.current_task()
        lowlevel.reschedule(self.producer, self.value(request))
        return await lowlevel.wait_task_rescheduled(self.refuse_abort)


def trio_floor(trio: ModuleType) -> Contender:
    from outcome import Value

    return floor(TRIO_FLOOR, ("trio",), lambda: _TrioLink(trio, Value))


# -- trio's and anyio's memory channels (capacity 0) ------------------------


def memory_channel(name: str, loops: tuple[str, ...], open_channel: Callable[[], Any]) -> Contender:
    """trio.open_memory_channel(0) and anyio.create_memory_object_stream(0) share one API."""

    def simplex(gate: Gate, items: int) -> list[Side]:
        send, receive = open_channel()

        async def produce() -> None:
            async with send:
                await gate.wait()
                for item in range(1, items + 1):
                    await send.send(item)

        async def consume() -> None:
            received = 0
            async with receive:
                async for item in receive:
                    received += item
            gate.expect(received, total(items))

        return [produce, consume]

    def duplex(gate: Gate, rounds: int) -> list[Side]:
        to_client, from_server = open_channel()
        to_server, from_client = open_channel()

        async def serve() -> None:
            value = 0
            async with to_client, from_client:
                await gate.wait()
                for _ in range(rounds):
                    await to_client.send(value + 1)
                    value = await from_client.receive()
            gate.expect(value, rounds)

        async def echo() -> None:
            async with from_server, to_server:
                async for value in from_server:
                    await to_server.send(value)

        return [serve, echo]

    return Contender(name, loops, simplex=simplex, duplex=duplex)


def trio_channel(trio: ModuleType) -> Contender:
    return memory_channel(TRIO, ("trio",), lambda: trio.open_memory_channel(0))


def anyio_stream(anyio: ModuleType) -> Contender:
    contender = memory_channel(ANYIO, ("asyncio", "uvloop"), lambda: anyio.create_memory_object_stream(0))

    async def lifecycle() -> None:
        send, receive = anyio.create_memory_object_stream(0)

        async def produce() -> None:
            async with send:
                await send.send(1)

        task = asyncio.create_task(produce())
        async with receive:
            async for _ in receive:
                pass
        await task

    contender.lifecycle = lifecycle
    return contender


# -- sav.channels 0.4 (the PyPI package, called, never copied) --------------


def sav_channel(sav: ModuleType) -> Contender:
    contender = channel(sav, SAV)
    contender.pairs = False
    return contender


def sav_stream(sav: ModuleType) -> Contender:
    # 0.4's read_items ends the stream with its internal ChannelClosed.
    stream = channel(sav, SAV_STREAM, stream_end=(StopAsyncIteration, sav.abc.ChannelClosed)).stream

    return Contender(
        SAV_STREAM,
        ("asyncio", "uvloop"),
        stream=stream,
        stream_batches=(1, 10, 100, 1000),
    )


# -- generators whose body runs in a task that an async with owns -------------
#
# The body is the same yield loop as the native async generator's; the
# consumer enters the block before the gate, so the clock runs from the first
# anext to the block's exit, which waits for the body's task.


def _safe_generator_simplex(decorate: Callable[[Any], Any], items: int, gate: Gate) -> list[Side]:
    @decorate
    async def numbers() -> AsyncIterator[int]:
        for item in range(1, items + 1):
            yield item

    async def consume() -> None:
        received = 0
        async with numbers() as source:
            await gate.wait()
            async for item in source:
                received += item
        gate.expect(received, total(items))

    return [consume]


def safe_generator(module: ModuleType) -> Contender:
    """channels.as_safe_generator: a channel's handoff plus the body's own asend per item."""

    def simplex(gate: Gate, items: int) -> list[Side]:
        return _safe_generator_simplex(module.as_safe_generator, items, gate)

    return Contender(SAFE_GENERATOR, ("asyncio", "uvloop", "trio"), simplex=simplex)


def trio_safe_channel(trio: ModuleType) -> Contender:
    """trio.as_safe_channel (trio 0.30+): a memory channel(0) and a semaphore per item."""

    def simplex(gate: Gate, items: int) -> list[Side]:
        return _safe_generator_simplex(trio.as_safe_channel, items, gate)

    return Contender(TRIO_SAFE_CHANNEL, ("trio",), simplex=simplex)


def native_under_aclosing() -> Contender:
    """The native generator in the consumer's task, as a consumer should hold it: no handoff."""

    def simplex(gate: Gate, items: int) -> list[Side]:
        async def consume() -> None:
            received = 0
            async with aclosing(_generate(items)) as source:
                await gate.wait()
                async for item in source:
                    received += item
            gate.expect(received, total(items))

        return [consume]

    return Contender(NATIVE_ACLOSING, ("asyncio", "uvloop", "trio"), simplex=simplex)
