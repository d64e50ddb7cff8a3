"""``python -m bench.compare OLD.py``: channels.py against another version of itself, side by side.

Loads ``OLD.py`` under another module name, and a second copy of channels.py
as the self-ratio control, then times the three on the hot paths, the
handoff round trip (duplex), one-way items (simplex) and stream transfer
(``write_items`` into ``read_items(100)``), on asyncio, uvloop and trio,
interleaved in rounds as ``python -m bench`` runs them. Prints, per hot path
and loop, channels.py ÷ OLD.py and the control (the second copy ÷
channels.py), each as the ratio of the minimums and the median of the
per-round ratios: a change costs nothing where the ratio is within the
control's distance from 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from types import ModuleType

from bench import contenders, runner
from bench.contenders import Contender
from bench.report import Results

NEW = "channels.py"
OLD = "OLD.py"
CONTROL = "channels.py (a second copy)"
STREAM_BATCH = 100
HOT_PATHS = ((runner.DUPLEX, None), (runner.SIMPLEX, None), (runner.STREAM, STREAM_BATCH))


def hot_paths(module: ModuleType, name: str, loops: tuple[str, ...]) -> Contender:
    """A channel module's pairs on the hot paths, on every loop (trio's stream included)."""
    whole = contenders.channel(module, name)
    return Contender(
        name,
        loops,
        simplex=whole.simplex,
        duplex=whole.duplex,
        stream=whole.stream,
        stream_batches=(STREAM_BATCH,),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.compare", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("old", type=Path, help="the other version of channels.py (e.g. main's)")
    parser.add_argument("--rounds", type=int, default=40, help="rounds of every case (default 40)")
    parser.add_argument(
        "--smoke", action="store_true", help="one tiny round: that every case runs, no figure"
    )
    options = parser.parse_args(argv)
    rounds, sizes = (1, runner.SMOKE) if options.smoke else (options.rounds, runner.FULL)
    # A smoke run times nothing, so development mode (the tests' own) cannot skew it.
    if not options.smoke and (sys.flags.dev_mode or os.environ.get("PYTHONASYNCIODEBUG")):
        parser.error("Python runs in development mode or asyncio's debug mode: run without it")
    notes: list[str] = []
    modules = runner.optional_modules(notes)
    loops = ("asyncio", *(loop for loop in ("uvloop", "trio") if modules.get(loop)))
    import channels

    found = [
        hot_paths(channels, NEW, loops),
        hot_paths(runner.load(options.old, "channels_compared"), OLD, loops),
        hot_paths(runner.second_copy(channels), CONTROL, loops),
    ]
    cases = [
        case
        for case in runner.build_cases(found, list(loops), sizes)
        if (case.workload, case.param) in HOT_PATHS
    ]

    def progress(round_index: int, position: int, case: runner.Case) -> None:
        if position == 0:
            sys.stderr.write(f"round {round_index + 1}/{rounds}\r")

    runner.run_rounds(cases, rounds, progress)
    results = Results(cases)
    print(f"{NEW} ÷ {options.old} ({OLD}) and the control ({CONTROL} ÷ {NEW}), {rounds} rounds:")
    print("ratio of the minimums (median of the per-round ratios)")
    for workload, param in HOT_PATHS:
        for loop in loops:
            new = results.get(workload, NEW, loop, param)
            ratio = results.ratio(new, results.get(workload, OLD, loop, param))
            control = results.ratio(results.get(workload, CONTROL, loop, param), new)
            if new is None or ratio is None or control is None:
                continue
            label = f"{workload}{'' if param is None else f' [{param}]'}"
            print(
                f"{label:<14} {loop:<8} new ÷ old {ratio[0]:.3f} ({ratio[1]:.3f})   "
                f"control {control[0]:.3f} ({control[1]:.3f})   "
                f"new {new.minimum * 1e6:.3f} µs per item (min)"
            )
    for note in notes:
        print(f"note: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
