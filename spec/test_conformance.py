"""The conformance suite: Hypothesis interleaves events on both ends, and each step is checked."""

from __future__ import annotations

from types import ModuleType

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test

from .conformance import Conformance, LoopFactory
from .model import ChannelModel, Event

# Every clause that a step of the model can cite.
MODEL_CLAUSES = (
    "MIRROR-ASEND",
    "MIRROR-FIRST-SEND-NONE",
    "MIRROR-SERVER-RETURN",
    "MIRROR-SERVER-ERROR",
    "MIRROR-ATHROW",
    "MIRROR-ATHROW-UNSTARTED",
    "MIRROR-ACLOSE",
    "MIRROR-ACLOSE-UNSTARTED",
    "MIRROR-CLOSED-CLIENT",
    "MIRROR-ALREADY-RUNNING",
    "MIRROR-IGNORED-EXIT",
    "MISUSE-CLOSED-SERVER",
    "MISUSE-REFUSED-CHANGES-NOTHING",
    "SERVER-BLOCK-ENTER",
    "CANCEL-SEND-UNTAKEN",
    "CANCEL-SEND-TAKEN",
    "CANCEL-RECEIVE-RACE",
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
    "NO-NOISE",
    "NO-HANG",
)

values = st.integers(0, 9)
replies = st.none() | values


def event_strategy(model: ChannelModel) -> st.SearchStrategy[Event]:
    """The events that the model allows now, with their arguments."""
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
        (Event("exit", arg="Boom"), st.just(Event("exit", arg="Boom"))),
        (Event("exit", arg="GeneratorExit"), st.just(Event("exit", arg="GeneratorExit"))),
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
    if model.stream:
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
    return st.one_of(*(strategy for probe, strategy in options if model.enabled(probe)))


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
