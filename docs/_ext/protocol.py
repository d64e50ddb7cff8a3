"""Render the protocol of ``spec/model.py`` at build time, and check its tests.

The pages about the protocol are generated from the same tables that the
conformance suite runs: ``spec.model`` exposes ``CLAUSES``, ``STATES`` and
``TRANSITIONS``, and the tests in ``tests/`` and ``spec/`` cite the clauses
they prove with ``@pytest.mark.clause("ID", ...)``. The citations are read
from ``spec/traceability.txt``, which pytest's own collection writes
(``python -m spec.traceability --write``); nothing is run.

Directives:

``.. protocol-events::``       what each event label of the tables means (EVENTS)
``.. protocol-states::``       the states, one row each
``.. protocol-variables::``    the state variables that guards are written in (VARIABLES)
``.. protocol-transitions::``  the transition table, with guards
``.. protocol-diagram::``      one ``:view:`` of the state diagram, laid out by Graphviz's dot
``.. protocol-clauses::``      every clause (or one ``:group:``, or one ``:kind:``), with its tests
``.. protocol-tests::``        every test, with the clauses it cites and its source

Roles: ``:clause:`ID``` links to a clause, ``:state:`NAME``` to a state.

Every build (not only the ones that re-read a page) warns, so that
``sphinx-build -W`` fails, when the model cannot be imported or is
inconsistent, when the transition tables are not closed under the model or
a row's outcome is not stated by its clauses, when a clause has no test, when
the index names a test that is not in its file, and when a protocol clause (``kind`` ``"protocol"``, the
default) has no test in ``protocol_impl_dirs``, the tests that take the
implementation under test.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import re
import shutil
import subprocess
import sys
import traceback
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective, SphinxRole

logger = logging.getLogger(__name__)

CLAUSE_ID = re.compile(r"^[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*$")


# --------------------------------------------------------------------------
# What the build knows: the model and the tests that cite its clauses
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class TestRef:
    """One test function or ``Test*`` class, as found in its file."""

    path: str  # relative to the repository root, with forward slashes
    qualname: str  # "test_x" or "TestY.test_x" or "TestY"
    lineno: int
    clauses: tuple[str, ...]  # its own, its classes' and its module's
    source: str
    summary: str
    is_class: bool = False

    @property
    def nodeid(self) -> str:
        return f"{self.path}::{self.qualname.replace('.', '::')}"

    @property
    def anchor(self) -> str:
        return "test-" + nodes.make_id(f"{self.path}-{self.qualname}")


@dataclass
class Protocol:
    clauses: dict[str, Any] = field(default_factory=dict)
    states: dict[str, str] = field(default_factory=dict)
    transitions: list[Any] = field(default_factory=list)
    # Further transition tables of the model, by attribute name, with the
    # prefix of their numbers (protocol_extra_transitions).
    extra: dict[str, tuple[str, list[Any]]] = field(default_factory=dict)
    tests: list[TestRef] = field(default_factory=list)
    # What the labels of the tables mean, and the variables that guards use.
    events: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    loaded: bool = False
    fingerprint: str = ""

    def tests_of(self, clause_id: str) -> list[TestRef]:
        return [t for t in self.tests if not t.is_class and clause_id in t.clauses] or [
            t for t in self.tests if t.is_class and clause_id in t.clauses
        ]

    def table(self, name: str) -> list[tuple[str, Any]]:
        """The numbered transitions of ``TRANSITIONS`` or of one of the extra tables."""
        if name == "TRANSITIONS":
            return [(str(i), t) for i, t in enumerate(self.transitions, 1)]
        prefix, rows = self.extra.get(name, ("", []))
        return [(f"{prefix}{i}", t) for i, t in enumerate(rows, 1)]

    def all_transitions(self) -> list[tuple[str, Any]]:
        return [row for name in ["TRANSITIONS", *self.extra] for row in self.table(name)]

    def transitions_of(self, clause_id: str) -> list[tuple[str, Any]]:
        return [(n, t) for n, t in self.all_transitions() if t.clause == clause_id]

    def groups(self, kind: str | None = None) -> dict[str, list[Any]]:
        groups: dict[str, list[Any]] = {}
        for clause in self.clauses.values():
            if kind is None or kind_of(clause) == kind:
                groups.setdefault(clause.group, []).append(clause)
        return groups


def kind_of(clause: Any) -> str:
    """A clause is a protocol clause unless it says it is the project's own."""
    return str(getattr(clause, "kind", "protocol"))


def load_model(root: Path, module: str) -> tuple[Any | None, str | None]:
    """Import ``module`` fresh with ``root`` first on sys.path."""
    if str(root) not in sys.path[:1]:
        sys.path.insert(0, str(root))
    top = module.split(".")[0]
    for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
        del sys.modules[name]
    importlib.invalidate_caches()
    try:
        return importlib.import_module(module), None
    except Exception:
        return None, traceback.format_exc(limit=3)


