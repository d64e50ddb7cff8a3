"""The PEP 525 oracle (:mod:`spec.oracle`) on trio.

The same body and client scripts, bounds and comparison as on asyncio: the
native async generator and the channel's server block each run in a
:class:`~spec.trio_harness.TrioLoop`, every client call in a task of its own,
and quiescence after each call is ``trio.testing.wait_all_tasks_blocked``.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import trio
import trio.testing

from .oracle import Backend, Body, Op, Run, channel_body, native_body, outcome_of
from .trio_harness import TrioLoop, quiescence_bound


async def quiescence() -> bool:
    """Wait until every task of the run is blocked; False if that takes longer than the bound."""
    with trio.move_on_after(quiescence_bound()) as timeout:
        await trio.testing.wait_all_tasks_blocked()
    return not timeout.cancelled_caught


async def drive(agen: Any, ops: list[Op], run: Run, nursery: trio.Nursery) -> None:
    """Make each call of ``ops`` then a final aclose, each settled; stop at a call left pending."""
    for op, arg in [*ops, ("aclose", None)]:
        outcome: list[Any] = []

        async def call(op: str = op, arg: Any = arg, outcome: list[Any] = outcome) -> None:
            outcome.append(await outcome_of(agen, op, arg))

        nursery.start_soon(call)
        if not await quiescence():
            run.problems.append(("NO-HANG", f"no quiescence within {quiescence_bound():g} s after {op}"))
            return
        if not outcome:
            run.calls.append((op, "pending", None))
            return
        run.calls.append(outcome[0])


async def run_native(body: Body, ops: list[Op]) -> Run:
    run = Run()
    async with trio.open_nursery() as nursery:
        await drive(native_body(body, run.log), ops, run, nursery)
        nursery.cancel_scope.cancel()
    return run


async def run_channel(loop: TrioLoop, module: ModuleType, body: Body, ops: list[Op], run: Run) -> None:
    # The run's own nursery: a task that ignores its cancellation must not keep this step from ending.
    assert loop.nursery is not None
    scope = trio.CancelScope()
    ended: list[str] = []
    driven = trio.Event()
    channel = module.Channel()
    client = channel.client()

    async def serve() -> None:
        try:
            await channel_body(channel, body, run.log)
        except trio.Cancelled:
            ended.append("server")
            raise
        except BaseException:
            pass  # the server's own failures are its task's business: the client saw them
        ended.append("server")

    async def calls() -> None:
        with scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(serve)
                await drive(client, ops, run, nursery)
                driven.set()
                await trio.sleep_forever()  # until cancelled, with every call left pending
        ended.append("client")

    loop.nursery.start_soon(calls)
    await driven.wait()
    scope.cancel()
    await quiescence()
    if len(ended) < 2:
        run.problems.append(("CANCEL-PROMPT", "a task of the channel still runs after its cancellation"))


ON_TRIO = Backend("trio", TrioLoop, run_native, run_channel)
