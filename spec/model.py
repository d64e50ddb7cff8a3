"""The abstract state machine of one channel: the normative model.

Plain Python, no event loop. The model takes *events* (a call started on an
end, a pending call cancelled, the server block left, the client abandoned,
...) and, for each, computes what every call that ends gets, assuming that
the event loop then runs until no task can make progress (quiescence). Every
step it takes cites the clause of ``spec/clauses.py`` that decides it, so a
disagreement with an implementation names the clause that was violated.

The state is the state of the *handoff*: the two ends take turns (the
client's request, the server's item, the client's next request, ...). A
message sent while the peer has a pending call is delivered into it; one
sent while the peer has none is offered, and the sender waits for a taker.
Each end also has a lifecycle. :data:`STATES` names the phases that these
fields make; :data:`TRANSITIONS` is the table of every (phase, event) the
model can take, derived by exploring it from a new channel until no new state
appears (a fixpoint), with the clause of each, what the calls get, and the
guard over :data:`VARIABLES` that selects it; :data:`EVENTS` says what each
event label means.

Values in events: items and replies are ints, an exception is named by its
class name (the harness maps ``"Boom"`` to its own exception class).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from itertools import combinations
from typing import Any

from .clauses import CLAUSES

# -- phases ---------------------------------------------------------------

CLIENT_UNSTARTED = "CLIENT_UNSTARTED"
CLIENT_TURN = "CLIENT_TURN"
REQUEST_OFFERED = "REQUEST_OFFERED"
REQUEST_HELD = "REQUEST_HELD"
SERVER_TURN = "SERVER_TURN"
ITEM_OFFERED = "ITEM_OFFERED"
ITEM_HELD = "ITEM_HELD"
CLIENT_CLOSED = "CLIENT_CLOSED"
SERVER_ENDED = "SERVER_ENDED"
FINISHED = "FINISHED"

STATES: dict[str, str] = {
    CLIENT_UNSTARTED: "The client has not asked for its first item; the server block cannot start yet.",
    CLIENT_TURN: "The client has the turn: the server waits for its next request (or owes a receive).",
    REQUEST_OFFERED: "The client's request waits for a server call to take it.",
    REQUEST_HELD: "A request was delivered to a server call that was cancelled before it resumed; "
    "the server's next call returns it.",
    SERVER_TURN: "The server has the turn: the client waits for an item (or owes a receive).",
    ITEM_OFFERED: "The server's item waits for a client call to take it.",
    ITEM_HELD: "Items were delivered to a client call that was cancelled before it resumed; the "
    "client's next call returns them.",
    CLIENT_CLOSED: "The client closed (or was abandoned); the server's pending or next call raises "
    "GeneratorExit.",
    SERVER_ENDED: "The server block ended (returned, raised or was cancelled); the client's pending or "
    "next call learns how.",
    FINISHED: "Both ends are done: the client's anext and asend raise StopAsyncIteration, its athrow "
    "returns None and its aclose does nothing.",
}

# -- events ---------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """One step of a scenario.

    ``kind`` is one of:

    * ``client``: start a client call ``op(arg)`` in a new task; ``op`` is
      anext, asend, athrow, aclose, read_once or read_items.
    * ``server``: the server task makes the call ``op(arg)``: enter (the
      ``async with``), asend, athrow, anext, aclose or write_items (arg: a
      tuple of items, written from a generator whose yields are counted).
    * ``delegate``: another task makes the server end's call ``op(arg)``
      while the server task's call is pending (a concurrent call).
    * ``foreign``: the client's call ``op(arg)`` made from another event
      loop (in another thread), once the channel is bound to its loop.
    * ``burst``: the server task makes ``asend(v)`` for each ``v`` of
      ``arg`` without the loop running in between, as a loop of asends
      into a read_items batch with room does.
    * ``cancel``: cancel the pending call of ``end``; the server task catches
      the CancelledError and goes on.
    * ``kill``: cancel the server task: its CancelledError leaves the block.
    * ``exit``: the server task leaves its block normally (``arg`` None),
      by raising ValueError (``arg`` "ValueError"), or (``op`` "reraise")
      by re-raising what its last call raised: the exception the client
      threw, or GeneratorExit.
    * ``race``: ``end``'s pending call gets a message from the peer's call
      ``op(arg)`` and is cancelled before its task resumes.
    * ``abandon``: drop the client end without closing it (garbage).
    * ``second``: ask the channel for a second ``end``.
    """

    kind: str
    op: str = ""
    arg: Any = None
    end: str = ""

    def __str__(self) -> str:
        if self.kind in ("client", "server", "delegate", "burst", "foreign"):
            return f"{self.kind}.{self.op}({'' if self.arg is None else repr(self.arg)})"
        if self.kind == "race":
            return f"race: {self.op}({'' if self.arg is None else repr(self.arg)}) then cancel {self.end}"
        if self.kind == "exit":
            if self.op == "reraise":
                return "server leaves its block re-raising what its last call raised"
            return "server leaves its block" + (f" raising {self.arg}" if self.arg else "")
        return f"{self.kind} {self.end}".strip()


Result = tuple[str, Any]  # ("ok", value) or ("raise", exception class name)


@dataclass
class Call:
    """A pending call of one end."""

    id: int
    op: str
    stage: str  # client: offer, receive. server: enter, offer, reply, taker
    capacity: int = 1
    got: list[Any] = field(default_factory=list[Any])
    items: list[Any] = field(default_factory=list[Any])


@dataclass(frozen=True)
class Transition:
    source: str
    event: str
    target: str
    clause: str
    outcome: str
    # The predicate over VARIABLES that selects this transition among those of
    # the same source and event, as the tables print it ("—" when it is the only one).
    guard: str = ""
    # What the calls that end get, by role, over every occurrence.
    gets: str = ""
    # Every clause the event cites (the first is ``clause``).
    cites: tuple[str, ...] = ()


class IllegalEvent(Exception):
    """An event that the scenario may not contain here (a harness precondition)."""


# Messages in flight: (VALUE, value) or (THROW, exception name).
VALUE = "value"
THROW = "throw"


@dataclass
class ChannelModel:
    """The state of one channel, and what each event does to it."""

    stream: bool = False
    client_life: str = "unstarted"  # unstarted, open, closed
    # absent, entering, open, exiting (got GeneratorExit, still in its block), closed
    server_life: str = "absent"
    outcome: str | None = None  # what the client learns once the server ended
    client_owed: bool = False
    server_owed: bool = True
    client_offer: Any = None
    server_offer: Any = None
    client_held: list[Any] = field(default_factory=list[Any])
    server_held: list[Any] = field(default_factory=list[Any])
    client_call: Call | None = None
    server_call: Call | None = None
    delivered: dict[str, int] = field(default_factory=lambda: {"client": 0, "server": 0})
    calls: int = 0
    results: dict[int, Result] = field(default_factory=dict[int, Result])
    # (clause, outcome) of the last event
    steps: list[tuple[str, str]] = field(default_factory=list[tuple[str, str]])
    # What each call is ("client.athrow"), for reports.
    labels: dict[int, str] = field(default_factory=dict[int, str])
    abandoned: bool = False
    # How the server task ended (None while it runs or before it starts).
    server_task: Result | None = None
    task_clause: str = ""
    # What the server's last call that raised the client's exception or
    # GeneratorExit raised ("" if none did): the block may re-raise it.
    server_caught: str = ""
    # How many items each write_items call pulled from its generator.
    pulled: dict[int, int] = field(default_factory=dict[int, int])
    # The last event was refused: it must have changed nothing.
    refused: bool = False
    # A burst is under way: the client's batch returns once it is over.
    bursting: bool = False
    # Which end's pending call a "race" event cancels right after its delivery.
    racing: str = ""

    # -- bookkeeping -------------------------------------------------------

    def copy(self) -> ChannelModel:
        return replace(
            self,
            client_held=list(self.client_held),
            server_held=list(self.server_held),
            client_call=_copy_call(self.client_call),
            server_call=_copy_call(self.server_call),
            delivered=dict(self.delivered),
            results=dict(self.results),
            steps=list(self.steps),
            labels=dict(self.labels),
            pulled=dict(self.pulled),
        )

    @property
    def phase(self) -> str:
        if self.client_life == "closed" and self.server_life == "closed":
            return FINISHED
        if self.server_life == "closed" and self.outcome is not None:
            return SERVER_ENDED
        if self.client_life == "closed":
            return CLIENT_CLOSED
        if self.client_life == "unstarted":
            return CLIENT_UNSTARTED
        if self.server_held:
            return REQUEST_HELD
        if self.client_offer is not None:
            return REQUEST_OFFERED
        if self.client_held:
            return ITEM_HELD
        if self.server_offer is not None:
            return ITEM_OFFERED
        return CLIENT_TURN if self.server_owed else SERVER_TURN

    def cite(self, clause: str, outcome: str) -> None:
        assert clause in CLAUSES, clause
        self.steps.append((clause, outcome))

    def new_call(self, label: str) -> int:
        self.calls += 1
        self.labels[self.calls] = label
        return self.calls

    def refuse(self, call: int, error: str, clause: str, outcome: str) -> None:
        """The call raises ``error`` and changes nothing (checked by :meth:`apply`)."""
        self.finish(call, ("raise", error))
        self.cite(clause, outcome)
        self.refused = True

    @property
    def block_running(self) -> bool:
        """The server task is inside its block (entering included)."""
        return self.server_life != "absent" and self.server_task is None

    def finish(self, call: int, result: Result) -> None:
        self.results[call] = result

    def pending(self) -> set[int]:
        return {call.id for call in (self.client_call, self.server_call) if call is not None}

    # -- the event dispatcher ------------------------------------------------

    def apply(self, event: Event) -> dict[int, Result]:
        """Apply ``event``; return the results of the calls it ended.

        A refused event must leave the state as it was: checked here, so that
        the fixpoint that builds :data:`TRANSITIONS` proves it for every
        reachable state and event, and every conformance run checks it again.
        """
        self.steps = []
        self.refused = False
        before = set(self.results)
        state = _state(self)
        handler = getattr(self, f"_on_{event.kind}")
        handler(event)
        if self.refused and _state(self) != state:
            raise AssertionError(f"the model's refusal of {event} changed its state: {self.steps}")
        return {call: result for call, result in self.results.items() if call not in before}

    def enabled(self, event: Event) -> bool:
        """Whether the harness may apply ``event`` now."""
        kind = event.kind
        in_block = self.block_running and self.server_life != "entering" and self.server_call is None
        server_idle = self.server_life == "open" and in_block
        if self.abandoned and (kind == "client" or event.end == "client"):
            return False
        if kind == "client":
            return event.op not in ("read_items", "read_once") or self.stream
        if kind == "server":
            if event.op == "enter":
                return self.server_life == "absent"
            if event.op == "write_items" and not self.stream:
                return False
            return in_block
        if kind == "delegate":
            server = self.server_call
            return (
                server is not None and server.stage != "enter" and (event.op != "write_items" or self.stream)
            )
        if kind == "foreign":
            # Entering the server block binds the channel to the loop.
            return self.server_life != "absent" and self.client_call is None
        if kind == "burst":
            client = self.client_call
            return (
                server_idle
                and client is not None
                and client.op == "read_items"
                and client.stage == "receive"
                and self.phase == SERVER_TURN
                and len(event.arg) <= client.capacity - len(client.got)
            )
        if kind == "cancel":
            call = self.client_call if event.end == "client" else self.server_call
            return call is not None
        if kind == "kill":
            return self.block_running
        if kind == "exit":
            return in_block and (event.op != "reraise" or bool(self.server_caught))
        if kind == "race":
            if event.end == "client":
                return (
                    server_idle
                    and self.client_call is not None
                    and self.client_call.stage == "receive"
                    and self.phase == SERVER_TURN
                    and (event.op != "write_items" or self.stream)
                )
            # The client's request is delivered into the server's call that
            # waits for it: a reply, or the first request into ``enter``, which
            # only a request that starts the client makes (anext, asend(None)).
            if self.server_call is None or self.client_call is not None:
                return False
            if self.server_call.stage == "enter":
                return self.phase == CLIENT_UNSTARTED and event.op == "anext"
            return self.server_call.stage == "reply" and self.phase == CLIENT_TURN
        if kind == "abandon":
            return self.client_life != "closed" and self.client_call is None
        if kind == "second":
            return event.end == "client" or self.server_life != "absent"
        return False

    # -- client calls ------------------------------------------------------

    def _on_client(self, event: Event) -> None:
        op, arg = event.op, event.arg
        call = self.new_call(f"client.{op}")
        if op == "read_items" and arg < 1:
            self.refuse(call, "ValueError", "READ-ITEMS-END", "read_items(n < 1) raises ValueError")
            return
        if self.client_call is not None:
            self.refuse(
                call,
                "AlreadyRunningError",
                "MIRROR-ALREADY-RUNNING",
                "the new call raises AlreadyRunningError",
            )
            return
        if self.client_life == "closed":
            if op in ("athrow", "aclose"):
                self.finish(call, ("ok", None))
                self.cite("MIRROR-CLOSED-CLIENT", f"{op} on a closed client returns None and does nothing")
            else:
                self.finish(call, ("raise", "StopAsyncIteration"))
                self.cite("MIRROR-CLOSED-CLIENT", f"{op} on a closed client raises StopAsyncIteration")
            self.refused = True
            return
        if op == "aclose":
            self.finish(call, ("ok", None))
            self.close_client()
            return
        value = arg if op == "asend" else None
        message = (THROW, arg) if op == "athrow" else (VALUE, value)
        if self.client_life == "unstarted":
            if op == "athrow":
                self.finish(call, ("raise", arg))
                self.cite("MIRROR-ATHROW-UNSTARTED", f"athrow raises {arg} at once and closes the client")
                self.close_client()
                return
            if value is not None:
                self.refuse(
                    call, "TypeError", "MIRROR-FIRST-SEND-NONE", "asend(non-None) first raises TypeError"
                )
                return
        capacity = arg if op == "read_items" else 1
        if self.client_held or (self.client_owed and self.outcome is None):
            if message != (VALUE, None):
                self.refuse(
                    call,
                    "ReplyPendingError",
                    "REPLY-PENDING",
                    "a value sent while a reply is owed raises ReplyPendingError",
                )
                return
            self.client_call = Call(call, op, "receive", capacity)
            self.client_receive()
            return
        self.client_call = Call(call, op, "receive", capacity)
        if self.outcome is None:
            self.client_life = "open"
            self.client_send(message)
        self.client_receive()

    def client_send(self, message: Any) -> None:
        self.client_owed = True
        server = self.server_call
        if server is not None and server.stage in ("enter", "reply"):
            self.delivered["client"] += 1
            self.server_owed = False
            self.server_call = None
            self.server_resumes(server, message)
            return
        assert self.client_call is not None
        self.client_call.stage = "offer"
        self.client_offer = message
        self.cite("MIRROR-ASEND", "the request waits for a server call to take it")

    def client_receive(self) -> None:
        call = self.client_call
        if call is None or call.stage != "receive":
            return
        if self.client_held:
            self.client_call = None
            self.return_held(call)
            return
        if self.server_offer is not None:
            message, self.server_offer = self.server_offer, None
            self.delivered["server"] += 1
            self.client_owed = False
            assert self.server_call is not None
            self.server_call.stage = "reply"
            self.client_call = None
            self.return_to_client(call, [message])
            self.cite("CANCEL-REQUEST-UNTAKEN", "the client takes the offered item at once")
            return
        if self.outcome is not None:
            self.client_call = None
            self.client_learns_end(call)
            return
        server = self.server_call
        if server is not None and server.stage == "taker":
            self.server_call = None
            self.write(server)
        else:
            self.cite("MIRROR-ASEND", "the client's call waits for the server's next item")

    def return_held(self, call: Call) -> None:
        count = call.capacity
        messages = self.client_held[:count]
        for index, message in enumerate(messages):
            if _is_throw(message):
                count = index or 1
                break
        del self.client_held[:count]
        self.return_to_client(call, messages[:count])
        self.cite("CANCEL-RECEIVE-RACE", "the next call returns what the cancelled one was given")

    def return_to_client(self, call: Call, messages: list[Any]) -> None:
        if _is_throw(messages[0]):
            self.finish(call.id, ("raise", messages[0][1]))
            self.cite("MIRROR-ATHROW", "the client's call raises the exception that server.athrow threw")
        elif call.op == "read_items":
            self.finish(call.id, ("ok", [value for _, value in messages]))
        else:
            self.finish(call.id, ("ok", messages[0][1]))

    def client_learns_end(self, call: Call) -> None:
        outcome = self.outcome
        assert outcome is not None
        self.finish(call.id, ("raise", outcome))
        if call.op in ("read_items", "read_once") and outcome == "StopAsyncIteration":
            self.cite("READ-ITEMS-END", "the end of the stream is StopAsyncIteration")
        self.client_life = "closed"
        self.client_owed = False
        self.outcome = "StopAsyncIteration"
        clause = {
            "StopAsyncIteration": "MIRROR-SERVER-RETURN",
            "ServerCancelledError": "CANCEL-SERVER-TASK",
            "Boom": "MIRROR-ATHROW",
        }.get(outcome, "MIRROR-SERVER-ERROR")
        self.cite(clause, f"the client's call raises {outcome}")

    def close_client(self) -> None:
        was = self.client_life
        self.client_life = "closed"
        self.client_held.clear()
        if self.server_life == "closed":
            self.cite("MIRROR-CLOSED-CLIENT", "the client closes; the server had ended")
            return
        if was == "unstarted":
            self.cite("MIRROR-ACLOSE-UNSTARTED", "the server block will not run")
            server = self.server_call
            if server is not None:
                self.server_call = None
                self.finish(server.id, ("raise", "ClientClosedError"))
                self.server_life = "closed"
                self.end_task(("raise", "ClientClosedError"), "MIRROR-ACLOSE-UNSTARTED")
            return
        self.cite("MIRROR-ACLOSE", "the server's pending or next call raises GeneratorExit")
        server = self.server_call
        if server is not None and not self.server_held:
            self.server_call = None
            self.server_offer = None
            self.server_gets_exit(server.id)

    def server_gets_exit(self, call: int) -> None:
        # The server's block goes on until an "exit" event leaves it.
        self.finish(call, ("raise", "GeneratorExit"))
        self.server_caught = "GeneratorExit"
        self.server_life = "exiting"

    # -- server calls ------------------------------------------------------

    def _on_server(self, event: Event) -> None:
        op, arg = event.op, event.arg
        call = self.new_call(f"server.{op}")
        if op == "enter":
            self.server_life = "entering"
            if self.client_life == "closed":
                self.finish(call, ("raise", "ClientClosedError"))
                self.server_life = "closed"
                self.end_task(("raise", "ClientClosedError"), "MIRROR-ACLOSE-UNSTARTED")
                self.cite("MIRROR-ACLOSE-UNSTARTED", "entering raises ClientClosedError")
                return
            self.server_call = Call(call, op, "enter")
            self.server_receive()
            return
        if op == "aclose":
            self.finish(call, ("ok", None))
            if self.server_life == "closed":
                self.cite("MISUSE-CLOSED-SERVER", "closing the server end again changes nothing")
                self.refused = True
            else:
                self.cite("MIRROR-SERVER-RETURN", "server.aclose() ends the channel; the block goes on")
                self.end_server("StopAsyncIteration")
            return
        if self.server_life == "exiting":
            self.refuse(
                call,
                "ChannelClosedError",
                "MIRROR-IGNORED-EXIT",
                "a call after GeneratorExit raises ChannelClosedError",
            )
            return
        if self.server_life == "closed":
            self.refuse(
                call,
                "ChannelClosedError",
                "MISUSE-CLOSED-SERVER",
                "a call after server.aclose() raises ChannelClosedError",
            )
            return
        message = (THROW, arg) if op == "athrow" else (VALUE, arg)
        pending = Call(
            call, op, "reply", items=[(VALUE, item) for item in arg] if op == "write_items" else []
        )
        if self.server_held or (self.server_owed and self.client_life != "closed"):
            if message != (VALUE, None):
                self.refuse(
                    call,
                    "ReplyPendingError",
                    "REPLY-PENDING",
                    "a value sent while a reply is owed raises ReplyPendingError",
                )
                return
            self.server_call = pending
            self.server_receive()
            return
        if self.client_life == "closed":
            self.server_gets_exit(call)
            self.cite("MIRROR-ACLOSE", "the server's call raises GeneratorExit")
            return
        if op == "write_items":
            self.write(pending)
            return
        self.server_send(pending, message)

    def server_send(self, call: Call, message: Any) -> None:
        self.server_owed = True
        client = self.client_call
        if client is not None and client.stage == "receive":
            self.deliver_to_client(client, message)
            if self.server_owed:
                call.stage = "reply"
                self.server_call = call
            else:
                self.finish(call.id, ("ok", None))
            self.client_returns(client)
            return
        call.stage = "offer"
        self.server_call = call
        self.server_offer = message
        self.cite("MIRROR-ASEND", "the item waits for a client call to take it")

    def deliver_to_client(self, client: Call, message: Any) -> None:
        """Deliver into the client's pending call; the reply is immediate if it asks for more."""
        self.delivered["server"] += 1
        client.got.append(message)
        if len(client.got) < client.capacity and not _is_throw(message):
            self.server_owed = False
            self.cite("READ-ITEMS-BATCH", "the batch has room: the writer's call returns at once")
        else:
            self.server_owed = True
            self.client_owed = False
            self.cite("MIRROR-ASEND", "the client's call returns the item; the server waits for the reply")

    def client_returns(self, client: Call) -> None:
        """The client's task resumes with what it was given (at quiescence)."""
        if self.bursting:
            return
        if self.racing == "client":
            self.hold_for_client(client)
            return
        self.client_call = None
        self.return_to_client(client, client.got)

    def server_receive(self) -> None:
        call = self.server_call
        assert call is not None
        if self.server_held:
            message = self.server_held.pop(0)
            self.server_call = None
            self.server_owed = False
            self.cite("CANCEL-RECEIVE-RACE", "the next call returns the request the cancelled one was given")
            self.server_resumes(call, message)
            return
        if self.client_offer is not None:
            message, self.client_offer = self.client_offer, None
            self.delivered["client"] += 1
            self.server_owed = False
            assert self.client_call is not None
            self.client_call.stage = "receive"
            self.server_call = None
            self.server_resumes(call, message)
            return
        if self.client_life == "closed":
            self.server_call = None
            self.server_gets_exit(call.id)
            self.cite("MIRROR-ACLOSE", "the server's call raises GeneratorExit")
        elif call.op == "enter":
            self.cite("SERVER-BLOCK-ENTER", "entering waits for the client's first request")
        else:
            self.cite("REPLY-PENDING", "the server's call waits for the reply it is owed")

    def server_resumes(self, call: Call, message: Any) -> None:
        """The server's pending call receives ``message`` (a request, or a throw)."""
        if self.racing == "server":
            self.hold_for_server(call, message)
            return
        if call.op == "enter":
            self.server_life = "open"
            self.finish(call.id, ("ok", None))
            self.cite("SERVER-BLOCK-ENTER", "the server block starts")
            return
        if _is_throw(message):
            self.finish(call.id, ("raise", message[1]))
            self.server_caught = message[1]
            self.cite("MIRROR-ATHROW", f"the server's call raises {message[1]}")
            return
        if call.op == "write_items":
            self.write(call)
            return
        self.finish(call.id, ("ok", message[1]))
        self.cite("MIRROR-ASEND", "the server's call returns the request")

    def write(self, call: Call) -> None:
        """Go on with write_items: hand items to a pending client call, or wait for one."""
        client = self.client_call
        if client is None or client.stage != "receive":
            call.stage = "taker"
            self.server_call = call
            self.cite("WRITE-ITEMS-LAZY", "write_items waits for a reader before it pulls an item")
            return
        while True:
            if not call.items:
                self.finish(call.id, ("ok", None))
                self.cite("WRITE-ITEMS-BATCH", "write_items returns: its iterator is exhausted")
                if client.got:
                    self.client_returns(client)
                return
            self.deliver_to_client(client, call.items.pop(0))
            self.pulled[call.id] = self.pulled.get(call.id, 0) + 1
            if self.server_owed:
                break
        call.stage = "reply"
        self.server_call = call
        self.client_returns(client)

    # -- cancellation ------------------------------------------------------

    def _on_cancel(self, event: Event) -> None:
        if event.end == "client":
            self.cancel_client_call()
        else:
            self.cancel_server_call()

    def cancel_client_call(self) -> None:
        call = self.client_call
        assert call is not None
        self.client_call = None
        self.finish(call.id, ("raise", "CancelledError"))
        if call.stage == "offer":
            self.client_offer = None
            self.client_owed = False
            if not self.delivered["client"]:
                self.client_life = "unstarted"
            self.cite("CANCEL-SEND-UNTAKEN", "the request is withdrawn")
        else:
            self.cite("CANCEL-REQUEST-UNTAKEN", "the next item waits for the next request")

    def cancel_server_call(self) -> None:
        call = self.server_call
        assert call is not None
        self.server_call = None
        self.finish(call.id, ("raise", "CancelledError"))
        if call.stage == "enter":
            self.end_server("ServerCancelledError")
            self.end_task(("raise", "CancelledError"), "CANCEL-SERVER-TASK")
        elif call.stage == "offer":
            self.server_offer = None
            self.server_owed = False
            self.cite("CANCEL-SEND-UNTAKEN", "the item is withdrawn")
        elif call.stage == "taker":
            self.cite("WRITE-ITEMS-LAZY", "write_items had pulled nothing")
        else:
            self.cite("CANCEL-SEND-TAKEN", "the value stays delivered; the reply goes to the next call")

    def _on_kill(self, event: Event) -> None:
        if self.server_call is not None:
            self.cancel_server_call()
        if self.server_life != "closed":
            self.end_server("ServerCancelledError")
        self.end_task(("raise", "CancelledError"), "CANCEL-SERVER-TASK")

    def end_task(self, result: Result, clause: str) -> None:
        """The server task ends with ``result``, as ``clause`` says."""
        self.server_task = result
        self.task_clause = clause
        self.cite(clause, f"the server's task {describe(result)}")

    def _on_delegate(self, event: Event) -> None:
        call = self.new_call(f"delegate.{event.op}")
        self.refuse(
            call,
            "AlreadyRunningError",
            "MIRROR-ALREADY-RUNNING",
            "a call of the server end from another task, while one is pending, raises AlreadyRunningError",
        )

    def _on_foreign(self, event: Event) -> None:
        call = self.new_call(f"client.{event.op} from another loop")
        self.refuse(
            call,
            "WrongEventLoopError",
            "MISUSE-WRONG-LOOP",
            "a call from another loop raises WrongEventLoopError",
        )

    def _on_burst(self, event: Event) -> None:
        # Each asend but the last returns at once into the batch: the
        # reader's task resumes only once the burst is over.
        self.bursting = True
        try:
            for value in event.arg:
                self._on_server(Event("server", event.op, value))
        finally:
            self.bursting = False
        client = self.client_call
        if client is not None and client.got:
            self.client_returns(client)

    def _on_race(self, event: Event) -> None:
        # The peer's call delivers as usual, but the receiving end's task is
        # cancelled before it resumes: what it was given stays with the end.
        self.racing = event.end
        try:
            self.apply_call(Event("server" if event.end == "client" else "client", event.op, event.arg))
        finally:
            self.racing = ""
        # If nothing was delivered, the cancellation is a plain one.
        if event.end == "client" and self.client_call is not None:
            self.cancel_client_call()
        elif event.end == "server" and self.server_call is not None:
            self.cancel_server_call()

    def apply_call(self, event: Event) -> None:
        if event.kind == "client":
            self._on_client(event)
        else:
            self._on_server(event)

    def hold_for_client(self, client: Call) -> None:
        self.client_call = None
        self.client_held.extend(client.got)
        self.finish(client.id, ("raise", "CancelledError"))
        self.cite("CANCEL-RECEIVE-RACE", "what the cancelled call was given waits for the next call")

    def hold_for_server(self, call: Call, message: Any) -> None:
        self.server_held.append(message)
        self.finish(call.id, ("raise", "CancelledError"))
        if call.op == "enter":
            self.server_held.clear()
            self.end_server("ServerCancelledError")
            self.end_task(("raise", "CancelledError"), "CANCEL-SERVER-TASK")
            return
        self.cite("CANCEL-RECEIVE-RACE", "the request waits for the server's next call")

    # -- endings -----------------------------------------------------------

    def _on_exit(self, event: Event) -> None:
        raised = self.server_caught if event.op == "reraise" else event.arg
        if raised in (None, "GeneratorExit"):
            # After GeneratorExit, the block ends quietly however it leaves.
            after_exit = raised == "GeneratorExit" or self.server_life == "exiting"
            self.end_task(("ok", None), "MIRROR-ACLOSE" if after_exit else "MIRROR-SERVER-RETURN")
        elif event.op == "reraise":
            # The client's exception goes back to athrow(), not to the server's task.
            self.end_task(("ok", None), "MIRROR-ATHROW")
        else:
            self.end_task(("raise", raised), "MIRROR-SERVER-ERROR")
        if self.server_life == "closed":
            self.cite(
                "MISUSE-CLOSED-SERVER", "the server end was closed already: the client learns nothing new"
            )
            return
        self.end_server("StopAsyncIteration" if raised in (None, "GeneratorExit") else raised)

    def end_server(self, outcome: str) -> None:
        self.server_life = "closed"
        self.server_held.clear()
        self.server_offer = None
        clause = {
            "StopAsyncIteration": "MIRROR-SERVER-RETURN",
            "ServerCancelledError": "CANCEL-SERVER-TASK",
            "Boom": "MIRROR-ATHROW",
        }.get(outcome, "MIRROR-SERVER-ERROR")
        if self.client_life == "closed":
            self.cite(clause, "the block ends after the client closed: nothing reaches the client")
            return
        self.outcome = outcome
        self.cite(clause, f"the client's pending or next call raises {outcome}")
        client = self.client_call
        if client is not None and not self.client_held:
            self.client_call = None
            self.client_offer = None
            self.client_learns_end(client)

    def _on_abandon(self, event: Event) -> None:
        self.abandoned = True
        self.cite("ABANDON-CLIENT-GC", "the client is closed by the garbage collector")
        self.close_client()

    def _on_second(self, event: Event) -> None:
        call = self.new_call(f"channel.{event.end}")
        self.refuse(
            call, "ChannelInUseError", "MISUSE-SECOND-END", f"a second {event.end} raises ChannelInUseError"
        )


