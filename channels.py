"""Rendezvous channels between coroutines: async generators turned inside out.

An async generator lets a consumer pull values out of a producer *body*. A
:class:`Channel` lets the producer be an ordinary coroutine that *calls*
``await server.asend(x)`` while the consumer iterates ``channel.client()``
exactly as it would iterate an async generator object::

    async with channel.server() as server:      # the generator body
        reply = await server.asend(item)        # reply = yield item

    async for item in channel.client():         # the generator object
        ...

The server block mirrors the body of an async generator (PEP 525) and the
client mirrors the generator object; where two tasks make an exact mirror
impossible (cancellation, abandonment) this module states what happens.
Every guarantee below has a clause id (in CAPS-WITH-DASHES) in the
executable specification ``spec/`` of the project, which names its test.

The handoff protocol, in brief:

* The two ends take turns: the client's request (``None`` for ``anext``, or
  the value of ``asend``) is answered by the server's item, which is answered
  by the client's next request, and so on (MIRROR-ASEND).
* A message sent while the peer has a pending call is *delivered* at once,
  into that call; a message sent while the peer has none is *offered*, and
  the sender waits for a taker.
* A cancelled call raises :exc:`asyncio.CancelledError` at once. If its
  message was only offered, it is withdrawn and never delivered
  (CANCEL-SEND-UNTAKEN). If it was delivered, it stays delivered and the end
  still waits for the reply: the end's next call must be a receive (``anext``
  or ``asend(None)``), which returns that reply (CANCEL-SEND-TAKEN,
  REPLY-PENDING). A message delivered to a call whose task was cancelled
  before it resumed is returned by the end's next call (CANCEL-RECEIVE-RACE).
  Each end counts its delivered messages in ``delivered``, so a sender can
  always tell whether a cancelled call delivered its value.

Standard library only; Python 3.10+; asyncio, uvloop and trio, and anyio on
either backend. A channel binds itself to the event loop (or the ``trio.run``)
of its first call; trio is imported only by a channel used inside ``trio.run``.
On trio, a cancelled call raises ``trio.Cancelled`` wherever asyncio raises
CancelledError above, and the race of CANCEL-RECEIVE-RACE cannot happen: a
call that was handed a message can no longer be cancelled.
"""

from __future__ import annotations

import asyncio
import functools
import sys
import warnings

# None outside a running loop, where get_running_loop() raises: the same C
# call on asyncio's hot path, without an exception to raise and catch on trio's.
from asyncio import _get_running_loop  # pyright: ignore[reportPrivateUsage]
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Generator, Iterable
from contextlib import AbstractAsyncContextManager, suppress
from itertools import islice
from types import CodeType, FrameType, TracebackType
from typing import TYPE_CHECKING, Any, Generic, Literal, NoReturn, ParamSpec, Protocol, overload

if TYPE_CHECKING:
    # PEP 696 defaults, seen by type checkers only (typeshed ships these
    # stubs): a bare ``Channel()`` is a Channel[Any, Any], as in the seed.
    from typing_extensions import TypeVar

    T = TypeVar("T", default=Any)
    U = TypeVar("U", default=Any)
else:
    from typing import TypeVar

    T = TypeVar("T")
    U = TypeVar("U")

__all__ = [
    "AlreadyRunningError",
    "Channel",
    "ChannelClosedError",
    "ChannelError",
    "ChannelInUseError",
    "ChannelMisuseError",
    "ClientClosedError",
    "ClientEnd",
    "ReplyPendingError",
    "ServerBlock",
    "ServerCancelledError",
    "ServerEnd",
    "StreamChannel",
    "StreamClientEnd",
    "StreamServerEnd",
    "WrongEventLoopError",
    "as_safe_generator",
]

__version__ = "1.0.0"


# --------------------------------------------------------------------------
# Exceptions
# --------------------------------------------------------------------------


class ChannelError(Exception):
    """Base class of every exception this module defines."""


class ChannelMisuseError(ChannelError, RuntimeError):
    """The calling code used a channel in a way the protocol forbids.

    These are programming errors of the code that catches them, never
    outcomes of what the peer did.
    """


class AlreadyRunningError(ChannelMisuseError):
    """A call was made on an end that already has a call pending.

    One end serves one task at a time, as an async generator does (its
    "already running" RuntimeError): hand an end over, do not share it.
    """


class ChannelInUseError(ChannelMisuseError):
    """A second client or a second server was asked of one channel.

    A channel connects exactly one client to exactly one server, once.
    """


class ChannelClosedError(ChannelMisuseError):
    """The server end was used after it was closed.

    Raised when the server sends after its block ended or after
    :meth:`ServerEnd.aclose`, and when it goes on sending after the client
    closed the channel (a generator that ignores GeneratorExit).
    """


class WrongEventLoopError(ChannelMisuseError):
    """A channel bound to one event loop was used from another one."""


class ReplyPendingError(ChannelMisuseError):
    """An end sent a value while it still waits for a reply.

    This happens only after a call of the end was cancelled once its value
    had been delivered: that value reached the peer, and the reply to it is
    still owed. Receive it first with ``anext(end)`` or ``end.asend(None)``.
    """


class ServerCancelledError(ChannelError):
    """The server was cancelled (or its coroutine closed) before it ended.

    The client sees this instead of the server's own CancelledError, which
    would read as the client's cancellation. The server's exception is the
    ``__cause__``.
    """


class ClientClosedError(ChannelError):
    """The client was closed before it asked for its first item.

    Raised on entering ``async with channel.server()``: as with an async
    generator closed before it started, the server block never runs.
    """


# --------------------------------------------------------------------------
# Shared state
# --------------------------------------------------------------------------
#
# One _Handoff per channel holds everything; the ends are thin wrappers
# around it. Its fields are the variables of the model, ``ChannelModel`` in
# spec/model.py, under the same names where the thing is the same:
#
#   channels.py                   spec/model.py
#   _Handoff.client_life          client_life   unstarted -> open -> closed
#                                               (absent until client() is called)
#   _Handoff.server_life          server_life   absent -> entering -> open
#                                               [-> exiting] -> closed
#   _Handoff.outcome              outcome       how the server block ended
#   _Handoff.thrown               server_caught its thrown half: the client's
#                                               exception that the server's call raised
#   _Handoff.awaiting_taker       server_call.stage == "taker" (write_items)
#   _Handoff.client / .server     the client_* / server_* variables:
#   _Side.owed                    client_owed / server_owed
#   _Side.offer                   client_offer / server_offer ("request" / "item")
#   _Side.held                    client_held / server_held, and the
#                                               items of a read_items batch until its
#                                               call resumes (the model's Call.got)
#   _Side.waiter                  client_call / server_call (a pending call)
#   _Side.capacity                Call.capacity (the room of read_items(n))
#   _Side.delivered               delivered["client"] / delivered["server"]
#
# The rules, each under its clause id in spec/clauses.py:
#
# * The ends take turns: a message sent while the peer has a pending call is
#   delivered into it; else it is offered and its sender waits for a taker
#   (MIRROR-ASEND). The sender is owed a reply from then on.
# * A cancelled call withdraws its untaken offer (CANCEL-SEND-UNTAKEN); a
#   delivered message stays delivered and its reply goes to the next call
#   (CANCEL-SEND-TAKEN, REPLY-PENDING); a message delivered to a call whose
#   task was cancelled before it resumed is held for the next call
#   (CANCEL-RECEIVE-RACE).
# * A refused call raises before it changes any field
#   (MISUSE-REFUSED-CHANGES-NOTHING); an end that closes wakes the peer's
#   pending call, which looks at the lifecycles (NO-HANG).

_ClientLife = Literal["absent", "unstarted", "open", "closed"]
_ServerLife = Literal["absent", "entering", "open", "exiting", "closed"]

_NOTHING: Any = object()  # the empty offer slot
_END: Any = object()  # the server's outcome when it ended normally


class _Thrown:
    """A message that raises an exception in the receiving end (``athrow``)."""

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc: BaseException | None = exc

    def take(self) -> BaseException:
        # Once raised, the exception's traceback holds the receiver's frames:
        # the sender must not keep it, or an abandoned client stays alive
        # (NO-NOISE: no reference cycle keeps a task or frame).
        exc, self.exc = self.exc, None
        assert exc is not None
        return exc


