"""Broken on purpose: aclose() of a client that started blocks its thread for 5 seconds.

The suite must report NO-HANG once the step passes its bound (2 s by default): the
supervising process ends the worker that sleeps.
"""

import time
from typing import Any

from spec.broken import with_ends
from spec.broken.errors import *  # noqa: F403 - the exception classes that the harness matches by name


class Blocking:
    _handoff: Any

    async def aclose(self) -> None:
        if self._handoff.client_life != "unstarted":
            time.sleep(5)  # noqa: ASYNC251 - the defect
        await super().aclose()  # type: ignore[misc]


Channel, StreamChannel = with_ends(client=Blocking)