# -- reading the citations from the traceability index ---------------------------

INDEX = "spec/traceability.txt"


def read_index(root: Path, problems: list[tuple[str, str]]) -> list[TestRef]:
    """Every test and the clauses it marks, from the traceability index.

    ``python -m spec.traceability --write`` writes the index from pytest's own
    collection, and a test fails when it is stale: the build sees the marks
    exactly as pytest does. Only the test's source and summary, which the
    tests page shows, are read from its file.
    """
    clauses_of: dict[str, list[str]] = {}
    clause = ""
    for line in (root / INDEX).read_text(encoding="utf-8").splitlines():
        if line and not line.startswith(("#", " ")):
            clause = line.split()[0]
        elif line.startswith("  test: "):
            clauses_of.setdefault(line.removeprefix("  test: ").removesuffix(" *"), []).append(clause)
    definitions: dict[str, dict[str, ast.AST]] = {}
    tests: list[TestRef] = []
    for nodeid, ids in sorted(clauses_of.items()):
        rel, _, name = nodeid.partition("::")
        qualname = name.replace("::", ".")
        if rel not in definitions:
            definitions[rel] = _definitions(ast.parse((root / rel).read_text(encoding="utf-8")))
        node = definitions[rel].get(qualname)
        if node is None:
            problems.append((f"{root / INDEX}", f"test {nodeid} is not in {rel}: the index is stale"))
            continue
        text = (root / rel).read_text(encoding="utf-8")
        tests.append(
            TestRef(rel, qualname, node.lineno, tuple(ids), _source(text, node), _summary(node))  # type: ignore[attr-defined]
        )
    return tests


def _definitions(tree: ast.Module) -> dict[str, ast.AST]:
    """The functions and classes of a test file, by qualified name."""
    found: dict[str, ast.AST] = {}

    def walk(body: list[ast.stmt], prefix: str) -> None:
        for stmt in body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                found[prefix + stmt.name] = stmt
                if isinstance(stmt, ast.ClassDef):
                    walk(stmt.body, f"{prefix}{stmt.name}.")

    walk(tree.body, "")
    return found


def _source(text: str, node: Any) -> str:
    """The source of a definition, its decorators included."""
    first = min([node.lineno] + [d.lineno for d in node.decorator_list])
    return "\n".join(text.splitlines()[first - 1 : node.end_lineno or node.lineno])


def _summary(node: ast.AST) -> str:
    doc = ast.get_docstring(node)  # type: ignore[arg-type]
    return doc.strip().split("\n\n")[0].replace("\n", " ") if doc else ""


# -- loading and checking ------------------------------------------------------


