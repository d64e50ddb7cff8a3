"""Broken on purpose: aclose() of a client that started spins forever without yielding.

The suite must report NO-HANG within its step bound: nothing in the process ends this step; the
supervising process ends the worker that runs it.
"""

from typing import Any

from spec.broken import with_ends
from spec.broken.errors import *  # noqa: F403 - the exception classes that the harness matches by name


class Spinning:
    _handoff: Any

    async def aclose(self) -> None:
        while self._handoff.client_life != "unstarted":
            pass
        await super().aclose()  # type: ignore[misc]


Channel, StreamChannel = with_ends(client=Spinning)
