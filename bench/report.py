"""The targets, the markdown table and the plot."""

from __future__ import annotations

import json
import statistics
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

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


def verdict(holds: bool | None) -> str:
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
            [target.statement, target.loop, target.figure, verdict(target.holds)]
            for target in targets(results, idle, loops)
        ),
    )
    for workload in WORKLOADS:
        if any(case.workload == workload for case in results.cases):
            lines += ["", f"## {WORKLOAD_TITLES[workload]}", ""]
            if workload in WORKLOAD_NOTES:
                lines += [WORKLOAD_NOTES[workload], ""]
            lines += workload_table(results, workload, loops)
            lines += ["", _image(workload)]
    lines += ["", "## Memory per idle channel (tracemalloc, bytes)", ""]
    lines += _table(["kind", "bytes"], ([kind, f"{size:.0f}"] for kind, size in idle.items()))
    if idle:
        lines += ["", _image(MEMORY)]
    if notes:
        lines += ["", "## Notes", ""]
        lines += [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def _image(panel: str) -> str:
    return f"![{PANEL_TITLES[panel]}]({figure_path(Path(), panel).name})"


# -- results.json: the raw timings, from which everything else is drawn again -----


def write(
    output: Path,
    results: Results,
    idle: dict[str, float],
    loops: list[str],
    notes: list[str],
    preamble: list[str],
) -> None:
    """Write ``results.json``, ``results.md`` and the figures (when matplotlib is installed)."""
    output.mkdir(parents=True, exist_ok=True)
    raw = {
        "preamble": preamble,
        "notes": notes,
        "loops": loops,
        "idle_bytes": idle,
        "per_item_seconds_per_round": {case.label: case.per_item for case in results.cases},
    }
    (output / "results.json").write_text(json.dumps(raw, indent=1) + "\n")
    render(output)


def render(output: Path) -> None:
    """Draw ``results.md`` and the figures again from ``results.json``, without measuring anything."""
    raw = json.loads((output / "results.json").read_text())
    cases = [case_from(label, per_item) for label, per_item in raw["per_item_seconds_per_round"].items()]
    results, idle, notes = Results(cases), raw["idle_bytes"], list(raw["notes"])
    try:
        figures(results, idle, output)
    except ImportError:
        notes.append("matplotlib is not installed: no figure was drawn.")
    (output / "results.md").write_text(markdown(results, idle, raw["loops"], notes, raw["preamble"]))


def case_from(label: str, per_item: list[float]) -> Case:
    """The case that ``Case.label`` named, with its timings and nothing to run."""
    workload_and_param, *contender, loop = label.split(" · ")
    workload, _, param = workload_and_param.partition(" [")
    return Case(
        workload,
        " · ".join(contender),
        int(param.rstrip("]")) if param else None,
        loop,
        items=0,
        measure=_read_back,
        per_item=per_item,
    )


def _read_back() -> float:
    raise RuntimeError("a case read back from results.json is not measured again")


# -- the figures ------------------------------------------------------------------

# One image per workload, narrower than the docs' text column (about 740 px at
# 1280 px), so that it is shown at its natural size there; the type is large
# enough to stay legible when a phone shrinks the image to about 370 px.
FIGURE_WIDTH_INCHES = 6.0
FIGURE_DPI = 100
FONT_SIZE = 16
LINE_INCHES = 0.36  # a contender's name, or one of its bars
GROUP_TITLE_INCHES = 0.5
MEMORY = "memory"
PANEL_TITLES = {
    SIMPLEX: "Simplex: µs per item",
    DUPLEX: "Duplex ping-pong: µs per round trip",
    STREAM: "Stream bulk: µs per item",
    PAIRS: "Concurrent pairs: µs per item",
    DELEGATION: "Delegation: µs per item",
    LIFECYCLE: "Create, pass one item, close: µs each",
    MEMORY: "Memory per idle channel: bytes",
}
GROUP_NAMES = {STREAM: "read_items(k), k = {}", PAIRS: "{} pairs", DELEGATION: "depth {}"}
# This project's rows, drawn in the loop's full colour; the others lighter.
OWN_CONTENDERS = (c.CHANNEL, c.STREAM)


def figure_path(output: Path, panel: str) -> Path:
    return output / f"results-{panel}.png"


class Bar(NamedTuple):
    loop: str  # printed after the value: the bars of one contender differ by their loop
    value: float


class Contender(NamedTuple):
    name: str
    own: bool  # this project's: drawn in full colour and named in bold, the others lighter
    bars: list[Bar]


Group = tuple[str, list[Contender]]  # a parameter's title ("k = 10", or none) and its contenders


def panels(results: Results, idle: dict[str, float]) -> dict[str, list[Group]]:
    """Each figure's groups: one per parameter of the workload (k, pairs, depth), in the run's order."""
    found: dict[str, list[Group]] = {}
    for workload in WORKLOADS:
        by_param: dict[int | None, dict[str, Contender]] = {}
        for case in results.cases:
            if case.workload == workload:
                contenders = by_param.setdefault(case.param, {})
                entry = contenders.setdefault(
                    case.contender, Contender(case.contender, case.contender in OWN_CONTENDERS, [])
                )
                entry.bars.append(Bar(case.loop, case.minimum * 1e6))
        if by_param:
            found[workload] = [
                (
                    "" if param is None else GROUP_NAMES[workload].format(f"{param:,}"),
                    list(contenders.values()),
                )
                for param, contenders in by_param.items()
            ]
    if idle:
        own = ("Channel", "StreamChannel")
        found[MEMORY] = [
            ("", [Contender(kind, kind.startswith(own), [Bar("", size)]) for kind, size in idle.items()])
        ]
    return found


# The longest name that fits the figure's width on one line, at FONT_SIZE.
NAME_CHARACTERS = 46


def _name_lines(contender: Contender) -> list[str]:
    return textwrap.wrap(contender.name, NAME_CHARACTERS)


def _lines(contenders: list[Contender]) -> int:
    return sum(len(_name_lines(contender)) + len(contender.bars) for contender in contenders)


def figures(results: Results, idle: dict[str, float], output: Path) -> list[Path]:
    """Draw one image per workload, and one of the memory per idle channel; return their paths.

    Linear axes from 0: each parameter of a workload gets its own axis and
    scale, so that the cheap rows are not flattened against the dear ones.
    Each contender's name stands on a line of its own above its bars, one
    bar per event loop, each bar followed by its value and its loop: no
    legend to look up, and no name that narrows the bars.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written: list[Path] = []
    # matplotlib's annotations leave some types unknown (PathLike[Unknown], untyped **kwargs).
    with plt.rc_context({"font.size": FONT_SIZE}):  # pyright: ignore[reportUnknownMemberType]
        for panel, groups in panels(results, idle).items():
            heights = [
                GROUP_TITLE_INCHES * bool(title) + LINE_INCHES * _lines(rows) for title, rows in groups
            ]
            figure, axes = plt.subplots(
                len(groups),
                1,
                figsize=(FIGURE_WIDTH_INCHES, 0.9 + sum(heights)),
                gridspec_kw={"height_ratios": heights},
                squeeze=False,
                layout="constrained",
            )
            figure.suptitle(PANEL_TITLES[panel], x=0.02, ha="left", fontweight="bold")  # pyright: ignore[reportUnknownMemberType]
            for axis, (title, rows) in zip(axes[:, 0], groups, strict=True):
                _draw(axis, title, rows, whole=panel == MEMORY)
            path = figure_path(output, panel)
            figure.savefig(path, dpi=FIGURE_DPI)  # pyright: ignore[reportUnknownMemberType]
            plt.close(figure)
            written.append(path)
    return written


def _draw(axis: Any, title: str, contenders: list[Contender], whole: bool) -> None:
    """Horizontal bars on a linear axis from 0; ``whole``: values are counts (bytes), not µs."""
    from matplotlib.colors import to_rgba

    top = max(bar.value for contender in contenders for bar in contender.bars)
    line = 0
    for contender in contenders:
        weight = "bold" if contender.own else "normal"
        for name_line in _name_lines(contender):
            axis.text(0, line, name_line, va="center", ha="left", fontweight=weight)
            line += 1
        for bar in contender.bars:
            axis.barh(
                line, bar.value, height=0.7, color=to_rgba(_color(bar.loop), 1.0 if contender.own else 0.55)
            )
            shown = (
                f"{bar.value:,.0f}" if whole else f"{bar.value:#.3g}" if bar.value < 1 else f"{bar.value:.2f}"
            )
            axis.text(bar.value + top * 0.015, line, f"{shown} {bar.loop}".rstrip(), va="center", ha="left")
            line += 1
    axis.set_ylim(line - 0.5, -0.6)
    axis.set_xlim(0, top * 1.45)  # room for the value and the loop after the longest bar
    axis.set_yticks([])
    for side in ("top", "right", "left"):
        axis.spines[side].set_visible(False)
    axis.tick_params(axis="x", labelsize=FONT_SIZE - 3)
    axis.grid(axis="x", alpha=0.3)
    if title:
        axis.set_title(title, loc="left", fontsize=FONT_SIZE, fontweight="bold")


def _color(loop: str) -> str:
    return {"asyncio": "tab:blue", "uvloop": "tab:orange", "trio": "tab:green"}.get(loop, "tab:gray")
