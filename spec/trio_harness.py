"""A prototype: the conformance suite's harness on trio (issue 11, item 3).

:class:`TrioHarness` drives a channel through the model's events as
:class:`~spec.harness.Harness` does on asyncio, with trio's means: every
client call runs in a task of its own under its own cancel scope, the server
block runs in one task that takes its calls from a memory channel, each of
its calls under a cancel scope of its own, and quiescence is
``trio.testing.wait_all_tasks_blocked``. One ``trio.run`` lives in a thread
of its own for a whole run (:class:`TrioLoop`), so that the synchronous
:class:`~spec.conformance.Conformance` (and Hypothesis, which drives it) can
apply one event at a time: ``run_until_complete`` hands each step to it with
``trio.from_thread``. That is the thread's only purpose: no step is
interrupted in this process.

Every step is announced to the supervising parent as on asyncio
(:func:`spec.loops.run_step`), whose clock bounds it whatever the code under
test does in the trio thread (ignore its cancellation, spin, block the
thread): the parent then ends this process. Within a step, quiescence waits
at most :func:`quiescence_bound`, so that a task that spins through its
checkpoints is reported as the step's Hang, on trio's own clock.

What differs from asyncio, by design of the clauses:

* a cancelled call raises ``trio.Cancelled``; the harness reports it as the
  model's CancelledError;
* the ``race`` events are not run: on trio a call that was handed a message
  returns it (CANCEL-RECEIVE-RACE cannot happen), which the model, written
  for asyncio, does not predict (:data:`TRIO_EVENTS` leaves them out).

"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator
from types import ModuleType
from typing import Any, TypeVar

import pytest
import trio
import trio.testing

from . import coverage, supervisor
from .conformance import Conformance, ConformanceError
from .harness import Hang, Observed, Observer
from .loops import BOUNDS, OutOfTestBound, Step, run_step, stepping
from .model import Event, sequences

T = TypeVar("T")


def quiescence_bound() -> float:
    """How long a step may wait for quiescence before it counts as a Hang (wait_all_tasks_blocked never
    returns while a task runs checkpoints in a loop): within the step's bound, so that a task that spins
    through its cancellation is reported as such, before the parent ends the step with NO-HANG."""
    return BOUNDS.step / 2


class TrioLoop:
    """One trio.run in a thread of its own, taking awaitables one at a time.

    It stands in for the asyncio event loop that Conformance drives:
    ``run_until_complete(awaitable)`` runs it in the trio thread and returns
    its result; ``close()`` ends the run.
    """

    def __init__(self) -> None:
        self.started = threading.Event()
        self.token: trio.lowlevel.TrioToken | None = None
        self.nursery: trio.Nursery | None = None
        self.stop: trio.Event | None = None
        self.failure: BaseException | None = None
        self.closed = False
        self.thread = threading.Thread(target=self._run, name="trio-harness", daemon=True)
        self.thread.start()
        self.started.wait()

    def _run(self) -> None:
        async def main() -> None:
            self.token = trio.lowlevel.current_trio_token()
            self.stop = trio.Event()
            async with trio.open_nursery() as nursery:
                self.nursery = nursery
                self.started.set()
                await self.stop.wait()
                nursery.cancel_scope.cancel()

        try:
            trio.run(main)
        except BaseException as exc:  # reported by close()
            self.failure = exc
            self.started.set()

    def run_until_complete(self, awaitable: Awaitable[Any]) -> Any:
        async def step() -> Any:
            return await awaitable

        return trio.from_thread.run(step, trio_token=self.token)

    def abandon(self) -> None:
        """Give the run up, with tasks that would not end (:func:`spec.loops.abandon`): its thread is
        left running (nothing is raised into it), and the worker process asks to be replaced once the
        test is reported (:func:`spec.supervisor.retire`), so that a thread that spins never slows a
        later check."""
        self.closed = True
        supervisor.retire("a trio run outlived the cancellation of its tasks")

    def close(self) -> None:
        """Cancel the run's tasks and end it, within the quiescence bound.

        A run whose tasks do not end by then fails CANCEL-PROMPT, and is
        abandoned (:meth:`abandon`). Closing again does nothing.
        """
        if self.closed:
            return
        self.closed = True
        with stepping(Step(event="the end of the trio run", clauses=("CANCEL-PROMPT",))):
            if self.stop is not None and self.failure is None:
                assert self.token is not None
                self.token.run_sync_soon(self.stop.set)  # no wait: the run may be stuck
            self.thread.join(quiescence_bound())
        if self.thread.is_alive():
            self.abandon()
            raise ConformanceError(
                f"CANCEL-PROMPT: the trio run did not end within {quiescence_bound():g} s of the "
                "cancellation of its tasks (a task ignores its cancellation, or blocks its thread)",
                ["CANCEL-PROMPT"],
            )
        if self.failure is not None:
            raise self.failure


def run_trio(function: Callable[[], Awaitable[T]], announced: Step) -> T:
    """``trio.run(function)``, as one step that the supervising parent bounds
    (:func:`spec.loops.run_step`)."""
    loop = TrioLoop()
    try:
        return run_step(loop, function(), announced)
    finally:
        loop.close()


class TrioHarness(Observer):
    """The harness's interface (apply, delivered, pending, errors, close) on trio."""

    def __init__(self, module: ModuleType, stream: bool, loop: TrioLoop) -> None:
        super().__init__(module, stream)
        self.loop = loop
        self.scopes: dict[int, trio.CancelScope] = {}  # each pending call's own scope
        self.server_scope = trio.CancelScope()  # the server task's, for kill
        self.server_started = False
        self.server_commands_in, self.server_commands = trio.open_memory_channel[tuple[int, Event]](math.inf)
        self.server_call: int | None = None
        self.enter_call: int | None = None
        self.errors: list[dict[str, Any]] = []

    @property
    def nursery(self) -> trio.Nursery:
        assert self.loop.nursery is not None
        return self.loop.nursery

    async def apply(self, event: Event) -> dict[int, Observed]:
        before = set(self.results)
        getattr(self, f"_on_{event.kind}")(event)
        await self.settle()
        return {call: result for call, result in self.results.items() if call not in before}

    def pending(self) -> set[int]:
        return {call for call in range(1, self.calls + 1) if call not in self.results}

    # -- events ---------------------------------------------------------------

    def _on_client(self, event: Event) -> None:
        call = self.new_call()
        scope = self.scopes[call] = trio.CancelScope()
        self.nursery.start_soon(self._client_call, call, event, scope)

    async def _client_call(self, call: int, event: Event, scope: trio.CancelScope) -> None:
        with scope:
            self.results[call] = await _outcome(self._method(call, self.client, event))
        self.scopes.pop(call, None)

    def _on_delegate(self, event: Event) -> None:
        call = self.new_call()
        self.nursery.start_soon(self._delegate_call, call, event)

    async def _delegate_call(self, call: int, event: Event) -> None:
        self.results[call] = await _outcome(self._method(call, self.server, event))

    def _on_server(self, event: Event) -> None:
        call = self.new_call()
        if event.op == "enter":
            self.enter_call = call
            self.nursery.start_soon(self._server_main, call)
            return
        self.server_commands_in.send_nowait((call, event))

    async def _server_main(self, enter: int) -> None:
        # The task's own outcome is what the ``async with`` statement raised.
        self.server_call = enter
        with self.server_scope:
            try:
                await self._server_block(enter)
            except trio.Cancelled:
                self.server_ended(enter, ("raise", asyncio.CancelledError))
                raise  # to the server's scope, which catches it
            except BaseException as exc:
                self.server_ended(enter, ("raise", type(exc)))
            else:
                self.server_ended(enter, ("ok", None))

    async def _server_block(self, enter: int) -> None:
        async with self.channel.server() as server:
            self.server = server
            self.results[enter] = ("ok", None)
            self.server_call = None
            while True:
                # A command already queued is taken without a checkpoint, so
                # that a burst's calls run back to back, as on asyncio.
                try:
                    call, event = self.server_commands.receive_nowait()
                except trio.WouldBlock:
                    call, event = await self.server_commands.receive()
                if event.kind == "exit":
                    self.leave_block(event)
                    return
                self.server_call = call
                scope = self.scopes[call] = trio.CancelScope()
                with scope:
                    try:
                        self.results[call] = ("ok", await self._method(call, server, event))
                    except trio.Cancelled:
                        self.results[call] = ("raise", asyncio.CancelledError)
                        raise  # to the call's scope, or on to the server's when the task is cancelled
                    except BaseException as exc:
                        self.raised_in_server(call, exc)
                self.scopes.pop(call, None)
                self.server_call = None

    def _on_cancel(self, event: Event) -> None:
        if event.end == "client":
            self.scopes[self._running_client_call()].cancel()
        elif self.server_call is not None and self.server_call != self.enter_call:
            self.scopes[self.server_call].cancel()
        else:
            self.server_scope.cancel()

    def _on_kill(self, event: Event) -> None:
        self.server_scope.cancel()

    def _on_exit(self, event: Event) -> None:
        self.server_commands_in.send_nowait((0, event))

    def _running_client_call(self) -> int:
        for call in self.scopes:
            if call not in self.results and call != self.server_call:
                return call
        raise AssertionError("no client call is pending")

    # -- quiescence -------------------------------------------------------------

    async def settle(self) -> None:
        bound = quiescence_bound()
        with trio.move_on_after(bound) as timeout:
            await trio.testing.wait_all_tasks_blocked()
        if timeout.cancelled_caught:
            raise Hang(f"no quiescence within {bound:g} s (trio)")

    async def close(self) -> None:
        for scope in [*self.scopes.values(), self.server_scope]:
            scope.cancel()
        await self.settle()


