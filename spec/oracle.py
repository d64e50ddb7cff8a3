"""The PEP 525 oracle: a channel driven side by side with a native async generator.

A *body script* (yield these values, maybe catch what is thrown, then return
or raise) runs once as a native async generator and once as the server block
of a channel in another task; a *client script* (anext, asend, athrow,
aclose) drives each. Every client call runs in a task of its own and the
loop is settled after it (:func:`spec.loops.settle`: no clock), so a call
that stays pending is an observation, not a hang; each run of the loop is a
step announced to the supervising parent, which bounds it
(:func:`spec.loops.run_step`). :func:`compare` raises an
:class:`~spec.conformance.ConformanceError` that names the clause of the
first call that differs and prints a script that replays it (:func:`replay`).

Where the scripts run is a :class:`Backend`: :func:`on_asyncio` (asyncio's
or uvloop's loops, settled by :func:`spec.loops.settle`) here, trio in
:mod:`spec.trio_oracle`; the scripts, the bounds and the comparison are the
same on every backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from .clauses import CLAUSES
from .conformance import ConformanceError, HangFailure, NoiseFailure
from .harness import Boom
from .loops import Step, abandon, defer_noise, ignored_exceptions, keep, loop_factories, run_step, settle

Body = tuple[tuple[int, ...], bool, str]  # values to yield, catch Boom?, "return" or "raise"
Op = tuple[str, Any]  # ("anext", None), ("asend", value), ("athrow", None) or ("aclose", None)
Outcome = tuple[str, str, Any]  # (op, "ok", value), (op, "raise", exception name) or (op, "pending", None)


class BodyFailed(Exception):
    """What the body script raises when it ends by raising."""


@dataclass
class Run:
    """What one side did: each client call's outcome (the final aclose last) and what the body received."""

    calls: list[Outcome] = field(default_factory=list[Outcome])
    log: list[Any] = field(default_factory=list[Any])
    # Problems that are not a call's outcome: noise, a task that outlives its cancellation.
    problems: list[tuple[str, str]] = field(default_factory=list[tuple[str, str]])


async def native_body(body: Body, log: list[Any]) -> AsyncGenerator[int, Any]:
    values, catch, ending = body
    for value in values:
        try:
            log.append(("got", (yield value)))
        except Boom:
            log.append(("thrown",))
            if not catch:
                raise
        except GeneratorExit:
            log.append(("exit",))
            raise
    if ending == "raise":
        raise BodyFailed


async def channel_body(channel: Any, body: Body, log: list[Any]) -> None:
    values, catch, ending = body
    async with channel.server() as server:
        for value in values:
            try:
                log.append(("got", await server.asend(value)))
            except Boom:
                log.append(("thrown",))
                if not catch:
                    raise
            except GeneratorExit:
                log.append(("exit",))
                raise
        if ending == "raise":
            raise BodyFailed


async def outcome_of(agen: Any, op: str, arg: Any) -> Outcome:
    try:
        if op == "anext":
            value = await agen.__anext__()
        elif op == "asend":
            value = await agen.asend(arg)
        elif op == "athrow":
            value = await agen.athrow(Boom("thrown"))
        else:
            value = await agen.aclose()
    except BaseException as exc:
        return (op, "raise", type(exc).__name__)
    return (op, "ok", value)


@dataclass(frozen=True)
class Backend:
    """Where the oracle runs its scripts.

    ``new_loop()`` makes a loop that :func:`spec.loops.run_step` runs (an
    asyncio loop or a :class:`spec.trio_harness.TrioLoop`); ``run_native``
    runs the scripts on a native async generator; ``run_channel`` on a
    channel of a module, on the loop that runs it, recording in its Run.
    """

    name: str
    new_loop: Callable[[], Any]
    run_native: Callable[[Body, list[Op]], Awaitable[Run]]
    run_channel: Callable[[Any, ModuleType, Body, list[Op], Run], Awaitable[None]]


def on_asyncio(loop_factory: Callable[[], asyncio.AbstractEventLoop] = asyncio.new_event_loop) -> Backend:
    """The oracle on the loops of ``loop_factory``."""
    names = {factory: name for name, factory in loop_factories().items()}
    return Backend(names.get(loop_factory, "asyncio"), loop_factory, run_native, run_channel)


async def drive(agen: Any, ops: list[Op], run: Run, tasks: list[asyncio.Task[Any]]) -> None:
    """Make each call of ``ops`` then a final aclose, each settled; stop at a call left pending."""
    for op, arg in [*ops, ("aclose", None)]:
        task = asyncio.get_running_loop().create_task(outcome_of(agen, op, arg))
        tasks.append(task)
        # Every task of the loop, the implementation's own helpers too: a call that waits on one is
        # not at rest until the helper is.
        await settle(*tasks, *(asyncio.all_tasks() - {asyncio.current_task()}))
        if not task.done():
            run.calls.append((op, "pending", None))
            return
        run.calls.append(task.result())


async def run_native(body: Body, ops: list[Op]) -> Run:
    run = Run()
    await drive(native_body(body, run.log), ops, run, [])
    return run


async def run_channel(
    loop: asyncio.AbstractEventLoop, module: ModuleType, body: Body, ops: list[Op], run: Run
) -> None:
    loop.set_exception_handler(
        lambda _loop, context: run.problems.append(
            ("NO-NOISE", f"the event loop logged: {context.get('message')} {context.get('exception')!r}")
        )
    )
    channel = module.Channel()
    client = channel.client()
    tasks = [loop.create_task(channel_body(channel, body, run.log))]
    await drive(client, ops, run, tasks)
    # The server's own failures are its task's business: the client saw them above.
    for task in tasks:
        task.cancel()
    with contextlib.suppress(AssertionError):  # no quiescence: the check below says which task
        await settle(*tasks)
    if not all(task.done() for task in tasks):
        run.problems.append(("CANCEL-PROMPT", "a task of the channel still runs after its cancellation"))
        keep(*tasks)  # never destroyed while pending: that would be noise of this finding
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: what mattered was recorded already


