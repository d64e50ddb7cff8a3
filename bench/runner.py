"""The measurements, and the rounds that interleave them."""

from __future__ import annotations

import asyncio
import gc
import importlib
import importlib.util
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from bench import contenders
from bench.contenders import Contender, Gate, Side

SIMPLEX = "simplex"
DUPLEX = "duplex"
STREAM = "stream"
PAIRS = "pairs"
DELEGATION = "delegation"
LIFECYCLE = "create-and-close"
WORKLOADS = (SIMPLEX, DUPLEX, STREAM, PAIRS, DELEGATION, LIFECYCLE)


@dataclass(frozen=True)
class Sizes:
    simplex: int  # items through one pair
    duplex: int  # round trips
    stream: int  # items
    pairs: tuple[int, ...]  # concurrent pairs
    items_per_pair: int
    pair_items: int  # at least this many items per pairs measurement, in batches
    depths: tuple[int, ...]
    delegation: int  # items
    lifecycles: int
    idle_channels: int  # for the memory measurement


FULL = Sizes(
    simplex=2000,
    duplex=2000,
    stream=40_000,
    pairs=(1, 100, 10_000),
    items_per_pair=4,
    pair_items=4000,
    depths=(1, 2, 5, 10),
    delegation=2000,
    lifecycles=400,
    idle_channels=2000,
)
SMOKE = Sizes(
    simplex=20,
    duplex=20,
    stream=50,
    pairs=(1, 10, 100),
    items_per_pair=3,
    pair_items=30,
    depths=(1, 2, 10),
    delegation=20,
    lifecycles=5,
    idle_channels=20,
)


@dataclass
class Case:
    """One contender on one workload, one parameter and one loop."""

    workload: str
    contender: str
    param: int | None
    loop: str
    items: int  # items (or round trips, or lifecycles) per measurement
    measure: Callable[[], float]  # one measurement, in seconds
    per_item: list[float] = field(default_factory=list[float])

    @property
    def label(self) -> str:
        param = "" if self.param is None else f" [{self.param}]"
        return f"{self.workload}{param} · {self.contender} · {self.loop}"

    @property
    def minimum(self) -> float:
        return min(self.per_item)

    @property
    def median(self) -> float:
        return statistics.median(self.per_item)


# -- optional packages ----------------------------------------------------------

OPTIONAL_PACKAGES = ("uvloop", "trio", "anyio", "sav.channels")


def optional_modules(notes: list[str]) -> dict[str, ModuleType | None]:
    """Each optional package, or None with a note when it is not installed."""
    modules: dict[str, ModuleType | None] = {}
    for name in OPTIONAL_PACKAGES:
        try:
            modules[name] = importlib.import_module(name)
        except ImportError:
            notes.append(f"{name} is not installed: its contenders were skipped.")
            modules[name] = None
    return modules


def load(path: str | Path, name: str) -> ModuleType:
    """The file at ``path``, imported as the module ``name``."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def second_copy(module: ModuleType) -> ModuleType:
    """Load the module's file again as a distinct module: the self-ratio control."""
    return load(module.__file__ or "", f"{module.__name__}_second_copy")


def available_contenders(modules: dict[str, ModuleType | None]) -> tuple[list[Contender], list[str]]:
    """The contenders whose packages are installed, and the loops to run them on."""
    import channels

    copy = contenders.channel(second_copy(channels), contenders.CHANNEL_COPY)
    found = [
        contenders.channel(channels, contenders.CHANNEL),
        Contender(copy.name, copy.loops, simplex=copy.simplex),
        contenders.futures(),
        contenders.guarded_futures(),
        contenders.async_generator(),
        contenders.queue(),
        contenders.stream_channel(channels),
        contenders.safe_generator(channels),
        contenders.native_under_aclosing(),
    ]
    loops = ["asyncio"]
    if modules.get("uvloop"):
        loops.append("uvloop")
    if trio := modules.get("trio"):
        found += [
            contenders.channel_on_trio(channels, contenders.CHANNEL),
            Contender(copy.name, ("trio",), simplex=copy.simplex),
            contenders.trio_floor(trio),
            contenders.trio_channel(trio),
        ]
        if hasattr(trio, "as_safe_channel"):  # trio 0.30 and later
            found.append(contenders.trio_safe_channel(trio))
        loops.append("trio")
    if anyio := modules.get("anyio"):
        found.append(contenders.anyio_stream(anyio))
    if sav := modules.get("sav.channels"):
        found += [contenders.sav_channel(sav), contenders.sav_stream(sav)]
    return found, loops