def _clear_own_frames(exc: BaseException) -> None:
    """Drop the locals of this module's frames in the tracebacks of ``exc`` and of its causes.

    The channel keeps ``exc`` as the server's outcome, and those frames hold the channel: left
    as they are, they would form a reference cycle with it (NO-NOISE). They are done, but for
    the one that handles ``exc`` now, which is left as it is (the handler lets go of it).
    """
    seen: set[int] = set()
    chained: BaseException | None = exc
    while chained is not None and id(chained) not in seen:
        seen.add(id(chained))
        tb = chained.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == __file__:
                with suppress(RuntimeError):  # the frame still running
                    tb.tb_frame.clear()
            tb = tb.tb_next
        chained = chained.__cause__ or chained.__context__


class _Waiter(Protocol):
    """What a pending call awaits: an asyncio.Future, or a _TrioWaiter."""

    def done(self) -> bool: ...
    def cancelled(self) -> bool: ...
    def result(self) -> Any: ...
    def set_result(self, message: Any, /) -> None: ...
    def __await__(self) -> Generator[Any, None, Any]: ...


class _WaiterSource(Protocol):
    """What an end's calls create their waiter from."""

    def create_future(self) -> _Waiter: ...


class _Loop(_WaiterSource, Protocol):
    """What a channel is bound to: an asyncio event loop, or a _TrioRun."""

    def call_soon_threadsafe(self, callback: Callable[[], object], /) -> object: ...


class _Side:
    """One end's half of the handoff state."""

    __slots__ = ("capacity", "delivered", "held", "offer", "owed", "waiter", "waiter_source")

    def __init__(self, *, owed: bool) -> None:
        # Set by begin(): the channel's asyncio event loop, or on trio the
        # end's own _TrioWaiter, which every call of the same task reuses
        # (see _trio_waiter_source).
        self.waiter_source: _WaiterSource | None = None
        # What the end's pending call awaits, or None. An end has a call
        # running exactly when it has a waiter: calls that do not wait
        # finish before any other task can see them.
        self.waiter: _Waiter | None = None
        # How many more messages the pending call accepts: read only while
        # the end has a waiter, and set by every wait. The first message is
        # the waiter's result; the rest of a batch, and messages kept for
        # the next call, are held.
        self.capacity = 0
        self.held: list[Any] = []
        # A message this end sent while the peer had no pending call.
        self.offer: Any = _NOTHING
        # This end sent a message and waits for the peer's reply.
        self.owed = owed
        self.delivered = 0


def _reply_pending(role: str, method: str) -> ReplyPendingError:
    """An end sent while the reply to its cancelled, delivered call is owed (REPLY-PENDING)."""
    return ReplyPendingError(
        f"{method}(): the {role}'s previous call was cancelled after its value was delivered, and the "
        f"reply to it is still owed; receive it with anext() or asend(None) before sending again"
    )


def _wake(side: _Side) -> None:
    """Wake the side's pending call without a message: it looks at the state.

    A waiter already done is left alone: setting it again would raise
    InvalidStateError inside the channel (NO-NOISE).
    """
    waiter = side.waiter
    if waiter is not None and not waiter.done():
        waiter.set_result(_NOTHING)


def _received(side: _Side, waiter: _Waiter) -> None:
    """Hold a message delivered to a call whose task was cancelled before it
    resumed (CANCEL-RECEIVE-RACE): the end's next call returns it."""
    if waiter.done() and not waiter.cancelled() and (message := waiter.result()) is not _NOTHING:
        # A call waits only with nothing held, and a message that is the
        # waiter's result is the only one delivered to it.
        side.held.append(message)


# --------------------------------------------------------------------------
# The trio backend, bound on first use inside trio.run
# --------------------------------------------------------------------------


class _TrioBackend:
    """What the handoff uses of trio, looked up once by bind(), on the first
    call inside trio.run: trio is running, so imported (BACKENDS)."""

    __slots__ = (
        "Value",
        "abort_succeeded",
        "current_task",
        "current_trio_token",
        "interruptions",
        "reschedule",
        "runs",
        "wait_task_rescheduled",
    )

    def __init__(self) -> None:
        # What ends a server's task or coroutine before its block ends: a
        # close, or a cancellation (asyncio's, and trio's once bound).
        self.interruptions: tuple[type[BaseException], ...] = (GeneratorExit, asyncio.CancelledError)
        # The trio.lowlevel.RunVar holding each run's _TrioRun; None until bound.
        self.runs: Any = None
        self.current_task: Any = None
        self.current_trio_token: Any = None
        self.reschedule: Any = None
        self.wait_task_rescheduled: Any = None
        self.Value: Any = None
        self.abort_succeeded: Any = None

    def bind(self) -> Any:
        """Look up trio's functions; return the RunVar of the runs."""
        import outcome
        import trio

        lowlevel = trio.lowlevel
        self.interruptions = (GeneratorExit, asyncio.CancelledError, trio.Cancelled)
        self.current_task, self.reschedule = lowlevel.current_task, lowlevel.reschedule
        self.current_trio_token = lowlevel.current_trio_token
        self.wait_task_rescheduled = lowlevel.wait_task_rescheduled
        self.abort_succeeded = lowlevel.Abort.SUCCEEDED
        self.Value = outcome.Value
        self.runs = lowlevel.RunVar[_TrioRun]("channels")
        return self.runs


_trio = _TrioBackend()

_PENDING: Any = object()  # a _TrioWaiter's message until it has one
_CANCELLED: Any = object()  # ... or once its task's wait was aborted


class _TrioWaiter:
    """What a pending call waits on under trio: the part of an asyncio.Future
    that the handoff uses (_Waiter), built on trio's
    wait_task_rescheduled/reschedule.

    A cancellation that arrives before the message aborts the wait (the
    waiter is then cancelled); once the message is there, the task is
    rescheduled with it and can no longer be cancelled at this point: the
    race of CANCEL-RECEIVE-RACE cannot happen on trio (TRIO-CANCELLATION).

    Each end keeps one waiter for the task that calls it, and waits through
    it again on each call (create_future, as a _WaiterSource): one wait at a
    time per end, as an end serves one call at a time.
    """

    __slots__ = ("message", "task")

    def __init__(self, task: Any) -> None:
        self.task = task
        self.message: Any = _PENDING

    def create_future(self) -> _TrioWaiter:
        self.message = _PENDING
        return self

    def done(self) -> bool:
        return self.message is not _PENDING

    def cancelled(self) -> bool:
        return self.message is _CANCELLED

    def result(self) -> Any:  # pragma: no cover - a KeyboardInterrupt right after a wake
        # Only a KeyboardInterrupt, which trio raises where it lands, can end
        # a call whose wait was handed a message: the end keeps the message.
        return self.message

    def set_result(self, message: Any, /) -> None:
        self.message = message
        _trio.reschedule(self.task, _trio.Value(message))

    def abort(self, raise_cancel: object) -> Any:
        self.message = _CANCELLED
        return _trio.abort_succeeded

    def __await__(self) -> Generator[Any, None, Any]:
        # TRIO-CHECKPOINT: a call waits, and so checks for cancellation, only here.
        return _trio.wait_task_rescheduled(self.abort).__await__()  # type: ignore[no-any-return]


class _TrioRun:
    """The trio.run that a channel is bound to: the part of an asyncio event
    loop that the handoff uses (_Loop). There is one per run (a trio RunVar),
    so a channel bound to one run is refused by another (MISUSE-WRONG-LOOP)."""

    __slots__ = ("token",)

    def __init__(self, token: Any) -> None:
        self.token = token

    def __repr__(self) -> str:
        return f"<trio run {id(self):#x}>"

    @staticmethod
    def create_future() -> _TrioWaiter:
        # The task that creates a waiter is the one that awaits it, at once.
        return _TrioWaiter(_trio.current_task())

    def call_soon_threadsafe(self, callback: Callable[[], object], /) -> None:
        # Thread-safe, and safe from a finalizer; a finished run raises
        # trio.RunFinishedError, a RuntimeError, as a closed loop does.
        self.token.run_sync_soon(callback)


def _outside_any_loop() -> RuntimeError:
    return RuntimeError(
        "no running event loop: use a channel inside an asyncio (or uvloop) event loop or trio.run"
    )


