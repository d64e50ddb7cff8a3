"""The transition cover (spec/coverage.py), the default search: it takes what it says it takes."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from spec import coverage
from spec.bugs import BY_NAME, apply
from spec.conformance import Conformance, ConformanceError
from spec.model import STREAM_TRANSITIONS, TRANSITIONS, Event
from spec.power import ROOT


def _taken(built: coverage.Graph, walks: list[tuple[Event, ...]]) -> set[coverage.Pair]:
    """The pairs of edges that ``walks`` take, and each edge as (None, edge)."""
    taken: set[coverage.Pair] = set()
    for walk in walks:
        state, last = built.start, None
        for event in walk:  # each walk starts on a new channel
            edge = (state, event)
            assert edge in built.targets, f"a walk takes {event}, which the model does not enable there"
            taken |= {(None, edge), (last, edge)}
            last, state = edge, built.targets[edge]
    return taken


@pytest.mark.clause("CONFORMANCE-COVER")
@pytest.mark.parametrize("cover", coverage.COVERS)
@pytest.mark.parametrize("stream", [False, True], ids=["Channel", "StreamChannel"])
def test_the_walks_take_every_pair_of_a_cover(stream: bool, cover: str) -> None:
    built = coverage.graph(stream)
    wanted = built.pairs(cover)
    walks = list(coverage.walks(built, wanted))
    assert wanted <= _taken(built, walks)
    assert max(map(len, walks)) <= coverage.WALK_LENGTH
    # Every edge is a row of the published table, and every row has an edge.
    table = {(t.source, t.event, t.target, t.clause) for t in TRANSITIONS}
    if stream:
        table |= {(t.source, t.event, t.target, t.clause) for t in STREAM_TRANSITIONS}
        table &= set(built.rows.values())  # the Channel rows that a stream's alphabet also reaches
    assert {built.rows[edge] for _, edge in wanted} == table == set(built.rows.values())


@pytest.mark.clause("CONFORMANCE-COVER")
def test_the_pairs_of_a_cover_leave_out_only_history_free_refusals() -> None:
    built = coverage.graph(False)
    pairs, edges = built.pairs("pairs"), built.pairs("edges")
    assert edges < pairs
    cancelled = built.pairs("pairs after cancellations")
    assert edges < cancelled < pairs
    for before, (state, _) in pairs - edges:
        assert before is not None
        assert built.targets[before] == state != before[0]
    left_out = {
        built.rows[edge][3]
        for edge in built.targets
        if built.targets[edge] == edge[0]
        and not any(pair[1] == edge for pair in pairs - edges)
        and edge[0] != built.start
    }
    assert left_out <= coverage.HISTORY_FREE


@pytest.mark.clause("CONFORMANCE-COVER")
def test_the_walks_are_the_same_whatever_the_hash_seed() -> None:
    # Signatures hold strings, whose hashes change from one process to the next: the walks must not.
    script = (
        "import hashlib\n"
        "from spec.coverage import graph, walks\n"
        "built = graph(False)\n"
        "print(hashlib.sha256(repr(list(walks(built, built.pairs('pairs')))).encode()).hexdigest())\n"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(digests) == 1, digests


def _load_bug(name: str, directory: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"bug_{name.replace('-', '_')}", apply(BY_NAME[name], directory)
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.clause("CONFORMANCE-COVER", "REPLY-PENDING")
def test_the_cover_finds_a_bug_that_a_cancelled_write_items_leaves_and_shrinks_it_to_five_steps(
    tmp_path: Path,
) -> None:
    # write_items cancelled while it waits for the reader's reply, then forgets that the reply is
    # owed: only the next asend shows it, five steps in; the walk that finds it is shrunk.
    module = _load_bug("cancelled-write-forgets-reply", tmp_path)
    built = coverage.graph(True)
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(ConformanceError) as failure:
            coverage.run_all(
                coverage.walks(built, built.pairs("pairs after cancellations")),
                lambda: Conformance(module, asyncio.new_event_loop, True, "bug", loop=loop),
                True,
            )
    finally:
        loop.close()
    assert failure.value.clauses == ["REPLY-PENDING"]
    # The walk that found it, shrunk to the shortest sequence that shows it: the channel started
    # (a client request and enter, in whichever order and form the walk took), then the bug's steps.
    shown = [str(event) for event in failure.value.events]
    assert len(shown) == 5, shown
    assert "server.enter()" in shown[:2], shown
    assert shown[2].startswith("server.write_items("), shown
    assert shown[3:] == ["cancel server", "server.asend(1)"]


@pytest.mark.clause("CONFORMANCE-COVER")
def test_the_summary_gives_the_share_of_each_table_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = set(coverage.graph(False).rows.values())
    taken = {"Channel": rows, "StreamChannel": set(list(coverage.graph(True).rows.values())[:2])}
    monkeypatch.setattr(coverage, "TAKEN", taken)
    monkeypatch.setattr(coverage, "RAN", {"a check": "pairs: 2 walks, 9 steps"})
    stream_rows = len(set(coverage.graph(True).rows.values()))
    assert coverage.summary(coverage.counts()) == [
        "a check: pairs: 2 walks, 9 steps",
        f"transitions: Channel {len(rows)}/{len(rows)} (100 %), StreamChannel 2/{stream_rows} (0 %)",
    ]
    # After a failure the share is what the checks took before they stopped: the line says so.
    assert coverage.summary(coverage.counts(), partial=True)[-1].endswith(
        "(a check stops at its first failure: the share is partial)"
    )
