"""The conformance suite: Hypothesis interleaves events on both ends, and each step is checked."""

from __future__ import annotations

import asyncio
from types import ModuleType
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test

from .conformance import Conformance, ConformanceError, LoopFactory
from .harness import Harness
from .model import ChannelModel, Event, events, reach

# The clauses that a native async generator decides too: the oracle proves them.
MIRROR_CLAUSES = (
    "MIRROR-ASEND",
    "MIRROR-FIRST-SEND-NONE",
    "MIRROR-SERVER-RETURN",
    "MIRROR-SERVER-ERROR",
    "MIRROR-ATHROW",
    "MIRROR-ATHROW-UNSTARTED",
    "MIRROR-ACLOSE",
    "MIRROR-ACLOSE-UNSTARTED",
    "MIRROR-CLOSED-CLIENT",
    "SERVER-BLOCK-ENTER",
)
# The clauses of the model's steps that a run proves on every backend.
RACE_FREE_CLAUSES = (
    *MIRROR_CLAUSES,
    "MIRROR-ALREADY-RUNNING",
    "CANCEL-SEND-UNTAKEN",
    "CANCEL-SEND-TAKEN",
    "CANCEL-REQUEST-UNTAKEN",
    "REPLY-PENDING",
    "CANCEL-SERVER-TASK",
    "CANCEL-LEAVES-USABLE",
    "ABANDON-CLIENT-GC",
    "MISUSE-SECOND-END",
    "READ-ITEMS-BATCH",
    "READ-ITEMS-END",
    "WRITE-ITEMS-LAZY",
    "WRITE-ITEMS-BATCH",
    "NO-HANG",
)
# Every clause that a step of the model can cite.
MODEL_CLAUSES = (
    *RACE_FREE_CLAUSES,
    "MIRROR-IGNORED-EXIT",
    "MISUSE-CLOSED-SERVER",
    "MISUSE-REFUSED-CHANGES-NOTHING",
    "MISUSE-WRONG-LOOP",
    "CANCEL-RECEIVE-RACE",
    "NO-NOISE",
)

values = st.integers(0, 9)
replies = st.none() | values


def _options(stream: bool) -> list[tuple[Event, st.SearchStrategy[Event]]]:
    """Each event kind, with a probe that the model can enable and the strategy of its arguments."""
    options: list[tuple[Event, st.SearchStrategy[Event]]] = [
        (Event("client", "anext"), st.just(Event("client", "anext"))),
        (Event("client", "asend"), st.builds(lambda v: Event("client", "asend", v), replies)),
        (Event("client", "athrow", "Boom"), st.just(Event("client", "athrow", "Boom"))),
        (Event("client", "aclose"), st.just(Event("client", "aclose"))),
        (Event("server", "enter"), st.just(Event("server", "enter"))),
        (Event("server", "asend"), st.builds(lambda v: Event("server", "asend", v), replies)),
        (Event("server", "athrow", "Boom"), st.just(Event("server", "athrow", "Boom"))),
        (Event("server", "anext"), st.just(Event("server", "anext"))),
        (Event("server", "aclose"), st.just(Event("server", "aclose"))),
        (
            Event("delegate", "asend"),
            st.sampled_from(
                [Event("delegate", "asend", 2), Event("delegate", "anext"), Event("delegate", "aclose")]
            )
            | st.just(Event("delegate", "athrow", "Boom")),
        ),
        (Event("exit"), st.sampled_from([Event("exit"), Event("exit", arg="ValueError")])),
        (Event("exit", "reraise"), st.just(Event("exit", "reraise"))),
        (
            Event("foreign", "anext", end="client"),
            st.sampled_from([Event("foreign", op, end="client") for op in ("anext", "aclose")])
            | st.just(Event("foreign", "athrow", "Boom", end="client")),
        ),
        (
            Event("race", "asend", end="client"),
            st.builds(lambda v: Event("race", "asend", v, end="client"), values),
        ),
        (
            Event("race", "asend", end="server"),
            st.builds(lambda v: Event("race", "asend", v, end="server"), replies),
        ),
        (Event("cancel", end="client"), st.just(Event("cancel", end="client"))),
        (Event("cancel", end="server"), st.just(Event("cancel", end="server"))),
        (Event("kill"), st.just(Event("kill"))),
        (Event("abandon", end="client"), st.just(Event("abandon", end="client"))),
        (Event("second", end="client"), st.just(Event("second", end="client"))),
        (Event("second", end="server"), st.just(Event("second", end="server"))),
    ]
    if stream:
        items = st.lists(values, max_size=6).map(tuple)
        options += [
            (Event("client", "read_once"), st.just(Event("client", "read_once"))),
            (
                Event("client", "read_items", 1),
                st.builds(lambda n: Event("client", "read_items", n), st.integers(0, 4)),
            ),
            (
                Event("server", "write_items", ()),
                st.builds(lambda i: Event("server", "write_items", i), items),
            ),
            (
                Event("burst", "asend", (1, 2)),
                st.builds(
                    lambda v: Event("burst", "asend", tuple(v)), st.lists(replies, min_size=2, max_size=2)
                ),
            ),
            (
                Event("race", "write_items", (), end="client"),
                st.builds(lambda i: Event("race", "write_items", i, end="client"), items),
            ),
        ]
    return options


