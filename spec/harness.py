"""Drive a real channel implementation through the model's events.

:class:`Harness` applies each :class:`~spec.model.Event` to one channel of
the implementation under test: every client call runs in a task of its own,
the server block runs in one task that takes its calls from a queue (a
burst queues several at once), and records how that task ended; a delegate's
call on the server end runs in a task of its own, and a call from another
event loop on a loop of its own in a thread. After each event it drives the
event loop until every task is finished or blocked on a pending future
(quiescence: no sleeps, no wall clock), and reports the calls that ended.
It also counts the items that each write_items call pulled from its
generator, and keeps weak references to the exceptions given to athrow, so
that a refused call that kept one shows. Only the public API is used: ``Channel``,
``StreamChannel``, their ends, and the exception classes that the module
happens to define (the matcher falls back on the builtin base classes).
"""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import weakref
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from .loops import SETTLE_ROUNDS, blocked
from .model import Event

# Seconds that a call from another event loop may take: it must fail at once.
FOREIGN_CALL_BOUND = 5.0


class Boom(Exception):
    """The exception that scenarios throw into an end."""


class Hang(AssertionError):
    """The event loop did not reach quiescence: something spins."""


class Items:
    """The items of one write_items call: a generator (no len(), consumed
    lazily) that counts how many items it yielded, so that an item pulled and
    then lost shows (WRITE-ITEMS-LAZY)."""

    def __init__(self, items: tuple[Any, ...]) -> None:
        self.items = items
        self.pulled = 0

    def __iter__(self) -> Iterator[Any]:
        for item in self.items:
            self.pulled += 1
            yield item


Observed = tuple[str, Any]  # ("ok", value) or ("raise", exception type)


class Observer:
    """What every harness observes of one channel besides the calls' results,
    whatever the event loop: each end's delivered count, the items each
    write_items pulled, what the implementation shows (its reprs), whether a
    refused athrow kept its exception, and how the server task ended."""

    def __init__(self, module: ModuleType, stream: bool) -> None:
        self.module = module
        self.channel = module.StreamChannel() if stream else module.Channel()
        self.client: Any = self.channel.client()
        self.server: Any = None
        self.calls = 0
        self.results: dict[int, Observed] = {}
        # How the server task ended: what ``async with`` raised in it, or ("ok", None).
        self.server_outcome: Observed | None = None
        # The last Boom or GeneratorExit that a server call raised (the block may re-raise it).
        self.caught: BaseException | None = None
        self.writes: dict[int, Items] = {}
        # The exception given to each athrow call, weakly: a refused call must not keep it.
        self.thrown: dict[int, weakref.ref[BaseException]] = {}

    def delivered(self) -> dict[str, int]:
        """Each end's ``delivered`` count, for the ends that exist and have one."""
        counts: dict[str, int] = {}
        for end, obj in (("client", self.client), ("server", self.server)):
            count = getattr(obj, "delivered", None)
            if isinstance(count, int):
                counts[end] = count
        return counts

    def pulled(self) -> dict[int, int]:
        """How many items each write_items call pulled from its generator (when any)."""
        return {call: items.pulled for call, items in self.writes.items() if items.pulled}

    def snapshot(self) -> tuple[str, ...]:
        """What the implementation shows of its state: the reprs of the channel and its ends."""
        return (repr(self.channel), repr(self.client), repr(self.server), repr(self.delivered()))

    def keeps_thrown(self, call: int) -> bool:
        """Whether the implementation still holds the exception given to athrow ``call``."""
        ref = self.thrown.get(call)
        if ref is None or ref() is None:
            return False
        gc.collect()
        return ref() is not None

    def _method(self, call: int, end: Any, event: Event) -> Any:
        """Start the call ``event`` on ``end``, keeping track of what it was given."""
        op, arg = event.op, event.arg
        if op == "anext":
            return end.__anext__()
        if op == "athrow":
            exc = Boom(arg)
            self.thrown[call] = weakref.ref(exc)
            return end.athrow(exc)
        if op == "write_items":
            items = self.writes[call] = Items(arg)
            return end.write_items(iter(items))
        if op in ("aclose", "read_once"):
            return getattr(end, op)()
        return getattr(end, op)(arg)

    def _on_burst(self, event: Event) -> None:
        # The commands are queued together: the server task takes the next
        # one without waiting, so the calls run back to back.
        for value in event.arg:
            self._on_server(Event("server", event.op, value))

    def _on_server(self, event: Event) -> None:
        """Start the server call of ``event``: each harness queues it to its server task."""
        raise NotImplementedError

    def _on_abandon(self, event: Event) -> None:
        self.client = None
        gc.collect()

    def _on_second(self, event: Event) -> None:
        call = self.new_call()
        try:
            if event.end == "client":
                self.channel.client()
            else:
                self.channel.server()
        except Exception as exc:
            self.results[call] = ("raise", type(exc))
        else:
            self.results[call] = ("ok", None)

    def new_call(self) -> int:
        self.calls += 1
        return self.calls

    def raised_in_server(self, call: int, exc: BaseException) -> None:
        """A server call raised ``exc``: the block may re-raise the client's exception or GeneratorExit."""
        self.results[call] = ("raise", type(exc))
        if isinstance(exc, (Boom, GeneratorExit)):
            self.caught = exc

    def server_ended(self, enter: int, outcome: Observed) -> None:
        """The server task has left its block with ``outcome``, which is also the enter call's result
        if it has none yet; the server end and the exception it caught are gone."""
        self.server_outcome = outcome
        if enter not in self.results:
            self.results[enter] = outcome
        self.server = None
        self.caught = None

    def leave_block(self, event: Event) -> None:
        """Leave the server block as the exit ``event`` says: raise, or return for the block to return."""
        if event.arg == "ValueError":
            raise ValueError("the server block raises")
        if event.op == "reraise":
            assert self.caught is not None
            raise self.caught


