"""The exception classes of channels.py, for a broken implementation to star-import.

The harness matches what an implementation raised by the names it exports
(spec/harness.py: ``matches``); a broken module takes them from here rather
than from channels.py, whose ``Channel`` and ``StreamChannel`` it replaces
with its own (a star import of channels.py would make those class names
that the module then rebinds).
"""

from channels import (
    AlreadyRunningError,
    ChannelClosedError,
    ChannelError,
    ChannelInUseError,
    ChannelMisuseError,
    ClientClosedError,
    ReplyPendingError,
    ServerCancelledError,
    WrongEventLoopError,
)

__all__ = [
    "AlreadyRunningError",
    "ChannelClosedError",
    "ChannelError",
    "ChannelInUseError",
    "ChannelMisuseError",
    "ClientClosedError",
    "ReplyPendingError",
    "ServerCancelledError",
    "WrongEventLoopError",
]