# Built once: Hypothesis caches what it learns of a strategy object.
OPTIONS = {stream: _options(stream) for stream in (False, True)}


def event_strategy(model: ChannelModel, without: tuple[str, ...] = ()) -> st.SearchStrategy[Event]:
    """The events that the model allows now, with their arguments (none of the kinds ``without``)."""
    return st.one_of(
        *(
            strategy
            for probe, strategy in OPTIONS[model.stream]
            if probe.kind not in without and model.enabled(probe)
        )
    )


class ConformanceMachine(RuleBasedStateMachine):
    def __init__(self, run: Conformance) -> None:
        super().__init__()
        self.run = run

    @rule(data=st.data())
    def apply_an_event(self, data: st.DataObject) -> None:
        event = data.draw(event_strategy(self.run.model), label="event")
        self.run.step(event)

    def teardown(self) -> None:
        self.run.close()


@pytest.mark.clause(*MODEL_CLAUSES)
@pytest.mark.parametrize("stream", [False, True], ids=["Channel", "StreamChannel"])
def test_implementation_follows_the_model(
    impl: ModuleType, impl_name: str, loop_factory: LoopFactory, stream: bool
) -> None:
    run_state_machine_as_test(lambda: ConformanceMachine(Conformance(impl, loop_factory, stream, impl_name)))


# -- refused calls change nothing --------------------------------------------

anext_, enter = Event("client", "anext"), Event("server", "enter")
athrow = Event("client", "athrow", "Boom")
# The server catches the client's exception, and re-raises it after a second
# athrow was refused: the exception must go back to the first athrow, and the
# server's task must not raise (issue 10).
REFUSED_ATHROWS = {
    "already-running": [
        anext_,
        enter,
        Event("server", "asend", 1),
        athrow,
        athrow,
        Event("exit", "reraise"),
    ],
    "reply-pending": [
        anext_,
        enter,
        Event("server", "asend", 1),
        athrow,
        Event("cancel", end="client"),
        athrow,
        Event("exit", "reraise"),
    ],
}


def verdict(
    module: ModuleType, loop_factory: LoopFactory, events: list[Event], stream: bool = False, name: str = ""
) -> None:
    """Run ``events`` against ``module`` (named ``name``, as --impl was); raise at the first difference."""
    run = Conformance(module, loop_factory, stream, name or module.__name__)
    try:
        for event in events:
            run.step(event)
    finally:
        run.close()


