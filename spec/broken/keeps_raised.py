"""Broken on purpose: a client end keeps the exception that its last call raised, for a ``last_error``.

The exception's traceback holds the frame that raised it, and that frame holds the end, which
holds the exception: a reference cycle, freed only by the cyclic garbage collector. The suite
must report NO-NOISE (spec/cycles.py) when the run ends.
"""

from collections.abc import Awaitable
from typing import Any

from spec.broken import with_ends
from spec.broken.errors import *  # noqa: F403 - the exception classes that the harness matches by name


class KeepsLastError:
    last_error: BaseException | None = None

    def __anext__(self) -> Awaitable[Any]:
        return self._keeping(super().__anext__())  # type: ignore[misc]

    def asend(self, value: Any) -> Awaitable[Any]:
        return self._keeping(super().asend(value))  # type: ignore[misc]

    async def _keeping(self, call: Awaitable[Any]) -> Any:
        try:
            return await call
        except BaseException as exc:
            self.last_error = exc
            raise


Channel, StreamChannel = with_ends(client=KeepsLastError)
