"""The model of spec/model.py checks itself: a refusal changes none of its state."""

from __future__ import annotations

import pytest

from spec.model import ChannelModel, Event, events, reach


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
