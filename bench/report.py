"""The targets, the markdown table and the plot."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import contenders as c
from bench import memory
from bench.runner import DELEGATION, DUPLEX, LIFECYCLE, PAIRS, SIMPLEX, STREAM, WORKLOADS, Case

HANDOFF_LOOPS = ("asyncio", "uvloop")
# The loops where Channel runs beside its rivals and its own control: trio's
# rows have their own floor and control.
CHANNEL_LOOPS = (*HANDOFF_LOOPS, "trio")
CONTROL_TOLERANCE = 0.02

WORKLOAD_TITLES = {
    SIMPLEX: "Simplex: one pair, items one way (µs per item)",
    DUPLEX: "Duplex ping-pong: a value each way per round trip (µs per round trip)",
    STREAM: "Stream bulk: `write_items` into `read_items(k)`, the reader summing each batch "
    "(µs per item; k in brackets)",
    PAIRS: "Concurrent pairs, 4 items each, start and close included (µs per item; pairs in brackets)",
    DELEGATION: "Delegation: the server end passed down nested coroutines (µs per item; depth in brackets)",
    LIFECYCLE: "Create, connect, pass one item, close: one producer task each (µs per channel)",
}

WORKLOAD_NOTES = {
    SIMPLEX: "The two futures are the handoff floor: one future per direction per item and one coroutine "
    "call per item on each side, which is the least a channel's API needs. The async generator runs in "
    "one task: no handoff at all, the lower bound. The two futures behind ends add what every channel "
    "call must do to them: the consumer iterates an end with `async for`, the producer calls an end's "
    "`asend`, and each call checks the running loop, a call already running on its end, a closed end "
    "and a cancelled peer; they count nothing and keep nothing for later, so they are not a channel. "
    "trio's channel runs on trio's own loop. On trio, the floor is two reschedules per item "
    "(`wait_task_rescheduled` and `reschedule`, uncancellable and unchecked), as the two futures "
    "are on asyncio.",
    PAIRS: "With one pair, every handoff pays a whole event-loop iteration (its `select()` call "
    "included); concurrent pairs share the iterations, so every contender, the floor included, is "
    "cheaper per item at 100 pairs than at 1. The diagnostic target divides this out.",
    DELEGATION: "Each level of delegation is a coroutine frame that every suspension and resumption "
    "passes through, for every contender, the floor included: the diagnostic target divides this out. "
    "An async generator cannot hand its body down to a coroutine: its rows stack relay "
    "generators that re-yield every item, which is what delegation costs it.",
}


class Results:
    """The cases, looked up by what they measured."""

    def __init__(self, cases: list[Case]) -> None:
        self.cases = [case for case in cases if case.per_item]
        self.by_key = {(case.workload, case.contender, case.param, case.loop): case for case in self.cases}

    def get(self, workload: str, contender: str, loop: str, param: int | None = None) -> Case | None:
        return self.by_key.get((workload, contender, param, loop))

    def ratio(self, numerator: Case | None, denominator: Case | None) -> tuple[float, float] | None:
        """Numerator over denominator: of the minimums, and the median of the per-round ratios.

        Both cases ran once in every round, close together: a round's ratio
        shares that round's disturbances, which its median then sheds.
        """
        if numerator is None or denominator is None:
            return None
        paired = [top / bottom for top, bottom in zip(numerator.per_item, denominator.per_item, strict=True)]
        return numerator.minimum / denominator.minimum, statistics.median(paired)


@dataclass
class Target:
    statement: str
    loop: str
    figure: str
    holds: bool | None  # None: a contender it needs was not measured


def _ratio_figure(ratio: tuple[float, float] | None, suffix: str = "") -> str:
    if ratio is None:
        return "not measured"
    return f"{ratio[0]:.2f}{suffix} (per round: {ratio[1]:.2f}{suffix})"


def _spread(cases: Iterable[Case | None]) -> tuple[float, float] | None:
    """Largest over smallest: of the minimums, and the median of each round's."""
    measured = [case for case in cases if case is not None]
    if len(measured) < 2:
        return None
    minimums = [case.minimum for case in measured]
    rounds = zip(*(case.per_item for case in measured), strict=True)
    return max(minimums) / min(minimums), statistics.median(max(one) / min(one) for one in rounds)