class Harness(Observer):
    def __init__(self, module: ModuleType, stream: bool) -> None:
        super().__init__(module, stream)
        self.tasks: dict[int, asyncio.Task[None]] = {}
        self.server_task: asyncio.Task[None] | None = None
        self.server_commands: asyncio.Queue[tuple[int, Event]] | None = None
        self.server_call: int | None = None
        self.kill_server = False
        self.errors: list[dict[str, Any]] = []

    # -- applying events ----------------------------------------------------

    async def apply(self, event: Event) -> dict[int, Observed]:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _loop, context: self.errors.append(context))
        before = set(self.results)
        getattr(self, f"_on_{event.kind}")(event)
        await self.settle()
        return {call: result for call, result in self.results.items() if call not in before}

    def pending(self) -> set[int]:
        return {call for call in self.tasks if call not in self.results}

    def _on_client(self, event: Event) -> None:
        call = self.new_call()
        self.tasks[call] = asyncio.get_running_loop().create_task(self._client_call(call, event))

    async def _client_call(self, call: int, event: Event) -> None:
        self.results[call] = await _outcome(self._method(call, self.client, event))

    def _on_delegate(self, event: Event) -> None:
        call = self.new_call()
        self.tasks[call] = asyncio.get_running_loop().create_task(self._delegate_call(call, event))

    async def _delegate_call(self, call: int, event: Event) -> None:
        self.results[call] = await _outcome(self._method(call, self.server, event))

    def _on_foreign(self, event: Event) -> None:
        # Run the call on a loop of its own, in a thread of its own, while
        # this loop waits: one thread runs at a time. The join's bound only
        # keeps a call that never returns from stopping the suite.
        call = self.new_call()
        operation = self._method(call, self.client, event)
        outcome: list[Observed] = []
        thread = threading.Thread(
            target=lambda: outcome.append(asyncio.run(_outcome(operation))), daemon=True
        )
        thread.start()
        thread.join(FOREIGN_CALL_BOUND)
        if not outcome:
            raise Hang(f"a call from another event loop did not end within {FOREIGN_CALL_BOUND} s")
        self.results[call] = outcome[0]

    def _on_server(self, event: Event) -> None:
        call = self.new_call()
        if event.op == "enter":
            self.server_commands = asyncio.Queue()
            self.server_task = asyncio.get_running_loop().create_task(self._server_main(call))
            self.tasks[call] = self.server_task
            return
        assert self.server_commands is not None
        self.tasks[call] = self.server_task  # type: ignore[assignment]
        self.server_commands.put_nowait((call, event))

    async def _server_main(self, enter: int) -> None:
        # The task's own outcome is what the ``async with`` statement raised:
        # recorded, so that the model can say whether the task must see it.
        self.server_call = enter
        try:
            await self._server_block(enter)
        except BaseException as exc:
            self.server_ended(enter, ("raise", type(exc)))
        else:
            self.server_ended(enter, ("ok", None))

    async def _server_block(self, enter: int) -> None:
        assert self.server_commands is not None
        async with self.channel.server() as server:
            # Held only while the block runs, as the block itself holds it:
            # a longer life could change when an implementation finalizes it.
            self.server = server
            self.results[enter] = ("ok", None)
            self.server_call = None
            while True:
                call, event = await self.server_commands.get()
                if event.kind == "exit":
                    self.leave_block(event)
                    return
                self.server_call = call
                try:
                    self.results[call] = ("ok", await self._method(call, server, event))
                except asyncio.CancelledError:
                    self.results[call] = ("raise", asyncio.CancelledError)
                    if self.kill_server:
                        raise
                    _uncancel()
                except BaseException as exc:
                    # The block goes on, GeneratorExit included: an "exit"
                    # event leaves it, or a call ignores it (MIRROR-IGNORED-EXIT).
                    self.raised_in_server(call, exc)
                finally:
                    self.server_call = None

    def _on_cancel(self, event: Event) -> None:
        if event.end == "client":
            self._running_client_task().cancel()
        else:
            assert self.server_task is not None
            self.server_task.cancel()

    def _on_kill(self, event: Event) -> None:
        assert self.server_task is not None
        self.kill_server = True
        self.server_task.cancel()

    def _on_exit(self, event: Event) -> None:
        assert self.server_commands is not None
        self.server_commands.put_nowait((0, event))

    def _on_race(self, event: Event) -> None:
        # The peer's call is scheduled first, so it delivers in its first
        # step; the cancellation runs right after it, before the receiving
        # task resumes (the done-future-then-cancel race).
        loop = asyncio.get_running_loop()
        if event.end == "client":
            victim = self._running_client_task()
            self._on_server(Event("server", event.op, event.arg))
            loop.call_soon(victim.cancel)
        else:
            assert self.server_task is not None
            self._on_client(Event("client", event.op, event.arg))
            loop.call_soon(self.server_task.cancel)

    def _running_client_task(self) -> asyncio.Task[None]:
        for call, task in self.tasks.items():
            if call not in self.results and task is not self.server_task:
                return task
        raise AssertionError("no client call is pending")

    # -- quiescence ---------------------------------------------------------

    async def settle(self) -> None:
        """Run the loop until every task is finished or waits on a pending future."""
        for _ in range(SETTLE_ROUNDS):
            await asyncio.sleep(0)
            if all(blocked(task) for task in self.tasks.values()):
                return
        raise Hang(f"no quiescence after {SETTLE_ROUNDS} loop iterations")

    async def close(self) -> None:
        """Cancel what is left, so that the loop closes cleanly."""
        self.kill_server = True
        tasks = set(self.tasks.values())
        for task in tasks:
            task.cancel()
        for _ in range(SETTLE_ROUNDS):
            if all(task.done() for task in tasks):
                break
            await asyncio.sleep(0)
        else:
            raise Hang("tasks of the implementation under test ignore cancellation")
        for task in tasks:
            if not task.cancelled():
                task.exception()  # retrieved: the outcome was recorded already
        # The handler refers to this harness: a loop that outlives the run must let go of it.
        asyncio.get_running_loop().set_exception_handler(None)


