"""Broken on purpose: a pending __anext__ swallows its cancellation and waits forever after it.

The suite must report CANCEL-PROMPT: the task of a cancelled call never ends.
"""

import asyncio
from typing import Any

from spec.broken import with_ends
from spec.broken.errors import *  # noqa: F403 - the exception classes that the harness matches by name


class Stubborn:
    def __anext__(self) -> Any:
        return _stubborn(super().__anext__())  # type: ignore[misc]


async def _stubborn(call: Any) -> Any:
    try:
        return await call
    except asyncio.CancelledError:
        while True:
            try:
                await asyncio.get_running_loop().create_future()
            except asyncio.CancelledError:
                continue


Channel, StreamChannel = with_ends(client=Stubborn)