def _spread_over_floor(
    results: Results, workload: str, loop: str, params: list[int]
) -> tuple[float, float] | None:
    """The spread of Channel ÷ floor over the parameters: the share that every contender pays divided out."""
    ratios = [
        results.ratio(
            results.get(workload, c.CHANNEL, loop, param), results.get(workload, c.FUTURES, loop, param)
        )
        for param in params
    ]
    if len(ratios) < 2 or None in ratios:
        return None
    minimums = [ratio[0] for ratio in ratios if ratio]
    per_round = [ratio[1] for ratio in ratios if ratio]
    return max(minimums) / min(minimums), max(per_round) / min(per_round)


def _listing(numbers: list[int]) -> str:
    return ", ".join(f"{number:,}" for number in numbers)


def control(results: Results, loop: str) -> tuple[float, float] | None:
    """Channel's second copy over Channel, simplex: must read 1.00 within the tolerance."""
    return results.ratio(results.get(SIMPLEX, c.CHANNEL_COPY, loop), results.get(SIMPLEX, c.CHANNEL, loop))


def targets(results: Results, idle: dict[str, float], loops: list[str]) -> list[Target]:
    found: list[Target] = []
    for loop in (loop for loop in HANDOFF_LOOPS if loop in loops):
        channel = results.get(SIMPLEX, c.CHANNEL, loop)

        def at_most(
            statement: str, ratio: tuple[float, float] | None, limit: float, loop: str = loop
        ) -> None:
            holds = None if ratio is None else ratio[0] <= limit
            found.append(Target(statement, loop, _ratio_figure(ratio, "x"), holds))

        def at_least(
            statement: str, ratio: tuple[float, float] | None, limit: float, loop: str = loop
        ) -> None:
            holds = None if ratio is None else ratio[0] >= limit
            found.append(Target(statement, loop, _ratio_figure(ratio, "x"), holds))

        at_most(
            "simplex: Channel at most 1.05 times the two-futures floor",
            results.ratio(channel, results.get(SIMPLEX, c.FUTURES, loop)),
            1.05,
        )
        at_most(
            "simplex (diagnostic): the floor behind ends, with the checks every call makes, "
            "at most 1.05 times the floor",
            results.ratio(results.get(SIMPLEX, c.GUARDED, loop), results.get(SIMPLEX, c.FUTURES, loop)),
            1.05,
        )
        at_least(
            "simplex: Channel at least 1.3 times faster than asyncio.Queue(1)",
            results.ratio(results.get(SIMPLEX, c.QUEUE, loop), channel),
            1.3,
        )
        at_least(
            "simplex: Channel at least 2 times faster than trio's memory channel (on trio)",
            results.ratio(results.get(SIMPLEX, c.TRIO, "trio"), channel),
            2.0,
        )
        at_least(
            "simplex: Channel at least 2 times faster than anyio's memory stream",
            results.ratio(results.get(SIMPLEX, c.ANYIO, loop), channel),
            2.0,
        )
        at_least(
            "stream: read_items(1000) at least 4 times a native async generator's per-item rate",
            results.ratio(
                results.get(STREAM, c.ASYNC_GENERATOR, loop, 1), results.get(STREAM, c.STREAM, loop, 1000)
            ),
            4.0,
        )
        pair_counts = sorted({case.param for case in results.cases if case.workload == PAIRS and case.param})
        at_most(
            f"pairs: Channel's per-item cost flat within 10 % over {_listing(pair_counts)} pairs (max ÷ min)",
            _spread(results.get(PAIRS, c.CHANNEL, loop, count) for count in pair_counts),
            1.10,
        )
        at_most(
            "pairs (diagnostic): the same, of Channel's cost over the two-futures floor's at each count",
            _spread_over_floor(results, PAIRS, loop, pair_counts),
            1.10,
        )
        depths = sorted({case.param for case in results.cases if case.workload == DELEGATION and case.param})
        at_most(
            f"delegation: Channel's per-item cost flat within 10 % at depths {_listing(depths)} (max ÷ min)",
            _spread(results.get(DELEGATION, c.CHANNEL, loop, depth) for depth in depths),
            1.10,
        )
        at_most(
            "delegation (diagnostic): the same, of Channel's cost over the two-futures floor's at each depth",
            _spread_over_floor(results, DELEGATION, loop, depths),
            1.10,
        )
    if "trio" in loops:
        channel = results.get(SIMPLEX, c.CHANNEL, "trio")
        floor_ratio = results.ratio(channel, results.get(SIMPLEX, c.TRIO_FLOOR, "trio"))
        found.append(
            Target(
                "simplex: Channel at most 1.15 times trio's floor (two reschedules per item)",
                "trio",
                _ratio_figure(floor_ratio, "x"),
                None if floor_ratio is None else floor_ratio[0] <= 1.15,
            )
        )
        rival_ratio = results.ratio(results.get(SIMPLEX, c.TRIO, "trio"), channel)
        found.append(
            Target(
                "simplex: Channel faster than trio's memory channel(0)",
                "trio",
                _ratio_figure(rival_ratio, "x"),
                None if rival_ratio is None else rival_ratio[0] > 1.0,
            )
        )
    channel_bytes, queue_bytes = idle.get(memory.CHANNEL_WITH_ENDS), idle.get(memory.QUEUE)
    if channel_bytes is not None and queue_bytes is not None:
        found.append(
            Target(
                "memory: an idle Channel (with both ends taken) no more than an asyncio.Queue(1)",
                "any",
                f"{channel_bytes:.0f} B vs {queue_bytes:.0f} B",
                channel_bytes <= queue_bytes,
            )
        )
    return found


