"""The transition cover: the default search, which takes every transition of the model on every backend.

A random sample (Hypothesis) rarely draws a bug that needs five or more
particular steps, and the bounded-exhaustive enumeration stops at a depth
(``--exhaustive-depth``) where the model's deepest states are 9 and 10 events
away. This search reaches every state instead, because it walks the model's
own graph (:func:`graph`): the abstract states of :func:`spec.model.reach`
(by :func:`~spec.model.signature`) and the *edges* between them, one per
event of the exploration alphabet that a state enables. Every edge belongs
to a row of the transition table (:data:`spec.model.TRANSITIONS`).

An edge taken once finds a bug that shows in the step itself. The
implementation's state is not the model's, though: two paths into the same
abstract state may leave the implementation in different states, and a bug
that corrupts it in a step that still looks right shows only in a later one
(a cancelled write_items that forgets its owed reply is seen at the next
asend). So a cover also takes *pairs*: an edge, right after an edge into its
state (1-switch coverage, in the terms of model-based testing). Every pair
costs three to six times the steps of every edge; :data:`COVERS` says which
pairs each check takes:

* ``edges``: every edge, after any edge into its state;
* ``pairs``: every edge, and every edge after every edge that changed the
  model's state into its state, but for the refusals that one flag decides
  whatever the history (:data:`HISTORY_FREE`), taken once per state;
* ``pairs after cancellations``: every edge, and every edge after every
  cancellation (``cancel``, ``race``, ``kill``) into its state: where an
  implementation keeps state that the model does not show (a withdrawn offer,
  an owed reply, a held batch).

The pairs are laid out as walks (:func:`walks`), each a run on a fresh
channel, in an order fixed by the model alone: a default run that passes has
taken the same pairs whatever the Hypothesis seed. :func:`run_all` runs
sequences of events against an implementation (the enumeration of
:mod:`spec.test_exhaustive` and of the trio harness too), records the rows of
the table that the implementation took without a difference (:data:`TAKEN`,
printed in the run's summary by :func:`summary`), and reports a failing walk
as the shortest of its shorter paths that fails too, if one does
(:func:`shortest_failure`), so that the report replays fewer steps.
"""

from __future__ import annotations

import contextlib
import gc
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from .conformance import Conformance, ConformanceError
from .model import ChannelModel, Event, events, label, signature

Row = tuple[str, str, str, str]  # source phase, event label, target phase, clause: a row of TRANSITIONS
Edge = tuple[int, Event]  # (source state's number, event)
Pair = tuple[Edge | None, Edge]  # (the edge taken right before, or None for any, the edge)

# Walks end after this many events: long enough that a restart's path back to
# a deep state is rare, short enough that a failing walk shrinks quickly.
WALK_LENGTH = 60

# Refusals that one flag decides whatever the history: a second end, a call
# while one is pending, a call on a closed client. Each is taken in every
# state, not after every edge into it.
HISTORY_FREE = frozenset({"MISUSE-SECOND-END", "MIRROR-ALREADY-RUNNING", "MIRROR-CLOSED-CLIENT"})
CANCELLATIONS = frozenset({"cancel", "race", "kill"})
COVERS = ("edges", "pairs", "pairs after cancellations")


@dataclass
class Graph:
    """The model's reachable abstract states and the edges between them."""

    start: int
    # state -> [(event, target state)], in the alphabet's order
    successors: dict[int, list[tuple[Event, int]]] = field(default_factory=dict[int, list[tuple[Event, int]]])
    # each edge's row of the transition table
    rows: dict[Edge, Row] = field(default_factory=dict[Edge, Row])
    # the shortest event path from the start to each state
    paths: dict[int, tuple[Event, ...]] = field(default_factory=dict[int, tuple[Event, ...]])
    # each state's number, by its signature
    numbers: dict[Any, int] = field(default_factory=dict[Any, int])
    # each edge's target state, and each edge's place: its state's number and its event's among
    # the state's (a total order that does not depend on hashing)
    targets: dict[Edge, int] = field(default_factory=dict[Edge, int])
    places: dict[Edge, tuple[int, int]] = field(default_factory=dict[Edge, tuple[int, int]])

    def edges(self) -> Iterator[Edge]:
        for state, successors in self.successors.items():
            for event, _ in successors:
                yield state, event

    def pairs(self, cover: str) -> set[Pair]:
        """What ``cover`` (one of :data:`COVERS`) takes: the pairs, and every edge as (None, edge)."""
        assert cover in COVERS, cover
        pairs: set[Pair] = {(None, edge) for edge in self.edges()}
        if cover == "edges":
            return pairs
        into: dict[int, list[Edge]] = {state: [] for state in self.successors}
        for state, successors in self.successors.items():
            for event, target in successors:
                # After an event that changed nothing (a refusal), the state's edges are its own.
                if target != state and (cover == "pairs" or event.kind in CANCELLATIONS):
                    into[target].append((state, event))
        for state, successors in self.successors.items():
            for event, target in successors:
                if target == state and self.rows[(state, event)][3] in HISTORY_FREE:
                    continue
                pairs.update((before, (state, event)) for before in into[state])
        return pairs