def _state(model: ChannelModel) -> Any:
    """Everything in ``model`` that a refused event must leave as it was: all
    but the record of the calls (calls, results, steps, labels, refused)."""
    return (
        signature(model),
        tuple(model.delivered.values()),
        tuple(model.pulled.items()),
        model.abandoned,
        model.task_clause,
        model.racing,
        model.bursting,
        model.stream,
    )


def describe(result: Result) -> str:
    return f"returns {result[1]!r}" if result[0] == "ok" else f"raises {result[1]}"


def _is_throw(message: Any) -> bool:
    return bool(message[0] == THROW)


def _copy_call(call: Call | None) -> Call | None:
    if call is None:
        return None
    return replace(call, got=list(call.got), items=list(call.items))


# -- the derived transition table ------------------------------------------


def events(stream: bool) -> list[Event]:
    """The events of the exploration alphabet (small values keep it finite).

    A stream's reader also asks with read_items: 1 is less than a race leaves
    held (2) and 3 is more; the batches of write_items hold 2 or 4.
    """
    alphabet = [
        Event("client", "anext"),
        Event("client", "asend", 7),
        Event("client", "athrow", "Boom"),
        Event("client", "aclose"),
        Event("server", "enter"),
        Event("server", "asend", 1),
        Event("server", "asend", None),
        Event("server", "athrow", "Boom"),
        Event("server", "aclose"),
        Event("delegate", "athrow", "Boom"),
        Event("delegate", "aclose"),
        Event("cancel", end="client"),
        Event("cancel", end="server"),
        Event("kill"),
        Event("exit"),
        Event("exit", arg="ValueError"),
        Event("exit", "reraise"),
        Event("race", "asend", 1, end="client"),
        Event("race", "anext", end="server"),
        Event("abandon", end="client"),
        Event("second", end="client"),
        Event("second", end="server"),
    ]
    if stream:
        alphabet += [
            Event("client", "read_items", 1),
            Event("client", "read_items", 3),
            Event("burst", "asend", (1, 2)),
            Event("server", "write_items", (1, 2)),
            Event("server", "write_items", (1, 2, 3)),
            Event("server", "write_items", (1, 2, 3, 4)),
            Event("race", "write_items", (1, 2), end="client"),
        ]
    return alphabet


