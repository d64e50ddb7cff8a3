"""Check that the suite discriminates: sav.channels 0.4 must fail exactly the expected clauses.

``python -m spec.against_sav04`` (tox -e sav04) runs every event sequence of
depth 5 (both channel kinds, on asyncio) against sav.channels 0.4 through the
rename-only adapter ``spec.adapters.sav_channels_04``, collects the clauses
that its failures violate, writes the shortest failure report of each clause
to ``spec/sav04-report.txt`` and exits non-zero unless the set of violated
clauses is exactly the one checked in as ``spec/sav04-expected.txt``.
``--update`` rewrites that file instead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path

from .conformance import Conformance, ConformanceError
from .impl import load
from .model import Event, sequences

ADAPTER = "spec.adapters.sav_channels_04"
HERE = Path(__file__).parent
EXPECTED = HERE / "sav04-expected.txt"
REPORT = HERE / "sav04-report.txt"
DEPTH = 5


def violations(impl_name: str, depth: int) -> dict[str, str]:
    """The violated clauses, each with the report of its shortest failing sequence."""
    module = load(impl_name)
    found: dict[str, tuple[int, str]] = {}
    failed_prefixes: set[tuple[Event, ...]] = set()
    loop = asyncio.new_event_loop()
    try:
        for stream in (False, True):
            for events in sequences(depth, stream=stream):
                if any(events[:n] in failed_prefixes for n in range(1, depth)):
                    continue
                run = Conformance(module, asyncio.new_event_loop, stream, impl_name, loop=loop)
                try:
                    for event in events:
                        run.step(event)
                    run.close()
                except ConformanceError as failure:
                    failed_prefixes.add(tuple(run.events))
                    for clause in failure.clauses:
                        if clause not in found or len(run.events) < found[clause][0]:
                            found[clause] = (len(run.events), str(failure))
                    with contextlib.suppress(ConformanceError):
                        run.close()
    finally:
        loop.close()
    return {clause: report for clause, (_, report) in sorted(found.items())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help="rewrite spec/sav04-expected.txt")
    args = parser.parse_args()
    found = violations(ADAPTER, DEPTH)
    REPORT.write_text(
        "".join(f"== {clause}\n{report}\n\n" for clause, report in found.items()), encoding="utf-8"
    )
    print(f"sav.channels 0.4 violates {len(found)} clauses: {', '.join(found)}")
    if args.update:
        EXPECTED.write_text("".join(f"{clause}\n" for clause in found), encoding="utf-8")
        return 0
    expected = EXPECTED.read_text(encoding="utf-8").split()
    if sorted(found) != sorted(expected):
        print(f"expected exactly: {', '.join(expected)}", file=sys.stderr)
        print(f"missing: {sorted(set(expected) - set(found))}", file=sys.stderr)
        print(f"unexpected: {sorted(set(found) - set(expected))}", file=sys.stderr)
        return 1
    print("the conformance suite rejects sav.channels 0.4 on exactly the expected clauses")
    return 0


if __name__ == "__main__":
    sys.exit(main())
