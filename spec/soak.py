"""Soak: move many items through channels under random cancellation on both ends.

``python -m spec.soak --items 1000000`` (tox -e soak) runs, on asyncio and
then on uvloop, a Channel pair (asend/anext) and a StreamChannel pair
(write_items/read_items) side by side, half of the items each. Both ends
cancel their pending calls at random moments (seeded) and recover as the
protocol says: a sender whose ``delivered`` count did not move sends the same
value again (CANCEL-SEND-UNTAKEN), one whose count moved receives the reply it
is owed first (CANCEL-SEND-TAKEN, REPLY-PENDING); a receiver simply asks again
(CANCEL-REQUEST-UNTAKEN, CANCEL-RECEIVE-RACE). At the end every item must have
arrived exactly once and in order.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import TypeVar

from .impl import DEFAULT, load
from .loops import loop_factories

R = TypeVar("R")


class Chaos:
    """Runs calls as tasks and cancels some of them after a random number of loop turns."""

    def __init__(self, rng: random.Random, rate: float) -> None:
        self.rng = rng
        self.rate = rate
        self.cancelled = 0

    async def call(self, make: Callable[[], Awaitable[R]]) -> R:
        """Await ``make()``; raise CancelledError if chaos cancelled it."""
        task = asyncio.ensure_future(make())
        if self.rng.random() < self.rate:
            for _ in range(self.rng.randrange(3)):
                await asyncio.sleep(0)
            if task.cancel():
                self.cancelled += 1
        return await task


async def simplex(module: ModuleType, items: int, chaos: Chaos) -> list[int]:
    channel = module.Channel()
    client = channel.client()
    received: list[int] = []

    async def produce() -> None:
        async with channel.server() as server:
            owed = False
            for item in range(items):
                while True:
                    before = server.delivered
                    try:
                        if owed:
                            await chaos.call(lambda: anext(server))
                            owed = False
                        await chaos.call(lambda: server.asend(item))  # noqa: B023 - awaited at once
                        break
                    except asyncio.CancelledError:
                        if server.delivered != before:
                            owed = True  # delivered: receive the reply next, never send twice
                            break

    async def consume() -> None:
        while True:
            try:
                received.append(await chaos.call(lambda: anext(client)))
            except asyncio.CancelledError:
                continue
            except StopAsyncIteration:
                return

    await asyncio.gather(produce(), consume())
    return received


async def stream(module: ModuleType, items: int, chaos: Chaos, rng: random.Random) -> list[int]:
    channel = module.StreamChannel()
    reader = channel.client()
    received: list[int] = []

    async def write() -> None:
        async with channel.server() as writer:
            source = iter(range(items))  # write_items pulls lazily: a retry goes on from here
            while True:
                try:
                    await chaos.call(lambda: writer.write_items(source))
                    return
                except asyncio.CancelledError:
                    continue
                except module.ReplyPendingError:
                    await anext(writer)

    async def read() -> None:
        while True:
            try:
                received.extend(await chaos.call(lambda: reader.read_items(rng.choice((1, 7, 100)))))
            except asyncio.CancelledError:
                continue
            except StopAsyncIteration:
                return

    await asyncio.gather(write(), read())
    return received


async def both(
    module: ModuleType, simplex_items: int, stream_items: int, chaos: Chaos, rng: random.Random
) -> list[list[int]]:
    return list(
        await asyncio.gather(simplex(module, simplex_items, chaos), stream(module, stream_items, chaos, rng))
    )


def soak(module: ModuleType, items: int, seed: int, rate: float) -> bool:
    ok = True
    half = items // 2
    for loop_name, factory in loop_factories().items():
        rng = random.Random(seed)
        chaos = Chaos(rng, rate)
        loop = factory()
        started = time.perf_counter()
        try:
            results = loop.run_until_complete(both(module, half, items - half, chaos, rng))
        finally:
            loop.close()
        elapsed = time.perf_counter() - started
        for kind, received, expected in zip(
            ("Channel", "StreamChannel"), results, (half, items - half), strict=True
        ):
            lost = expected - len(set(received))
            duplicated = len(received) - len(set(received))
            in_order = received == sorted(received)
            print(
                f"{loop_name:>8} {kind:<13} {len(received):>9} items received, lost {lost}, "
                f"duplicated {duplicated}, in order: {in_order}"
            )
            ok = ok and lost == 0 and duplicated == 0 and in_order and received == list(range(expected))
        print(f"{loop_name:>8} {chaos.cancelled} calls cancelled at random, {elapsed:.1f} s")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--items", type=int, default=1_000_000, help="items per event loop (default 1,000,000)"
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--rate", type=float, default=0.2, help="share of calls cancelled (default 0.2)")
    parser.add_argument("--impl", default=DEFAULT)
    args = parser.parse_args(argv)
    ok = soak(load(args.impl), args.items, args.seed, args.rate)
    print("nothing lost, nothing duplicated" if ok else "FAILED: items were lost, duplicated or reordered")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
