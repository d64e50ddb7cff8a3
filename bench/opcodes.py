"""``python -m bench.opcodes``: bytecodes run per item, simplex, by function.

Timings on a shared machine are noisy; the number of bytecode instructions
that each contender's own Python code runs per item is not. It shows where a
contender's time goes beyond the event loop's: the two-futures floor runs
the least code a handoff needs; behind ends, with the checks that every call
makes, it shows what the API and the least of the guarantees add; a channel
adds its bookkeeping to that. Counted with ``sys.settrace`` (opcode events)
over a run of ``--items`` items, for every function defined in channels.py
or in ``bench/contenders.py``.

``--loop trio`` counts trio's floor (two reschedules per item), trio's memory
channel(0) and Channel on trio; with ``--all-code``, trio's own code is counted
too: its scheduler's share (``unrolled_run``, once per batch of runnable
tasks) shows how many batches a contender takes per item.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

import channels
from bench import contenders
from bench.contenders import Contender, Gate

TRACED = {str(Path(channels.__file__ or "").resolve()), str(Path(contenders.__file__ or "").resolve())}


def count(
    contender: Contender, items: int, loop: str = "asyncio", traced: set[str] | None = TRACED
) -> Counter[str]:
    """Bytecodes per function over one simplex run of ``items`` items, from the gate on.

    A short traced run comes first and is not counted: on CPython 3.12.1 a
    code object's first traced run reports no opcode events.
    """
    _count_once(contender, 2, loop, traced)
    return _count_once(contender, items, loop, traced)


def _count_once(contender: Contender, items: int, loop: str, traced: set[str] | None) -> Counter[str]:
    """One run; ``traced`` None counts all Python code."""
    simplex = contender.simplex
    assert simplex is not None
    executed: Counter[str] = Counter()
    counting = False

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        if event == "opcode" and counting:
            code = frame.f_code
            executed[getattr(code, "co_qualname", code.co_name)] += 1  # co_qualname: 3.11+
        return local

    def calls(frame: FrameType, event: str, arg: Any) -> Any:
        if traced is not None and frame.f_code.co_filename not in traced:
            return None
        frame.f_trace_opcodes = True
        return local

    async def main() -> None:
        nonlocal counting
        gate = Gate(1, asyncio.Event(), asyncio.Event())
        # Traced from their first call (a coroutine that started before
        # settrace() is not traced on every Python), counted from the gate on.
        sys.settrace(calls)
        try:
            tasks = [asyncio.create_task(side()) for side in simplex(gate, items)]
            await gate.ready.wait()
            counting = True
            gate.opened.set()
            await asyncio.gather(*tasks)
        finally:
            sys.settrace(None)

    async def main_on_trio() -> None:
        nonlocal counting
        import trio

        gate = Gate(1, trio.Event(), trio.Event())
        sys.settrace(calls)
        try:
            async with trio.open_nursery() as nursery:
                for side in simplex(gate, items):
                    nursery.start_soon(side)
                await gate.ready.wait()
                counting = True
                gate.opened.set()
        finally:
            sys.settrace(None)

    if loop == "trio":
        import trio

        trio.run(main_on_trio)
    else:
        asyncio.run(main())
    return executed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.opcodes", description=__doc__)
    parser.add_argument("--items", type=int, default=1000, help="items per run (default 1000)")
    parser.add_argument("--loop", choices=("asyncio", "trio"), default="asyncio", help="the loop to count on")
    parser.add_argument(
        "--all-code", action="store_true", help="count all Python code, the loop's own included"
    )
    args = parser.parse_args(argv)
    items = args.items
    if args.loop == "trio":
        import trio

        found = [
            contenders.trio_floor(trio),
            contenders.trio_channel(trio),
            contenders.channel_on_trio(channels, contenders.CHANNEL),
        ]
    else:
        found = [
            contenders.futures(),
            contenders.guarded_futures(),
            contenders.channel(channels, contenders.CHANNEL),
        ]
    for contender in found:
        executed = count(contender, items, args.loop, None if args.all_code else TRACED)
        print(f"{contender.name}: {sum(executed.values()) / items:.0f} bytecodes per item")
        for name, number in executed.most_common():
            if number >= items / 2:
                print(f"  {number / items:6.1f}  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