def _running_trio() -> _TrioRun:
    """The trio run of the calling task, when no asyncio event loop runs it."""
    runs = _trio.runs
    if runs is None:
        if "trio" not in sys.modules:
            raise _outside_any_loop()
        runs = _trio.bind()
    try:
        run: _TrioRun | None = runs.get(None)
    except RuntimeError:
        raise _outside_any_loop() from None
    if run is None:
        run = _TrioRun(_trio.current_trio_token())
        runs.set(run)
    return run


if sys.version_info >= (3, 11):

    def _exception_group_type() -> type[BaseException] | None:
        return BaseExceptionGroup  # noqa: F821 (ruff targets 3.10)

else:  # pragma: no cover - measured on 3.11

    def _exception_group_type() -> type[BaseException] | None:
        """The backport's BaseExceptionGroup if it is in use: without it, no
        exception group can have been raised."""
        backport: Any = sys.modules.get("exceptiongroup")
        return None if backport is None else backport.BaseExceptionGroup


def _running_loop() -> _Loop:
    """The asyncio event loop, or the trio run, of the calling task (BACKENDS)."""
    return _get_running_loop() or _running_trio()


def _trio_waiter_source(side: _Side) -> _WaiterSource:
    """What a call on ``side`` creates its waiter from when no asyncio loop runs it.

    The end's own waiter when the task that made the end's last call calls
    it again: a task lives in one run, the channel's, which needs no other
    check. Else the trio run, which begin() checks against the channel's.
    """
    waiter = side.waiter_source
    if type(waiter) is _TrioWaiter:
        try:
            if waiter.task is _trio.current_task():
                return waiter
        except RuntimeError:  # outside any trio run
            raise _outside_any_loop() from None
    return _running_trio()


# --------------------------------------------------------------------------
# The handoff: every call of both ends
# --------------------------------------------------------------------------


