"""Memory per idle channel, traced by tracemalloc."""

from __future__ import annotations

import asyncio
import gc
import sys
import tracemalloc
from collections.abc import Callable
from types import ModuleType
from typing import Any

from bench import contenders

CHANNEL_WITH_ENDS = "Channel with client() and server() taken"
CHANNEL_ALONE = "Channel()"
QUEUE = "asyncio.Queue(1)"


def idle_bytes(make: Callable[[], Any], count: int, discard: Callable[[Any], None] = lambda _: None) -> float:
    """Bytes allocated per object that ``make`` returns, not counting a returned tuple."""
    discard(make())  # first-use caches are not the channel's cost
    holder: list[Any] = [None] * count
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for index in range(count):
            holder[index] = make()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    returns_tuple = isinstance(holder[0], tuple)
    wrapper = sys.getsizeof(holder[0]) if returns_tuple else 0
    for idle in holder:
        discard(idle)
    return (after - before) / count - wrapper


def close_both(ends: tuple[Any, Any]) -> None:
    for end in ends:
        end.close()


def measure_memory(count: int, optional: dict[str, ModuleType | None]) -> dict[str, float]:
    """Bytes per idle channel of each kind, created inside a running asyncio loop."""
    import channels

    def channel_with_ends() -> tuple[Any, ...]:
        channel: channels.Channel[Any, Any] = channels.Channel()
        return channel, channel.client(), channel.server()

    kinds: dict[str, Callable[[], Any]] = {
        CHANNEL_ALONE: channels.Channel,
        CHANNEL_WITH_ENDS: channel_with_ends,
        "StreamChannel()": channels.StreamChannel,
        QUEUE: lambda: asyncio.Queue[Any](maxsize=1),
    }
    closers: dict[str, Callable[[Any], None]] = {}
    if trio := optional.get("trio"):
        kinds[contenders.TRIO] = lambda: trio.open_memory_channel(0)
        closers[contenders.TRIO] = close_both
    if anyio := optional.get("anyio"):
        kinds[contenders.ANYIO] = lambda: anyio.create_memory_object_stream(0)
        closers[contenders.ANYIO] = close_both
    if sav := optional.get("sav.channels"):

        def sav_with_ends() -> tuple[Any, ...]:
            channel = sav.Channel()
            return channel, channel.client(), channel.server()

        kinds[f"{contenders.SAV} with client() and server() taken"] = sav_with_ends

    async def measure_all() -> dict[str, float]:
        return {
            name: idle_bytes(make, count, closers.get(name, lambda _: None)) for name, make in kinds.items()
        }

    return asyncio.run(measure_all())