def label(event: Event) -> str:
    """The event as the transition table shows it (values abstracted)."""
    if event.kind in ("client", "server", "delegate"):
        return f"{event.kind} {event.op}" + ("(x)" if event.op == "asend" and event.arg is not None else "")
    if event.kind == "burst":
        return f"server {event.op} burst"
    if event.kind == "race":
        return f"{event.op} delivered, then {event.end} cancelled"
    if event.kind == "exit":
        if event.op == "reraise":
            return "server block re-raises"
        return "server block raises" if event.arg else "server block ends"
    if event.kind == "kill":
        return "server task cancelled"
    return f"{event.kind} {event.end}"


# What each label of the transition table means. A call is made in a task of
# its own; "pending" means started and not yet returned.
EVENTS: dict[str, str] = {
    "client anext": "The client calls anext(): it sends None and waits for the next item.",
    "client asend(x)": "The client calls asend(x) with a value x that is not None.",
    "client athrow": "The client calls athrow(exc): the server's pending or next call raises exc.",
    "client aclose": "The client calls aclose().",
    "client read_items": "The client of a stream channel calls read_items(n), n ≥ 1: it takes up to n "
    "items in one call.",
    "server enter": "The server task enters its `async with channel.server()` block.",
    "server asend": "The server calls asend(None): while it is owed a reply (its call that took "
    "the client's request was cancelled), it only receives that reply; otherwise it hands None "
    "over as an item.",
    "server asend(x)": "The server calls asend(x) with an item x that is not None: the block's "
    "`yield x`. While the server is owed a reply it raises ReplyPendingError, where asend(None) "
    "receives the reply: that is why the two are different events.",
    "server athrow": "The server calls athrow(exc): the client's pending or next call raises exc.",
    "server write_items": "The server of a stream channel calls write_items(iterable): it pulls an item "
    "from the iterable only when a reader is waiting for it.",
    "cancel client": "The client's pending call is cancelled (its task gets CancelledError before "
    "anything was delivered into the call).",
    "cancel server": "The server's pending call is cancelled; the server task catches the "
    "CancelledError and goes on with its block. If the call was the `async with` still waiting for "
    "the first request, there is no block to go on with: the channel ends as if the server task had "
    "been cancelled (CANCEL-SERVER-TASK).",
    "server task cancelled": "The server task is cancelled and the CancelledError leaves the block.",
    "server block ends": "The server task leaves its block normally (the generator body returns).",
    "server block raises": "An exception other than CancelledError and GeneratorExit leaves the server "
    "block (the block's exception): the server's task raises it too.",
    "server block re-raises": "The server block re-raises what its last call raised: the exception "
    "that the client threw, which goes back to the client while the server's task does not raise, or "
    "GeneratorExit (the client closed), with which the block ends quietly, as a well-behaved producer's "
    "does.",
    "server aclose": "The server calls server.aclose() inside its block: the channel ends as if the block "
    "had returned, and the block goes on; its later calls raise ChannelClosedError.",
    "delegate athrow": "Another task calls athrow(exc) on the server end while the server's call is "
    "pending (a concurrent call).",
    "delegate aclose": "Another task calls aclose() on the server end while the server's call is pending.",
    "server asend burst": "The server calls asend(v) several times without the loop running in between, "
    "as a loop of asends into a read_items batch with room does.",
    "asend delivered, then client cancelled": "A race: the server's asend delivers into the client's "
    "pending call, and the client's task is cancelled before it resumes.",
    "write_items delivered, then client cancelled": "The same race with write_items: the items already "
    "delivered into the client's pending call stay delivered.",
    "anext delivered, then server cancelled": "A race: the client's anext delivers its request into the "
    "server's pending call, and the server's task is cancelled before it resumes. When that call is "
    "the `async with` waiting for the first request, the block never starts: entering raises "
    "CancelledError and the client's anext raises ServerCancelledError.",
    "abandon client": "The client end is dropped without being closed, and garbage-collected.",
    "second client": "The program calls channel.client() a second time.",
    "second server": "The program calls channel.server() a second time (it raises at the call, "
    "before any block is entered).",
}


