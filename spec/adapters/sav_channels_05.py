"""sav.channels 0.5 (PyPI) as an implementation under test: its shape adapted, no behaviour changed.

0.5 has no channel class: ``create()`` returns a pair of async generators,
a receiver and a sender, and ``open(sender)`` is an async context manager
that starts the sender (its first ``asend(None)``) and closes it on the way
out. The adapter gives them the names that the suite calls:
``Channel().client()`` is the receiver, ``Channel().server()`` is
``open(sender)``, and the server end is the sender itself, whose ``asend(x)``
hands ``x`` to the receiver and returns what the receiver's next request
sent. 0.5 has no bulk transfer: ``StreamChannel`` is ``Channel``, whose ends
have no ``read_items`` or ``write_items``, so 0.5 fails the stream clauses.

``python -m spec.against sav_channels_05`` (tox -e sav05) checks that it fails
exactly the clauses of ``sav_channels_05.expected.txt``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, cast

from sav import channels as installed


class SavChannels05(Protocol):
    """What the adapter uses of sav.channels 0.5."""

    def create(self) -> tuple[AsyncGenerator[Any, Any], AsyncGenerator[Any, Any]]: ...

    def open(self, sender: AsyncGenerator[Any, Any], /) -> AbstractAsyncContextManager[Any]: ...


# The type checkers' environment has sav.channels 0.4 (the bench's contender); tox -e sav05 runs
# this adapter with 0.5, whose functions these are.
channels = cast(SavChannels05, installed)


class Channel:
    """One ``create()`` pair: the receiver is the client end, the sender the server end."""

    def __init__(self) -> None:
        self.receiver, self.sender = channels.create()

    def client(self) -> AsyncGenerator[Any, Any]:
        return self.receiver

    def server(self) -> AbstractAsyncContextManager[Any]:
        return channels.open(self.sender)


StreamChannel = Channel

__all__ = ["Channel", "StreamChannel"]