class _Handoff:
    """The state that the two ends of one channel share (see the table above).

    The ends are thin wrappers around it; it never refers to them, so an
    abandoned client end can be garbage-collected.
    """

    __slots__ = (
        "__weakref__",
        "awaiting_taker",
        "client",
        "client_life",
        "loop",
        "outcome",
        "server",
        "server_life",
        "thrown",
    )

    def __init__(self) -> None:
        # The asyncio event loop, or the _TrioRun, of the channel's first call.
        self.loop: _Loop | None = None
        self.client = _Side(owed=False)
        # The server's first call receives the client's first request.
        self.server = _Side(owed=True)
        self.client_life: _ClientLife = "absent"
        # "exiting": GeneratorExit was raised in the block after the client closed.
        self.server_life: _ServerLife = "absent"
        # What the client's receive raises once nothing is held for it: None
        # while the server is open, _END, or the server's exception.
        self.outcome: Any = None
        # The last exception that the client threw and the server's call raised.
        self.thrown: BaseException | None = None
        # The server waits for a client call before it takes an item.
        self.awaiting_taker = False

    def __repr__(self) -> str:
        return f"client={self.client_life}, server={self.server_life}"

    # -- call bookkeeping -------------------------------------------------
    #
    # Every call starts with the same test, inlined on the hot path: a call
    # from another loop than the end's, or while the end has a waiter, goes
    # to begin(), which raises or binds the channel and the end to the loop.

    def begin(self, side: _Side, role: str, method: str) -> _WaiterSource:
        """Check that a call may start on ``side``, bind the channel to the loop,
        and return what the call creates its waiter from (the end's ``waiter_source``)."""
        if side.waiter is not None:
            # MIRROR-ALREADY-RUNNING, refused before anything moves
            # (MISUSE-REFUSED-CHANGES-NOTHING), as every refusal below is.
            raise AlreadyRunningError(
                f"{method}(): the {role} end is already running a call in another "
                f"task; an end serves one task at a time, as an async generator does"
            )
        loop = _running_loop()
        if self.loop is None:
            self.loop = loop
        elif self.loop is not loop:
            # MISUSE-WRONG-LOOP
            raise WrongEventLoopError(
                f"{method}(): this channel is bound to event loop {self.loop!r}, "
                f"not to the running one; create the channel in the loop (or trio.run) that uses it"
            )
        if isinstance(loop, _TrioRun):
            waiter = side.waiter_source
            if isinstance(waiter, _TrioWaiter):
                waiter.task = _trio.current_task()  # the end's new caller
            else:
                waiter = side.waiter_source = loop.create_future()
            return waiter
        side.waiter_source = loop
        return loop

    def take_offer(self, receiver: _Side, sender: _Side) -> Any:
        message = sender.offer
        sender.offer = _NOTHING
        sender.delivered += 1  # DELIVERED-COUNT: counted when a call of the peer takes it
        receiver.owed = False
        return message

    async def wait(self, side: _Side, capacity: int) -> Any:
        """Wait until something happens that the pending call must see.

        Returns the message delivered to the call, or _NOTHING. Only the
        server's entry waits for a message here (the client's first request),
        and its cancellation ends the channel: a request delivered just
        before it is not kept.
        """
        assert self.loop is not None
        waiter = side.waiter = self.loop.create_future()
        side.capacity = capacity
        try:
            return await waiter
        finally:
            side.waiter = None

    @staticmethod
    def withdraw(side: _Side) -> None:
        """Take back an offer that nobody took (CANCEL-SEND-UNTAKEN)."""
        if side.offer is not _NOTHING:
            side.offer = _NOTHING
            side.owed = False

    # -- the client's calls ---------------------------------------------

    async def client_call(self, end: ClientEnd[Any, Any], message: Any, count: int, method: str) -> Any:
        """Send ``message`` (unless a reply is owed), then receive.

        Returns one message when ``count`` is 0, else a list of 1..count.
        The whole call is this one coroutine: the handoff is on the hot
        path. It holds ``end`` so that a client end with a pending call is
        never taken for abandoned (ABANDON-CLIENT-GC).
        """
        client = self.client
        if message is not None and self.client_life == "unstarted" and type(message) is not _Thrown:
            # MIRROR-FIRST-SEND-NONE, in CPython's words.
            raise TypeError(
                "can't send non-None value to a just-started channel client: as with an async "
                "generator, its first call must be anext() or asend(None)"
            )
        source: _WaiterSource | None = _get_running_loop()
        if source is None:
            source = _trio_waiter_source(client)
        if source is not client.waiter_source or client.waiter is not None:
            source = self.begin(client, "client", method)
        if self.client_life == "closed":
            raise StopAsyncIteration  # MIRROR-CLOSED-CLIENT
        if client.held or (client.owed and self.outcome is None):
            # A cancelled call left a reply owed, or a message held
            # (CANCEL-SEND-TAKEN, CANCEL-RECEIVE-RACE): this call receives it.
            if message is not None:
                raise _reply_pending("client", method)
            if client.held or self.server.offer is not _NOTHING:
                return self.client_take(count)
        elif self.outcome is not None:
            # Like an exhausted async generator: nothing is sent (MIRROR-SERVER-RETURN).
            return self.client_take(count)
        else:
            # Deliver the request to the server's pending call, or offer it
            # (MIRROR-ASEND). Either way, the server has nothing for the
            # client yet: it is owed this request.
            self.client_life = "open"
            client.owed = True
            server = self.server
            waiter = server.waiter
            # A server call that takes a message has a waiter that is not
            # done unless its task was cancelled: nothing wakes it without a
            # message but an end of the channel, after which no request is sent.
            if server.capacity and waiter is not None and not waiter.done():
                client.delivered += 1
                server.capacity = 0
                server.owed = False
                waiter.set_result(message)
            else:
                client.offer = message
        if self.awaiting_taker:
            # A write_items waits for a call that takes items before it pulls
            # one (WRITE-ITEMS-LAZY): this call is one.
            _wake(self.server)
        waiter = client.waiter = source.create_future()
        client.capacity = count or 1
        try:
            message = await waiter
        except BaseException:
            # The call is cancelled: it raises at once (CANCEL-PROMPT), and
            # leaves the channel usable (CANCEL-LEAVES-USABLE): a message
            # delivered to it is held, an offer nobody took is withdrawn.
            _received(client, waiter)
            self.withdraw_request()
            raise
        finally:
            client.waiter = None
        if message is not _NOTHING:
            if type(message) is _Thrown:
                raise message.take()  # MIRROR-ATHROW, the server's athrow
            return [message] if count else message
        # Woken without a message: a batch has its items held, or the server
        # ended, which leaves an untaken request where nobody will take it.
        return self.client_take(count)

    def withdraw_request(self) -> None:
        """Withdraw the request of a client call that ends untaken (CANCEL-SEND-UNTAKEN).

        A withdrawn first request was never sent, as far as the server can
        tell: the client is unstarted again, as a generator whose first
        ``asend(None)`` was cancelled before it ran (MIRROR-FIRST-SEND-NONE
        applies to its next call).
        """
        client = self.client
        if client.offer is not _NOTHING:
            self.withdraw(client)
            if not client.delivered:
                self.client_life = "unstarted"

    def client_take(self, count: int) -> Any:
        """Take the client's next message (``count`` 0) or a list of 1..count.

        There is one to take, or the server ended.
        """
        client, server = self.client, self.server
        held = client.held
        if held:
            wanted = count or 1
            if len(held) <= wanted:
                messages, client.held = held, []
            else:
                messages = held[:wanted]
                del held[:wanted]
            if type(messages[-1]) is _Thrown:
                # A thrown exception ends the batch it came with, so it is
                # always last (and nothing is held now): the items before
                # it are returned, and it raises on the next call.
                if len(messages) == 1:
                    raise messages[0].take()
                client.held.append(messages.pop())
            return messages if count else messages[0]
        if server.offer is not _NOTHING:
            # CANCEL-REQUEST-UNTAKEN: an item offered to a request that was
            # cancelled is taken by the next one.
            message = self.take_offer(client, server)
            if type(message) is _Thrown:
                raise message.take()
            return [message] if count else message
        # Like an exhausted async generator, the client is closed once it
        # has seen how the server ended (MIRROR-SERVER-RETURN,
        # MIRROR-SERVER-ERROR, READ-ITEMS-END).
        self.client_life = "closed"
        if self.outcome is _END:
            raise StopAsyncIteration
        # Raised once and not kept: its traceback holds this handoff's frames.
        outcome, self.outcome = _Thrown(self.outcome), _END
        raise outcome.take()

    async def client_throw(self, end: ClientEnd[Any, Any], thrown: _Thrown) -> Any:
        client = self.client
        if self.client_life in ("absent", "unstarted"):
            # An async generator that never started is closed by athrow(),
            # which raises the exception at once (MIRROR-ATHROW-UNSTARTED).
            self.begin(client, "client", "athrow")
            self.close_client()
            raise thrown.take()
        if self.client_life == "closed":
            # Like athrow() on an exhausted async generator (MIRROR-CLOSED-CLIENT).
            self.begin(client, "client", "athrow")
            return None
        return await self.client_call(end, thrown, 0, "athrow")

    def close_client(self) -> None:
        """End the client: the server gets GeneratorExit (MIRROR-ACLOSE), or
        ClientClosedError if it has not entered (MIRROR-ACLOSE-UNSTARTED)."""
        if self.client_life == "closed":
            return  # MIRROR-CLOSED-CLIENT
        self.client_life = "closed"
        self.client.held.clear()
        _wake(self.server)

    async def client_aclose(self) -> None:
        self.begin(self.client, "client", "aclose")
        self.close_client()

    # -- the server's calls ---------------------------------------------

    async def server_enter(self, end: Any) -> Any:
        """Wait for the client's first request, then give ``end`` (SERVER-BLOCK-ENTER)."""
        server = self.server
        self.begin(server, "server", "__aenter__")
        try:
            while True:
                if self.client.offer is not _NOTHING:
                    self.take_offer(server, self.client)
                    break
                if self.client_life == "closed":
                    self.server_life = "closed"
                    raise ClientClosedError(  # MIRROR-ACLOSE-UNSTARTED
                        "the client was closed before it asked for its first item, "
                        "so the server block does not run; use a new Channel"
                    )
                if await self.wait(server, 1) is not _NOTHING:
                    break
            self.server_life = "open"
        except _trio.interruptions as exc:
            # CANCEL-SERVER-TASK: a cancelled entry ends the channel.
            self.finish_server(self.cancelled(exc))
            # The channel keeps exc as its outcome's cause, and exc's traceback this frame: the
            # frame lets go of the channel, or they would form a cycle (as concurrent.futures does).
            del self, server, end
            raise
        return end

    def check_server_open(self, method: str) -> None:
        if self.server_life == "closed":
            raise ChannelClosedError(  # MISUSE-CLOSED-SERVER
                f"{method}(): the server end is closed (its async with block ended "
                f"or aclose() was called); it cannot send any more"
            )
        if self.server_life == "exiting":
            raise ChannelClosedError(  # MIRROR-IGNORED-EXIT
                f"{method}(): the server end ignored GeneratorExit: the client closed the "
                f"channel, and like an async generator the server must not send after "
                f"that; let GeneratorExit end the server block"
            )

    @staticmethod
    def closed_under_call() -> ChannelClosedError:
        # MISUSE-EXIT-WHILE-DELEGATED: the delegate's pending call.
        return ChannelClosedError(
            "the server block ended while this call of the server end was pending in "
            "another task; a delegate must finish before the block that lent it the end"
        )

    def raise_exit(self) -> NoReturn:
        """Raise GeneratorExit in the server's call: the client closed (MIRROR-ACLOSE)."""
        self.server_life = "exiting"
        raise GeneratorExit

    async def server_call(self, message: Any, method: str) -> Any:
        """Send ``message`` (unless a reply is owed), then receive the reply.

        The whole call is this one coroutine: the handoff is on the hot path.
        """
        server = self.server
        source: _WaiterSource | None = _get_running_loop()
        if source is None:
            source = _trio_waiter_source(server)
        if source is not server.waiter_source or server.waiter is not None:
            source = self.begin(server, "server", method)
        if self.server_life != "open":
            self.check_server_open(method)
        if server.held or (server.owed and self.client_life != "closed"):
            # CANCEL-SEND-TAKEN, CANCEL-RECEIVE-RACE: this call receives what is owed.
            if message is not None:
                raise _reply_pending("server", method)
            if server.held or self.client.offer is not _NOTHING:
                return self.server_take()
        elif self.client_life == "closed":
            self.raise_exit()
        else:
            # Deliver the message to the client's pending call, or offer it
            # (MIRROR-ASEND). Either way, the client has nothing for the
            # server yet: it is owed this message.
            server.owed = True
            client = self.client
            capacity = client.capacity
            waiter = client.waiter
            if capacity == 1 and waiter is not None and not waiter.done():
                # A call that takes one message: it is the waiter's result.
                server.delivered += 1
                waiter.set_result(message)
                client.capacity = 0
                client.owed = False
            elif capacity and waiter is not None and not waiter.cancelled():
                # A read_items() call: the first item wakes it, more join it
                # until it resumes, held for it.
                server.delivered += 1
                client.held.append(message)
                if not waiter.done():
                    waiter.set_result(_NOTHING)
                if capacity > 1 and type(message) is not _Thrown:
                    # The call asks for more: that is the reply (READ-ITEMS-BATCH).
                    client.capacity = capacity - 1
                    server.owed = False
                    return None
                client.capacity = 0
                client.owed = False
            else:
                server.offer = message
        waiter = server.waiter = source.create_future()
        server.capacity = 1
        try:
            try:
                message = await waiter
            except BaseException:
                _received(server, waiter)
                raise
            finally:
                server.waiter = None
            if self.server_life == "closed":
                raise self.closed_under_call()
            if message is not _NOTHING:
                if type(message) is _Thrown:
                    raise self.server_takes_throw(message)
                return message
            # Woken without a message: the client closed.
            return self.server_take()
        except BaseException:
            # CANCEL-SEND-UNTAKEN: the call ends untaken; its item is withdrawn
            # and the end may send again (CANCEL-LEAVES-USABLE).
            self.withdraw(server)
            raise

    def server_take(self) -> Any:
        """Take the client's next message for the server; there is one, or the client closed."""
        server, client = self.server, self.client
        if server.held:
            message = server.held.pop(0)
        elif client.offer is not _NOTHING:
            message = self.take_offer(server, client)
        else:
            self.raise_exit()
        if type(message) is _Thrown:
            raise self.server_takes_throw(message)
        return message

    def server_takes_throw(self, thrown: _Thrown) -> BaseException:
        """The exception that the client threw, which the server's call now raises.

        Recorded here, and not when the client's athrow() starts, so that a
        refused athrow() changes nothing: if the server re-raises the exception
        it caught, the block leaves quietly and athrow() raises it (MIRROR-ATHROW).
        """
        exc = self.thrown = thrown.take()
        return exc

    async def server_write(self, items: Iterable[Any]) -> None:
        server, client = self.server, self.client
        self.begin(server, "server", "write_items")
        self.check_server_open("write_items")
        if server.held or (server.owed and self.client_life != "closed"):
            raise _reply_pending("server", "write_items")
        iterator = iter(items)
        while True:
            if self.server_life == "closed":
                raise self.closed_under_call()
            if self.client_life == "closed":
                self.raise_exit()
            waiter = client.waiter
            if waiter is None or not client.capacity or waiter.cancelled():
                # Pull no item before a taker is there, so that a
                # cancellation here loses nothing (WRITE-ITEMS-LAZY).
                self.awaiting_taker = True
                try:
                    await self.wait(server, 0)
                finally:
                    self.awaiting_taker = False
                continue
            # Hand the pending call as many items as it takes, in C,
            # without returning to the event loop (WRITE-ITEMS-BATCH).
            room = client.capacity
            held = client.held
            before = len(held)
            try:
                held.extend(islice(iterator, room))
            finally:
                # Items pulled before the iterator raised are delivered too.
                taken = len(held) - before
                if taken:
                    server.delivered += taken
                    client.capacity -= taken
                    if not waiter.done():
                        waiter.set_result(_NOTHING)
            if taken < room:
                return  # the iterator is exhausted; the reader asks for more
            client.capacity = 0
            client.owed = False
            server.owed = True
            # The reader's next request is the reply, received as anext(server) would.
            await self.server_call(None, "write_items")

    def ungrouped(self, exc: BaseException) -> BaseException:
        """The exception that ``exc`` stands for at the block's exit (GROUP-EXIT).

        A TaskGroup or nursery in the block wraps the GeneratorExit of the
        client's close, or the exception the client threw, in an exception
        group: a group whose leaves are all that one exception means it.
        """
        group_type = _exception_group_type()
        if group_type is None or not isinstance(exc, group_type):
            return exc
        leaves: list[BaseException] = []
        groups: list[Any] = [exc]
        while groups:
            for inner in groups.pop().exceptions:
                (groups if isinstance(inner, group_type) else leaves).append(inner)
        if self.client_life == "closed" and all(isinstance(leaf, GeneratorExit) for leaf in leaves):
            return leaves[0]
        if all(leaf is self.thrown for leaf in leaves):
            return leaves[0]
        return exc

    def finish_server(self, outcome: Any) -> None:
        """Close the server and wake the client's pending call, which learns ``outcome`` (NO-HANG)."""
        self.server_life = "closed"
        self.server.held.clear()
        if self.outcome is None:
            if isinstance(outcome, BaseException):
                _clear_own_frames(outcome)
            self.outcome = outcome
        _wake(self.client)

    def server_aclose(self) -> None:
        if self.server.waiter is not None:  # MIRROR-ALREADY-RUNNING
            raise AlreadyRunningError(
                "aclose(): the server end has a call pending in another task; "
                "wait for the tasks you delegated to before closing it"
            )
        if self.server_life != "closed":
            self.finish_server(_END)  # MIRROR-SERVER-RETURN

    def cancelled(self, exc: BaseException) -> ServerCancelledError:
        """What the client learns of a server cancelled (CANCEL-SERVER-TASK) or closed (ABANDON-SERVER)."""
        error = ServerCancelledError(
            "the server was cancelled before it ended the channel"
            if not isinstance(exc, GeneratorExit)
            else "the server's coroutine was closed before it ended the channel"
        )
        error.__cause__ = exc
        return error

    def server_exit(self, exc: BaseException | None) -> bool:
        """Close the server when its block ends; True to swallow ``exc``."""
        swallow = False
        if exc is not None:
            exc = self.ungrouped(exc)
        if exc is None:
            outcome = _END  # MIRROR-SERVER-RETURN
        elif isinstance(exc, GeneratorExit) and self.client_life == "closed":
            # The client closed the channel: the block ends quietly (MIRROR-ACLOSE).
            outcome, swallow = _END, True
        elif exc is self.thrown:
            # The client's own exception goes back to the client's athrow() (MIRROR-ATHROW).
            outcome, swallow = exc, True
        elif isinstance(exc, _trio.interruptions):
            outcome = self.cancelled(exc)  # CANCEL-SERVER-TASK, ABANDON-SERVER
        elif isinstance(exc, StopAsyncIteration):  # MIRROR-STOPASYNCITERATION
            outcome = RuntimeError(
                "the server block raised StopAsyncIteration, as an async generator must not; "
                "leave the block to end the iteration"
            )
            outcome.__cause__ = exc
        else:
            outcome = exc  # MIRROR-SERVER-ERROR
        self.finish_server(outcome)
        # Compared: kept no longer, since its traceback holds this handoff's frames (NO-NOISE).
        self.thrown = None
        if self.server.waiter is not None:
            # A delegate still waits in another task: close the channel all
            # the same, so that nothing hangs (MISUSE-EXIT-WHILE-DELEGATED).
            _wake(self.server)
            if exc is None:
                raise AlreadyRunningError(
                    "the server block ended while a call of the server end was pending in "
                    "another task; wait for the tasks you delegated to before leaving the block"
                )
        return swallow


