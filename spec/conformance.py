"""Compare an implementation with the model, one event at a time.

:class:`Conformance` applies each event to the model and to a
:class:`~spec.harness.Harness` on a fresh event loop, and raises
:class:`ConformanceError` at the first observable that differs: a call that
ended differently, a call pending in one and ended in the other, an end's
``delivered`` count (where the implementation has one), or an error that the
event loop logged. The error names the clauses that the model cited
for that step and prints the sequence of events as a script to paste.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator
from types import ModuleType
from typing import Any, NoReturn

from .clauses import CLAUSES
from .harness import Hang, Harness, describe, matches
from .model import ChannelModel, Event

LoopFactory = Callable[[], asyncio.AbstractEventLoop]

STATS = {"runs": 0, "steps": 0}


class ConformanceError(AssertionError):
    def __init__(self, message: str, clauses: list[str]) -> None:
        super().__init__(message)
        self.clauses = clauses


class Conformance:
    def __init__(
        self,
        module: ModuleType,
        loop_factory: LoopFactory,
        stream: bool,
        impl_name: str,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.module = module
        self.impl_name = impl_name
        self.stream = stream
        # A loop passed in is the caller's to close; otherwise the run owns one.
        self.own_loop = loop is None
        self.loop = loop_factory() if loop is None else loop
        self.model = ChannelModel(stream=stream)
        self.harness = Harness(module, stream)
        self.events: list[Event] = []
        STATS["runs"] += 1

    def step(self, event: Event) -> None:
        assert self.model.enabled(event), f"{event} is not enabled in {self.model.phase}"
        self.events.append(event)
        STATS["steps"] += 1
        phase = self.model.phase
        expected = self.model.apply(event)
        before = self.harness.snapshot()
        try:
            observed = self.loop.run_until_complete(self.harness.apply(event))
        except Hang as hang:
            self.model.steps = [("NO-HANG", "")]
            self.fail(phase, event, [str(hang)])
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
            self.fail(phase, event, problems, ["CANCEL-SEND-TAKEN"])
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
        if problems:
            self.fail(phase, event, problems, ["NO-NOISE"])

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
        problems = []
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
        self, phase: str, event: Event, problems: list[str], clauses: list[str] | None = None
    ) -> NoReturn:
        if clauses is None:
            clauses = list(dict.fromkeys(clause for clause, _ in self.model.steps)) or [
                "CANCEL-LEAVES-USABLE"
            ]
        lines = [
            f"{self.impl_name} violates {', '.join(clauses)}",
            *(f"  {clause}: {CLAUSES[clause].statement}" for clause in clauses),
            f"at step {len(self.events)}, {event}, from {phase}:",
            *(f"  {problem}" for problem in problems),
            "Reproduce with:",
            *("  " + line for line in script(self.impl_name, self.stream, self.events).splitlines()),
        ]
        raise ConformanceError("\n".join(lines), clauses)

    def close(self) -> None:
        try:
            self.loop.run_until_complete(self.harness.close())
        except Hang as hang:
            self.model.steps = [("NO-HANG", "")]
            self.fail(self.model.phase, Event("cancel", end="every task"), [str(hang)])
        finally:
            if self.own_loop:
                self.loop.close()


def _task(outcome: Any) -> str:
    return "is still running (or never started)" if outcome is None else describe(outcome)


def script(impl_name: str, stream: bool, events: Iterable[Event]) -> str:
    """A script that replays ``events`` and prints what each call did."""
    body = ",\n".join(f"    {event!r}" for event in events)
    # The package's own name: spec in this repository, channels_conformance when installed.
    return (
        f"from {__package__}.conformance import replay\n"
        f"from {__package__}.model import Event\n"
        f"replay({impl_name!r}, stream={stream!r}, events=[\n{body},\n])\n"
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
