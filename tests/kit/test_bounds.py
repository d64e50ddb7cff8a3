"""spec.loops.run_bounded ends a step whatever the code under test does, and leaves later loops unharmed."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from spec import loops
from spec.loops import StepTimeout, run_bounded


async def _spins() -> None:
    while True:
        pass


async def _spins_catching_everything() -> None:
    while True:
        try:
            while True:
                pass
        except BaseException:
            pass


async def _blocks() -> None:
    time.sleep(5)  # noqa: ASYNC251 - the defect under test


async def _swallows_cancellation() -> None:
    while True:
        try:
            await asyncio.get_running_loop().create_future()
        except asyncio.CancelledError:
            continue


DEFECTS: dict[str, Callable[[], Coroutine[Any, Any, None]]] = {
    "spins": _spins,
    "spins and catches everything": _spins_catching_everything,
    "blocks its thread": _blocks,
    "swallows its cancellation": _swallows_cancellation,
}


@pytest.fixture
def short_step(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loops.BOUNDS, "step", 0.2)


async def _step(defect: Callable[[], Coroutine[Any, Any, None]]) -> None:
    task = asyncio.get_running_loop().create_task(defect())
    await asyncio.sleep(0)
    task.cancel()  # honoured or not: the bound does not rely on it
    await task


@pytest.mark.clause("NO-HANG")
@pytest.mark.parametrize("defect", sorted(DEFECTS))
@pytest.mark.usefixtures("short_step")
def test_a_step_ends_at_its_bound(loop_factory: Callable[[], asyncio.AbstractEventLoop], defect: str) -> None:
    loop = loop_factory()
    with pytest.raises(StepTimeout):
        run_bounded(loop, _step(DEFECTS[defect]))
    assert asyncio.events._get_running_loop() is None
    assert signal.getsignal(signal.SIGALRM) == signal.SIG_DFL  # the alarm's handler is gone
    fresh = loop_factory()
    try:
        assert fresh.run_until_complete(asyncio.sleep(0, "fine")) == "fine"
    finally:
        fresh.close()


@pytest.mark.clause("NO-HANG")
@pytest.mark.usefixtures("short_step")
def test_without_sigalrm_a_watchdog_thread_interrupts_the_step(monkeypatch: pytest.MonkeyPatch) -> None:
    # Windows has neither SIGALRM nor setitimer: a thread simulates the signal.
    monkeypatch.delattr(signal, "setitimer")
    loop = asyncio.new_event_loop()
    with pytest.raises(StepTimeout):
        run_bounded(loop, _step(_spins_catching_everything))
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.clause("NO-HANG")
def test_a_step_within_its_bound_returns_its_result() -> None:
    loop = asyncio.new_event_loop()
    try:
        assert run_bounded(loop, asyncio.sleep(0, 42)) == 42
    finally:
        loop.close()
