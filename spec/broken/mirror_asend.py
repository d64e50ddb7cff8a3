"""Broken on purpose: the client's asend(value) delivers value + 1.

The suite must report MIRROR-ASEND: server.asend returns what the client sent.
"""

from typing import Any

from spec.broken import with_ends
from spec.broken.errors import *  # noqa: F403 - the exception classes that the harness matches by name


class OffByOne:
    def asend(self, value: Any) -> Any:
        return super().asend(value if value is None else value + 1)  # type: ignore[misc]


Channel, StreamChannel = with_ends(client=OffByOne)
