"""Bounded-exhaustive conformance: every event sequence up to a depth, not a random sample.

``pytest spec/test_exhaustive.py --exhaustive-depth 6`` (tox -e spec-exhaustive)
enumerates every sequence of the model's exploration alphabet
(:func:`spec.model.events`) that the model allows, up to that depth, runs each
against the implementation on a fresh event loop, and reports how many it
explored. Sequences that share a prefix are run once per prefix: a sequence
is a leaf of the tree of enabled events.
"""

from __future__ import annotations

from types import ModuleType

import pytest

from .conformance import Conformance, LoopFactory
from .model import sequences
from .test_conformance import MODEL_CLAUSES

EXPLORED: dict[str, int] = {}


@pytest.mark.clause(*MODEL_CLAUSES)
@pytest.mark.parametrize("stream", [False, True], ids=["Channel", "StreamChannel"])
def test_every_sequence_up_to_the_depth_follows_the_model(
    impl: ModuleType, impl_name: str, loop_factory: LoopFactory, stream: bool, request: pytest.FixtureRequest
) -> None:
    depth = request.config.getoption("--exhaustive-depth")
    count = 0
    loop = loop_factory()  # one loop for all the sequences: each gets a fresh channel
    try:
        for events in sequences(depth, stream=stream):
            run = Conformance(impl, loop_factory, stream, impl_name, loop=loop)
            try:
                for event in events:
                    run.step(event)
            finally:
                run.close()
            count += 1
    finally:
        loop.close()
    EXPLORED[request.node.name] = count
    print(f"\n{request.node.name}: {count} sequences of depth {depth} explored")
    assert count > 0