_READ_ONE = Event("client", "read_items", 1)


def sequences(depth: int, stream: bool = False) -> Iterator[tuple[Event, ...]]:
    """Every enabled event sequence of exactly ``depth`` events (bounded-exhaustive).

    read_items(1) is tried only where it reads fewer items than are held:
    elsewhere it takes the path of anext (room for one), which every
    sequence tries already, and would make the tree half as large again.
    """
    alphabet = events(stream)

    def extend(model: ChannelModel, prefix: tuple[Event, ...]) -> Iterator[tuple[Event, ...]]:
        if len(prefix) == depth:
            yield prefix
            return
        for event in alphabet:
            if event == _READ_ONE and len(model.client_held) < 2:
                continue
            if model.enabled(event):
                successor = model.copy()
                successor.apply(event)
                yield from extend(successor, (*prefix, event))

    yield from extend(ChannelModel(stream=stream), ())


# -- the published machine: variables, phases, guards ------------------------
#
# A configuration of one channel is a value of each *state variable*; the
# phase (the named state) is a function of them (PHASES), and the guard of a
# transition is a predicate over them and the two *event variables*, which
# the event and the pending calls decide. Every value that a guard can name
# is in its variable's domain.

VARIABLES: dict[str, str] = {
    "client": "The client end's lifecycle: unstarted (no request of it was taken yet), open, closed.",
    "server": "The server block's lifecycle: absent (not entered), entering (its `async with` waits "
    "for the first request), open, exiting (a server call raised GeneratorExit and the block has not "
    "left yet), closed (the block left, or server.aclose() was awaited).",
    "outcome": "How the server block ended, once it has and the client has not closed first: returned "
    "(or server.aclose()), cancelled, raised (the block's exception), or rethrown (the block re-raised "
    "the client's own exception). It is what the client's pending or next call learns; once the client "
    "has learnt it, it reads returned, as every later call raises StopAsyncIteration.",
    "caught": "What the server block may re-raise: thrown (its last call raised the exception the client "
    "threw) or GeneratorExit. It survives server.aclose(): a block that re-raises the client's "
    "exception after it still ends quietly (its task does not raise it).",
    "client_owed": "The client sent a request that no item answered yet: its next call only receives.",
    "server_owed": "The server sent an item that no request answered yet: its next call only receives.",
    "client_call": "The client's pending call: none, offer (its request waits for a server call to take "
    "it), or receive (it waits for an item).",
    "batch": "Whether the client's pending call is a read_items (it returns a list of the items; any "
    "other call returns one item).",
    "server_call": "The server's pending call: none, enter (the `async with` waits for the first "
    "request), offer (its item waits for a client call to take it), reply (it waits for the client's "
    "next request), or taker (a write_items waits for a reader before it pulls an item).",
    "client_held": "Items delivered into a client call that was cancelled before it resumed: none, one "
    "or several.",
    "server_held": "A request delivered into a server call that was cancelled before it resumed: none or "
    "one.",
    "request": "The client's offered message: none, value (anext, asend) or throw (athrow).",
    "item": "The server's offered message: none, value (asend, including asend(None) when no reply is "
    "owed) or throw (athrow).",
    "started": "Whether a request of the client was taken by the server (an untaken first request that "
    "is withdrawn leaves the client unstarted). A request taken by write_items or by the burst of a "
    "read_items batch counts like any other.",
    "room": "Event variable. How many items the client's call can still take: the event's call if the "
    "event is a client call (read_items(n): n; every other call: 1), else the client's pending receiving "
    "call (0 if there is none): 0, 1 or more than 1.",
    "writer": "Event variable. The write_items in play (the event's, else the server's pending one) "
    "against the room: none (no write_items), exhausted (its iterable has no item left: the "
    "implementation learns it when pulling the next item raises StopIteration), fits (fewer items "
    "left than the room), fills (exactly as many), overflows (more).",
}

