"""Publish the protocol of :mod:`spec.model` as data: ``docs/protocol.json``.

``python -m spec.publish docs/protocol.json`` writes the file;
``python -m spec.publish --check docs/protocol.json`` fails if the file is
not what the model gives now. The file holds everything that an
implementer needs to rebuild the machine without this repository: the
variables with their domains and start values, the named states as a
function of the variables, the events, every transition with its guard (a
predicate over the variables), its target, what each call that ends gets
and its clauses; and, for each kind of channel, the reachable configurations
with the configuration that each enabled event leads to, so that a program
can walk the whole relation. ``docs/protocol.schema.json`` documents the
format; the documentation's tables are rendered from this file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, cast

from . import model
from .clauses import CLAUSES, OUTCOMES

# What the file is, for a reader who finds it alone.
ABOUT = (
    "The handoff protocol of the channels library: a state machine of one channel. A configuration is a "
    "value of each state variable; its state is the first entry of 'phases' whose condition holds. An "
    "event in a configuration takes the one transition whose source is that state, whose event is the "
    "event's label and whose guard holds for the configuration's values and the event's variables. "
    "A guard (and a phase's condition) is a list of alternatives; an alternative maps variables to the "
    "values it allows, and holds when every variable it names has one of them."
)

SCHEMA = "protocol.schema.json"


def guard(when: model.Guard) -> list[dict[str, list[str]]]:
    return [{name: list(values) for name, values in conjunction} for conjunction in when]


def _jsonable(value: object) -> object:
    return list(cast(tuple[object, ...], value)) if isinstance(value, tuple) else value


def machine(stream: bool) -> dict[str, Any]:
    """Every configuration reachable from a new channel, and where each enabled event takes it."""
    alphabet = model.events(stream)
    reached = model.reach(stream)
    index = {model.signature(state): number for number, state in enumerate(reached.states)}
    state_variables = [name for name in model.VARIABLES if name not in model.EVENT_VARIABLES]
    configurations: list[dict[str, Any]] = []
    for state in reached.states:
        values = model.configuration(state)
        steps: list[list[int]] = []
        for number, event in enumerate(alphabet):
            if state.enabled(event):
                successor = state.copy()
                successor.apply(event)
                steps.append([number, index[model.signature(successor)]])
        configurations.append(
            {
                "values": [values[name] for name in state_variables],
                "room": model.room_of(state),
                "writer": model.writer_of(state),
                "steps": steps,
            }
        )
    return {
        "events": [
            {
                "label": model.label(event),
                "kind": event.kind,
                "op": event.op,
                "arg": _jsonable(event.arg),
                "end": event.end,
                "text": str(event),
            }
            for event in alphabet
        ],
        "variables": state_variables,
        "start": 0,
        "configurations": configurations,
    }


def document() -> dict[str, Any]:
    start = model.configuration(model.ChannelModel())
    cited = {clause for row in model.ROWS for clause in row.transition.cites}
    return {
        "$schema": SCHEMA,
        "about": ABOUT,
        "generated_by": "python -m spec.publish docs/protocol.json (from spec/model.py)",
        "initial_state": model.ChannelModel().phase,
        "variables": [
            {
                "name": name,
                "meaning": meaning,
                "domain": list(model.DOMAINS[name]),
                "start": start.get(name),
                "event_variable": name in model.EVENT_VARIABLES,
            }
            for name, meaning in model.VARIABLES.items()
        ],
        "states": [{"name": name, "meaning": meaning} for name, meaning in model.STATES.items()],
        "phases": [{"state": state, "when": guard(when)} for state, when in model.PHASES],
        "events": [{"label": label, "meaning": meaning} for label, meaning in model.EVENTS.items()],
        "transitions": [
            {
                "id": number,
                "table": row.table or "every",
                "source": row.transition.source,
                "event": row.transition.event,
                "when": guard(row.when),
                "guard": row.transition.guard,
                "target": row.transition.target,
                "results": [{"call": call, verb: what} for call, verb, what in row.results],
                "gets": row.transition.gets,
                "note": row.transition.outcome,
                "clause": row.transition.clause,
                "cites": list(row.transition.cites),
            }
            for number, row in numbered(model.ROWS)
        ],
        "clauses": [
            {
                "id": clause.id,
                "title": clause.title,
                "statement": clause.statement,
                "outcomes": list(OUTCOMES.get(clause.id, ())),
            }
            for clause in CLAUSES.values()
            if clause.id in cited
        ],
        "machines": {"Channel": machine(stream=False), "StreamChannel": machine(stream=True)},
    }


def numbered(rows: list[model.Row]) -> list[tuple[str, model.Row]]:
    """The rows with the numbers the page shows: 1, 2, ... for every channel, S1, S2, ... for streams."""
    every = [row for row in rows if not row.table]
    stream = [row for row in rows if row.table]
    return [(str(i), row) for i, row in enumerate(every, 1)] + [
        (f"S{i}", row) for i, row in enumerate(stream, 1)
    ]


def text() -> str:
    """The file's text: one JSON value, indented, with each configuration on one line."""
    doc = document()
    machines = doc.pop("machines")
    head = json.dumps(doc, indent=1, ensure_ascii=False)
    parts: list[str] = []
    for name, walk in machines.items():
        configurations = ",\n".join(
            "    " + json.dumps(c, ensure_ascii=False, separators=(",", ":"))
            for c in walk.pop("configurations")
        )
        fields = json.dumps(walk, ensure_ascii=False, separators=(",", ":"))[:-1]
        parts.append(f'  {json.dumps(name)}: {fields},"configurations":[\n{configurations}\n  ]}}')
    return head[:-2] + ',\n "machines": {\n' + ",\n".join(parts) + "\n }\n}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m spec.publish", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("path", type=Path, help="where to write the file (docs/protocol.json)")
    parser.add_argument("--check", action="store_true", help="fail if the file is not up to date")
    options = parser.parse_args(argv)
    wanted = text()
    if options.check:
        current = options.path.read_text(encoding="utf-8") if options.path.is_file() else ""
        if current != wanted:
            print(f"{options.path} is stale: run python -m spec.publish {options.path}", file=sys.stderr)
            return 1
        return 0
    options.path.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
