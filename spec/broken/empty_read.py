"""Broken on purpose: read_items(n) with n < 1 returns an empty list instead of raising ValueError.

The suite must report READ-ITEMS-END.
"""

from typing import Any

from spec.broken import with_ends
from spec.broken.errors import *  # noqa: F403 - the exception classes that the harness matches by name


class EmptyRead:
    async def read_items(self, n: int) -> list[Any]:
        if n < 1:
            return []
        return await super().read_items(n)  # type: ignore[misc,no-any-return]


Channel, StreamChannel = with_ends(client=EmptyRead)
