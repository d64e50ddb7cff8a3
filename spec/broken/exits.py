"""Broken on purpose: the fifth call on a client end ends the interpreter (``os._exit(3)``).

As a crash in an extension module would: the suite must report the clauses
of the step that was running, that the worker ended with exit status 3, and
the step's replay, and go on with a fresh worker.
"""

import os

from spec.broken import on_fifth_call, with_ends
from spec.broken.errors import *  # noqa: F403 - the exception classes that the harness matches by name


async def end_the_interpreter() -> None:
    os._exit(3)


Channel, StreamChannel = with_ends(client=on_fifth_call(end_the_interpreter))