DOMAINS: dict[str, tuple[str, ...]] = {
    "client": ("unstarted", "open", "closed"),
    "server": ("absent", "entering", "open", "exiting", "closed"),
    "outcome": ("none", "returned", "cancelled", "raised", "rethrown"),
    "caught": ("none", "thrown", "GeneratorExit"),
    "client_owed": ("false", "true"),
    "server_owed": ("false", "true"),
    "client_call": ("none", "offer", "receive"),
    "batch": ("false", "true"),
    "server_call": ("none", "enter", "offer", "reply", "taker"),
    "client_held": ("none", "one", "several"),
    "server_held": ("none", "one"),
    "request": ("none", "value", "throw"),
    "item": ("none", "value", "throw"),
    "started": ("false", "true"),
    "room": ("0", "1", "more than 1"),
    "writer": ("none", "exhausted", "fits", "fills", "overflows"),
}

# The variables that the event decides; the others make the configuration.
EVENT_VARIABLES = ("room", "writer")

# A predicate over the variables: alternatives (or), each a conjunction of
# "variable in values" tests; a variable an alternative does not name may
# take any value. ((),) is true.
Guard = tuple[tuple[tuple[str, tuple[str, ...]], ...], ...]
TRUE: Guard = ((),)

# The phase as a function of the variables: the first entry whose condition
# holds names it (the ``phase`` property of ChannelModel, as data).
PHASES: list[tuple[str, Guard]] = [
    (FINISHED, ((("client", ("closed",)), ("server", ("closed",))),)),
    (
        SERVER_ENDED,
        ((("server", ("closed",)), ("outcome", ("returned", "cancelled", "raised", "rethrown"))),),
    ),
    (CLIENT_CLOSED, ((("client", ("closed",)),),)),
    (CLIENT_UNSTARTED, ((("client", ("unstarted",)),),)),
    (REQUEST_HELD, ((("server_held", ("one",)),),)),
    (REQUEST_OFFERED, ((("request", ("value", "throw")),),)),
    (ITEM_HELD, ((("client_held", ("one", "several")),),)),
    (ITEM_OFFERED, ((("item", ("value", "throw")),),)),
    (CLIENT_TURN, ((("server_owed", ("true",)),),)),
    (SERVER_TURN, TRUE),
]