def observe(module: ModuleType, body: Body, ops: list[Op], backend: Backend) -> tuple[Run, Run]:
    """Run the scripts on a native async generator and on a channel of ``module``, each on a fresh loop."""
    loop = backend.new_loop()
    try:
        native = run_step(loop, backend.run_native(body, ops), Step(event="the native async generator"))
    finally:
        loop.close()
    channel = Run()
    loop = backend.new_loop()
    announced = Step(event=f"the client calls {ops!r} on a channel whose server block is {body!r}")
    with ignored_exceptions() as ignored:
        try:
            run_step(loop, backend.run_channel(loop, module, body, ops, channel), announced)
        except AssertionError as unsettled:  # settle found no quiescence: something spins
            channel.problems.append(("NO-HANG", str(unsettled)))
        if any(clause in ("CANCEL-PROMPT", "NO-HANG") for clause, _ in channel.problems):
            # Its tasks that would not end are never destroyed: that would be noise of this finding.
            abandon(loop, channel)
        else:
            loop.close()
        # The run's cycles are young: their finalizers run now, not in a later test.
        gc.collect(1)
    channel.problems += [("NO-NOISE", line) for line in ignored]
    return native, channel


def clause_of(ops: list[Op], native: list[Outcome], index: int) -> str:
    """The clause that decides what call ``index`` of the client script does on a native generator."""
    op, kind, value = native[index]
    earlier = native[:index]
    if any(kind == "raise" or op == "aclose" for op, kind, _ in earlier):
        return "MIRROR-CLOSED-CLIENT"
    started = any(op in ("anext", "asend") for op, _, _ in earlier)
    if kind == "raise" and value == "BodyFailed":
        return "MIRROR-SERVER-ERROR"
    if kind == "raise" and value == "StopAsyncIteration":
        return "MIRROR-SERVER-RETURN"
    if not started:
        return {
            "athrow": "MIRROR-ATHROW-UNSTARTED",
            "aclose": "MIRROR-ACLOSE-UNSTARTED",
            "asend": "MIRROR-FIRST-SEND-NONE",
        }.get(op, "SERVER-BLOCK-ENTER")
    return {"athrow": "MIRROR-ATHROW", "aclose": "MIRROR-ACLOSE"}.get(op, "MIRROR-ASEND")


_LOG_CLAUSES = {"got": "MIRROR-ASEND", "thrown": "MIRROR-ATHROW", "exit": "MIRROR-ACLOSE"}


def compare(
    impl_name: str, body: Body, ops: list[Op], native: Run, channel: Run, backend: str = "asyncio"
) -> None:
    """Raise a ConformanceError at the first difference: its clause, what each side did, a replay script."""
    problems: list[str] = []
    clause = ""
    for index, (expected, observed) in enumerate(zip(native.calls, channel.calls, strict=False)):
        if expected != observed:
            clause = clause_of(ops, native.calls, index)
            final = " (the final aclose)" if index == len(ops) else ""
            problems.append(
                f"client call {index + 1}, {expected[0]}{final}: the native generator {_describe(expected)}; "
                f"the channel {_describe(observed)}"
            )
            break
    else:
        for expected_entry, observed_entry in itertools.zip_longest(native.log, channel.log):
            if expected_entry != observed_entry:
                entry = expected_entry or observed_entry
                clause = _LOG_CLAUSES[entry[0]]
                problems.append(f"the body received {channel.log}; the native body received {native.log}")
                break
    failure = ConformanceError
    if not problems and channel.problems:
        clause = channel.problems[0][0]
        failure = NoiseFailure if clause == "NO-NOISE" else HangFailure
    problems += [problem for _, problem in channel.problems]
    if not problems:
        return
    lines = [
        f"{impl_name} violates {clause}" + ("" if backend == "asyncio" else f" (on {backend})"),
        f"  {clause}: {CLAUSES[clause].statement}",
        f"with the body {body!r} and the client calls {ops!r}:",
        *(f"  {problem}" for problem in problems),
        "Reproduce with:",
        "  from spec.oracle import replay",
        f"  replay({impl_name!r}, body={body!r}, ops={ops!r}"
        + ("" if backend == "asyncio" else f", backend={backend!r}")
        + ")",
    ]
    error = failure("\n".join(lines), [clause])
    if not (isinstance(error, NoiseFailure) and defer_noise(error)):
        raise error


def _describe(outcome: Outcome) -> str:
    _, kind, value = outcome
    if kind == "pending":
        return "is still pending"
    return f"returns {value!r}" if kind == "ok" else f"raises {value}"


def backend_named(name: str) -> Backend:
    """The backend ``name``: "asyncio", "uvloop" (where it is installed) or "trio" (where it is)."""
    if name == "trio":
        from .trio_oracle import ON_TRIO

        return ON_TRIO
    return on_asyncio(loop_factories()[name])


def replay(impl_name: str, body: Body, ops: list[Op], backend: str = "asyncio") -> None:
    """Run the scripts on both sides, print what each call did, and raise at the first difference."""
    from .impl import load

    native, channel = observe(load(impl_name), body, ops, backend_named(backend))
    for index in range(max(len(native.calls), len(channel.calls))):
        sides = [run.calls[index] if index < len(run.calls) else None for run in (native, channel)]
        print(f"{index + 1:>2}  native: {sides[0]}  channel: {sides[1]}")
    compare(impl_name, body, ops, native, channel, backend)
