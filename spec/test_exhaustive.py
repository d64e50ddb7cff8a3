"""The default search: every transition of the model, and the pairs of them that find deep bugs.

``pytest spec/test_exhaustive.py`` runs the transition cover of
:mod:`spec.coverage` against the implementation on each asyncio loop: walks
over the model's graph that take every edge (every row of the transition
table, from every abstract state) and the pairs of edges that :data:`COVER`
names, comparing every step with the model. The
run's summary says how many walks and steps each check ran, and the share of
the transition table taken.

``--exhaustive-depth N`` adds the bounded-exhaustive enumeration: every
sequence of the model's exploration alphabet (:func:`spec.model.events`) of
N events that the model allows (``tox -e spec-exhaustive`` uses 6).
Sequences that share a prefix are run once per prefix: a sequence is a leaf
of the tree of enabled events.
"""

from __future__ import annotations

from types import ModuleType

import pytest

from .conformance import Conformance, LoopFactory
from .coverage import RAN, graph, run_all, walks
from .model import sequences
from .test_conformance import MODEL_CLAUSES

# What each check takes (spec/coverage.py's COVERS), the same on every loop: a
# Channel every pair that can find a bug of a later step; a StreamChannel, whose
# graph has three times the pairs, every edge and every pair after a
# cancellation, within the default run's time.
COVER = {False: "pairs", True: "pairs after cancellations"}


@pytest.mark.clause(*MODEL_CLAUSES)
@pytest.mark.parametrize("stream", [False, True], ids=["Channel", "StreamChannel"])
def test_every_transition_follows_the_model(
    impl: ModuleType, impl_name: str, loop_factory: LoopFactory, stream: bool, request: pytest.FixtureRequest
) -> None:
    cover = COVER[stream]
    built = graph(stream)
    loop = loop_factory()  # one loop for all the runs: each gets a fresh channel
    try:

        def new_run() -> Conformance:
            return Conformance(impl, loop_factory, stream, impl_name, loop=loop)

        count, steps = run_all(walks(built, built.pairs(cover)), new_run, stream)
        RAN[request.node.name] = f"{cover}: {count} walks, {steps} steps"
        depth = request.config.getoption("--exhaustive-depth")
        if depth:
            count, steps = run_all(sequences(depth, stream=stream), new_run, stream)
            RAN[f"{request.node.name} --exhaustive-depth {depth}"] = f"{count} sequences, {steps} steps"
    finally:
        loop.close()