# -- markdown ---------------------------------------------------------------------


def _microseconds(case: Case | None) -> str:
    if case is None:
        return ""
    return f"{case.minimum * 1e6:.2f} / {case.median * 1e6:.2f}"


def _verdict(holds: bool | None) -> str:
    return {True: "holds", False: "**missed**", None: "not measured"}[holds]


def _table(header: list[str], rows: Iterable[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _reference(workload: str, param: int | None) -> tuple[str, int | None]:
    if workload == STREAM:
        return c.ASYNC_GENERATOR, 1
    return c.CHANNEL, param


def workload_table(results: Results, workload: str, loops: list[str]) -> list[str]:
    reference_name, reference_param = _reference(workload, None)
    header = ["contender", *(f"{loop} µs (min / median)" for loop in loops)]
    header += [f"÷ {reference_name} on {loop}" for loop in CHANNEL_LOOPS if loop in loops]
    rows: list[list[str]] = []
    seen: list[tuple[str, int | None]] = []
    for case in results.cases:
        if case.workload == workload and (case.contender, case.param) not in seen:
            seen.append((case.contender, case.param))
    for contender, param in seen:
        label = contender if param is None else f"{contender} [{param}]"
        row = [label, *(_microseconds(results.get(workload, contender, loop, param)) for loop in loops)]
        _, reference_param = _reference(workload, param)
        for reference_loop in (loop for loop in CHANNEL_LOOPS if loop in loops):
            reference = results.get(workload, reference_name, reference_loop, reference_param)
            own = results.get(workload, contender, reference_loop, param) or results.get(
                workload, contender, "trio", param
            )
            if reference_loop == "trio" and own is not None and own.loop != "trio":
                own = None  # the trio column compares trio's rows only
            ratio = results.ratio(own, reference)
            row.append("" if ratio is None else f"{ratio[0]:.2f}")
        rows.append(row)
    return _table(header, rows)


def markdown(
    results: Results, idle: dict[str, float], loops: list[str], notes: list[str], preamble: list[str]
) -> str:
    lines = ["# Benchmark results", "", *preamble, ""]
    lines += ["## Self-ratio control", ""]
    lines.append(
        f"Channel against a second copy of itself (the module loaded twice), simplex: must read "
        f"1.00 ± {CONTROL_TOLERANCE:.2f} for the ratios below to be trusted."
    )
    lines.append("")
    for loop in (loop for loop in CHANNEL_LOOPS if loop in loops):
        lines.append(f"- {loop}: {_ratio_figure(control(results, loop))}")
    lines += ["", "## Targets", ""]
    lines += [
        "Figures are ratios of minimums in this run; in parentheses, the median of the ratios "
        "within each round.",
        "",
    ]
    lines += _table(
        ["target", "loop", "figure", "verdict"],
        (
            [target.statement, target.loop, target.figure, _verdict(target.holds)]
            for target in targets(results, idle, loops)
        ),
    )
    for workload in WORKLOADS:
        if any(case.workload == workload for case in results.cases):
            lines += ["", f"## {WORKLOAD_TITLES[workload]}", ""]
            if workload in WORKLOAD_NOTES:
                lines += [WORKLOAD_NOTES[workload], ""]
            lines += workload_table(results, workload, loops)
    lines += ["", "## Memory per idle channel (tracemalloc, bytes)", ""]
    lines += _table(["kind", "bytes"], ([kind, f"{size:.0f}"] for kind, size in idle.items()))
    if notes:
        lines += ["", "## Notes", ""]
        lines += [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


# -- the plot ---------------------------------------------------------------------


def plot(results: Results, idle: dict[str, float], loops: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # One panel per row, each as wide as the page it is shown on: at the docs' width
    # (about 740 px) the labels keep a legible size.
    figure, column = plt.subplots(6, 1, figsize=(9, 30), constrained_layout=True)
    axes = [column[:3], column[3:]]

    def bars(axis: Any, workload: str, title: str) -> None:
        cases = [case for case in results.cases if case.workload == workload]
        if not cases:
            axis.set_visible(False)
            return
        labels = [f"{case.contender} · {case.loop}" for case in cases]
        axis.barh(labels, [case.minimum * 1e6 for case in cases], color=[_color(case.loop) for case in cases])
        axis.invert_yaxis()
        axis.set_xscale("log")
        axis.set_title(title)
        axis.set_xlabel("µs, minimum over rounds (log scale)")
        axis.tick_params(axis="y", labelsize=9)

    def lines(
        axis: Any, workload: str, title: str, xlabel: str, keep: Callable[[Case], bool] = lambda _: True
    ) -> None:
        series: dict[tuple[str, str], list[Case]] = {}
        for case in results.cases:
            if case.workload == workload and keep(case):
                series.setdefault((case.contender, case.loop), []).append(case)
        if not series:
            axis.set_visible(False)
            return
        for (contender, loop), cases in series.items():
            if len(cases) == 1:
                axis.axhline(
                    cases[0].minimum * 1e6, linestyle=":", color=_color(loop), label=f"{contender} · {loop}"
                )
            else:
                axis.plot(
                    [case.param for case in cases],
                    [case.minimum * 1e6 for case in cases],
                    marker="o",
                    linestyle="--" if contender != c.CHANNEL and contender != c.STREAM else "-",
                    label=f"{contender} · {loop}",
                )
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_title(title)
        axis.set_xlabel(xlabel)
        axis.set_ylabel("µs per item, minimum")
        axis.legend(fontsize=8)

    bars(axes[0][0], SIMPLEX, "simplex (µs per item)")
    bars(axes[0][1], DUPLEX, "duplex ping-pong (µs per round trip)")
    lines(axes[0][2], STREAM, "stream bulk", "k in read_items(k)")
    lines(axes[1][0], PAIRS, "concurrent pairs", "pairs")
    lines(axes[1][1], DELEGATION, "delegation", "depth")
    memory_axis = axes[1][2]
    memory_axis.barh(list(idle), list(idle.values()), color="tab:gray")
    memory_axis.invert_yaxis()
    memory_axis.set_title("memory per idle channel (bytes)")
    memory_axis.tick_params(axis="y", labelsize=9)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _color(loop: str) -> str:
    return {"asyncio": "tab:blue", "uvloop": "tab:orange", "trio": "tab:green"}.get(loop, "tab:gray")