def holds(guard: Guard, values: dict[str, str]) -> bool:
    """Whether ``values`` satisfy ``guard``."""
    return any(all(values[name] in allowed for name, allowed in conjunction) for conjunction in guard)


def show(guard: Guard) -> str:
    """The guard as the tables print it ("—" for true)."""

    def test(name: str, allowed: tuple[str, ...]) -> str:
        if len(allowed) == 1:
            return f"{name} = {allowed[0]}"
        return f"{name} in {{{', '.join(allowed)}}}"

    if guard == TRUE:
        return "—"
    parts = [" and ".join(test(name, allowed) for name, allowed in conjunction) for conjunction in guard]
    return parts[0] if len(parts) == 1 else " or ".join(f"({part})" for part in parts)


# The exception names that the exploration's events choose (thrown by athrow,
# raised by the server block): the harness maps them to its own classes, and
# the published table names them by their role.
_CHOSEN = {"Boom": "the thrown exception", "ValueError": "the block's exception"}


def _abstract(text: str) -> str:
    """``text`` with the exploration's chosen exception names replaced by their roles."""
    for name, role in _CHOSEN.items():
        text = re.sub(rf"\b{name}\b", role, text)
    return text


def _held(messages: list[Any]) -> str:
    # No event of the exploration leaves a throw held (a race delivers items only).
    return "none" if not messages else "one" if len(messages) == 1 else "several"