async def _outcome(operation: Any) -> Observed:
    try:
        value = await operation
    except trio.Cancelled:
        # The model names the cancellation of every backend CancelledError; the
        # scope that cancelled the call catches it when the call's task leaves it.
        return ("raise", asyncio.CancelledError)
    except BaseException as exc:
        return ("raise", type(exc))
    return ("ok", value)


def trio_sequences(depth: int, stream: bool) -> Iterator[tuple[Event, ...]]:
    """The model's sequences up to ``depth``, each cut before its first race event, once each."""
    seen: set[tuple[Event, ...]] = set()
    for sequence in sequences(depth, stream=stream):
        kinds = [event.kind for event in sequence]
        cut = sequence[: kinds.index("race")] if "race" in kinds else sequence
        if cut and cut not in seen:
            seen.add(cut)
            yield cut


class TrioConformance(Conformance):
    """Conformance with the trio harness, on one TrioLoop shared by the runs."""

    def __init__(self, module: ModuleType, stream: bool, impl_name: str, loop: TrioLoop) -> None:
        def no_loop() -> Any:
            raise AssertionError("the trio loop is passed in")

        super().__init__(module, no_loop, stream, impl_name, loop=loop)  # type: ignore[arg-type]
        # A report's search for the step broken first replays on asyncio loops.
        self.replays = False
        self.harness = TrioHarness(module, stream, loop)  # type: ignore[assignment]


