"""The default search on trio: every race-free transition of the model (see spec/test_exhaustive.py).

The transition cover of :mod:`spec.coverage` over the model's graph without
the race events (on trio that race cannot happen, see CANCEL-RECEIVE-RACE),
run against the implementation on trio through :mod:`spec.trio_harness` and
compared with the model step by step, taking what it takes on asyncio
(:data:`spec.test_exhaustive.COVER`). ``--exhaustive-depth N`` adds every sequence of N
events, each cut before its first race event.
"""

from __future__ import annotations

from types import ModuleType

import pytest

from .impl import not_installed

pytest.importorskip("trio", reason=not_installed("trio"))

from . import trio_harness  # after the skip: it imports trio
from .coverage import RAN
from .test_conformance import RACE_FREE_CLAUSES
from .test_exhaustive import COVER

pytestmark = pytest.mark.backend("trio")

# The model's clauses that a race-free run on trio proves: not CANCEL-RECEIVE-RACE,
# nor NO-NOISE (trio has no exception handler to watch yet).
TRIO_MODEL_CLAUSES = (*RACE_FREE_CLAUSES, "TRIO-CANCELLATION")


@pytest.mark.clause(*TRIO_MODEL_CLAUSES)
@pytest.mark.parametrize("stream", [False, True], ids=["Channel", "StreamChannel"])
def test_every_race_free_transition_follows_the_model_on_trio(
    impl: ModuleType, impl_name: str, stream: bool, request: pytest.FixtureRequest
) -> None:
    trio_harness.require_trio(impl)
    count, steps = trio_harness.cover(impl, impl_name, COVER[stream], stream)
    RAN[f"trio {request.node.name}"] = f"{COVER[stream]}: {count} walks, {steps} steps"
    depth = request.config.getoption("--exhaustive-depth")
    if depth:
        count, steps = trio_harness.explore(impl, impl_name, depth, stream)
        RAN[f"trio {request.node.name} --exhaustive-depth {depth}"] = f"{count} sequences, {steps} steps"