# --------------------------------------------------------------------------
# Ends
# --------------------------------------------------------------------------


class ClientEnd(AsyncGenerator[T, U]):
    """The client end of a channel: behaves as an async generator object.

    ``anext(client)`` and ``client.asend(value)`` send a request to the server
    and return its next item; the server's block ending normally raises
    StopAsyncIteration, its exception is raised as is (MIRROR-SERVER-ERROR),
    and its cancellation raises :exc:`ServerCancelledError`.
    ``client.athrow(exc)`` raises ``exc`` in the server's pending ``asend``;
    ``client.aclose()`` raises GeneratorExit there, so that the producer's
    ``async with`` block ends quietly, and returns without waiting for the
    server to finish. A client end that is garbage-collected without being
    closed is closed the same way, soon after (ABANDON-CLIENT-GC).
    """

    __slots__ = ("__weakref__", "_handoff")

    def __init__(self, handoff: _Handoff) -> None:
        self._handoff = handoff

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._handoff!r}>"

    @property
    def delivered(self) -> int:
        """How many requests of this end have reached the server."""
        return self._handoff.client.delivered

    # What consumers inspect, as on a native async generator (aiostream's
    # merge reads ag_running to know whether a source's call is pending).
    # There is no ag_frame or ag_code: the body is the server's, in another
    # task, and consumers take an ag_frame of None for a closed generator.

    @property
    def ag_running(self) -> bool:
        """True while a call of this end is pending."""
        return self._handoff.client.waiter is not None

    @property
    def ag_await(self) -> Any:
        """What the pending call waits on, or None."""
        return self._handoff.client.waiter

    def __aiter__(self) -> ClientEnd[T, U]:
        return self

    # The methods that run a handoff return the handoff's coroutine itself:
    # one coroutine frame per call, as a native async generator has.

    def __anext__(self) -> Coroutine[Any, Any, T]:
        """Return the next item: ``asend(None)``, what ``async for`` calls.

        Raises StopAsyncIteration once the server block has left normally
        (MIRROR-SERVER-RETURN), and what the server threw or raised otherwise.
        """
        return self._handoff.client_call(self, None, 0, "__anext__")

    def asend(self, value: U | None) -> Coroutine[Any, Any, T]:
        """Send ``value`` as the reply to the last item and return the next item.

        The first call must send None, as with an async generator; after a
        call that was cancelled once its value was delivered, the next call
        must send None too, and returns the reply to that value.
        """
        return self._handoff.client_call(self, value, 0, "asend")

    @overload
    def athrow(
        self, typ: type[BaseException], val: BaseException | object = None, tb: TracebackType | None = None, /
    ) -> Coroutine[Any, Any, T]: ...

    @overload
    def athrow(
        self, typ: BaseException, val: None = None, tb: TracebackType | None = None, /
    ) -> Coroutine[Any, Any, T]: ...

    def athrow(self, typ: Any, val: Any = _NOTHING, tb: Any = None, /) -> Coroutine[Any, Any, Any]:
        """Raise an exception in the server's pending call; return its next item.

        On Python 3.12+, passing ``val`` or ``tb`` warns DeprecationWarning when
        called, as a native ``athrow`` does (MIRROR-ATHROW-SIGNATURE).
        """
        return self._throw(typ, _athrow_value(val), tb)

    async def _throw(self, typ: Any, val: Any, tb: Any) -> Any:
        thrown = _Thrown(_make_exception(typ, val, tb))
        del typ, val, tb  # raised back through this frame, the exception must not be found in it
        return await self._handoff.client_throw(self, thrown)

    async def aclose(self) -> None:
        """Close the client; the server's pending or next call raises GeneratorExit."""
        await self._handoff.client_aclose()

    def __del__(self) -> None:
        handoff = self._handoff
        if handoff.client_life == "closed":
            return
        loop = handoff.loop
        if loop is None:
            handoff.close_client()
        else:
            # A finalizer may run in the middle of the handoff's own code, or
            # in another thread: close from the channel's loop or trio run
            # instead (ABANDON-CLIENT-GC). Once that is over (RuntimeError),
            # nobody is left to wake.
            with suppress(RuntimeError):
                loop.call_soon_threadsafe(handoff.close_client)