# -- running on a loop ------------------------------------------------------------


def run_on(loop: str, main: Callable[[], Coroutine[Any, Any, float]]) -> float:
    """Run ``main`` on a fresh event loop with the collector off; return its result."""
    gc.collect()
    gc.disable()
    try:
        if loop == "trio":
            import trio

            return float(trio.run(main))
        event_loop: asyncio.AbstractEventLoop
        if loop == "uvloop":
            import uvloop

            event_loop = uvloop.new_event_loop()
        else:
            event_loop = asyncio.new_event_loop()
        try:
            return event_loop.run_until_complete(main())
        finally:
            event_loop.run_until_complete(event_loop.shutdown_asyncgens())
            event_loop.close()
    finally:
        gc.enable()


def _clocked(gate: Gate, side: Side) -> Side:
    """The side, stamping the gate's clock when it ends: the last stamp ends the measurement."""

    async def run() -> None:
        await side()
        gate.ended = time.perf_counter()

    return run


async def _pairs_asyncio(build: Callable[[Gate], list[Side]], pairs: int) -> float:
    gate = Gate(pairs, asyncio.Event(), asyncio.Event())
    tasks = [asyncio.create_task(_clocked(gate, side)()) for _ in range(pairs) for side in build(gate)]
    ready = asyncio.create_task(gate.ready.wait())
    await asyncio.wait([ready, *tasks], return_when=asyncio.FIRST_COMPLETED)
    if not ready.done():
        ready.cancel()
        await asyncio.gather(*tasks)
        raise RuntimeError("a pair ended before it reached the gate")
    start = time.perf_counter()
    gate.opened.set()
    await asyncio.gather(*tasks)
    return gate.ended - start


async def _pairs_trio(build: Callable[[Gate], list[Side]], pairs: int) -> float:
    import trio

    gate = Gate(pairs, trio.Event(), trio.Event())
    async with trio.open_nursery() as nursery:
        for _ in range(pairs):
            for side in build(gate):
                nursery.start_soon(_clocked(gate, side))
        await gate.ready.wait()
        start = time.perf_counter()
        gate.opened.set()
    return gate.ended - start


def pairs_measurement(
    loop: str, build: Callable[[Gate], list[Side]], pairs: int = 1, batches: int = 1
) -> Callable[[], float]:
    """Time ``batches`` runs of ``pairs`` concurrent pairs, from the gate to the end of the last side.

    Only the pairs' own work is on the clock, not the gathering of their tasks.
    """
    run_pairs = _pairs_trio if loop == "trio" else _pairs_asyncio

    async def main() -> float:
        elapsed = 0.0
        for _ in range(batches):
            elapsed += await run_pairs(build, pairs)
        return elapsed

    return lambda: run_on(loop, main)


def lifecycle_measurement(
    loop: str, lifecycle: Callable[[], Awaitable[None]], count: int
) -> Callable[[], float]:
    async def main() -> float:
        start = time.perf_counter()
        for _ in range(count):
            await lifecycle()
        return time.perf_counter() - start

    return lambda: run_on(loop, main)


# -- the cases --------------------------------------------------------------------


MakeMeasurement = Callable[[Contender, str], Callable[[], float] | None]


