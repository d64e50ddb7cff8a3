"""On trio, the suite's bounds end every step and every run whatever the code under test does.

The step bound (:func:`spec.loops.run_bounded`) interrupts the main
thread's wait for the trio thread: it does not rely on the code under test
honouring trio's cancellation, nor on the trio scheduler getting control back.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from spec import loops
from spec.conformance import ConformanceError
from spec.impl import load
from spec.loops import StepTimeout, run_bounded
from spec.oracle import compare, observe

trio = pytest.importorskip("trio")

from spec import trio_harness  # noqa: E402 - after the skip: it imports trio
from spec.trio_oracle import ON_TRIO  # noqa: E402


async def _spins() -> None:
    while True:
        pass


async def _blocks() -> None:
    time.sleep(5)  # noqa: ASYNC251 - the defect under test


async def _swallows_cancellation() -> None:
    while True:
        try:
            await trio.sleep_forever()
        except trio.Cancelled:
            continue


async def _waits_without_abort() -> None:
    # A wait that refuses to be aborted: trio's cancellation cannot end it.
    await trio.lowlevel.wait_task_rescheduled(lambda _raise_cancel: trio.lowlevel.Abort.FAILED)


DEFECTS: dict[str, Callable[[], Awaitable[None]]] = {
    "spins": _spins,
    "blocks its thread": _blocks,
    "swallows its cancellation": _swallows_cancellation,
    "waits without abort": _waits_without_abort,
}


@pytest.fixture
def short_step(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loops.BOUNDS, "step", 0.3)


def _step(defect: Callable[[], Awaitable[None]]) -> Awaitable[None]:
    async def step() -> None:
        with trio.move_on_after(0.01):  # honoured or not: the bound does not rely on it
            await defect()
        await trio.sleep_forever()

    return step()


@pytest.mark.clause("NO-HANG")
@pytest.mark.parametrize("defect", sorted(DEFECTS))
@pytest.mark.usefixtures("short_step")
def test_a_trio_step_ends_at_its_bound(defect: str) -> None:
    loop = trio_harness.TrioLoop()
    with pytest.raises(StepTimeout):
        run_bounded(loop, _step(DEFECTS[defect]))
    assert loop.abandoned
    loop.close()  # an abandoned run is left to itself: closing it does not wait
    fresh = trio_harness.TrioLoop()
    try:
        assert fresh.run_until_complete(trio.sleep(0)) is None
    finally:
        fresh.close()


@pytest.mark.clause("CANCEL-PROMPT")
@pytest.mark.usefixtures("short_step")
def test_a_trio_run_whose_task_ignores_its_cancellation_ends_with_cancel_prompt() -> None:
    loop = trio_harness.TrioLoop()

    async def start() -> None:
        assert loop.nursery is not None
        loop.nursery.start_soon(_waits_without_abort)

    run_bounded(loop, start())
    with pytest.raises(ConformanceError) as failure:
        loop.close()
    assert failure.value.clauses == ["CANCEL-PROMPT"]


def _verdict(run: Callable[[], Any]) -> tuple[list[str], str]:
    with pytest.raises(ConformanceError) as failure:
        run()
    return list(failure.value.clauses), failure.value.args[0]


@pytest.mark.clause("NO-HANG")
@pytest.mark.parametrize("fixture", ["spins", "blocks"])
@pytest.mark.usefixtures("short_step")
def test_the_trio_enumeration_of_a_fixture_that_never_resolves_names_no_hang(fixture: str) -> None:
    module = load(f"spec/broken/{fixture}.py")
    # Without require_trio, whose handoff would find the defect first.
    clauses, _ = _verdict(lambda: trio_harness.explore(module, fixture, 3, stream=False))
    assert "NO-HANG" in clauses


@pytest.mark.clause("NO-HANG")
@pytest.mark.parametrize("fixture", ["spins", "blocks"])
@pytest.mark.usefixtures("short_step")
def test_the_trio_oracle_on_a_fixture_that_never_resolves_names_its_clause(fixture: str) -> None:
    module = load(f"spec/broken/{fixture}.py")
    body, ops = ((1,), False, "return"), [("anext", None), ("aclose", None)]

    def run() -> None:
        native, channel = observe(module, body, ops, ON_TRIO)
        compare(fixture, body, ops, native, channel, "trio")

    # As on asyncio: the body saw its GeneratorExit, the client's aclose never returned.
    clauses, message = _verdict(run)
    assert clauses == ["MIRROR-ACLOSE"]
    assert "ran longer than its bound" in message
