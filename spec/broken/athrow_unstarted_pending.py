"""Broken on purpose: athrow() on a client that never started stays pending and ignores cancellation.

The case of issue 10, which hung the oracle on asyncio.wait_for: the suite must
report MIRROR-ATHROW-UNSTARTED (such an athrow raises at once).
"""

import asyncio
from typing import Any

from spec.broken import with_ends
from spec.broken.errors import *  # noqa: F403 - the exception classes that the harness matches by name


class PendingThrow:
    _handoff: Any

    async def athrow(self, typ: Any, val: Any = None, tb: Any = None, /) -> Any:
        while self._handoff.client_life == "unstarted":
            try:
                await asyncio.get_running_loop().create_future()
            except asyncio.CancelledError:
                continue
        return await super().athrow(typ, val, tb)  # type: ignore[misc]


Channel, StreamChannel = with_ends(client=PendingThrow)
