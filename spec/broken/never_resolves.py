"""Broken on purpose: aclose() of a client that started and has no call pending never resolves.

It honours its cancellation.

The suite must report MIRROR-ACLOSE (or MIRROR-CLOSED-CLIENT, after the server ended): the
model's aclose returns, this one stays pending; or NO-HANG, when the aclose that never resolves is
called from another event loop's thread, whose step the supervisor ends at its bound.
"""

import asyncio
from typing import Any

from spec.broken import with_ends
from spec.broken.errors import *  # noqa: F403 - the exception classes that the harness matches by name


class NeverClosing:
    _handoff: Any

    async def aclose(self) -> None:
        handoff = self._handoff
        if handoff.client_life not in ("unstarted", "closed") and handoff.client.waiter is None:
            await asyncio.get_running_loop().create_future()
        await super().aclose()  # type: ignore[misc]


Channel, StreamChannel = with_ends(client=NeverClosing)