class ServerEnd(AsyncGenerator[U, T]):
    """The server end of a channel, given by ``async with channel.server()``.

    The server block is the body of an async generator: ``await
    server.asend(item)`` is ``yield item``. It returns once the client took
    the item and came back with its next request, and returns what that
    request sent (None for ``anext``). The end can be passed to other
    coroutines to delegate production (one task at a time).
    """

    __slots__ = ("_handoff",)

    def __init__(self, handoff: _Handoff) -> None:
        self._handoff = handoff

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._handoff!r}>"

    @property
    def delivered(self) -> int:
        """How many items of this end have reached the client.

        Compare it before and after a call that raised to learn whether the
        call's value was delivered.
        """
        return self._handoff.server.delivered

    def __aiter__(self) -> ServerEnd[U, T]:
        return self

    def __anext__(self) -> Coroutine[Any, Any, U]:
        """Hand None to the client and return the client's next request: ``asend(None)``.

        ``async for request in server`` reads a client's requests while
        sending it None items.
        """
        return self._handoff.server_call(None, "__anext__")

    def asend(self, value: T) -> Coroutine[Any, Any, U]:
        """Hand ``value`` to the client and return the client's next request.

        Raises GeneratorExit when the client closed the channel, and the
        exception the client threw with ``athrow``.
        """
        return self._handoff.server_call(value, "asend")

    @overload
    def athrow(
        self, typ: type[BaseException], val: BaseException | object = None, tb: TracebackType | None = None, /
    ) -> Coroutine[Any, Any, U]: ...

    @overload
    def athrow(
        self, typ: BaseException, val: None = None, tb: TracebackType | None = None, /
    ) -> Coroutine[Any, Any, U]: ...

    def athrow(self, typ: Any, val: Any = _NOTHING, tb: Any = None, /) -> Coroutine[Any, Any, Any]:
        """Raise an exception in the client's pending call; return its next request.

        On Python 3.12+, passing ``val`` or ``tb`` warns DeprecationWarning when
        called, as a native ``athrow`` does (MIRROR-ATHROW-SIGNATURE).
        """
        return self._throw(typ, _athrow_value(val), tb)

    async def _throw(self, typ: Any, val: Any, tb: Any) -> Any:
        message = _Thrown(_make_exception(typ, val, tb))
        del typ, val, tb
        return await self._handoff.server_call(message, "athrow")

    async def aclose(self) -> None:
        """End the channel: the client's pending or next call raises StopAsyncIteration."""
        self._handoff.server_aclose()


class StreamClientEnd(ClientEnd[T, None]):
    """The reading end of a :class:`StreamChannel`."""

    __slots__ = ()

    def read_once(self) -> Coroutine[Any, Any, T]:
        """Return the next item; raise StopAsyncIteration at the end of the stream."""
        return self._handoff.client_call(self, None, 0, "read_once")

    async def read_items(self, n: int) -> list[T]:
        """Return the next 1 to ``n`` items, in order.

        Waits for the first item only, and takes the ones that the writer
        hands over before this task resumes, without a return to the event
        loop per item (READ-ITEMS-BATCH). At the end of the stream, a call
        returns what it got, and the next one raises StopAsyncIteration.
        """
        if n < 1:
            raise ValueError(f"read_items(): n must be at least 1, not {n!r}")
        items: list[T] = await self._handoff.client_call(self, None, n, "read_items")
        return items


class StreamServerEnd(ServerEnd[None, T]):
    """The writing end of a :class:`StreamChannel`."""

    __slots__ = ()

    async def write_items(self, items: Iterable[T]) -> None:
        """Send every item of ``items``, taking each one only when a reader wants it.

        Any iterable works, unsized iterators and generators included: no
        item is pulled before the reader asks for it, so a cancelled call
        loses none (WRITE-ITEMS-LAZY), and items that a pending
        ``read_items`` call can take are handed over without a return to the
        event loop (WRITE-ITEMS-BATCH). Returns at once when the last items
        fit in a batch with room to spare; otherwise when the reader comes
        back for more after the last item, as a loop of ``asend`` would.
        """
        await self._handoff.server_write(items)


# CPython 3.12 deprecated athrow(typ, val, tb) for async generators; the ends follow.
_ATHROW_SIGNATURE_DEPRECATED = sys.version_info >= (3, 12)


def _athrow_value(val: object) -> object:
    """The ``val`` of an ``athrow()`` call, after the warning that CPython gives for it."""
    if val is _NOTHING:
        return None
    if _ATHROW_SIGNATURE_DEPRECATED:
        warnings.warn(
            "the (type, exc, tb) signature of athrow() is deprecated, use the single-arg signature instead.",
            DeprecationWarning,
            stacklevel=3,
        )
    return val


def _make_exception(typ: object, val: object, tb: TracebackType | None) -> BaseException:
    """The exception that ``athrow(typ, val, tb)`` raises, as PEP 525 builds it."""
    kind_name = type(typ).__name__
    if isinstance(typ, BaseException):
        if val is not None:
            raise TypeError("instance exception may not have a separate value")
        exc = typ
    elif isinstance(typ, type) and issubclass(typ, BaseException):
        kind: type[BaseException] = typ
        exc = val if isinstance(val, kind) else kind() if val is None else kind(val)
    else:
        raise TypeError(
            f"exceptions must be classes or instances deriving from BaseException, not {kind_name}"
        )
    return exc if tb is None else exc.with_traceback(tb)


S = TypeVar("S", bound=ServerEnd[Any, Any])


# --------------------------------------------------------------------------
# Channels
# --------------------------------------------------------------------------


