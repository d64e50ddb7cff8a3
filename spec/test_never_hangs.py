"""A cancelled call ends (CANCEL-PROMPT), checked on each end of the implementation under test.

The conformance suite cancels calls too, but reports a call that outlives its
cancellation under the clause of the step where it surfaced; this test asks
the question directly, for a pending call of each kind. Settling is bounded
in loop iterations, so a task that swallows its cancellation cannot hang it;
what a step does beyond that, the supervising parent bounds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Any

import pytest

from .clauses import CLAUSES
from .conformance import ConformanceError, LoopFactory
from .harness import Boom
from .loops import Step, abandon, run_step, settle


async def _client_pending(channel: Any, client: Any) -> asyncio.Task[Any]:
    task = asyncio.get_running_loop().create_task(client.__anext__())
    await settle(task)
    return task


async def _client_pending_started(channel: Any, client: Any, call: str) -> asyncio.Task[Any]:
    loop = asyncio.get_running_loop()
    server = loop.create_task(_serve_one(channel))
    assert await client.__anext__() == 1
    calls = {"asend": lambda: client.asend(None), "athrow": lambda: client.athrow(Boom("thrown"))}
    task = loop.create_task(calls[call]())
    await settle(task, server)
    return task


async def _serve_one(channel: Any) -> None:
    async with channel.server() as server:
        with contextlib.suppress(Boom):
            await server.asend(1)
        await asyncio.get_running_loop().create_future()  # the block waits: its end is not what is checked


async def _server_pending(channel: Any, client: Any, call: str) -> asyncio.Task[Any]:
    loop = asyncio.get_running_loop()
    ends: list[Any] = []

    async def serve() -> None:
        async with channel.server() as server:
            ends.append(server)
            await loop.create_future()

    block = loop.create_task(serve())
    first = loop.create_task(client.__anext__())
    await settle(block, first)
    calls = {"asend": lambda: ends[0].asend(1), "athrow": lambda: ends[0].athrow(Boom("thrown"))}
    # The server's call hands its item to the pending __anext__ and waits for the next request.
    task = loop.create_task(calls[call]())
    await settle(task, first, block)
    return task


# Each pending call, made on (channel, client): its task, once it waits.
CALLS: dict[str, Callable[[Any, Any], Awaitable[asyncio.Task[Any]]]] = {
    "client __anext__ before the server": lambda ch, cl: _client_pending(ch, cl),
    "client asend": lambda ch, cl: _client_pending_started(ch, cl, "asend"),
    "client athrow": lambda ch, cl: _client_pending_started(ch, cl, "athrow"),
    "server asend": lambda ch, cl: _server_pending(ch, cl, "asend"),
    "server athrow": lambda ch, cl: _server_pending(ch, cl, "athrow"),
}


@pytest.mark.clause("CANCEL-PROMPT")
@pytest.mark.parametrize("call", sorted(CALLS))
def test_a_cancelled_call_ends(
    impl: ModuleType, impl_name: str, loop_factory: LoopFactory, call: str
) -> None:
    loop = loop_factory()

    async def scenario() -> bool:
        channel = impl.Channel()
        task = await CALLS[call](channel, channel.client())
        if task.done():
            # Not this test's finding: the conformance test names the clause that this breaks.
            pytest.skip(
                f"the {call} ended at once on this implementation: there is no pending call to cancel"
            )
        task.cancel()
        with contextlib.suppress(AssertionError):  # no quiescence: the task spins on
            await settle(task)
        ended = task.done()
        if ended:
            others = asyncio.all_tasks() - {asyncio.current_task()}
            for other in others:
                other.cancel()
            await asyncio.gather(*others, return_exceptions=True)
        return ended

    ended = run_step(loop, scenario(), Step(event=f"a pending {call}, cancelled", clauses=("CANCEL-PROMPT",)))
    if not ended:
        # The task goes on: never run this loop again, nor finalize it during a later test.
        abandon(loop)
        raise ConformanceError(
            f"{impl_name} violates CANCEL-PROMPT: the task of a pending {call} does not end when it "
            f"is cancelled\n  CANCEL-PROMPT: {CLAUSES['CANCEL-PROMPT'].statement}",
            ["CANCEL-PROMPT"],
        )
    loop.close()
