"""Checks that misbehave in every way the code under test can: run by tests/kit/test_bounds.py, never alone.

Each runs one step (:func:`spec.loops.run_step`) of a defect on asyncio's
loop and on a trio run, in the worker of ``pytest -p spec.conftest``; the
supervising parent must end each at its step bound, and run the next check
in a fresh worker. The defects are written once, over a small interface to
each backend (how to wait forever, and what its cancellation raises); the
spin and the exit are those of spec/broken's fixtures.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from spec.broken.exits import end_the_interpreter
from spec.broken.spins_swallowing import spin_swallowing_everything
from spec.loops import Step, run_step

trio = pytest.importorskip("trio")

from spec.trio_harness import TrioLoop  # noqa: E402 - after the skip: it imports trio


class OnAsyncio:
    cancelled: type[BaseException] = asyncio.CancelledError

    @staticmethod
    def loop() -> Any:
        return asyncio.new_event_loop()

    @staticmethod
    async def wait_forever() -> None:
        await asyncio.get_running_loop().create_future()

    @staticmethod
    async def step(defect: Callable[[], Awaitable[None]]) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(defect())  # type: ignore[arg-type]
        await asyncio.sleep(0)
        task.cancel()  # honoured or not: the bound does not rely on it
        await task


class OnTrio:
    cancelled: type[BaseException] = trio.Cancelled

    @staticmethod
    def loop() -> Any:
        return TrioLoop()

    @staticmethod
    async def wait_forever() -> None:
        await trio.sleep_forever()

    @staticmethod
    async def step(defect: Callable[[], Awaitable[None]]) -> None:
        with trio.move_on_after(0.01):  # honoured or not: the bound does not rely on it
            await defect()
        await trio.sleep_forever()


BACKENDS: dict[str, Any] = {"asyncio": OnAsyncio, "trio": OnTrio}


async def _blocks_its_thread(backend: Any) -> None:
    time.sleep(3600)  # noqa: ASYNC251 - the defect under test


async def _swallows_its_cancellation(backend: Any) -> None:
    while True:
        try:
            await backend.wait_forever()
        except backend.cancelled:
            continue


DEFECTS: dict[str, Callable[[Any], Awaitable[None]]] = {
    # The defects of spec/broken's fixtures, the same code on every backend.
    "spins swallowing everything": lambda _backend: spin_swallowing_everything(),
    "blocks its thread": _blocks_its_thread,
    "swallows its cancellation": _swallows_its_cancellation,
    "ends the interpreter": lambda _backend: end_the_interpreter(),
}


@pytest.mark.clause("GROUP-EXIT")  # any clause: what a hung step reports besides NO-HANG
@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_defect(defect: str, backend: str) -> None:
    on = BACKENDS[backend]
    run_step(
        on.loop(),
        on.step(lambda: DEFECTS[defect](on)),
        Step(f"a step that {defect}", ("CANCEL-PROMPT",), 1, replay=f"the replay of {defect} on {backend}"),
    )


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_a_later_check_runs_in_a_fresh_worker(backend: str) -> None:
    loop = BACKENDS[backend].loop()
    try:
        assert run_step(loop, _returns(42), Step("a step that returns")) == 42
    finally:
        loop.close()


async def _returns(value: int) -> int:
    return value


def test_out_of_budget() -> None:
    # Short steps, each within its bound, until the test's budget (--test-bound) is spent: then
    # run_step raises OutOfTestBound, which the suite reports as its own budget, not a clause.
    loop = asyncio.new_event_loop()
    try:
        while True:
            run_step(loop, asyncio.sleep(0.01), Step("a short step"))
    finally:
        loop.close()


def test_not_checked() -> None:
    pytest.skip("BACKENDS: a check that cannot run here (install what it needs to run it)")
