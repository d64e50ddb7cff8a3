"""The bounded-exhaustive enumeration on trio (a prototype of issue 11, item 3).

Every sequence of the model's events up to ``--exhaustive-depth`` that has no
race event (cut before its first one: on trio that race cannot happen, see
CANCEL-RECEIVE-RACE), run against the implementation on trio through
:mod:`spec.trio_harness`, and compared with the model step by step.
"""

from __future__ import annotations

from types import ModuleType

import pytest

from .impl import not_installed

pytest.importorskip("trio", reason=not_installed("trio"))

from . import trio_harness  # after the skip: it imports trio
from .test_conformance import RACE_FREE_CLAUSES

pytestmark = pytest.mark.backend("trio")

# The model's clauses that a race-free run on trio proves: not CANCEL-RECEIVE-RACE,
# nor NO-NOISE (trio has no exception handler to watch yet).
TRIO_MODEL_CLAUSES = (*RACE_FREE_CLAUSES, "TRIO-CANCELLATION")


@pytest.mark.clause(*TRIO_MODEL_CLAUSES)
@pytest.mark.parametrize("stream", [False, True], ids=["Channel", "StreamChannel"])
def test_every_race_free_sequence_follows_the_model_on_trio(
    impl: ModuleType, impl_name: str, stream: bool, request: pytest.FixtureRequest
) -> None:
    trio_harness.require_trio(impl)
    depth = request.config.getoption("--exhaustive-depth")
    count = trio_harness.explore(impl, impl_name, depth, stream)
    print(f"\ntrio {request.node.name}: {count} sequences of depth {depth} explored")
    assert count > 0
