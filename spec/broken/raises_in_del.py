"""Broken on purpose: a client end's finalizer raises (Python prints "Exception ignored in").

The suite must report NO-NOISE at the step (or the close) where the end is finalized.
"""

from spec.broken import with_ends
from spec.broken.errors import *  # noqa: F403 - the exception classes that the harness matches by name


class Noisy:
    def __del__(self) -> None:
        super().__del__()  # type: ignore[misc]
        raise RuntimeError("a finalizer that raises")


Channel, StreamChannel = with_ends(client=Noisy)
