"""The event loops that tests and the conformance suite run on: asyncio's and uvloop's."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


def loop_factories() -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    factories: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {"asyncio": asyncio.new_event_loop}
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is not on every platform
        pass
    else:
        factories["uvloop"] = uvloop.new_event_loop
    return factories


def blocked(task: asyncio.Task[Any]) -> bool:
    """Whether ``task`` is finished or waits on a future that is still pending."""
    if task.done():
        return True
    waiter = getattr(task, "_fut_waiter", None)
    return waiter is not None and not waiter.done()


# The largest number of loop iterations that settling may take.
SETTLE_ROUNDS = 200


async def settle(*tasks: asyncio.Task[Any] | asyncio.Future[Any]) -> None:
    """Run the event loop until each of ``tasks`` is finished or blocked: no clock involved."""
    for _ in range(SETTLE_ROUNDS):
        await asyncio.sleep(0)
        if all(blocked(task) for task in tasks):  # type: ignore[arg-type]
            return
    raise AssertionError(f"no quiescence after {SETTLE_ROUNDS} loop iterations")