@cache
def graph(stream: bool, without: tuple[str, ...] = ()) -> Graph:
    """The model's graph over the exploration alphabet, without the event kinds ``without``.

    States are numbered in breadth-first order (the start is 0): their signatures are large
    tuples, slow to hash again and again.
    """
    alphabet = [event for event in events(stream) if event.kind not in without]
    start = ChannelModel(stream=stream)
    built = Graph(0, paths={0: ()}, numbers={signature(start): 0})
    models = [start]
    for state, model in enumerate(models):  # grows while it is walked: breadth first, paths are shortest
        built.successors[state] = []
        for event in alphabet:
            if not model.enabled(event):
                continue
            successor = model.copy()
            successor.apply(event)
            target = built.numbers.setdefault(signature(successor), len(models))
            if target == len(models):
                models.append(successor)
                built.paths[target] = (*built.paths[state], event)
            clause = successor.steps[0][0] if successor.steps else ""
            built.places[(state, event)] = (state, len(built.successors[state]))
            built.successors[state].append((event, target))
            built.targets[(state, event)] = target
            built.rows[(state, event)] = (model.phase, label(event), successor.phase, clause)
    return built


def walks(built: Graph, pairs: set[Pair], length: int = WALK_LENGTH) -> Iterator[tuple[Event, ...]]:
    """Event sequences, each from a new channel, that together take every pair of ``pairs``.

    A pair (None, edge) asks for the edge alone, after whatever edge the walk came by.
    """
    # The events still to take right after each edge, and at each state after any edge.
    after: dict[Edge, list[Event]] = {}
    at: dict[int, list[Event]] = {}
    for before, (state, event) in sorted(pairs, key=lambda pair: _order(built, pair)):
        if before is None:
            at.setdefault(state, []).append(event)
        else:
            after.setdefault(before, []).append(event)
    # How much is owed at each state or right after its edges: a walk goes where most is, so
    # that it enters the states it cannot leave (a closed channel) last.
    left = dict.fromkeys(built.successors, 0)
    for state, wanted in at.items():
        left[state] += len(wanted)
    for (state, _), wanted in after.items():
        left[state] += len(wanted)

    def owing(state: int) -> Event | None:
        """The event to take at ``state`` that is owed, or after which something is."""
        if not left[state]:
            return None
        if state in at:
            return at[state][0]
        return next(event for event, _ in built.successors[state] if (state, event) in after)

    def settle(owed: dict[Any, list[Event]], key: Any, event: Event) -> None:
        wanted = owed.get(key)
        if wanted and event in wanted:
            wanted.remove(event)
            left[key if owed is at else key[0]] -= 1
            if not wanted:
                del owed[key]

    while after or at:
        walk: list[Event] = []
        state = built.start
        last: Edge | None = None
        while len(walk) < length:
            owed_next = after.get(last) if last is not None else None
            route: list[Event] | None = (
                [max(owed_next, key=lambda event: left[built.targets[(state, event)]])]
                if owed_next
                else _route(built, state, owing)
            )
            if route is None:
                break
            for event in route:
                if last is not None:
                    settle(after, last, event)
                settle(at, state, event)
                walk.append(event)
                last, state = (state, event), built.targets[(state, event)]
        if not walk:
            raise AssertionError(f"owed but unreachable: {len(after) + len(at)} edges and states")
        yield tuple(walk)


def _order(built: Graph, pair: Pair) -> tuple[int, ...]:
    """A total order of pairs: by the place of the first edge (the start first), then of the second."""
    before, edge = pair
    return (*(built.places[before] if before is not None else (-1, -1)), *built.places[edge])


def _route(built: Graph, start: int, owing: Callable[[int], Event | None]) -> list[Event] | None:
    """The shortest event path from ``start`` to a state where ``owing`` names an event, and that event."""
    parents: dict[int, tuple[int, Event] | None] = {start: None}
    frontier = deque([start])
    while frontier:
        state = frontier.popleft()
        first = owing(state)
        if first is not None:
            path = [first]
            while (parent := parents[state]) is not None:
                state, event = parent
                path.append(event)
            path.reverse()
            return path
        for event, target in built.successors[state]:
            if target not in parents:
                parents[target] = (state, event)
                frontier.append(target)
    return None


# -- running sequences against an implementation --------------------------------

# The rows of the transition table that the implementation took without a
# difference, by channel class; and what each check ran, for the summary.
TAKEN: dict[str, set[Row]] = {"Channel": set(), "StreamChannel": set()}
RAN: dict[str, str] = {}