def room_of(model: ChannelModel) -> int:
    """How many items the client's pending receiving call can still take."""
    client = model.client_call
    return client.capacity - len(client.got) if client is not None and client.stage == "receive" else 0


def writer_of(model: ChannelModel) -> int | None:
    """How many items the server's pending write_items has left (None if none is pending)."""
    server = model.server_call
    return len(server.items) if server is not None and server.op == "write_items" else None


def configuration(model: ChannelModel) -> dict[str, str]:
    """The values of the state variables (all of VARIABLES but EVENT_VARIABLES)."""

    def call(c: Call | None) -> str:
        return "none" if c is None else c.stage

    def kind(message: Any) -> str:
        return "none" if message is None else "throw" if _is_throw(message) else "value"

    outcome = model.outcome
    return {
        "client": model.client_life,
        "server": model.server_life,
        "outcome": "none"
        if outcome is None
        else {"StopAsyncIteration": "returned", "ServerCancelledError": "cancelled", "Boom": "rethrown"}.get(
            outcome, "raised"
        ),
        "caught": {"": "none", "GeneratorExit": "GeneratorExit"}.get(model.server_caught, "thrown"),
        "client_owed": str(model.client_owed).lower(),
        "server_owed": str(model.server_owed).lower(),
        "client_call": call(model.client_call),
        "batch": str(model.client_call is not None and model.client_call.op == "read_items").lower(),
        "server_call": call(model.server_call),
        "client_held": _held(model.client_held),
        "server_held": "one" if model.server_held else "none",
        "request": kind(model.client_offer),
        "item": kind(model.server_offer),
        "started": str(bool(model.delivered["client"])).lower(),
    }


def event_variables(event: Event, room: int, writer: int | None) -> dict[str, str]:
    """room and writer for ``event``, given the pending calls' ``room`` and ``writer``."""
    if event.kind == "client":
        room = event.arg if event.op == "read_items" else 1
    items = len(event.arg) if event.op == "write_items" and event.kind in ("server", "race") else writer
    return {
        "room": "0" if room <= 0 else "1" if room == 1 else "more than 1",
        "writer": "none"
        if items is None
        else "exhausted"
        if items == 0
        else "fits"
        if items < room
        else "fills"
        if items == room
        else "overflows",
    }


def variables(model: ChannelModel, event: Event) -> dict[str, str]:
    """The values of :data:`VARIABLES` before ``event``, as the guards use them."""
    return {**configuration(model), **event_variables(event, room_of(model), writer_of(model))}


def signature(model: ChannelModel) -> Any:
    """Everything that decides what the model does next (not call ids or past results)."""

    def call(c: Call | None) -> Any:
        return None if c is None else (c.op, c.stage, c.capacity, tuple(c.got), tuple(c.items))

    return (
        model.client_life,
        model.server_life,
        model.outcome,
        model.client_owed,
        model.server_owed,
        repr(model.client_offer),
        repr(model.server_offer),
        repr(model.client_held),
        repr(model.server_held),
        call(model.client_call),
        call(model.server_call),
        bool(model.delivered["client"]),
        model.abandoned,
        model.server_task,
        model.server_caught,
    )


# What a call that ends gets: (which call, "returns" or "raises", what).
Got = tuple[str, str, str]


def results(before: ChannelModel, event: Event, ended: dict[int, Result]) -> tuple[Got, ...]:
    """What the calls that ``ended`` get, by role: the event's own calls or a pending one.

    A value is named by where it comes from, not by what it is: the item
    (a client call), the items (a list, for read_items), the request (what
    the client sent, None for anext, which a server call returns), or None.
    """
    pending = {
        call.id: (
            end,
            call.op,
            f"the {end}'s pending {call.op if call.op in ('enter', 'write_items') else 'call'}",
        )
        for end, call in (("client", before.client_call), ("server", before.server_call))
        if call is not None
    }
    # The event's own call is on the peer's end for a race, on the server for a burst.
    own_end = {"race": "server" if event.end == "client" else "client", "burst": "server"}.get(
        event.kind, "client" if event.kind in ("client", "foreign", "second") else "server"
    )
    got: list[Got] = []
    for call_id, (kind, value) in sorted(ended.items()):
        end, op, who = pending.get(call_id, (own_end, event.op, "the new call"))
        if kind == "raise":
            entry = (who, "raises", _abstract(value))
        elif isinstance(value, list):
            entry = (who, "returns", "the items")
        elif end == "client":
            closed = op == "aclose" or (before.client_life == "closed" and op == "athrow")
            entry = (who, "returns", "None" if closed else "the item")
        else:
            entry = (who, "returns", "the request" if op in ("asend", "athrow") else "None")
        if entry not in got:
            got.append(entry)
    return tuple(got)


