"""Compare an implementation with the model, one event at a time.

:class:`Conformance` applies each event to the model and to a
:class:`~spec.harness.Harness` on a fresh event loop, and raises
:class:`ConformanceError` at the first observable that differs: a call that
ended differently, a call pending in one and ended in the other, a refused
call that changed what the implementation shows or kept what it was given,
an end's ``delivered`` count (where the implementation has one), the items
that write_items pulled, how the server task ended, or an error that the
event loop logged. The error names the clause that decides what differed
(the step's clauses for a call; for a count, DELIVERED-COUNT, or the
clause of the cancellation at that step), says which
end and operation each call was, and prints the sequence of events as a
script to paste; its report also names the earlier step whose clause the
implementation broke first, when a replay shows one (:func:`first_broken`).

Every run of the event loop is a step announced to the supervising parent
(:func:`spec.loops.run_step`), with its number, its event, the clauses the
model expects of it and its replay script: a step that does not end within
the suite's step bound fails NO-HANG whatever the implementation does, by
the parent's clock (:mod:`spec.supervisor`). What the loop logs and
what finalizers raise ("Exception ignored") during a step, or when a run is
closed, fails NO-NOISE; a task that outlives its cancellation, CANCEL-PROMPT.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Awaitable, Callable, Iterable, Iterator
from types import ModuleType
from typing import Any, NoReturn, TypeVar

from . import supervisor
from .clauses import CLAUSES
from .cycles import CycleWatch, sources_of
from .harness import Hang, Harness, describe, matches
from .loops import OutOfTestBound, Step, defer_noise, ignored_exceptions, keep, note_failure, run_step
from .model import ChannelModel, Event, signature
from .model import events as model_events

LoopFactory = Callable[[], asyncio.AbstractEventLoop]
T = TypeVar("T")

STATS = {"runs": 0, "steps": 0}

# The clauses of a cancelled call that say whether its message counts as delivered.
CANCELLATIONS_THAT_COUNT = ("CANCEL-SEND-TAKEN", "CANCEL-SEND-UNTAKEN", "CANCEL-RECEIVE-RACE")


class ConformanceError(AssertionError):
    """The implementation differs from the model.

    ``clauses`` are those of the step where the difference showed; the
    report (``str()``) searches, when it is first rendered, for the earlier
    step whose clause the implementation broke first (:func:`first_broken`),
    and ``blamed`` then names that step's clauses: the verdict's.
    """

    def __init__(
        self,
        message: str,
        clauses: list[str],
        events: list[Event] | None = None,
        problems: list[str] | None = None,
        report: Callable[[], tuple[str, list[str]]] | None = None,
    ) -> None:
        super().__init__(message)
        self.clauses = clauses
        self.blamed = clauses
        # The events up to the one where the implementation differed.
        self.events = events or []
        self.problems = problems or []
        self._report = report
        note_failure(self)

    def __str__(self) -> str:
        if self._report is not None:
            text, self.blamed = self._report()
            self.args, self._report = (text,), None
        return super().__str__()


class HangFailure(ConformanceError):
    """A failure of NO-HANG or CANCEL-PROMPT.

    Its own class, so that Hypothesis reports it apart from a difference in
    behaviour (it tells failures apart by class and place), rather than
    shrinking every failure to whichever is shortest.
    """


class NoiseFailure(ConformanceError):
    """A failure of NO-NOISE: within a test it does not stop the run (:func:`spec.loops.defer_noise`)."""

    ends_the_test = False


class Conformance:
    def __init__(
        self,
        module: ModuleType,
        loop_factory: LoopFactory,
        stream: bool,
        impl_name: str,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        # First: the objects of the run are those made after it (spec/cycles.py).
        self.cycle_watch = CycleWatch(sources_of(module))
        self.module = module
        self.impl_name = impl_name
        self.stream = stream
        # A loop passed in is the caller's to close; otherwise the run owns one.
        self.own_loop = loop is None
        self.loop = loop_factory() if loop is None else loop
        self.loop_factory = loop_factory
        # Whether a report may replay prefixes on loop_factory's loops (first_broken).
        self.replays = True
        self.model = ChannelModel(stream=stream)
        self.harness = Harness(module, stream)
        self.events: list[Event] = []
        self.abandoned = self.closed = self.failed = False
        STATS["runs"] += 1
        supervisor.run_begins(*_script_ends(impl_name, stream))

    def run(self, step: Awaitable[T], announced: Step) -> T:
        """Run the loop until ``step`` is done, as a step that the supervising parent bounds
        (:func:`spec.loops.run_step`)."""
        try:
            return run_step(self.loop, step, announced)
        except OutOfTestBound:
            self.abandoned = True
            raise

    def step(self, event: Event) -> None:
        assert self.model.enabled(event), f"{event} is not enabled in {self.model.phase}"
        self.events.append(event)
        STATS["steps"] += 1
        phase = self.model.phase
        expected = self.model.apply(event)
        before = self.harness.snapshot() if self.model.refused else ()
        announced = Step(
            str(event),
            tuple(dict.fromkeys(clause for clause, _ in self.model.steps)),
            len(self.events),
            line=f"    {event!r},",
        )
        with ignored_exceptions() as ignored:
            try:
                observed = self.run(self.harness.apply(event), announced)
            except Hang as hang:
                self.fail(phase, event, [str(hang)], ["NO-HANG"], HangFailure)
        problems = [*self.calls_differ(expected, observed)]
        if problems:
            self.fail(phase, event, problems)
        if self.model.refused:
            problems = self.refusal_changed(before, expected)
            if problems:
                clauses = [clause for clause, _ in self.model.steps]
                self.fail(phase, event, problems, [*clauses, "MISUSE-REFUSED-CHANGES-NOTHING"])
        # Counts and the server task's outcome: each names the clause that
        # decides it, not the clauses of the step where it surfaced.
        for end, count in self.harness.delivered().items():
            if count != self.model.delivered[end]:
                problems.append(f"{end}.delivered is {count}; the model counts {self.model.delivered[end]}")
        if problems:
            self.fail(phase, event, problems, self.counting_clauses())
        pulled = self.harness.pulled()
        if pulled != self.model.pulled:
            problems.append(
                "items pulled from each write_items call's generator: "
                f"the model {self.model.pulled}, the implementation {pulled}"
            )
            self.fail(phase, event, problems, ["WRITE-ITEMS-LAZY"])
        task, observed_task = self.model.server_task, self.harness.server_outcome
        if (task is None) != (observed_task is None) or (
            task is not None and observed_task is not None and not matches(self.module, task, observed_task)
        ):
            problems.append(
                f"the server's task: the model {_task(task)}; the implementation {_task(observed_task)}"
            )
            self.fail(phase, event, problems, [self.model.task_clause] if task else None)
        for context in self.harness.errors:
            problems.append(f"the event loop logged: {context.get('message')} {context.get('exception')!r}")
        self.harness.errors.clear()
        if problems or ignored:
            self.report_noise(phase, event, problems + ignored)

    def counting_clauses(self) -> list[str]:
        """The clauses that a wrong ``delivered`` count after this step breaks.

        The count's own clause, DELIVERED-COUNT; or, when this step cancelled a call whose
        message was delivered, withdrawn or held, the clause that says what the cancellation
        does to the count (CANCEL-SEND-TAKEN's value stays counted, CANCEL-SEND-UNTAKEN's
        never is): a count that is wrong after a plain delivery is no cancellation's fault.
        """
        cited = [clause for clause, _ in self.model.steps]
        return [clause for clause in dict.fromkeys(cited) if clause in CANCELLATIONS_THAT_COUNT] or [
            "DELIVERED-COUNT"
        ]

    def report_noise(self, phase: str, event: Event, noise: list[str]) -> None:
        """Fail NO-NOISE; within a test, at its end (:func:`spec.loops.defer_noise`)."""
        try:
            self.fail(phase, event, noise, ["NO-NOISE"], NoiseFailure)
        except NoiseFailure as failure:
            if not defer_noise(failure):
                raise

    def label(self, call: int) -> str:
        return f"call {call} ({self.model.labels.get(call, '?')})"

    def calls_differ(self, expected: dict[int, Any], observed: dict[int, Any]) -> Iterator[str]:
        pending = "is still pending"
        for call in sorted(set(expected) | set(observed)):
            model = describe(expected[call]) if call in expected else pending
            implementation = describe(observed[call]) if call in observed else pending
            if (
                call not in expected
                or call not in observed
                or not matches(self.module, expected[call], observed[call])
            ):
                yield f"{self.label(call)}: the model {model}; the implementation {implementation}"

    def refusal_changed(self, before: tuple[str, ...], expected: dict[int, Any]) -> list[str]:
        """What a refused call changed in the implementation: nothing, if it keeps the clause."""
        problems: list[str] = []
        after = self.harness.snapshot()
        if after != before:
            problems.append(
                f"the refused call changed what the implementation shows: {before} became {after}"
            )
        for call in expected:
            if self.harness.keeps_thrown(call):
                problems.append(
                    f"{self.label(call)} was refused, but the implementation still holds the exception "
                    "it was given: a refused call must change nothing"
                )
        return problems

    def fail(
        self,
        phase: str,
        event: Event,
        problems: list[str],
        clauses: list[str] | None = None,
        failure: type[ConformanceError] = ConformanceError,
    ) -> NoReturn:
        if clauses is None:
            clauses = list(dict.fromkeys(clause for clause, _ in self.model.steps)) or [
                "CANCEL-LEAVES-USABLE"
            ]
        events = list(self.events)
        surfaced = [
            f"at step {len(events)}, {event}, from {phase}:",
            *(f"  {problem}" for problem in problems),
            "Reproduce with:",
            *("  " + line for line in script(self.impl_name, self.stream, events).splitlines()),
        ]

        def report() -> tuple[str, list[str]]:
            first = (
                first_broken(self.module, self.loop_factory, self.stream, self.impl_name, events)
                # Replaying a hang or noise would find them again, at the cost of a bound each.
                if self.replays and event in events and failure is ConformanceError
                else None
            )
            if first is None:
                return _violates(self.impl_name, clauses, surfaced), clauses
            step, broken, evidence = first
            return _violates(
                self.impl_name,
                broken,
                [
                    f"first at step {step}, {events[step - 1]}: after it, the implementation already "
                    "differs from the model on these next events:",
                    *(f"  {probe}: {problem}" for probe, problem in evidence.items()),
                    f"It showed later as {', '.join(clauses)}, {surfaced[0]}",
                    *surfaced[1:],
                ],
            ), broken

        self.failed = self.failed or failure is not NoiseFailure
        raise failure(_violates(self.impl_name, clauses, surfaced), clauses, events, problems, report)

    def close(self) -> None:
        """Cancel the run's tasks and collect its garbage.

        A task that outlives its cancellation fails CANCEL-PROMPT, what
        finalizers raise fails NO-NOISE, unless the run failed already: its
        first failure is the verdict. Tasks that do not end are kept alive
        (:func:`spec.loops.keep`), never finalized during a later test.
        Closing again does nothing.
        """
        if self.closed:
            return
        self.closed = True
        end = Event("cancel", end="every task")
        problems: list[tuple[str, str]] = []
        cycles: list[str] = []
        with ignored_exceptions() as ignored:
            try:
                if not self.abandoned:
                    self.run(self.harness.close(), Step(str(end), ("CANCEL-PROMPT",), len(self.events) + 1))
            except Hang as hang:
                problems.append(("CANCEL-PROMPT", str(hang)))
                keep(self.harness)
            finally:
                try:
                    if self.own_loop and not self.abandoned:
                        self.loop.close()
                finally:
                    # The run's cycles (tasks and their frames) are finalized now, not in a later test;
                    # those through the implementation's frames are noise. Within another run (a
                    # report's replays), that run's watch sees them: the young ones are finalized.
                    if self.cycle_watch.active:
                        if not self.abandoned:
                            self.let_go()
                        cycles = self.cycle_watch.stop()
                    else:
                        gc.collect(1)
        if self.failed:
            return
        if problems:
            self.fail(
                self.model.phase, end, [problem for _, problem in problems], [problems[0][0]], HangFailure
            )
        if ignored or cycles:
            self.report_noise(self.model.phase, end, ignored + cycles)

    def let_go(self) -> None:
        """Drop the channel and all that the run made of it: what is left in a cycle is garbage now."""
        del self.harness


def _violates(impl_name: str, clauses: list[str], lines: list[str]) -> str:
    return "\n".join(
        [
            f"{impl_name} violates {', '.join(clauses)}",
            *(f"  {clause}: {CLAUSES[clause].statement}" for clause in clauses),
            *lines,
        ]
    )


def first_broken(
    module: ModuleType, loop_factory: LoopFactory, stream: bool, impl_name: str, events: list[Event]
) -> tuple[int, list[str], dict[str, str]] | None:
    """The step whose clause the implementation broke first, when it is not the last one.

    A failure shows at the first call that looks at a wrong state, which may
    be steps after the event that made it wrong (an offer that a cancellation
    did not withdraw shows at the next athrow). So each prefix of ``events``
    is replayed, followed by each event of the exploration alphabet that the
    model allows there, on a fresh channel, until one of them differs from
    the model. The prefix's last step is to blame if the state it left is
    wrong rather than the events that differ: if the same events agree with
    the model after another, shorter path to the same model state.
    Returns (step, its clauses, each differing next event with its problem).
    """
    model = ChannelModel(stream=stream)
    clauses: list[str] = []
    for length in range(len(events)):
        if length:
            model.apply(events[length - 1])
            clauses = list(dict.fromkeys(clause for clause, _ in model.steps))
        differing: dict[Event, str] = {}
        for probe in model_events(stream):
            if model.enabled(probe):
                problem = _differs(module, loop_factory, stream, impl_name, [*events[:length], probe])
                if problem is not None:
                    differing[probe] = problem
        if not differing:
            continue
        path = _another_path(model, events[:length])
        if path is None or any(
            _differs(module, loop_factory, stream, impl_name, [*path, probe]) for probe in differing
        ):
            return None
        return length, clauses, {str(probe): problem for probe, problem in differing.items()}
    return None


def _observable_state(model: ChannelModel) -> Any:
    return (signature(model), tuple(model.delivered.values()), model.abandoned)


def _another_path(target: ChannelModel, path: list[Event]) -> list[Event] | None:
    """The shortest event path other than ``path`` to the model state of ``target`` (breadth first)."""
    goal = _observable_state(target)
    frontier: list[tuple[ChannelModel, list[Event]]] = [(ChannelModel(stream=target.stream), [])]
    seen = {_observable_state(frontier[0][0])}
    for _ in range(len(path) + 1):
        successors: list[tuple[ChannelModel, list[Event]]] = []
        for model, prefix in frontier:
            if _observable_state(model) == goal and prefix != path:
                return prefix
            for event in model_events(target.stream):
                if model.enabled(event):
                    successor = model.copy()
                    successor.apply(event)
                    state = _observable_state(successor)
                    if state not in seen or (state == goal and [*prefix, event] != path):
                        seen.add(state)
                        successors.append((successor, [*prefix, event]))
        frontier = successors
    return None


def _differs(
    module: ModuleType, loop_factory: LoopFactory, stream: bool, impl_name: str, events: list[Event]
) -> str | None:
    """The first problem of running ``events`` on a fresh channel, or None."""
    run = Conformance(module, loop_factory, stream, impl_name)
    try:
        for event in events:
            run.step(event)
        run.close()
    except ConformanceError as failure:
        with contextlib.suppress(Exception):
            run.close()
        return failure.problems[0] if failure.problems else "differs"
    return None


def _task(outcome: Any) -> str:
    return "is still running (or never started)" if outcome is None else describe(outcome)


def script(impl_name: str, stream: bool, events: Iterable[Event]) -> str:
    """A script that replays ``events`` and prints what each call did."""
    head, tail = _script_ends(impl_name, stream)
    return "\n".join([head, *(f"    {event!r}," for event in events), tail]) + "\n"


def _script_ends(impl_name: str, stream: bool) -> tuple[str, str]:
    """What a replay script has before its events, one a line, and after them."""
    # The package's own name: spec in this repository, channels_conformance when installed.
    return (
        f"from {__package__}.conformance import replay\n"
        f"from {__package__}.model import Event\n"
        f"replay({impl_name!r}, stream={stream!r}, events=[",
        "])",
    )


def replay(
    impl_name: str, stream: bool, events: Iterable[Event], loop_factory: LoopFactory | None = None
) -> None:
    """Run ``events`` against an implementation, printing each step; raise at the first difference."""
    from .impl import load

    run = Conformance(load(impl_name), loop_factory or asyncio.new_event_loop, stream, impl_name)
    try:
        for event in events:
            print(f"{run.model.phase:>16}  {event}")
            run.step(event)
    finally:
        run.close()
