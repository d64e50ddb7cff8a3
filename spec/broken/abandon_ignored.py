"""Broken on purpose: a client end that is garbage-collected without being closed stays open.

The suite must report ABANDON-CLIENT-GC, or MIRROR-ACLOSE-UNSTARTED (which says the same of a
client abandoned before it started): the producer is stranded.
"""

from spec.broken import with_ends
from spec.broken.errors import *  # noqa: F403 - the exception classes that the harness matches by name


class Forgetful:
    def __del__(self) -> None:
        pass


Channel, StreamChannel = with_ends(client=Forgetful)
