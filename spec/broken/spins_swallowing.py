"""Broken on purpose: the fifth call on a client end spins forever, swallowing every exception.

Nothing raised in the process could end it, on any backend: the suite must
report NO-HANG, with the clauses of the step that hung and its replay, from
the supervising process, and go on with a fresh worker.
"""

from spec.broken import on_fifth_call, with_ends
from spec.broken.errors import *  # noqa: F403 - the exception classes that the harness matches by name


async def spin_swallowing_everything() -> None:
    while True:
        try:
            while True:
                pass
        except BaseException:
            pass


Channel, StreamChannel = with_ends(client=on_fifth_call(spin_swallowing_everything))
