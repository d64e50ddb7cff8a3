"""Broken on purpose: asking a channel for a second client returns another client end.

The suite must report MISUSE-SECOND-END: it raises ChannelInUseError.
"""

from typing import Any

from spec.broken import with_ends
from spec.broken.errors import *  # noqa: F403 - the exception classes that the harness matches by name


class Lenient:
    _handoff: Any
    _client_type: Any

    def client(self) -> Any:
        if self._handoff.client_life != "absent":
            return self._client_type(self._handoff)
        return super().client()  # type: ignore[misc]


Channel, StreamChannel = with_ends(channel=Lenient)
