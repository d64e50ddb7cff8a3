"""The event loops that tests and the conformance suite run on: asyncio's and uvloop's."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


def loop_factories() -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    factories: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {"asyncio": asyncio.new_event_loop}
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is not on every platform
        pass
    else:
        factories["uvloop"] = uvloop.new_event_loop
    return factories
