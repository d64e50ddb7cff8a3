"""The stateful conformance test on trio (a prototype of issue 11, item 3).

The same Hypothesis state machine as spec/test_conformance.py, its events
drawn without the race events (on trio that race cannot happen, see
CANCEL-RECEIVE-RACE), each applied to the model and to the implementation on
trio through :mod:`spec.trio_harness`.
"""

from __future__ import annotations

from types import ModuleType

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import rule, run_state_machine_as_test

from .impl import not_installed
from .test_conformance import ConformanceMachine, event_strategy
from .test_trio_exhaustive import TRIO_MODEL_CLAUSES

pytest.importorskip("trio", reason=not_installed("trio"))

from . import trio_harness  # after the skip: it imports trio

pytestmark = pytest.mark.backend("trio")


class TrioConformanceMachine(ConformanceMachine):
    """Draws only the events that trio can run: no race, and no call from an asyncio loop."""

    @rule(data=st.data())
    def apply_an_event(self, data: st.DataObject) -> None:
        strategy = event_strategy(self.run.model, without=("race", "foreign"))
        self.run.step(data.draw(strategy, label="event"))


@pytest.mark.clause(*TRIO_MODEL_CLAUSES)
@pytest.mark.parametrize("stream", [False, True], ids=["Channel", "StreamChannel"])
def test_implementation_follows_the_model_on_trio(impl: ModuleType, impl_name: str, stream: bool) -> None:
    trio_harness.require_trio(impl)
    loop = trio_harness.TrioLoop()
    try:
        # Hypothesis calls any factory of a machine; its annotation names only a class.
        run_state_machine_as_test(
            lambda: TrioConformanceMachine(trio_harness.TrioConformance(impl, stream, impl_name, loop)),  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
        )
    finally:
        loop.close()