def collect(app: Sphinx) -> tuple[Protocol, list[tuple[str, str]]]:
    config = app.config
    root = Path(config.protocol_root).resolve()
    problems: list[tuple[str, str]] = []
    protocol = Protocol()

    module, error = load_model(root, config.protocol_model)
    model_path = root / (config.protocol_model.replace(".", "/") + ".py")
    sources = [model_path, *sorted(model_path.parent.glob("*.py"))]

    def where(needle: str = "") -> str:
        """The first line of the model's package that mentions ``needle``."""
        for path in sources if needle else []:
            try:
                for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                    if line.startswith(needle) if needle.isidentifier() else needle in line:
                        return f"{path}:{number}"
            except OSError:
                continue
        return f"{model_path}:1"

    if module is None:
        problems.append((where(), f"cannot import {config.protocol_model} from {root}:\n{error}"))
    else:
        try:
            protocol.clauses = dict(module.CLAUSES)
            protocol.states = dict(module.STATES)
            protocol.transitions = list(module.TRANSITIONS)
            protocol.events = dict(getattr(module, "EVENTS", {}))
            protocol.variables = dict(getattr(module, "VARIABLES", {}))
            for name, prefix in dict(config.protocol_extra_transitions).items():
                if hasattr(module, name):
                    protocol.extra[name] = (prefix, list(getattr(module, name)))
            protocol.loaded = True
        except AttributeError as exc:
            problems.append(
                (
                    where(),
                    f"{config.protocol_model} lacks {exc.name}: it must define CLAUSES, STATES, TRANSITIONS",
                )
            )
    if protocol.loaded:
        for key, clause in protocol.clauses.items():
            for attribute in ("id", "title", "statement", "rationale", "group"):
                if not isinstance(getattr(clause, attribute, None), str):
                    problems.append((where(f'"{key}"'), f"clause {key}: {attribute} must be a string"))
            if getattr(clause, "id", key) != key:
                problems.append((where(f'"{key}"'), f"CLAUSES[{key!r}] has id {clause.id!r}"))
            if not CLAUSE_ID.match(key):
                problems.append((where(f'"{key}"'), f"clause id {key!r} is not in CAPS-WITH-DASHES"))
        for table_name in ["TRANSITIONS", *protocol.extra]:
            location = where(table_name)
            for number, t in protocol.table(table_name):
                for end in ("source", "target"):
                    if getattr(t, end) not in protocol.states:
                        problems.append(
                            (
                                location,
                                f"transition {number} ({t.event}): unknown {end} state {getattr(t, end)!r}",
                            )
                        )
                if not t.clause:
                    problems.append(
                        (
                            location,
                            f"transition {number} ({t.source} --{t.event}--> {t.target}) cites no clause",
                        )
                    )
                elif t.clause not in protocol.clauses:
                    problems.append(
                        (location, f"transition {number} ({t.event}): unknown clause {t.clause!r}")
                    )

    if protocol.loaded and module is not None:
        problems.extend((where(name), message) for name, message in check_relation(module, protocol, config))

    protocol.tests = read_index(root, problems)

    if protocol.loaded:
        impl_dirs = tuple(f"{d.strip('/')}/" for d in config.protocol_impl_dirs)
        for clause_id, clause in protocol.clauses.items():
            if kind_of(clause) == "protocol" and not any(
                t.path.startswith(impl_dirs) for t in protocol.tests_of(clause_id)
            ):
                problems.append(
                    (
                        where(f'"{clause_id}"'),
                        f"protocol clause {clause_id} has no test in {', '.join(impl_dirs)}: no "
                        "implementation but ours is checked for it (or make it a project clause)",
                    )
                )
            if not protocol.tests_of(clause_id):
                problems.append(
                    (
                        where(f'"{clause_id}"'),
                        f"clause {clause_id} has no test: no test in "
                        f"{', '.join(config.protocol_test_dirs)} cites it with @pytest.mark.clause",
                    )
                )

    digest = hashlib.sha256()
    digest.update(
        repr(
            sorted((k, vars(c) if hasattr(c, "__dict__") else repr(c)) for k, c in protocol.clauses.items())
        ).encode()
    )
    digest.update(repr((protocol.states, protocol.events, protocol.variables)).encode())
    digest.update(repr([(n, *vars(t).values()) for n, t in protocol.all_transitions()]).encode())
    digest.update(repr(protocol.tests).encode())
    # A change to this extension changes the pages it draws.
    digest.update(Path(__file__).read_bytes())
    protocol.fingerprint = digest.hexdigest()
    return protocol, problems


def _key(t: Any) -> tuple[str, str, str, str]:
    return (t.source, t.event, t.target, t.clause)


def check_relation(module: Any, protocol: Protocol, config: Any) -> list[tuple[str, str]]:
    """What is wrong with the published transition tables, as (model name, message).

    The tables must be closed under the model: applying every event that the
    model enables to every state reachable from a new channel (until no new
    state appears) takes only published transitions, and every published
    transition is taken. Each row's outcome must be one its clauses state: an
    exception that a call raises is named by the statement of a clause that
    the event cites. No exception name that the exploration chose (athrow's
    argument, the block's exception) appears in a row.
    """
    problems: list[tuple[str, str]] = []
    needed = ("ChannelModel", "events", "label", "signature")
    if not all(hasattr(module, name) for name in needed):
        return [
            ("TRANSITIONS", f"the model lacks {', '.join(needed)}: the tables' closure cannot be checked")
        ]
    published: set[tuple[str, str, str, str]] = set()
    for name, options in dict(config.protocol_closure).items():
        published |= {_key(t) for _, t in protocol.table(name)}
        taken: set[tuple[str, str, str, str]] = set()
        start = module.ChannelModel(**options)
        seen = {module.signature(start)}
        states = [start]
        for state in states:
            for event in module.events(**options):
                if not state.enabled(event):
                    continue
                successor = state.copy()
                successor.apply(event)
                clause = successor.steps[0][0] if successor.steps else ""
                taken.add((state.phase, module.label(event), successor.phase, clause))
                reached = module.signature(successor)
                if reached not in seen:
                    seen.add(reached)
                    states.append(successor)
        for missing in sorted(taken - published):
            problems.append(
                (
                    name,
                    f"the published tables are not closed under the model ({len(states)} states reached "
                    f"with {options}): no row for {missing[0]} --{missing[1]}--> {missing[2]} [{missing[3]}]",
                )
            )
        for extra in sorted({_key(t) for _, t in protocol.table(name)} - taken):
            problems.append((name, f"row {extra} is published but the model never takes it"))
    chosen = {
        event.arg
        for event in module.events(**next(iter(dict(config.protocol_closure).values()), {}))
        if event.op == "athrow" or event.kind == "exit"
    } - {None}
    for number, t in protocol.all_transitions():
        # What the calls get may be stated by any clause the event cites; the
        # model's note on the step, by the clause that the row cites first.
        cited = getattr(t, "cites", ()) or (t.clause,)
        for text, clauses in ((getattr(t, "gets", ""), cited), (t.outcome, (t.clause,))):
            statements = " ".join(protocol.clauses[c].statement for c in clauses if c in protocol.clauses)
            for raised in re.findall(r"raises (the [\w']+ exception|\w+)", text):
                # A role is stated as athrow's argument (exc) or as the block's exception.
                named = {"the thrown exception": r"\bexc\b", "the block's exception": r"\bexception\b"}.get(
                    raised, rf"\b{raised}\b"
                )
                if raised != "CancelledError" and not re.search(named, statements):
                    problems.append(
                        (
                            "TRANSITIONS",
                            f"transition {number} ({t.source} --{t.event}--> {t.target}): {text!r} says that "
                            f"a call raises {raised}, which {', '.join(clauses)} does not state",
                        )
                    )
        if getattr(t, "guard", "").startswith(getattr(module, "UNDECIDED", "\0")):
            problems.append(
                (
                    "VARIABLES",
                    f"transition {number} ({t.source} --{t.event}--> {t.target}): no guard over VARIABLES "
                    "tells it apart from the other rows of its state and event: name what decides it",
                )
            )
        text = " ".join(str(getattr(t, f, "")) for f in ("event", "guard", "outcome", "gets"))
        for name in sorted(n for n in chosen if isinstance(n, str) and re.search(rf"\b{n}\b", text)):
            problems.append(
                (
                    "TRANSITIONS",
                    f"transition {number} names {name}, an exception the exploration chose: "
                    "name it by its role",
                )
            )
    return problems