def require_trio(module: ModuleType) -> None:
    """Return if one item passes through a channel of ``module`` inside trio.run.

    trio is optional (BACKENDS): if the first call inside trio.run raises
    RuntimeError, ``module`` does not run on trio, and the calling check is
    skipped with a reason that names the clause. A channel that takes the
    call but fails the handoff violates BACKENDS.
    """
    from .test_outside_the_model import violation

    refused: list[RuntimeError] = []  # what the first call raised before a server existed
    received: list[Any] = []

    async def handoff() -> None:
        channel = module.Channel()
        client = channel.client()

        async def request() -> None:
            try:
                received.append(await client.__anext__())
            except RuntimeError as error:
                if channel_has_server:
                    raise
                refused.append(error)
                return
            await client.aclose()

        async def produce() -> None:
            async with channel.server() as server:
                await server.asend(1)

        channel_has_server = False
        async with trio.open_nursery() as nursery:
            nursery.start_soon(request)
            await trio.testing.wait_all_tasks_blocked()
            if refused:
                return
            channel_has_server = True
            nursery.start_soon(produce)

    try:
        run_trio(handoff, Step(event="one item through a channel inside trio.run", clauses=("BACKENDS",)))
    except OutOfTestBound:
        raise
    except BaseException as error:
        raise violation(
            module, "BACKENDS", f"one item through a channel inside trio.run: {error!r}"
        ) from error
    if refused:
        pytest.skip(
            f"BACKENDS: {module.__name__} does not run on trio (its first call inside trio.run raised "
            f"{refused[0]!r}); trio is optional, and its checks are skipped"
        )
    if received != [1]:
        raise violation(
            module, "BACKENDS", f"one item through a channel inside trio.run: the client got {received}"
        )


# The events that a run on trio leaves out: on trio that race cannot happen (CANCEL-RECEIVE-RACE).
WITHOUT = ("race",)


def explore(module: ModuleType, impl_name: str, depth: int, stream: bool) -> tuple[int, int]:
    """Run every race-free sequence up to ``depth`` on trio; return how many sequences and steps ran."""
    return _run_all(module, impl_name, trio_sequences(depth, stream), stream)


def cover(module: ModuleType, impl_name: str, kind: str, stream: bool) -> tuple[int, int]:
    """Run the transition cover ``kind`` of the race-free model on trio; return how many walks and steps."""
    built = coverage.graph(stream, WITHOUT)
    return _run_all(module, impl_name, coverage.walks(built, built.pairs(kind)), stream)


def _run_all(
    module: ModuleType, impl_name: str, sequences: Iterable[tuple[Event, ...]], stream: bool
) -> tuple[int, int]:
    loop = TrioLoop()
    try:
        return coverage.run_all(
            sequences, lambda: TrioConformance(module, stream, impl_name, loop), stream, WITHOUT
        )
    finally:
        loop.close()
