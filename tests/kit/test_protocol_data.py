"""docs/protocol.json: the protocol as data, rebuilt into a machine without spec.model.

The rebuilt machine reads nothing but the file: the phases name the state
of a configuration, the guards choose the one transition of an event, and
the configurations' steps say where the walk goes next. spec.model is
imported only as the reference that the rebuilt machine is compared with.
"""

from __future__ import annotations

import json
import re
from itertools import combinations
from pathlib import Path
from typing import Any, cast

import jsonschema
import pytest

from spec import model, publish

DOCS = Path(__file__).resolve().parents[2] / "docs"
DATA = DOCS / "protocol.json"
SCHEMA = DOCS / "protocol.schema.json"

pytestmark = pytest.mark.clause("PROTOCOL-DATA")


def published() -> dict[str, Any]:
    return json.loads(DATA.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


# -- the machine rebuilt from the file alone ----------------------------------


def holds(guard: list[dict[str, list[str]]], values: dict[str, str]) -> bool:
    return any(all(values[name] in allowed for name, allowed in alternative.items()) for alternative in guard)


class Rebuilt:
    """One kind of channel, as the file describes it."""

    def __init__(self, data: dict[str, Any], kind: str) -> None:
        self.walk = data["machines"][kind]
        self.phases = data["phases"]
        tables = {"every"} if kind == "Channel" else {"every", "stream"}
        self.rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for row in data["transitions"]:
            if row["table"] in tables:
                self.rows.setdefault((row["source"], row["event"]), []).append(row)

    def values(self, configuration: int) -> dict[str, str]:
        return dict(
            zip(self.walk["variables"], self.walk["configurations"][configuration]["values"], strict=True)
        )

    def state(self, values: dict[str, str]) -> str:
        return str(next(phase["state"] for phase in self.phases if holds(phase["when"], values)))

    def event_values(self, configuration: int, event: dict[str, Any]) -> dict[str, str]:
        """room and writer, as the variables' meanings define them."""
        pending = self.walk["configurations"][configuration]
        room = pending["room"]
        if event["kind"] == "client":
            room = event["arg"] if event["op"] == "read_items" else 1
        items = pending["writer"]
        if event["op"] == "write_items" and event["kind"] in ("server", "race"):
            items = len(event["arg"])
        writer = (
            "none"
            if items is None
            else "exhausted"
            if items == 0
            else "fits"
            if items < room
            else "fills"
            if items == room
            else "overflows"
        )
        return {"room": "0" if room == 0 else "1" if room == 1 else "more than 1", "writer": writer}

    def step(self, configuration: int, event_index: int) -> tuple[dict[str, Any], int]:
        """The transition that the event takes, and the next configuration."""
        event = self.walk["events"][event_index]
        values = {**self.values(configuration), **self.event_values(configuration, event)}
        source = self.state(values)
        chosen = [row for row in self.rows.get((source, event["label"]), []) if holds(row["when"], values)]
        assert len(chosen) == 1, (
            f"{len(chosen)} transitions of {source} on {event['label']} hold for {values}: "
            f"{[row['id'] for row in chosen]}"
        )
        steps = dict(self.walk["configurations"][configuration]["steps"])
        return chosen[0], steps[event_index]


# -- what the model did, described without the model's own descriptions ---------

CHOSEN = {"Boom": "the thrown exception", "ValueError": "the block's exception"}
SERVER_VALUES = {None, 1, 2, 3, 4}
CLIENT_VALUES = {None, 7}


def role(call: str) -> str:
    return "new" if call == "the new call" else call.split("'s ")[0].removeprefix("the ")


def agrees(published_result: dict[str, str], got: tuple[str, Any]) -> bool:
    kind, value = got
    if kind == "raise":
        return bool(published_result.get("raises") == CHOSEN.get(value, value))
    says = published_result.get("returns")
    if says == "None":
        return value is None
    if says == "the items":
        return isinstance(value, list) and set(cast(list[object], value)) <= SERVER_VALUES
    if says == "the item":
        return value in SERVER_VALUES
    return bool(says == "the request" and value in CLIENT_VALUES)


@pytest.mark.parametrize("kind", ["Channel", "StreamChannel"])
def test_a_machine_rebuilt_from_the_file_takes_every_transition_of_the_model(kind: str) -> None:
    data = published()
    rebuilt = Rebuilt(data, kind)
    stream = kind == "StreamChannel"
    alphabet = model.events(stream)
    assert [event["text"] for event in rebuilt.walk["events"]] == [str(event) for event in alphabet]
    start = model.ChannelModel(stream=stream)
    assert rebuilt.state(rebuilt.values(rebuilt.walk["start"])) == data["initial_state"] == start.phase
    configuration_of = {model.signature(start): rebuilt.walk["start"]}
    queue = [start]
    taken: set[str] = set()
    steps = 0
    for state in queue:
        configuration = configuration_of[model.signature(state)]
        values = rebuilt.values(configuration)
        assert values == model.configuration(state)
        assert rebuilt.state(values) == state.phase
        enabled = [i for i, event in enumerate(alphabet) if state.enabled(event)]
        assert [i for i, _ in rebuilt.walk["configurations"][configuration]["steps"]] == enabled
        for event_index in enabled:
            successor = state.copy()
            ended = successor.apply(alphabet[event_index])
            row, following = rebuilt.step(configuration, event_index)
            taken.add(row["id"])
            steps += 1
            where = f"{state.phase} --{alphabet[event_index]}--> row {row['id']}"
            assert row["target"] == successor.phase == rebuilt.state(rebuilt.values(following)), where
            pending = {
                call.id: end
                for end, call in (("client", state.client_call), ("server", state.server_call))
                if call
            }
            got = sorted((pending.get(call, "new"), result) for call, result in ended.items())
            for end, result in got:
                assert any(role(r["call"]) == end and agrees(r, result) for r in row["results"]), (
                    f"{where}: the model's {end} call got {result}, the row says {row['results']}"
                )
            assert {role(r["call"]) for r in row["results"]} == {end for end, _ in got}, where
            reached = model.signature(successor)
            if reached in configuration_of:
                assert configuration_of[reached] == following, f"{where}: the file's walk goes elsewhere"
            else:
                configuration_of[reached] = following
                queue.append(successor)
    assert len(queue) == len(rebuilt.walk["configurations"]) == len(set(configuration_of.values()))
    tables = {"every"} if kind == "Channel" else {"every", "stream"}
    never = [row["id"] for row in data["transitions"] if row["table"] in tables and row["id"] not in taken]
    assert not never, f"rows of the file that a {kind} never takes: {never}"
    print(f"{kind}: {len(queue)} configurations, {steps} steps, {len(taken)} transitions taken")


def test_the_guards_of_a_state_and_an_event_are_disjoint_over_every_value() -> None:
    data = published()
    domains = {v["name"]: set(v["domain"]) for v in data["variables"]}
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in data["transitions"]:
        groups.setdefault((row["source"], row["event"]), []).append(row)
        for alternative in row["when"]:
            for name, allowed in alternative.items():
                assert set(allowed) <= domains[name], f"row {row['id']}: {name} in {allowed}"
    for rows in groups.values():
        for a, b in combinations(rows, 2):
            for x in a["when"]:
                for y in b["when"]:
                    # Two alternatives exclude each other only through a variable both name.
                    assert any(not set(x[n]) & set(y[n]) for n in x.keys() & y.keys()), (
                        f"rows {a['id']} ({a['guard']}) and {b['id']} ({b['guard']}) overlap"
                    )


def test_the_phases_define_a_state_for_every_configuration() -> None:
    data = published()
    assert data["phases"][-1]["when"] == [{}]
    assert sorted(p["state"] for p in data["phases"]) == sorted(s["name"] for s in data["states"])


def test_every_variable_has_its_start_value_in_its_domain() -> None:
    data = published()
    for variable in data["variables"]:
        if variable["event_variable"]:
            assert variable["start"] is None
        else:
            assert variable["start"] in variable["domain"], variable["name"]


def test_every_value_of_a_domain_is_taken_by_some_configuration() -> None:
    data = published()
    walk = data["machines"]["StreamChannel"]
    taken: dict[str, set[str]] = {name: set() for name in walk["variables"]}
    for configuration in walk["configurations"]:
        for name, value in zip(walk["variables"], configuration["values"], strict=True):
            taken[name].add(value)
    for variable in data["variables"]:
        if not variable["event_variable"]:
            assert taken[variable["name"]] == set(variable["domain"]), variable["name"]


def test_every_outcome_of_a_row_is_stated_by_a_clause_it_cites() -> None:
    data = published()
    outcomes = {clause["id"]: set(clause["outcomes"]) for clause in data["clauses"]}
    carried: dict[str, set[str]] = {clause: set() for clause in outcomes}
    for row in data["transitions"]:
        for result in row["results"]:
            said = " ".join(f"{verb} {what}" for verb, what in result.items() if verb != "call")
            stating = [clause for clause in row["cites"] if said in outcomes[clause]]
            assert stating, f"row {row['id']}: {result['call']} {said}, which none of {row['cites']} states"
            for clause in stating:
                carried[clause].add(said)
    for clause, stated in outcomes.items():
        assert stated <= carried[clause], f"{clause} states {stated - carried[clause]}, which no row carries"


def test_every_exception_a_clause_declares_is_named_in_its_statement() -> None:
    # A role is stated as athrow's argument (exc) or as the block's exception.
    named = {"the thrown exception": "exc", "the block's exception": "exception"}
    for clause in published()["clauses"]:
        for outcome in clause["outcomes"]:
            if outcome.startswith("raises "):
                exception = outcome.removeprefix("raises ")
                assert re.search(rf"\b{named.get(exception, exception)}\b", clause["statement"]), (
                    f"{clause['id']} declares that a call {outcome}, which its statement does not say"
                )


def test_the_file_follows_its_schema() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    # types-jsonschema leaves the validator's validate() untyped.
    jsonschema.Draft202012Validator(schema).validate(published())  # pyright: ignore[reportUnknownMemberType]


def test_the_file_is_what_the_model_gives_now() -> None:
    assert DATA.read_text(encoding="utf-8") == publish.text(), (
        "docs/protocol.json is stale: run python -m spec.publish docs/protocol.json"
    )