def say(got: tuple[Got, ...]) -> str:
    """``results`` as one sentence."""
    return "; ".join(" ".join(entry) for entry in got) or "no call ends"


@dataclass
class Reachable:
    """The fixpoint of the model: every abstract state reachable from a new channel."""

    states: list[ChannelModel]
    # (source phase, event label, target phase, clause, results) -> occurrences
    rows: dict[tuple[str, str, str, str, tuple[Got, ...]], list[tuple[dict[str, str], str, tuple[str, ...]]]]


def reach(stream: bool = False) -> Reachable:
    """Apply every enabled event to every reachable state until no new state appears."""
    start = ChannelModel(stream=stream)
    seen = {signature(start)}
    states = [start]
    rows: dict[Any, list[tuple[dict[str, str], str, tuple[str, ...]]]] = {}
    for model in states:  # grows while it is walked: a breadth-first fixpoint
        for event in events(stream):
            if not model.enabled(event):
                continue
            successor = model.copy()
            ended = successor.apply(event)
            clause, note = successor.steps[0] if successor.steps else ("", "")
            key = (model.phase, label(event), successor.phase, clause, results(model, event, ended))
            cites = tuple(dict.fromkeys(cited for cited, _ in successor.steps))
            rows.setdefault(key, []).append((variables(model, event), note, cites))
            reached = signature(successor)
            if reached not in seen:
                seen.add(reached)
                states.append(successor)
    return Reachable(states, rows)


# The guard of a row that no combination of VARIABLES tells apart from the
# other rows of its source and event; the docs build fails on it.
UNDECIDED: Guard = ((("undecided", ("the variables do not tell this row apart",)),),)


def _guards(rows: dict[Any, list[tuple[dict[str, str], str, tuple[str, ...]]]]) -> dict[Any, Guard]:
    """A guard for each row, disjoint from the others of its source and event.

    The rows of one (source, event) are told apart by the fewest variables
    that do it, the same ones for every row, so that the guards, which name
    exactly the values that each row was taken with, are disjoint over the
    whole domain, not only over the reachable configurations.
    """
    groups: dict[tuple[str, str], list[Any]] = {}
    for key in rows:
        groups.setdefault(key[:2], []).append(key)
    guards: dict[Any, Guard] = {}
    for keys in groups.values():
        if len(keys) == 1:
            guards[keys[0]] = TRUE
            continue
        chosen = _separating(keys, rows)
        for key in keys:
            if chosen is None:
                guards[key] = UNDECIDED
                continue
            points = {tuple(values[name] for name in chosen) for values, _, _ in rows[key]}
            guards[key] = _cover(chosen, points)
    return guards


def _separating(keys: list[Any], rows: dict[Any, Any]) -> tuple[str, ...] | None:
    names = list(VARIABLES)
    for size in range(1, 6):
        for chosen in combinations(names, size):
            owner: dict[tuple[str, ...], Any] = {}
            if all(
                owner.setdefault(tuple(values[name] for name in chosen), key) == key
                for key in keys
                for values, _, _ in rows[key]
            ):
                return chosen
    return None


def _cover(names: tuple[str, ...], points: set[tuple[str, ...]]) -> Guard:
    """Exactly ``points`` (tuples of values of ``names``) as few conjunctions of "in" tests."""
    boxes = [tuple(frozenset((value,)) for value in point) for point in sorted(points)]
    merged = True
    while merged:  # two boxes that differ in one variable are one box
        merged = False
        for a, b in combinations(boxes, 2):
            differ = [i for i in range(len(names)) if a[i] != b[i]]
            if len(differ) == 1:
                i = differ[0]
                boxes.remove(a)
                boxes.remove(b)
                boxes.append((*a[:i], a[i] | b[i], *a[i + 1 :]))
                merged = True
                break
    return (
        tuple(
            sorted(
                tuple(
                    (name, tuple(v for v in DOMAINS[name] if v in allowed))
                    for name, allowed in zip(names, box, strict=True)
                    if set(allowed) != set(DOMAINS[name])
                )
                for box in boxes
            )
        )
        or TRUE
    )


@dataclass(frozen=True)
class Row:
    """A transition with the data that the published tables carry."""

    transition: Transition
    when: Guard
    results: tuple[Got, ...]
    # Which table: "" for every channel, "stream" for the stream channel's own.
    table: str


def explore() -> list[Row]:
    """Every transition of the reachable states of both channels (the fixpoints), with guards.

    The guards are derived from both explorations at once, so that a stream
    channel's rows and the rows that every channel takes are disjoint too.
    """
    plain = reach(stream=False).rows
    stream = reach(stream=True).rows
    every = {key: [*plain.get(key, []), *stream.get(key, [])] for key in {*plain, *stream}}
    guards = _guards(every)
    out: list[Row] = []
    for key in sorted(every, key=lambda k: (k not in plain, k)):
        source, event, target, clause, got = key
        occurrences = every[key]
        gets = say(got)
        note = _abstract(occurrences[0][1])
        out.append(
            Row(
                Transition(
                    source,
                    event,
                    target,
                    clause,
                    _adds(note, gets),
                    guard=show(guards[key]),
                    gets=gets,
                    cites=tuple(dict.fromkeys(cited for _, _, cites in occurrences for cited in cites)),
                ),
                guards[key],
                got,
                "" if key in plain else "stream",
            )
        )
    return out


def _adds(note: str, gets: str) -> str:
    """``note`` if it says more than ``gets``, else "" (a note that only names the call is dropped)."""
    said = re.sub(r"^(the (client|server)'s (pending or next )?call|a second (client|server)) ", "", note)
    return "" if said in gets else note


ROWS: list[Row] = explore()
TRANSITIONS: list[Transition] = [row.transition for row in ROWS if not row.table]
STREAM_TRANSITIONS: list[Transition] = [row.transition for row in ROWS if row.table == "stream"]

__all__ = [
    "CLAUSES",
    "DOMAINS",
    "EVENTS",
    "EVENT_VARIABLES",
    "PHASES",
    "ROWS",
    "STATES",
    "STREAM_TRANSITIONS",
    "TRANSITIONS",
    "VARIABLES",
    "ChannelModel",
    "Event",
    "Transition",
    "configuration",
    "events",
    "explore",
    "holds",
    "label",
    "reach",
    "results",
    "sequences",
    "signature",
    "variables",
]
