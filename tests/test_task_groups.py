"""A producer with a task group (asyncio.TaskGroup, a trio nursery, an anyio task
group) and a timeout around its sends: the consumer's close or thrown exception
reaches the server block wrapped in an exception group, and means what it means
without one (GROUP-EXIT).
"""

from __future__ import annotations

import asyncio
import itertools
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio
import pytest
import trio

from channels import Channel

# A bound on the producer's sends that never expires in a passing test: it is
# there because a producer needs it, and because trio's and asyncio's
# timeouts must let GeneratorExit and the thrown exception through.
SEND_TIMEOUT = 60.0


class Boom(Exception):
    pass


async def produce(channel: Channel[int, None], group: Callable[[], AbstractAsyncContextManager[Any]]) -> str:
    """Sends 0, 1, 2, ... from inside a task group, with a helper task alongside."""
    async with channel.server() as server, group() as spawn:
        spawn()
        for item in itertools.count():
            await server.asend(item)
    return "ended quietly"


async def close_after_two(client: Any) -> list[int]:
    received = [await anext(client), await anext(client)]
    await client.aclose()
    return received


async def throw_after_one(client: Any) -> None:
    await anext(client)
    with pytest.raises(Boom):
        await client.athrow(Boom())


# -- the groups, each spawning a helper that sleeps until cancelled ------------------


@asynccontextmanager
async def asyncio_task_group() -> AsyncIterator[Callable[[], Any]]:
    async with asyncio.TaskGroup() as group, asyncio.timeout(SEND_TIMEOUT):
        yield lambda: group.create_task(asyncio.Event().wait())


@asynccontextmanager
async def trio_nursery() -> AsyncIterator[Callable[[], Any]]:
    async with trio.open_nursery() as nursery:
        with trio.fail_after(SEND_TIMEOUT):
            yield lambda: nursery.start_soon(trio.sleep_forever)


@asynccontextmanager
async def anyio_task_group() -> AsyncIterator[Callable[[], Any]]:
    async with anyio.create_task_group() as group:
        with anyio.fail_after(SEND_TIMEOUT):
            yield lambda: group.start_soon(anyio.sleep_forever)


# -- asyncio (and uvloop), through the tests' own loops ----------------------------

needs_task_group = pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.TaskGroup is 3.11+")


@needs_task_group
@pytest.mark.clause("GROUP-EXIT", "MIRROR-ACLOSE")
async def test_a_closed_client_ends_a_producer_in_an_asyncio_task_group_quietly() -> None:
    channel: Channel[int, None] = Channel()
    producer = asyncio.ensure_future(produce(channel, asyncio_task_group))
    assert await close_after_two(channel.client()) == [0, 1]
    assert await producer == "ended quietly"


@needs_task_group
@pytest.mark.clause("GROUP-EXIT", "MIRROR-ATHROW")
async def test_a_thrown_exception_goes_back_to_athrow_through_an_asyncio_task_group() -> None:
    channel: Channel[int, None] = Channel()
    producer = asyncio.ensure_future(produce(channel, asyncio_task_group))
    await throw_after_one(channel.client())
    assert await producer == "ended quietly"


@needs_task_group
@pytest.mark.clause("GROUP-EXIT", "MIRROR-SERVER-ERROR")
async def test_a_group_with_another_failure_is_the_blocks_own_exception() -> None:
    channel: Channel[int, None] = Channel()

    async def fail() -> None:
        raise Boom

    async def producer() -> None:
        async with channel.server() as server, asyncio.TaskGroup() as group:
            await server.asend(0)
            group.create_task(fail())
            await server.asend(1)

    task = asyncio.ensure_future(producer())
    client = channel.client()
    assert await anext(client) == 0
    assert await anext(client) == 1
    # The helper failed while the producer waited: the client sees the group.
    with pytest.raises(ExceptionGroup) as raised:  # noqa: F821 (3.11+)
        await anext(client)
    assert [type(leaf) for leaf in raised.value.exceptions] == [Boom]
    with pytest.raises(ExceptionGroup):  # noqa: F821 (3.11+)
        await task


# -- trio and anyio on both backends -------------------------------------------------


def run_trio_pair(consume: Callable[[Any], Any]) -> str:
    outcome: list[str] = []

    async def main() -> None:
        channel: Channel[int, None] = Channel()

        async def producer() -> None:
            outcome.append(await produce(channel, trio_nursery))

        with trio.fail_after(SEND_TIMEOUT):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(producer)
                await consume(channel.client())

    trio.run(main)
    return outcome[0]


@pytest.mark.clause("GROUP-EXIT", "MIRROR-ACLOSE")
def test_a_closed_client_ends_a_producer_in_a_trio_nursery_quietly() -> None:
    assert run_trio_pair(close_after_two) == "ended quietly"


@pytest.mark.clause("GROUP-EXIT", "MIRROR-ATHROW")
def test_a_thrown_exception_goes_back_to_athrow_through_a_trio_nursery() -> None:
    assert run_trio_pair(throw_after_one) == "ended quietly"


@pytest.mark.clause("GROUP-EXIT", "MIRROR-ACLOSE", "MIRROR-ATHROW", "BACKENDS")
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize("consume", [close_after_two, throw_after_one])
def test_a_producer_in_an_anyio_task_group_ends_quietly(backend: str, consume: Callable[[Any], Any]) -> None:
    outcome: list[str] = []

    async def main() -> None:
        channel: Channel[int, None] = Channel()

        async def producer() -> None:
            outcome.append(await produce(channel, anyio_task_group))

        with anyio.fail_after(SEND_TIMEOUT):
            async with anyio.create_task_group() as group:
                group.start_soon(producer)
                await consume(channel.client())

    anyio.run(main, backend=backend)
    assert outcome == ["ended quietly"]