def build_cases(found: list[Contender], loops: list[str], sizes: Sizes) -> list[Case]:
    """Every case, grouped by workload and parameter so that rivals run side by side."""
    cases: list[Case] = []

    def add(
        workload: str,
        param: int | None,
        items: int,
        make: Callable[[Contender, str], Callable[[], float] | None],
    ) -> None:
        for contender in found:
            for loop in loops:
                if loop in contender.loops and (measure := make(contender, loop)):
                    cases.append(Case(workload, contender.name, param, loop, items, measure))

    def simplex(contender: Contender, loop: str) -> Callable[[], float] | None:
        if (build := contender.simplex) is None:
            return None
        return pairs_measurement(loop, lambda gate: build(gate, sizes.simplex))

    def duplex(contender: Contender, loop: str) -> Callable[[], float] | None:
        if (build := contender.duplex) is None:
            return None
        return pairs_measurement(loop, lambda gate: build(gate, sizes.duplex))

    add(SIMPLEX, None, sizes.simplex, simplex)
    add(DUPLEX, None, sizes.duplex, duplex)

    for batch in (1, 10, 100, 1000):

        def stream(contender: Contender, loop: str, batch: int = batch) -> Callable[[], float] | None:
            if (build := contender.stream) is None or batch not in contender.stream_batches:
                return None
            return pairs_measurement(loop, lambda gate: build(gate, batch, sizes.stream))

        add(STREAM, batch, sizes.stream, stream)

    for pairs in sizes.pairs:
        batches = max(1, sizes.pair_items // (pairs * sizes.items_per_pair))

        def concurrent(
            contender: Contender, loop: str, pairs: int = pairs, batches: int = batches
        ) -> Callable[[], float] | None:
            if (build := contender.simplex) is None or not contender.pairs:
                return None
            return pairs_measurement(loop, lambda gate: build(gate, sizes.items_per_pair), pairs, batches)

        add(PAIRS, pairs, pairs * sizes.items_per_pair * batches, concurrent)

    for depth in sizes.depths:

        def nested(contender: Contender, loop: str, depth: int = depth) -> Callable[[], float] | None:
            if (build := contender.delegation) is None:
                return None
            return pairs_measurement(loop, lambda gate: build(gate, depth, sizes.delegation))

        add(DELEGATION, depth, sizes.delegation, nested)

    def lifecycle(contender: Contender, loop: str) -> Callable[[], float] | None:
        if contender.lifecycle is None:
            return None
        return lifecycle_measurement(loop, contender.lifecycle, sizes.lifecycles)

    add(LIFECYCLE, None, sizes.lifecycles, lifecycle)
    return cases


def pyperf_suite(cases: list[Case]) -> Any:
    """The rounds of every case as a pyperf BenchmarkSuite (one run per round, in seconds per item).

    Written next to the results, so that pyperf's own statistics read our
    interleaved rounds: ``python -m pyperf stats``, ``hist``, and
    ``compare_to`` (with its significance test) between two result files.
    """
    import pyperf  # type: ignore[import-untyped]

    return pyperf.BenchmarkSuite(
        [
            pyperf.Benchmark(
                [
                    pyperf.Run(
                        [value], metadata={"name": case.label, "unit": "second"}, collect_metadata=False
                    )
                    for value in case.per_item
                ]
            )
            for case in cases
            if case.per_item
        ]
    )


def run_rounds(cases: list[Case], rounds: int, progress: Callable[[int, int, Case], None]) -> None:
    """Run every case once per round, rivals side by side, in an order that changes every round.

    The groups of rivals (one workload and parameter) rotate, so that each
    round starts at another group, and a seeded shuffle orders the cases
    within each group: no case always runs after the same one, whose
    leftovers (a fragmented heap, a cold cache) would bias it.
    """
    groups: dict[tuple[str, int | None], list[Case]] = {}
    for case in cases:
        groups.setdefault((case.workload, case.param), []).append(case)
    rivals = list(groups.values())
    shuffler = random.Random(5)
    for round_index in range(rounds):
        shift = round_index * len(rivals) // rounds
        order: list[Case] = []
        for group in rivals[shift:] + rivals[:shift]:
            order += shuffler.sample(group, len(group))
        for position, case in enumerate(order):
            progress(round_index, position, case)
            case.per_item.append(case.measure() / case.items)