class ServerBlock(Generic[S]):
    """The async context manager that ``Channel.server()`` returns.

    Entering it waits until the client asks for its first item and gives the
    server end; leaving it closes the server end (MIRROR-SERVER-RETURN).
    """

    __slots__ = ("_end", "_handoff")

    def __init__(self, end: S, handoff: _Handoff) -> None:
        self._end = end
        self._handoff = handoff

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._handoff!r}>"

    def __aenter__(self) -> Coroutine[Any, Any, S]:
        """Wait until the client asks for its first item, and return the server end.

        Raises ClientClosedError if the client closed before it asked
        (MIRROR-ACLOSE-UNSTARTED).
        """
        return self._handoff.server_enter(self._end)

    async def __aexit__(
        self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        """Close the server end: the client's pending or next call learns how the block ended.

        Leaving normally makes the client's call raise StopAsyncIteration (MIRROR-SERVER-RETURN);
        an exception leaving the block is raised there and propagates from here
        (MIRROR-SERVER-ERROR); when the server task is cancelled, the client's call raises
        ServerCancelledError while the CancelledError propagates from here
        (CANCEL-SERVER-TASK). Swallows (returns True) only the
        GeneratorExit of a client that closed (MIRROR-ACLOSE) and the exception that the
        client threw, which goes back to its athrow (MIRROR-ATHROW).
        """
        # Never suspends: a coroutine closed by the garbage collector must
        # still be able to close its server (ABANDON-SERVER).
        return self._handoff.server_exit(exc)


class Channel(Generic[T, U]):
    """A rendezvous channel: a client end yields the ``T`` items that the
    server end sends, and sends back ``U`` replies.

    ``client()`` returns the client end, an :class:`AsyncGenerator[T, U]
    <collections.abc.AsyncGenerator>`. ``server()`` returns an async context
    manager whose entry waits until the client asks for its first item and
    gives the server end, an ``AsyncGenerator[U, T]``; leaving the block
    closes the server end, and the client gets StopAsyncIteration.

    Each channel has one client and one server, bound to one event loop at
    first use; asking for a second one raises :exc:`ChannelInUseError`.
    """

    __slots__ = ("__weakref__", "_handoff")

    _client_type: type[ClientEnd[Any, Any]] = ClientEnd
    _server_type: type[ServerEnd[Any, Any]] = ServerEnd

    def __init__(self) -> None:
        self._handoff = _Handoff()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._handoff!r}>"

    def client(self) -> ClientEnd[T, U]:
        """Return the client end; a channel has exactly one."""
        handoff = self._handoff
        if handoff.client_life != "absent":
            raise ChannelInUseError(  # MISUSE-SECOND-END
                "client(): this channel already has a client; a channel connects "
                "one client and one server: create another Channel"
            )
        handoff.client_life = "unstarted"
        return self._client_type(handoff)

    def server(self) -> ServerBlock[ServerEnd[U, T]]:
        """Return the server block: ``async with channel.server() as server:``."""
        handoff = self._handoff
        if handoff.server_life != "absent":
            raise ChannelInUseError(  # MISUSE-SECOND-END
                "server(): this channel already has a server; a channel connects "
                "one client and one server: create another Channel"
            )
        handoff.server_life = "entering"
        return ServerBlock(self._server_type(handoff), handoff)


class StreamChannel(Channel[T, None]):
    """A one-way channel of ``T`` items with bulk reading and writing.

    Its client end adds ``read_once()`` and ``read_items(n)``; its server end
    adds ``write_items(iterable)``.
    """

    __slots__ = ()

    _client_type = StreamClientEnd
    _server_type = StreamServerEnd

    def client(self) -> StreamClientEnd[T]:
        """Return the reading end; a stream channel has exactly one."""
        return super().client()  # type: ignore[return-value]

    def server(self) -> ServerBlock[StreamServerEnd[T]]:  # type: ignore[override]
        """Return the writing block: ``async with stream.server() as writer:``."""
        return super().server()  # type: ignore[return-value]


# A coroutine that is never awaited is reported by its function's qualified
# name: let the warning name the method the user called, not the internal
# coroutine that the method returns (as CPython's says 'asend' for __anext__()).
# The name is the function's, so this costs nothing per call.
_Handoff.client_call.__qualname__ = "ClientEnd.asend"
_Handoff.server_call.__qualname__ = "ServerEnd.asend"
ClientEnd._throw.__qualname__ = "ClientEnd.athrow"  # pyright: ignore[reportPrivateUsage]
ServerEnd._throw.__qualname__ = "ServerEnd.athrow"  # pyright: ignore[reportPrivateUsage]


# --------------------------------------------------------------------------
# as_safe_generator: a yield-based body in a task that an async with owns
# --------------------------------------------------------------------------

P = ParamSpec("P")
Y = TypeVar("Y")
Sent = TypeVar("Sent")


def as_safe_generator(
    fn: Callable[P, AsyncGenerator[Y, Sent]],
) -> Callable[P, AbstractAsyncContextManager[AsyncGenerator[Y, Sent]]]:
    """Run an async generator function's body in a task that an ``async with`` owns.

    ::

        @as_safe_generator
        async def numbers(n: int) -> AsyncGenerator[int, None]:
            for i in range(n):
                async with asyncio.timeout(1):  # or a TaskGroup, a nursery, a cancel scope
                    yield i  # the consumer must come back within a second

        async with numbers(10) as agen:
            async for i in agen:
                ...

    ``agen`` is an async generator (``asend``, ``athrow``, ``aclose``, ``async
    for``) whose outcomes are those of the same generator under
    :func:`contextlib.aclosing` in one task, except that the body may hold task
    groups, nurseries and timeouts across its yields (PEP 789):

    * the body runs only when the consumer asks for an item (SAFE-GEN-NO-READ-AHEAD);
    * leaving the block (or ``agen.aclose()``) closes the generator: the body gets
      GeneratorExit at its yield, or its task is cancelled if it is waiting on
      anything else; the block is left, and ``aclose()`` returns, once the body's
      cleanup has finished, and an error in that cleanup is raised there, as
      ``aclosing`` raises it (SAFE-GEN-CLOSE); a block left before the first item
      never runs the body and raises nothing (SAFE-GEN-UNSTARTED);
    * the body's exception is raised once, as itself, where a generator raises it
      (``anext``, ``asend``, ``athrow``); if the consumer lets it out of the block,
      the block adds no second copy (SAFE-GEN-ERROR);
    * a timeout or cancel scope around a ``yield`` fires in the body, at that
      yield, while the consumer is away; its item stays with the consumer, and the
      value that the consumer's next call sends is dropped, as no yield waits for
      it any more (SAFE-GEN-SCOPE-AT-YIELD).

    The task is owned as an asyncio TaskGroup owns its tasks (a cancellation of
    the block's task while it waits for the body is forwarded to the body, then
    raised), or on trio by a nursery; through anyio, by whichever of the two runs.
    A cancelled call of the consumer does not cancel the body: its item waits for
    the next call, so that a timeout loop around ``anext(agen)`` gets every item
    once. The decorated function keeps its name, docstring and signature.
    """

    @functools.wraps(fn)
    def open_generator(
        *args: P.args, **kwargs: P.kwargs
    ) -> AbstractAsyncContextManager[AsyncGenerator[Y, Sent]]:
        return _SafeGeneratorBlock(fn(*args, **kwargs), open_generator.__name__, open_generator.__qualname__)

    return open_generator


class _SafeGenerator(AsyncGenerator[Y, Sent]):
    """What ``async with`` gives for an :func:`as_safe_generator` function: the
    consumer's async generator, a channel client fed by the body's task."""

    # A __dict__ for __name__ and __qualname__, which name the body, are
    # writable, and cannot be properties (a class's own are strings).
    __slots__ = ("__dict__", "__weakref__", "_block", "_client")

    def __init__(self, block: _SafeGeneratorBlock[Y, Sent], client: ClientEnd[Y, Sent]) -> None:
        self._block = block
        self._client = client
        self.__name__: str = block.name
        self.__qualname__: str = block.qualname

    def __repr__(self) -> str:
        return f"<safe generator {self.__qualname__} {self._client!r}>"

    def __aiter__(self) -> _SafeGenerator[Y, Sent]:
        return self

    # The calls return the client's coroutine itself: no frame of their own.

    def __anext__(self) -> Coroutine[Any, Any, Y]:
        return self._client.__anext__()

    def asend(self, value: Sent | None) -> Coroutine[Any, Any, Y]:
        if value is not None and self._client.delivered == 0 and self.ag_frame is not None:
            return self._refuse_first_send()
        return self._client.asend(value)

    @staticmethod
    async def _refuse_first_send() -> NoReturn:
        # As a native generator words it: no yield is there to receive a value yet.
        raise TypeError("can't send non-None value to a just-started async generator")

    @overload
    def athrow(
        self, typ: type[BaseException], val: BaseException | object = None, tb: TracebackType | None = None, /
    ) -> Coroutine[Any, Any, Y]: ...

    @overload
    def athrow(
        self, typ: BaseException, val: None = None, tb: TracebackType | None = None, /
    ) -> Coroutine[Any, Any, Y]: ...

    def athrow(self, typ: Any, val: Any = _NOTHING, tb: Any = None, /) -> Coroutine[Any, Any, Any]:
        """Raise an exception in the body at its yield; return its next item."""
        return self._client.athrow(_make_exception(typ, _athrow_value(val), tb))

    async def aclose(self) -> None:
        """Close the generator and return once the body's cleanup has finished.

        Raises what the cleanup raised, as a native ``aclose()`` does.
        """
        if self._client.ag_running:
            raise AlreadyRunningError(
                "aclose(): the generator is already running a call in another task; "
                "an async generator serves one task at a time"
            )
        await self._block.close(leaving=False)

    # What consumers inspect (aiostream, inspect.getasyncgenstate): the body's
    # own generator says where the body is; a call is running while the
    # consumer's call is pending.

    @property
    def ag_running(self) -> bool:
        """True while a call of the consumer is pending."""
        return self._client.ag_running

    @property
    def ag_await(self) -> Any:
        """What the body awaits during a step, or None."""
        return getattr(self._block.body, "ag_await", None)

    @property
    def ag_frame(self) -> FrameType | None:
        """The body's frame, None once the body has ended."""
        frame: FrameType | None = getattr(self._block.body, "ag_frame", None)
        return frame

    @property
    def ag_code(self) -> CodeType | None:
        """The body's code."""
        code: CodeType | None = getattr(self._block.body, "ag_code", None)
        return code