_current = Protocol()


def current() -> Protocol:
    """What ``builder-inited`` collected for this build."""
    return _current


def on_builder_inited(app: Sphinx) -> None:
    protocol, problems = collect(app)
    global _current
    _current = protocol
    for location, message in problems:
        logger.warning(message, location=location, type="protocol", subtype="spec")
    if protocol.loaded:
        tested = sum(1 for c in protocol.clauses if protocol.tests_of(c))
        logger.info(
            f"protocol: {len(protocol.clauses)} clauses ({tested} with tests), "
            f"{len(protocol.states)} states, "
            f"{len(protocol.all_transitions())} transitions, {len(protocol.tests)} tests and test classes"
        )


def on_env_get_outdated(
    app: Sphinx, env: BuildEnvironment, added: Any, changed: Any, removed: Any
) -> list[str]:
    """Re-read the pages that show the protocol when the model or the tests changed."""
    fingerprint = current().fingerprint
    if getattr(env, "protocol_fingerprint", None) == fingerprint:
        return []
    env.protocol_fingerprint = fingerprint  # type: ignore[attr-defined]
    return sorted(getattr(env, "protocol_users", set()) & set(env.found_docs))


def on_env_purge_doc(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    users = getattr(env, "protocol_users", set())
    users.discard(docname)
    hosts = getattr(env, "protocol_hosts", {})
    for kind in [k for k, d in hosts.items() if d == docname]:
        del hosts[kind]


def on_env_merge_info(app: Sphinx, env: BuildEnvironment, docnames: Any, other: BuildEnvironment) -> None:
    _users(env).update(getattr(other, "protocol_users", set()))
    _hosts(env).update(getattr(other, "protocol_hosts", {}))
    _diagrams(env).update(getattr(other, "protocol_diagrams", {}))


def _users(env: BuildEnvironment) -> set[str]:
    if not hasattr(env, "protocol_users"):
        env.protocol_users = set()  # type: ignore[attr-defined]
    return env.protocol_users  # type: ignore[attr-defined,no-any-return]


def _diagrams(env: BuildEnvironment) -> dict[str, str]:
    """The full-size SVG of each diagram view, by file name."""
    if not hasattr(env, "protocol_diagrams"):
        env.protocol_diagrams = {}  # type: ignore[attr-defined]
    return env.protocol_diagrams  # type: ignore[attr-defined,no-any-return]


def on_build_finished(app: Sphinx, exception: Exception | None) -> None:
    if exception is None and app.builder.format == "html":
        images = Path(app.outdir) / "_images"
        images.mkdir(parents=True, exist_ok=True)
        for filename, svg in _diagrams(app.env).items():
            (images / filename).write_text(svg, encoding="utf-8")


def _hosts(env: BuildEnvironment) -> dict[str, str]:
    if not hasattr(env, "protocol_hosts"):
        env.protocol_hosts = {}  # type: ignore[attr-defined]
    return env.protocol_hosts  # type: ignore[attr-defined,no-any-return]


# --------------------------------------------------------------------------
# Cross-references between the generated pages
# --------------------------------------------------------------------------


class protocol_ref(nodes.General, nodes.Inline, nodes.TextElement):
    """A link to a state, clause or test anchor, resolved once pages are known."""


def make_ref(kind: str, anchor: str, text: str, *, literal: bool = True) -> protocol_ref:
    node = protocol_ref("", "", kind=kind, anchor=anchor)
    node += nodes.literal(text, text, classes=[f"protocol-{kind}-ref"]) if literal else nodes.Text(text)
    return node


def on_doctree_resolved(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    hosts = _hosts(app.env)
    for node in list(doctree.findall(protocol_ref)):
        host = hosts.get(node["kind"])
        if host is None:
            node.replace_self(node.children)
            continue
        uri = app.builder.get_relative_uri(docname, host) if host != docname else ""
        ref = nodes.reference("", "", internal=True, refuri=f"{uri}#{node['anchor']}")
        ref += node.children
        node.replace_self(ref)


class _ProtocolRole(SphinxRole):
    kind = ""

    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        _users(self.env).add(self.env.docname)
        protocol: Protocol = current()
        key = self.text.strip()
        table = protocol.clauses if self.kind == "clause" else protocol.states
        if protocol.loaded and key not in table:
            logger.warning(f"unknown {self.kind} {key!r} in :{self.kind}: role", location=self.get_location())
            return [nodes.literal(key, key)], []
        anchor = f"{self.kind}-{nodes.make_id(key)}"
        return [make_ref(self.kind, anchor, key)], []


class ClauseRole(_ProtocolRole):
    kind = "clause"


class StateRole(_ProtocolRole):
    kind = "state"


# --------------------------------------------------------------------------
# Directives
# --------------------------------------------------------------------------


class _ProtocolDirective(SphinxDirective):
    has_content = False
    host_kind = ""

    def run(self) -> list[nodes.Node]:
        _users(self.env).add(self.env.docname)
        if self.host_kind:
            _hosts(self.env)[self.host_kind] = self.env.docname
        protocol: Protocol = current()
        if not protocol.loaded:
            note = nodes.warning()
            note += nodes.paragraph(
                text=f"{self.config.protocol_model} could not be imported: see the build log."
            )
            return [note]
        return self.render(protocol)

    def render(self, protocol: Protocol) -> list[nodes.Node]:
        raise NotImplementedError

    def para(self, text: str) -> list[nodes.Node]:
        """Inline reStructuredText, as in the model's strings (``code``, *emphasis*)."""
        parsed, messages = self.state.inline_text(text, self.lineno)
        return [*parsed, *messages]


def _table(
    headers: list[str], widths: list[int], rows: list[list[list[nodes.Node]]], classes: list[str]
) -> nodes.table:
    table = nodes.table(classes=classes)
    group = nodes.tgroup(cols=len(headers))
    table += group
    for width in widths:
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    group += head
    row = nodes.row()
    for header in headers:
        row += nodes.entry("", nodes.paragraph(text=header))
    head += row
    body = nodes.tbody()
    group += body
    for cells in rows:
        row = nodes.row()
        for cell in cells:
            entry = nodes.entry()
            paragraph = nodes.paragraph()
            paragraph.extend(cell)
            entry += paragraph
            row += entry
        body += row
    return table


def _join(items: list[nodes.Node], sep: str = ", ") -> list[nodes.Node]:
    out: list[nodes.Node] = []
    for i, item in enumerate(items):
        if i:
            out.append(nodes.Text(sep))
        out.append(item)
    return out


class StatesDirective(_ProtocolDirective):
    host_kind = "state"

    def render(self, protocol: Protocol) -> list[nodes.Node]:
        rows = []
        for name, description in protocol.states.items():
            target = nodes.inline("", "", ids=[f"state-{nodes.make_id(name)}"])
            target += nodes.literal(name, name)
            targets = list(
                dict.fromkeys(t.target for t in protocol.transitions if t.source == name and t.target != name)
            )
            rows.append(
                [
                    [target],
                    self.para(description),
                    _join([make_ref("state", f"state-{nodes.make_id(s)}", s) for s in targets])
                    or [nodes.emphasis(text="none: final")],
                ]
            )
        return [_table(["State", "Meaning", "Leads to"], [20, 50, 30], rows, ["protocol-states"])]


class EventsDirective(_ProtocolDirective):
    """Every label of the transition tables, with what it means (the model's EVENTS)."""

    def render(self, protocol: Protocol) -> list[nodes.Node]:
        labels = list(dict.fromkeys(t.event for _, t in protocol.all_transitions()))
        for missing in [label for label in labels if label not in protocol.events]:
            logger.warning(
                f"event {missing!r} of the transition tables has no definition in EVENTS",
                location=self.get_location(),
            )
        rows = [
            [[nodes.literal(text=label)], self.para(protocol.events.get(label, ""))]
            for label in [
                *[e for e in protocol.events if e in labels],
                *[e for e in labels if e not in protocol.events],
            ]
        ]
        return [_table(["Event", "What happens"], [30, 70], rows, ["protocol-events"])]


class VariablesDirective(_ProtocolDirective):
    """The state variables that the guards are written in (the model's VARIABLES)."""

    def render(self, protocol: Protocol) -> list[nodes.Node]:
        rows = [[[nodes.literal(text=name)], self.para(text)] for name, text in protocol.variables.items()]
        return [_table(["Variable", "Meaning"], [25, 75], rows, ["protocol-variables"])]


class TransitionsDirective(_ProtocolDirective):
    """One table per source state, in the order of STATES; rows keep the model's numbering."""

    host_kind = "transition"
    option_spec: ClassVar[dict[str, Any]] = {"table": directives.unchanged}

    def render(self, protocol: Protocol) -> list[nodes.Node]:
        name = self.options.get("table", "TRANSITIONS")
        table = protocol.table(name)
        if name != "TRANSITIONS" and name not in protocol.extra:
            if name not in self.config.protocol_extra_transitions:
                logger.warning(f"{name} is not in protocol_extra_transitions", location=self.get_location())
            return [nodes.paragraph(text=f"The model defines no {name}.")]
        out: list[nodes.Node] = []
        for source in protocol.states:
            rows = []
            for number, t in table:
                if t.source != source:
                    continue
                num = nodes.inline("", "", ids=[f"transition-{number}"])
                num += nodes.Text(str(number))
                gets: list[nodes.Node] = [nodes.Text(getattr(t, "gets", "") or "")]
                if t.outcome:
                    gets += [
                        nodes.Text(" " if gets else ""),
                        nodes.inline(text=f"({t.outcome})", classes=["protocol-note"]),
                    ]
                clauses = getattr(t, "cites", ()) or (t.clause,)
                rows.append(
                    [
                        [num],
                        [nodes.literal(text=t.event)],
                        [nodes.Text(getattr(t, "guard", "") or "—")],
                        [make_ref("state", f"state-{nodes.make_id(t.target)}", t.target)]
                        if t.target != source
                        else [nodes.emphasis(text="(stays)")],
                        gets,
                        _join([make_ref("clause", f"clause-{nodes.make_id(c)}", c) for c in clauses], " "),
                    ]
                )
            if not rows:
                continue
            heading = nodes.rubric(classes=["protocol-from"])
            heading += nodes.Text("From ")
            heading += make_ref("state", f"state-{nodes.make_id(source)}", source)
            out.append(heading)
            out.append(
                _table(
                    ["#", "Event", "Guard", "To", "What the calls get", "Clause"],
                    [4, 16, 18, 14, 30, 18],
                    rows,
                    ["protocol-transitions"],
                )
            )
        return out


class DiagramDirective(_ProtocolDirective):
    """One view of the state diagram, laid out by dot, with a link to the full-size SVG."""

    option_spec: ClassVar[dict[str, Any]] = {"view": directives.unchanged_required}

    def render(self, protocol: Protocol) -> list[nodes.Node]:
        view = self.options.get("view", "handoff")
        views = diagram_views(protocol.transitions)
        if view not in views:
            logger.warning(
                f"no diagram view {view!r}; views: {', '.join(views)}", location=self.get_location()
            )
            return []
        suffix = self.config.html_file_suffix or ".html"
        here = Path(self.env.docname).name + suffix
        try:
            svg = render_dot(dot_source(protocol.states, protocol.transitions, views[view], here))
        except RuntimeError as exc:
            logger.warning(str(exc), location=self.get_location())
            return []
        filename = f"protocol-{view}.svg"
        # The full-size picture, written to _images/ when the build ends: its
        # links go back up to this page.
        _diagrams(self.env)[filename] = svg.replace(f'href="{here}#', f'href="../{self.env.docname}{suffix}#')
        up = "../" * self.env.docname.count("/")
        inline = svg[svg.index("<svg") :]
        html = (
            f'<div class="protocol-diagram-scroll">{inline}</div>'
            f'<p class="protocol-diagram-link"><a href="{up}_images/{filename}">'
            "Open the full-size picture</a></p>"
        )
        figure = nodes.container(classes=["protocol-diagram"])
        figure += nodes.raw("", html, format="html")
        return [figure]


class ClausesDirective(_ProtocolDirective):
    option_spec: ClassVar[dict[str, Any]] = {
        "group": directives.unchanged,
        "kind": lambda argument: directives.choice(argument, ("protocol", "project")),
    }
    host_kind = "clause"

    def render(self, protocol: Protocol) -> list[nodes.Node]:
        wanted = self.options.get("group")
        groups = protocol.groups(self.options.get("kind"))
        if wanted is not None and wanted not in groups:
            logger.warning(
                f"no clause has group {wanted!r}; groups: {', '.join(groups)}", location=self.get_location()
            )
        out: list[nodes.Node] = []
        for group, clauses in groups.items():
            if wanted is not None and group != wanted:
                continue
            if wanted is None:
                out.append(nodes.rubric(text=group, classes=["protocol-group"]))
            for clause in clauses:
                out.append(self.clause(protocol, clause))
        return out

    def clause(self, protocol: Protocol, clause: Any) -> nodes.Node:
        box = nodes.container(classes=["protocol-clause"], ids=[f"clause-{nodes.make_id(clause.id)}"])
        head = nodes.paragraph(classes=["protocol-clause-title"])
        head += nodes.literal(clause.id, clause.id, classes=["protocol-clause-id"])
        head += nodes.Text(" ")
        head += nodes.strong(text=clause.title)
        box += head
        box += nodes.paragraph("", "", *self.para(clause.statement))
        rationale = nodes.paragraph(classes=["protocol-rationale"])
        rationale += nodes.emphasis(text="Why: ")
        rationale.extend(self.para(clause.rationale))
        box += rationale
        fields = nodes.field_list(classes=["protocol-clause-fields"])
        transitions = protocol.transitions_of(clause.id)
        if transitions:
            items = [make_ref("transition", f"transition-{n}", n, literal=False) for n, _ in transitions]
            fields += _field("Transitions", _join(items, ", "))
        tests = protocol.tests_of(clause.id)
        fields += _field(
            "Tests",
            _join([make_ref("test", t.anchor, t.nodeid) for t in tests])
            or [nodes.strong(text="none (the build fails until one cites this clause)")],
        )
        box += fields
        return box


def _field(name: str, body: list[nodes.Node]) -> nodes.field:
    f = nodes.field()
    f += nodes.field_name(text=name)
    b = nodes.field_body()
    p = nodes.paragraph()
    p.extend(body)
    b += p
    f += b
    return f


class TestsDirective(_ProtocolDirective):
    host_kind = "test"
    option_spec: ClassVar[dict[str, Any]] = {"source": directives.flag}

    def render(self, protocol: Protocol) -> list[nodes.Node]:
        by_file: dict[str, list[TestRef]] = defaultdict(list)
        for test in protocol.tests:
            by_file[test.path].append(test)
        out: list[nodes.Node] = []
        for path, tests in by_file.items():
            # One section per file, so that the page's table of contents lists the files.
            section = nodes.section(ids=[nodes.make_id(f"file-{path}")], classes=["protocol-test-file"])
            section += nodes.title(text=path)
            out.append(section)
            for test in tests:
                box = nodes.container(classes=["protocol-test"], ids=[test.anchor])
                head = nodes.paragraph(classes=["protocol-test-title"])
                head += nodes.literal(text=test.qualname.replace(".", "::"))
                if test.summary:
                    head += nodes.Text(" — ")
                    head.extend(self.para(test.summary))
                box += head
                cites = nodes.paragraph()
                cites += nodes.Text("Cites " if test.clauses else "Cites no clause.")
                cites.extend(
                    _join([make_ref("clause", f"clause-{nodes.make_id(c)}", c) for c in test.clauses])
                )
                box += cites
                if test.source and "source" in self.options:
                    # Folded: the page lists the tests; a reader opens the source of one.
                    box += nodes.raw("", "<details><summary>Source</summary>", format="html")
                    box += nodes.literal_block(test.source, test.source, language="python")
                    box += nodes.raw("", "</details>", format="html")
                section += box
        return out


# --------------------------------------------------------------------------
# The state diagrams, laid out by Graphviz's dot
# --------------------------------------------------------------------------

# The states that end the channel. The handoff view leaves the arcs into them
# out; the two ending views draw them, split by the end whose event takes them.
ENDING = ("CLIENT_CLOSED", "SERVER_ENDED", "FINISHED")
_CLIENT_EVENTS = ("client ", "abandon client", "cancel client", "second client")
# The states that a race leaves behind: the cancellations view draws the arcs
# that lead to and from them.
HELD = {"REQUEST_HELD", "ITEM_HELD"}


def diagram_views(transitions: list[Any]) -> dict[str, list[Any]]:
    """Every arc between two different states, in exactly one of four views."""
    views: dict[str, list[Any]] = {"handoff": [], "cancellations": [], "client-ends": [], "server-ends": []}
    for t in transitions:
        if t.source == t.target:
            continue  # kept states: counted on the node, listed in the table
        if t.target not in ENDING:
            held = HELD & {t.source, t.target}
            views["cancellations" if held or "cancel" in t.event else "handoff"].append(t)
        elif t.target == "CLIENT_CLOSED" or (
            t.target == "FINISHED" and t.source != "CLIENT_CLOSED" and t.event.startswith(_CLIENT_EVENTS)
        ):
            views["client-ends"].append(t)
        else:
            views["server-ends"].append(t)
    return views


def _dot_id(name: str) -> str:
    return '"' + name.replace('"', r"\"") + '"'


def dot_source(states: dict[str, str], transitions: list[Any], arcs: list[Any], page: str) -> str:
    """A dot graph of ``arcs``: one edge per (source, target), one label line per event.

    Each state links to its row of the states table on ``page``.
    """
    loops = defaultdict(int)
    for t in transitions:
        if t.source == t.target:
            loops[t.source] += 1
    events: dict[tuple[str, str], list[str]] = {}
    for t in arcs:
        labels = events.setdefault((t.source, t.target), [])
        if t.event not in labels:
            labels.append(t.event)
    used = [s for s in states if any(s in pair for pair in events)]
    ending_view = all(t.target in ENDING for t in arcs)
    lines = [
        "digraph protocol {",
        f"  graph [rankdir={'LR' if ending_view else 'TB'}, nodesep=0.25, ranksep=0.4, "
        'bgcolor="white", pad=0.15];',
        '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", color="#3b5b92", '
        'fontname="Helvetica", fontsize=12, margin="0.08,0.04"];',
        '  edge [fontname="Helvetica", fontsize=11, color="#555555", arrowsize=0.7];',
    ]
    for state in used:
        ending = state in ENDING
        note = f"\\n{loops[state]} events keep it" if loops[state] else ""
        lines.append(
            f"  {_dot_id(state)} [label={_dot_id(state + note)}, "
            f'URL="{page}#state-{nodes.make_id(state)}", target="_top"'
            + (', fillcolor="#f6eee6", color="#92603b"' if ending else "")
            + "];"
        )
    for (source, target), labels in events.items():
        text = "\\l".join(labels) + "\\l"
        lines.append(f"  {_dot_id(source)} -> {_dot_id(target)} [label={_dot_id(text)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


_DOT_MISSING = (
    "Graphviz's dot is not on PATH: the protocol diagrams need it. Install it with "
    "`apt-get install graphviz` (Debian, Ubuntu), `brew install graphviz` (macOS) or from "
    "https://graphviz.org/download/"
)


def render_dot(source: str) -> str:
    """The SVG that ``dot`` lays out for ``source``."""
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError(_DOT_MISSING)
    done = subprocess.run([dot, "-Tsvg"], input=source, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"dot failed: {done.stderr}")
    return done.stdout


# --------------------------------------------------------------------------


_MENTION = re.compile(r"(?<![\w`:-])([A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+)(?![\w`-])")


def on_autodoc_process_docstring(
    app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    """Link the clause ids that docstrings mention, such as (CANCEL-SEND-UNTAKEN)."""
    clauses = current().clauses
    for i, line in enumerate(lines):
        lines[i] = _MENTION.sub(
            lambda m: f":clause:`{m.group(1)}`" if m.group(1) in clauses else m.group(1), line
        )


def setup(app: Sphinx) -> dict[str, Any]:
    root = Path(__file__).resolve().parents[2]
    app.add_config_value("protocol_root", str(root), "env", [str])
    app.add_config_value("protocol_model", "spec.model", "env", [str])
    app.add_config_value("protocol_test_dirs", ["tests", "spec"], "env", [list])
    # The test directories whose tests take the implementation under test (--impl).
    app.add_config_value("protocol_impl_dirs", ["spec"], "env", [list])
    app.add_config_value("protocol_extra_transitions", {}, "env", [dict])
    # Each table whose closure is checked -> the arguments of ChannelModel() and events().
    app.add_config_value("protocol_closure", {"TRANSITIONS": {"stream": False}}, "env", [dict])
    app.add_node(protocol_ref)
    app.add_directive("protocol-states", StatesDirective)
    app.add_directive("protocol-events", EventsDirective)
    app.add_directive("protocol-variables", VariablesDirective)
    app.add_directive("protocol-transitions", TransitionsDirective)
    app.add_directive("protocol-diagram", DiagramDirective)
    app.add_directive("protocol-clauses", ClausesDirective)
    app.add_directive("protocol-tests", TestsDirective)
    app.add_role("clause", ClauseRole())
    app.add_role("state", StateRole())
    app.connect("builder-inited", on_builder_inited)
    app.connect("env-get-outdated", on_env_get_outdated)
    app.connect("env-purge-doc", on_env_purge_doc)
    app.connect("env-merge-info", on_env_merge_info)
    app.connect("doctree-resolved", on_doctree_resolved)
    app.connect("build-finished", on_build_finished)
    app.connect("autodoc-process-docstring", on_autodoc_process_docstring)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