@pytest.mark.clause(
    "MIRROR-ALREADY-RUNNING", "REPLY-PENDING", "MIRROR-ATHROW", "MISUSE-REFUSED-CHANGES-NOTHING"
)
@pytest.mark.parametrize("scenario", sorted(REFUSED_ATHROWS))
def test_a_refused_athrow_changes_nothing(
    impl: ModuleType, impl_name: str, loop_factory: LoopFactory, scenario: str
) -> None:
    verdict(impl, loop_factory, REFUSED_ATHROWS[scenario], name=impl_name)


@pytest.fixture
def eager_thrown(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """channels.py as 1.0 was: athrow() recorded its exception before the call was accepted."""
    import channels

    original = channels._Handoff.client_throw

    async def client_throw(self: Any, end: Any, exc: BaseException) -> Any:
        if self.client_life == "open":
            self.thrown = exc
        return await original(self, end, exc)

    monkeypatch.setattr(channels._Handoff, "client_throw", client_throw)
    return channels


@pytest.mark.clause("MIRROR-ALREADY-RUNNING", "REPLY-PENDING", "MISUSE-REFUSED-CHANGES-NOTHING")
@pytest.mark.parametrize("scenario", sorted(REFUSED_ATHROWS))
def test_a_refusal_that_keeps_what_it_was_given_fails_at_once(
    eager_thrown: ModuleType, loop_factory: LoopFactory, scenario: str
) -> None:
    events = REFUSED_ATHROWS[scenario]
    with pytest.raises(ConformanceError) as failure:
        verdict(eager_thrown, loop_factory, events)
    assert failure.value.events == events[:-1]  # the refused athrow, not the step where it shows
    assert "MISUSE-REFUSED-CHANGES-NOTHING" in failure.value.clauses


@pytest.mark.clause("MIRROR-ATHROW", "MISUSE-REFUSED-CHANGES-NOTHING")
@pytest.mark.parametrize("scenario", sorted(REFUSED_ATHROWS))
def test_a_refusal_that_changes_state_fails_where_the_server_task_raises(
    eager_thrown: ModuleType, loop_factory: LoopFactory, scenario: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without the direct check, the server's task outcome shows the change.
    monkeypatch.setattr(Harness, "keeps_thrown", lambda self, call: False)
    with pytest.raises(
        ConformanceError, match=r"the server's task: the model returns None; the implementation raises Boom"
    ) as failure:
        verdict(eager_thrown, loop_factory, REFUSED_ATHROWS[scenario])
    assert failure.value.clauses == ["MIRROR-ATHROW"]


class _LeakyModel(ChannelModel):
    def _on_second(self, event: Event) -> None:
        super()._on_second(event)
        self.delivered["client"] += 1


@pytest.mark.clause("MISUSE-REFUSED-CHANGES-NOTHING")
def test_the_model_proves_that_each_refusal_changes_nothing() -> None:
    # Every enabled event from every state the model can reach (its fixpoint).
    refusals = 0
    for stream in (False, True):
        for state in reach(stream).states:
            for event in events(stream):
                if state.enabled(event):
                    model = state.copy()
                    model.apply(event)  # raises if a refusal changed the model's state
                    refusals += model.refused
    assert refusals > 1000
    with pytest.raises(AssertionError, match="refusal of second client changed its state"):
        _LeakyModel().apply(Event("second", end="client"))


# -- reports name the clause broken first --------------------------------------


@pytest.mark.clause("CANCEL-SEND-UNTAKEN")
def test_a_report_names_the_step_that_broke_its_clause_first(
    loop_factory: LoopFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    import channels

    # A cancelled call that leaves its request offered: it shows only when a
    # later call takes the request, but the cancellation broke the clause.
    monkeypatch.setattr(channels._Handoff, "withdraw", staticmethod(lambda side: None))
    events = [anext_, Event("cancel", end="client"), enter]
    with pytest.raises(ConformanceError) as failure:
        verdict(channels, loop_factory, events)
    assert failure.value.clauses == ["SERVER-BLOCK-ENTER"]  # where it showed
    report = str(failure.value)
    assert report.startswith("channels violates CANCEL-SEND-UNTAKEN\n"), report
    assert "first at step 2, cancel client:" in report
    assert "call 2 (server.enter): the model is still pending; the implementation returns None" in report


# -- what the harness observes -------------------------------------------------

cancel_client, cancel_server = Event("cancel", end="client"), Event("cancel", end="server")
# Scenarios that reach each new observable for sure, whatever the luck or the
# depth of a run: (stream, events), each checked step by step by Conformance.
OBSERVED = {
    "server-task-sees-its-own-error": (False, [anext_, enter, Event("exit", arg="ValueError")]),
    "ignored-generator-exit": (
        False,
        [
            anext_,
            enter,
            Event("server", "asend", 1),
            Event("client", "aclose"),
            Event("server", "asend", 2),
            Event("exit", "reraise"),
        ],
    ),
    "server-aclose-then-send": (
        False,
        [
            anext_,
            enter,
            Event("server", "aclose"),
            Event("server", "asend", 1),
            Event("server", "aclose"),
            anext_,
        ],
    ),
    "call-from-another-loop": (
        False,
        [
            anext_,
            enter,
            Event("server", "asend", 1),
            Event("foreign", "anext", end="client"),
            Event("foreign", "athrow", "Boom", end="client"),
            Event("foreign", "aclose", end="client"),
            anext_,
        ],
    ),
    "delegate-while-pending": (
        False,
        [
            anext_,
            enter,
            Event("server", "asend", 1),
            Event("delegate", "athrow", "Boom"),
            Event("delegate", "aclose"),
        ],
    ),
    "write-items-cancelled-waiting": (
        True,
        [anext_, enter, cancel_client, Event("server", "write_items", (1, 2)), cancel_server, anext_],
    ),
    "burst-into-one-batch": (
        True,
        [Event("client", "read_items", 3), enter, Event("burst", "asend", (1, 2)), anext_],
    ),
    "read-fewer-than-held": (
        True,
        [
            anext_,
            enter,
            cancel_client,
            Event("client", "read_items", 3),
            Event("race", "write_items", (1, 2, 3), end="client"),
            Event("client", "read_items", 1),
            Event("client", "read_items", 3),
        ],
    ),
}


@pytest.mark.clause(
    "MIRROR-SERVER-ERROR",
    "MIRROR-IGNORED-EXIT",
    "MIRROR-ACLOSE",
    "MIRROR-SERVER-RETURN",
    "MISUSE-CLOSED-SERVER",
    "MISUSE-WRONG-LOOP",
    "MIRROR-ALREADY-RUNNING",
    "WRITE-ITEMS-LAZY",
    "READ-ITEMS-BATCH",
    "CANCEL-RECEIVE-RACE",
)
@pytest.mark.parametrize("scenario", sorted(OBSERVED))
def test_the_harness_observes(
    impl: ModuleType, impl_name: str, loop_factory: LoopFactory, scenario: str
) -> None:
    stream, events = OBSERVED[scenario]
    verdict(impl, loop_factory, events, stream=stream, name=impl_name)


@pytest.mark.clause("WRITE-ITEMS-LAZY")
def test_an_item_pulled_by_a_cancelled_write_items_is_seen_lost(
    loop_factory: LoopFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    import channels

    original = channels._Handoff.server_write

    async def pulls_one_first(self: Any, items: Any) -> None:
        iterator = iter(items)
        next(iterator)  # pulled before a reader is there, and lost
        await original(self, iterator)

    monkeypatch.setattr(channels._Handoff, "server_write", pulls_one_first)
    with pytest.raises(ConformanceError, match="items pulled from each write_items") as failure:
        verdict(channels, loop_factory, OBSERVED["write-items-cancelled-waiting"][1], stream=True)
    assert failure.value.clauses == ["WRITE-ITEMS-LAZY"]
    assert len(failure.value.events) == 4  # the write_items, not the cancellation after it


@pytest.mark.clause("MIRROR-SERVER-ERROR")
def test_a_server_task_that_does_not_see_its_own_error_fails(
    loop_factory: LoopFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    import channels

    original = channels._Handoff.server_exit
    monkeypatch.setattr(channels._Handoff, "server_exit", lambda self, exc: original(self, exc) or True)
    with pytest.raises(ConformanceError, match="the server's task: the model raises ValueError") as failure:
        verdict(channels, loop_factory, OBSERVED["server-task-sees-its-own-error"][1])
    assert failure.value.clauses == ["MIRROR-SERVER-ERROR"]


@pytest.mark.clause("READ-ITEMS-BATCH")
def test_an_asend_that_yields_to_the_loop_splits_the_burst(
    loop_factory: LoopFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    import channels

    original = channels._Handoff.server_call

    async def yields_first(self: Any, message: Any, method: str) -> Any:
        await asyncio.sleep(0)  # the reader's task resumes with what it has
        return await original(self, message, method)

    monkeypatch.setattr(channels._Handoff, "server_call", yields_first)
    with pytest.raises(ConformanceError) as failure:
        verdict(channels, loop_factory, OBSERVED["burst-into-one-batch"][1], stream=True)
    assert "READ-ITEMS-BATCH" in failure.value.clauses
    assert "call 1 (client.read_items): the model returns [1, 2]; the implementation returns [1]" in str(
        failure.value
    )


# -- scenarios that the power measure found missing ----------------------------

# A realistic bug of spec/bugs.py that the default profile's random runs do not
# reach every time, with the scenario that reaches it for sure (spec/power.md).
POWER_SCENARIOS = {
    # A server's item is offered only to a client whose request was cancelled
    # after the server took it: then the server's cancelled call must withdraw it.
    "server-offer-cancelled": (
        False,
        [
            anext_,
            enter,
            cancel_client,
            Event("server", "asend", 1),
            cancel_server,
            Event("server", "asend", 2),
            anext_,
        ],
    ),
    # A server call cancelled after the client took its item: the reply is still owed.
    "server-send-taken-cancelled": (
        False,
        [anext_, enter, Event("server", "asend", 1), cancel_server, Event("server", "asend", 2), anext_],
    ),
    # The client's reply reaches the server's call just as its task is cancelled.
    "server-race": (
        False,
        [
            anext_,
            enter,
            Event("server", "asend", 1),
            Event("race", "asend", 5, end="server"),
            Event("server", "anext"),
            anext_,
        ],
    ),
}


@pytest.mark.clause("CANCEL-SEND-UNTAKEN", "CANCEL-SEND-TAKEN", "CANCEL-RECEIVE-RACE")
@pytest.mark.parametrize("scenario", sorted(POWER_SCENARIOS))
def test_a_scenario_that_a_measured_bug_needs(
    impl: ModuleType, impl_name: str, loop_factory: LoopFactory, scenario: str
) -> None:
    stream, events = POWER_SCENARIOS[scenario]
    verdict(impl, loop_factory, events, stream=stream, name=impl_name)


@pytest.mark.clause("READ-ITEMS-END")
def test_a_writer_that_leaves_right_after_write_items_loses_no_item(
    impl: ModuleType, loop_factory: LoopFactory
) -> None:
    # The commonest writer: its block ends in the same step as its last
    # write_items, before the reader's task resumed with its batch. The
    # harness settles the loop between events, so only this check sees it.
    from .test_outside_the_model import outcome, run, violation

    async def scenario() -> None:
        stream = impl.StreamChannel()
        reader = stream.client()

        async def write() -> None:
            async with stream.server() as writer:
                await writer.write_items([1, 2])

        first = asyncio.ensure_future(reader.read_items(5))
        writing = asyncio.ensure_future(write())
        got = await first
        end = await outcome(reader.read_items(5))
        await writing
        if got != [1, 2] or end.observed != ("raise", StopAsyncIteration):
            raise violation(
                impl,
                "READ-ITEMS-END",
                f"read_items(5) returned {got!r}, then {end.observed!r}; "
                "expected [1, 2], then StopAsyncIteration",
            )

    run(impl, "READ-ITEMS-END", loop_factory, scenario())
