"""Named scenarios that reach deep corners of the protocol, each replayed against the model.

The random and exhaustive suites in spec/ reach these too, but only at a depth
or with a luck that a quick run may lack; these make them certain.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

import channels
from spec.conformance import Conformance
from spec.model import Event

anext_ = Event("client", "anext")
enter = Event("server", "enter")
cancel_client = Event("cancel", end="client")
cancel_server = Event("cancel", end="server")

SCENARIOS = {
    # A thrown exception offered to a client that had no pending call.
    "offered-throw": (False, [anext_, enter, cancel_client, Event("server", "athrow", "Boom"), anext_]),
    # write_items waits for a taker; the reader's call wakes it.
    "taker-woken": (
        True,
        [
            anext_,
            enter,
            cancel_client,
            Event("server", "write_items", (1, 2)),
            Event("client", "read_items", 2),
        ],
    ),
    # An idle server learns of the client's close at its next call.
    "idle-server-exit": (
        False,
        [anext_, enter, cancel_client, Event("client", "aclose"), Event("server", "asend", 1)],
    ),
    # A server owed a reply takes the request the client offered meanwhile.
    "server-takes-offer": (
        False,
        [
            anext_,
            enter,
            Event("server", "asend", 1),
            cancel_server,
            Event("client", "asend", 5),
            Event("server", "anext"),
        ],
    ),
    # A thrown exception offered to a server that owes a receive.
    "server-takes-offered-throw": (
        False,
        [
            anext_,
            enter,
            Event("server", "asend", 1),
            cancel_server,
            Event("client", "athrow", "Boom"),
            Event("server", "anext"),
        ],
    ),
    # A request delivered to a server call cancelled before it resumed goes to the next call.
    "server-race-kept": (
        False,
        [
            anext_,
            enter,
            Event("server", "asend", 1),
            Event("race", "anext", end="server"),
            Event("server", "anext"),
        ],
    ),
    # write_items while a reply is owed.
    "write-while-owed": (
        True,
        [anext_, enter, Event("server", "asend", 1), cancel_server, Event("server", "write_items", (2,))],
    ),
    # A batch delivered to a cancelled read_items comes back over several calls, in order.
    "held-batch-split": (
        True,
        [
            Event("client", "read_items", 3),
            enter,
            Event("race", "write_items", (1, 2, 3), end="client"),
            Event("client", "read_once"),
            Event("client", "read_items", 1),
            Event("client", "read_items", 1),
        ],
    ),
    # write_items cancelled while it waits for the reply to a full batch still owes a receive.
    "write-cancelled-after-batch": (
        True,
        [
            Event("client", "read_items", 2),
            enter,
            Event("server", "write_items", (1, 2, 3)),
            cancel_server,
            Event("server", "asend", 5),
        ],
    ),
    # write_items after the client closed.
    "write-after-close": (
        True,
        [anext_, enter, cancel_client, Event("client", "aclose"), Event("server", "write_items", (1,))],
    ),
}


# Each scenario with the clauses it proves, written out so that a grep for a clause finds it.
@pytest.mark.parametrize(
    "name",
    [
        pytest.param("offered-throw", marks=pytest.mark.clause("MIRROR-ATHROW", "CANCEL-REQUEST-UNTAKEN")),
        pytest.param("taker-woken", marks=pytest.mark.clause("WRITE-ITEMS-LAZY", "CANCEL-REQUEST-UNTAKEN")),
        pytest.param("idle-server-exit", marks=pytest.mark.clause("MIRROR-ACLOSE")),
        pytest.param("server-takes-offer", marks=pytest.mark.clause("CANCEL-SEND-TAKEN", "REPLY-PENDING")),
        pytest.param(
            "server-takes-offered-throw", marks=pytest.mark.clause("REPLY-PENDING", "MIRROR-ATHROW")
        ),
        pytest.param("server-race-kept", marks=pytest.mark.clause("CANCEL-RECEIVE-RACE")),
        pytest.param("write-while-owed", marks=pytest.mark.clause("REPLY-PENDING")),
        pytest.param("held-batch-split", marks=pytest.mark.clause("CANCEL-RECEIVE-RACE", "READ-ITEMS-BATCH")),
        pytest.param("write-cancelled-after-batch", marks=pytest.mark.clause("REPLY-PENDING")),
        pytest.param("write-after-close", marks=pytest.mark.clause("MIRROR-ACLOSE")),
    ],
)
def test_scenario_follows_the_model(name: str, loop_factory: Callable[[], object]) -> None:
    stream, events = SCENARIOS[name]
    run = Conformance(channels, loop_factory, stream, "channels")  # type: ignore[arg-type]
    try:
        for event in events:
            run.step(event)
    finally:
        run.close()