def run_all(
    sequences: Iterable[tuple[Event, ...]],
    new_run: Callable[[], Conformance],
    stream: bool,
    without: tuple[str, ...] = (),
) -> tuple[int, int]:
    """Run each sequence on a fresh run of ``new_run``; return how many sequences and steps ran.

    Raises the first ConformanceError, shrunk (:func:`shortest_failure`) to sequences of the
    model's events but the kinds ``without``.
    """
    count = steps = 0
    taken = TAKEN["StreamChannel" if stream else "Channel"]
    with _frozen_heap():
        for sequence in sequences:
            run = new_run()
            try:
                for event in sequence:
                    phase = run.model.phase
                    run.step(event)
                    steps += 1
                    clause = run.model.steps[0][0] if run.model.steps else ""
                    taken.add((phase, label(event), run.model.phase, clause))
                run.close()
            except ConformanceError as failure:
                run.close()
                raise shortest_failure(failure, new_run, stream, without) from None
            finally:
                run.close()  # closing again does nothing
            count += 1
    return count, steps


@contextlib.contextmanager
def _frozen_heap() -> Generator[None, None, None]:
    """Leave what exists now out of the garbage collector's full collections while the runs go on.

    The harness collects every generation where the model says that garbage
    goes (an abandoned client, a refused athrow's exception): a cover has
    thousands of such steps, and each full collection would traverse the
    whole test process (pytest, Hypothesis, the model's graph) again. What the
    runs create is collected as before.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


# A failing walk's shrinking replays at most this many shorter sequences.
SHRINK_REPLAYS = 200


def shortest_failure(
    failure: ConformanceError, new_run: Callable[[], Conformance], stream: bool, without: tuple[str, ...] = ()
) -> ConformanceError:
    """``failure``, or the failure of the shortest sequence found that fails too.

    First a shorter path to the same last events: the walk's last k events,
    after the model's shortest path (in the graph without the event kinds
    ``without``) to the state before them, for k = 1, 2, ...; then, from the
    shortest of those that fails, each event left out in turn while a failure
    remains and the model allows what is left, within :data:`SHRINK_REPLAYS`
    replays. A hang or noise is reported as found (replaying it would cost a
    bound each time).
    """
    if type(failure) is not ConformanceError:
        return failure
    built = graph(stream, without)
    replays = 0

    def replayed(events: tuple[Event, ...]) -> ConformanceError | None:
        nonlocal replays
        replays += 1
        run = new_run()
        try:
            for event in events:
                run.step(event)
            run.close()
        except ConformanceError as found:
            run.close()
            return found if type(found) is ConformanceError else None
        finally:
            run.close()  # closing again does nothing
        return None

    events = tuple(failure.events)
    model = ChannelModel(stream=stream)
    states = [built.numbers[signature(model)]]
    for event in events[:-1]:
        model.apply(event)
        states.append(built.numbers[signature(model)])
    shorter_paths = {
        (*built.paths[states[len(events) - tail]], *events[len(events) - tail :])
        for tail in range(1, len(events))
    }
    for candidate in sorted(
        (c for c in shorter_paths if len(c) < len(events)), key=lambda c: (len(c), str(c))
    ):
        found = replayed(candidate)
        if found is not None:
            failure = found
            break
    shrunk = True
    while shrunk and replays < SHRINK_REPLAYS:
        shrunk = False
        events = tuple(failure.events)
        for index in reversed(range(len(events))):
            candidate = events[:index] + events[index + 1 :]
            if not _allowed(candidate, stream):
                continue
            found = replayed(candidate)
            if found is not None:
                failure, shrunk = found, True
                break
            if replays >= SHRINK_REPLAYS:
                break
    return failure


def _allowed(events: tuple[Event, ...], stream: bool) -> bool:
    """Whether the model allows ``events`` from a new channel."""
    model = ChannelModel(stream=stream)
    for event in events:
        if not model.enabled(event):
            return False
        model.apply(event)
    return True


def counts() -> dict[str, dict[str, int]]:
    """What this process ran and took, as counters that the supervisor adds up over its workers."""
    ran = {f"{name}: {what}": 1 for name, what in RAN.items()}
    taken = {f"taken {name}": {_ROW_SEPARATOR.join(row): 1 for row in rows} for name, rows in TAKEN.items()}
    return {"cover": ran, **taken}


_ROW_SEPARATOR = "\x1f"


def summary(counts: dict[str, dict[str, int]], partial: bool = False) -> list[str]:
    """The lines of the run's summary, from the counters of :func:`counts` of every worker added up:
    what each check ran, and the share of the table taken (``partial`` when a check failed, which
    stopped it there)."""
    lines = list(counts.get("cover", {}))
    taken_by_name = {name: set(counts.get(f"taken {name}", {})) for name in TAKEN}
    if any(taken_by_name.values()):
        shares: list[str] = []
        for name, stream in (("Channel", False), ("StreamChannel", True)):
            total = {_ROW_SEPARATOR.join(row) for row in graph(stream).rows.values()}
            taken = len(taken_by_name[name] & total)
            shares.append(f"{name} {taken}/{len(total)} ({100 * taken // len(total)} %)")
        stopped = " (a check stops at its first failure: the share is partial)" if partial else ""
        lines.append("transitions: " + ", ".join(shares) + stopped)
    return lines
