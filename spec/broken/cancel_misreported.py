"""Broken on purpose: a cancelled __anext__ raises StopAsyncIteration instead of CancelledError.

Its task looks finished rather than cancelled: the suite must report the
cancellation clause of the step where the call is cancelled (CANCEL-*).
"""

import asyncio
from typing import Any

from spec.broken import with_ends
from spec.broken.errors import *  # noqa: F403 - the exception classes that the harness matches by name


class Misreporting:
    def __anext__(self) -> Any:
        return _misreported(super().__anext__())  # type: ignore[misc]


async def _misreported(call: Any) -> Any:
    try:
        return await call
    except asyncio.CancelledError:
        raise StopAsyncIteration from None


Channel, StreamChannel = with_ends(client=Misreporting)