class _SafeGeneratorBlock(AbstractAsyncContextManager[AsyncGenerator[Y, Sent]]):
    """The ``async with`` of an :func:`as_safe_generator` function: owns the body's task.

    The body's task drives the body with its ``asend``/``athrow`` and is the
    server of a channel: each ``yield`` becomes the server's ``asend``, so that
    a cancellation there (a timeout around the yield) is thrown into the body
    at its yield.
    """

    __slots__ = (
        "_channel",
        "_client",
        "_closing",
        "_ended",
        "_error",
        "_generator",
        "_owner",
        "_parked",
        "body",
        "name",
        "qualname",
    )

    def __init__(self, body: AsyncGenerator[Y, Sent], name: str, qualname: str) -> None:
        self.body = body
        self.name = name
        self.qualname = qualname
        self._channel: Channel[Y, Sent] = Channel()
        self._client = self._channel.client()
        self._generator = _SafeGenerator(self, self._client)
        self._owner: _AsyncioOwner | _TrioOwner | None = None
        # The body's task waits for the client, at a yield (in the server's
        # asend) or for the first request: a close reaches it there (as
        # GeneratorExit at a yield); elsewhere, its task is cancelled.
        self._parked = True
        self._closing = False
        # The body ended by itself: its outcome went to the client.
        self._ended = False
        # What the body's cleanup raised after a close: raised by the close.
        self._error: Exception | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.qualname} {self._channel!r}>"

    # A type checker already refuses ``async for`` over the block; at run time, say what to write.
    if not TYPE_CHECKING:  # pragma: no branch

        def __aiter__(self) -> NoReturn:
            raise TypeError(
                f"{self.qualname}() is an as_safe_generator function: iterate the generator that its "
                f"'async with' gives (async with {self.name}(...) as agen: async for item in agen: ...)"
            )

    async def __aenter__(self) -> AsyncGenerator[Y, Sent]:
        if self._owner is not None:
            raise ChannelInUseError(
                f"{self.qualname}(): this block was already entered; call the function again for a new one"
            )
        loop = _get_running_loop()
        self._owner = (
            _AsyncioOwner(loop, self._drive()) if loop is not None else await _TrioOwner.start(self._drive)
        )
        return self._generator

    async def __aexit__(
        self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close(leaving=True)

    async def close(self, *, leaving: bool) -> None:
        """Close the body (once), wait for its task, and raise what it left for the consumer."""
        owner = self._owner
        assert owner is not None
        if not self._ended and not self._closing:
            self._closing = True
            parked = self._parked
            client = self._client
            if client.ag_running:
                # A call pending in another task: the body works for it.
                parked = False
            else:
                await client.aclose()
            if not parked:
                owner.cancel()
        await (owner.leave() if leaving else owner.wait())
        if self._ended:
            # The body's outcome went to the client: raise it unless the
            # consumer already saw it, so that it is raised exactly once.
            client = self._client
            with suppress(StopAsyncIteration):
                while True:
                    await client.__anext__()
        error, self._error = self._error, None
        if error is not None:
            # As aclose() raises it: its context stays the GeneratorExit (or
            # cancellation) of the close, not what the consumer's block raised.
            context = error.__context__
            try:
                raise error
            finally:
                error.__context__ = context

    async def _drive(self) -> None:
        try:
            async with self._channel.server() as server:
                await self._run(server)
        except ClientClosedError:
            # Closed before the first item: the body never runs.
            await self.body.aclose()
        except asyncio.CancelledError:
            # Cancelled by the block only (trio's: see _TrioOwner).
            return
        except Exception as exc:
            if self._closing:
                self._error = exc
        self._ended = not self._closing

    async def _run(self, server: ServerEnd[Sent, Y]) -> None:
        body = self.body
        asend = body.asend
        step: Callable[[Any], Awaitable[Y]] = asend
        value: Any = None
        client = self._client
        # An interrupted yield's item was taken: the client's reply is still owed.
        owed = False
        while True:
            self._parked = False
            try:
                item = await step(value)
            except StopAsyncIteration:
                return
            self._parked = True
            try:
                if owed:
                    # The reply to an item whose yield was interrupted: no
                    # yield waits for it any more.
                    await server.__anext__()
                    owed = False
                value = await server.asend(item)
            except BaseException as exc:
                if self._closing:
                    break
                # A cancellation at the yield (a timeout or scope around it)
                # or the consumer's athrow: raised in the body at its yield.
                # The reply is owed if the item was delivered (the server end
                # counts it) and the client's next request was not (the
                # client's requests are one ahead of the items it received).
                owed = client.delivered == server.delivered
                step, value = body.athrow, exc
                continue
            if self._closing:
                # A request handed to the body's task just before the block
                # was left, by a call cancelled before that task resumed: the
                # consumer is gone, so the request closes the body instead.
                # (Only trio, which runs a batch of woken tasks in random
                # order, can resume the consumer first.)
                break
            step = asend
        self._parked = False
        await body.aclose()


class _AsyncioOwner:
    """The body's task on asyncio, owned as a TaskGroup owns its tasks."""

    __slots__ = ("_cancelled", "task")

    def __init__(self, loop: asyncio.AbstractEventLoop, drive: Coroutine[Any, Any, None]) -> None:
        self.task = loop.create_task(drive)
        self._cancelled = False

    def cancel(self) -> None:
        if not self._cancelled:
            self._cancelled = True
            self.task.cancel()

    async def wait(self) -> None:
        """Wait for the task; a cancellation of the waiting task cancels it, and is raised after."""
        task = self.task
        cancelled: asyncio.CancelledError | None = None
        while not task.done():
            try:
                await asyncio.wait((task,))
            except asyncio.CancelledError as exc:
                cancelled = exc
                self.cancel()
        if not task.cancelled():
            task.result()
        if cancelled is not None:
            raise cancelled

    leave = wait


class _TrioOwner:
    """The body's task on trio, in a nursery that the block opens and closes."""

    __slots__ = ("_ended", "_nursery_manager", "_scope")

    def __init__(self, nursery_manager: Any, trio: Any) -> None:
        self._nursery_manager = nursery_manager
        self._scope = trio.CancelScope()
        self._ended = trio.Event()

    @classmethod
    async def start(cls, drive: Callable[[], Coroutine[Any, Any, None]]) -> _TrioOwner:
        if "trio" not in sys.modules:
            raise RuntimeError(
                "no running event loop: enter a safe generator inside asyncio (or uvloop) or trio.run"
            )
        import trio

        manager = trio.open_nursery()
        nursery = await manager.__aenter__()
        owner = cls(manager, trio)
        nursery.start_soon(owner._run, drive, trio.Cancelled)
        return owner

    async def _run(
        self, drive: Callable[[], Coroutine[Any, Any, None]], cancelled: type[BaseException]
    ) -> None:
        # An enclosing scope's cancellation reaches the block's task too: it
        # is raised there, and once, not here as well (in a group).
        try:
            with self._scope, suppress(cancelled):
                await drive()
        finally:
            self._ended.set()

    def cancel(self) -> None:
        self._scope.cancel()

    async def wait(self) -> None:
        """Wait for the task (aclose): a cancellation of the waiting task cancels it, and is raised after.

        The nursery stays open: it closes where it was opened, when the block is left.
        """
        import trio

        try:
            await self._ended.wait()
        except trio.Cancelled:
            self.cancel()
            with trio.CancelScope(shield=True):
                await self._ended.wait()
            raise

    async def leave(self) -> None:
        await self._nursery_manager.__aexit__(None, None, None)