def _uncancel() -> None:
    task = asyncio.current_task()
    if task is not None and sys.version_info >= (3, 11):
        task.uncancel()


async def _outcome(operation: Any) -> Observed:
    try:
        value = await operation
    except BaseException as exc:
        return ("raise", type(exc))
    return ("ok", value)


# -- matching what the model names with what the implementation raised ------

_BUILTIN: dict[str, type[BaseException]] = {
    "StopAsyncIteration": StopAsyncIteration,
    "GeneratorExit": GeneratorExit,
    "CancelledError": asyncio.CancelledError,
    "TypeError": TypeError,
    "ValueError": ValueError,
    "Boom": Boom,
    # Misuse is a RuntimeError, as PEP 525's "already running" is.
    "AlreadyRunningError": RuntimeError,
    "ReplyPendingError": RuntimeError,
    "ChannelClosedError": RuntimeError,
    "ChannelInUseError": RuntimeError,
    "WrongEventLoopError": RuntimeError,
    "RuntimeError": RuntimeError,
    # Outcomes of what the peer did: any exception but a bare CancelledError.
    "ServerCancelledError": Exception,
    "ClientClosedError": Exception,
}


def matches(module: ModuleType, expected: Any, observed: Observed) -> bool:
    kind, value = expected
    if observed[0] != kind:
        return False
    if kind == "ok":
        return bool(observed[1] == value)
    raised: type[BaseException] = observed[1]
    base = _BUILTIN[value]
    if not issubclass(raised, base):
        return False
    own = getattr(module, value, None)
    return own is None or not isinstance(own, type) or issubclass(raised, own)


def describe(result: Any) -> str:
    kind, value = result
    if kind == "ok":
        return f"returns {value!r}"
    name = value if isinstance(value, str) else value.__name__
    return f"raises {name}"
