"""Render the protocol of ``spec/model.py`` at build time, and check its tests.

The pages about the protocol are generated from the data that the
conformance suite runs: ``docs/protocol.json`` (``protocol_data``), which
``spec.publish`` writes from ``spec.model`` and which the build checks to be
current, gives the states, events, variables, phases and transitions;
``spec.model`` gives ``CLAUSES``; the tests in ``tests/`` and ``spec/`` cite
the clauses they prove with ``@pytest.mark.clause("ID", ...)``. The
citations are read from ``spec/traceability.txt``, which pytest's own
collection writes (``python -m spec.traceability --write``); nothing is run.

Directives:

``.. protocol-events::``       what each event label of the tables means
``.. protocol-states::``       the states, one row each
``.. protocol-variables::``    the variables, with their domains and start values
``.. protocol-phases::``       the state as a function of the variables
``.. protocol-walk::``         a scenario walked through the published machine
``.. protocol-transitions::``  one section per source state, with guards
``.. protocol-index::``        a link to each source state's section
``.. protocol-diagram::``      one ``:view:`` of the state diagram (sphinx.ext.graphviz, SVG)
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
import json
import re
import sys
import traceback
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.ext.graphviz import graphviz
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective, SphinxRole

# A directive's options: each name with the function that converts its text (docutils' option_spec).
OptionSpec = dict[str, Callable[[str], Any]]

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
    clauses: dict[str, Any] = field(default_factory=dict[str, Any])
    states: dict[str, str] = field(default_factory=dict[str, str])
    transitions: list[Any] = field(default_factory=list[Any])
    # Further transition tables of the model, by attribute name, with the
    # prefix of their numbers (protocol_extra_transitions).
    extra: dict[str, tuple[str, list[Any]]] = field(default_factory=dict[str, tuple[str, list[Any]]])
    tests: list[TestRef] = field(default_factory=list[TestRef])
    # What the labels of the tables mean, and the variables that guards use.
    events: dict[str, str] = field(default_factory=dict[str, str])
    variables: dict[str, str] = field(default_factory=dict[str, str])
    # docs/protocol.json, which the tables are rendered from.
    data: dict[str, Any] = field(default_factory=dict[str, Any])
    loaded: bool = False
    fingerprint: str = ""

    def tests_of(self, clause_id: str) -> list[TestRef]:
        return [t for t in self.tests if not t.is_class and clause_id in t.clauses] or [
            t for t in self.tests if t.is_class and clause_id in t.clauses
        ]

    def table(self, name: str) -> list[tuple[str, Any]]:
        """The numbered transitions of ``TRANSITIONS`` or of one of the extra tables."""
        rows = self.transitions if name == "TRANSITIONS" else self.extra.get(name, ("", []))[1]
        return [(t.id, t) for t in rows]

    def all_transitions(self) -> list[tuple[str, Any]]:
        return [row for name in ["TRANSITIONS", *self.extra] for row in self.table(name)]

    def phase(self, values: dict[str, str]) -> str:
        """The state of a configuration: the first phase whose condition holds."""
        return str(
            next(
                p["state"]
                for p in self.data["phases"]
                if _holds([tuple(c.items()) for c in p["when"]], values)
            )
        )

    def transitions_of(self, clause_id: str) -> list[tuple[str, Any]]:
        return [(n, t) for n, t in self.all_transitions() if t.clause == clause_id]

    def groups(self, kind: str | None = None) -> dict[str, list[Any]]:
        groups: dict[str, list[Any]] = {}
        for clause in self.clauses.values():
            if kind is None or kind_of(clause) == kind:
                groups.setdefault(clause.group, []).append(clause)
        return groups


@dataclass(frozen=True)
class PublishedRow:
    """One transition of docs/protocol.json."""

    id: str
    source: str
    event: str
    target: str
    clause: str
    outcome: str  # the model's note on the step
    guard: str
    gets: str
    cites: tuple[str, ...]
    when: tuple[tuple[tuple[str, tuple[str, ...]], ...], ...]


def published_rows(data: dict[str, Any]) -> list[PublishedRow]:
    return [
        PublishedRow(
            row["id"],
            row["source"],
            row["event"],
            row["target"],
            row["clause"],
            row["note"],
            row["guard"],
            row["gets"],
            tuple(row["cites"]),
            tuple(
                tuple((name, tuple(values)) for name, values in conjunction.items())
                for conjunction in row["when"]
            ),
        )
        for row in data["transitions"]
    ]


def load_data(root: Path, srcdir: Path, config: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The published protocol (``protocol_data``), and whether it is what the model gives now."""
    path = srcdir / config.protocol_data
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
    except (OSError, ValueError) as exc:
        return {}, [(f"{path}:1", f"cannot read the published protocol: {exc}")]
    publisher, error = load_model(root, config.protocol_publisher)
    if publisher is None:
        return data, [(f"{path}:1", f"cannot import {config.protocol_publisher}:\n{error}")]
    if publisher.text() != text:
        command = f"python -m {config.protocol_publisher} {path.relative_to(root).as_posix()}"
        return data, [(f"{path}:1", f"{config.protocol_data} is stale: run {command}")]
    return data, []


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


def _fields(value: object) -> dict[str, Any]:
    """The attributes of a clause or transition object, for the fingerprint."""
    return vars(value)


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
            data, stale = load_data(root, Path(app.srcdir), config)
            problems.extend(stale)
            # The tables are the published file's: the reader's data is what the page shows.
            protocol.data = data
            protocol.states = {s["name"]: s["meaning"] for s in data.get("states", [])}
            protocol.events = {e["label"]: e["meaning"] for e in data.get("events", [])}
            protocol.variables = {v["name"]: v["meaning"] for v in data.get("variables", [])}
            rows = published_rows(data) if data else []
            prefixes = dict(config.protocol_extra_transitions)
            protocol.transitions = [t for t in rows if not t.id.startswith(tuple(prefixes.values()) or "\0")]
            for name, prefix in prefixes.items():
                protocol.extra[name] = (prefix, [t for t in rows if t.id.startswith(prefix)])
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
    if protocol.data:
        problems.extend((__file__, message) for message in check_summaries(protocol))

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
            sorted(
                (k, _fields(c) if hasattr(c, "__dict__") else repr(c)) for k, c in protocol.clauses.items()
            )
        ).encode()
    )
    digest.update(repr((protocol.states, protocol.events, protocol.variables)).encode())
    digest.update(repr([(n, *_fields(t).values()) for n, t in protocol.all_transitions()]).encode())
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
    # Each table's name, with the model's options of the channel it is explored from.
    closures: dict[str, dict[str, Any]] = dict(config.protocol_closure)
    published: set[tuple[str, str, str, str]] = set()
    for name, options in closures.items():
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
        for event in module.events(**next(iter(closures.values()), dict[str, Any]()))
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
        if "undecided" in getattr(t, "guard", ""):
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
    return sorted(getattr(env, "protocol_users", set[str]()) & set(env.found_docs))


def on_env_purge_doc(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    users = getattr(env, "protocol_users", set[str]())
    users.discard(docname)
    hosts = getattr(env, "protocol_hosts", {})
    for kind in [k for k, d in hosts.items() if d == docname]:
        del hosts[kind]


def on_env_merge_info(app: Sphinx, env: BuildEnvironment, docnames: Any, other: BuildEnvironment) -> None:
    _users(env).update(getattr(other, "protocol_users", set[str]()))
    _hosts(env).update(getattr(other, "protocol_hosts", {}))


def _users(env: BuildEnvironment) -> set[str]:
    if not hasattr(env, "protocol_users"):
        env.protocol_users = set()  # type: ignore[attr-defined]
    return env.protocol_users  # type: ignore[attr-defined,no-any-return]


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


# Where a diagram's states link to, until the page that hosts the transitions is known.
TRANSITIONS_PAGE = "@transitions-page@"


def on_doctree_resolved(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    hosts = _hosts(app.env)
    for diagram in doctree.findall(graphviz):
        if TRANSITIONS_PAGE in diagram["code"]:
            page_host = hosts.get("from", docname)
            page = app.builder.get_relative_uri(docname, page_host) or app.builder.get_target_uri(page_host)
            diagram["code"] = diagram["code"].replace(TRANSITIONS_PAGE, page)
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
    # The kinds of anchor that this directive's page hosts (make_ref's kind).
    host_kinds: tuple[str, ...] = ()

    def run(self) -> list[nodes.Node]:
        _users(self.env).add(self.env.docname)
        for kind in self.host_kinds:
            _hosts(self.env)[kind] = self.env.docname
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
    headers: list[str], widths: list[int], rows: Sequence[Sequence[Sequence[nodes.Node]]], classes: list[str]
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


def _join(items: Sequence[nodes.Node], sep: str = ", ") -> list[nodes.Node]:
    out: list[nodes.Node] = []
    for i, item in enumerate(items):
        if i:
            out.append(nodes.Text(sep))
        out.append(item)
    return out


class StatesDirective(_ProtocolDirective):
    host_kinds = ("state",)

    def render(self, protocol: Protocol) -> list[nodes.Node]:
        rows: list[list[list[nodes.Node]]] = []
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
        rows: list[list[list[nodes.Node]]] = [
            [[nodes.literal(text=label)], self.para(protocol.events.get(label, ""))]
            for label in [
                *[e for e in protocol.events if e in labels],
                *[e for e in labels if e not in protocol.events],
            ]
        ]
        return [_table(["Event", "What happens"], [30, 70], rows, ["protocol-events"])]


class VariablesDirective(_ProtocolDirective):
    """The variables that phases and guards are written in: domain, start value, meaning."""

    def render(self, protocol: Protocol) -> list[nodes.Node]:
        rows: list[list[list[nodes.Node]]] = []
        for variable in protocol.data.get("variables", []):
            start = variable["start"]
            rows.append(
                [
                    [nodes.literal(text=variable["name"])],
                    _join([nodes.literal(text=value) for value in variable["domain"]], " · "),
                    [nodes.emphasis(text="per event")] if start is None else [nodes.literal(text=start)],
                    self.para(variable["meaning"]),
                ]
            )
        return [
            _table(["Variable", "Domain", "Start", "Meaning"], [14, 22, 10, 54], rows, ["protocol-variables"])
        ]


def _guard_text(guard: list[dict[str, list[str]]]) -> str:
    def test(name: str, allowed: list[str]) -> str:
        return f"{name} = {allowed[0]}" if len(allowed) == 1 else f"{name} in {{{', '.join(allowed)}}}"

    parts = [
        " and ".join(test(name, allowed) for name, allowed in alternative.items()) for alternative in guard
    ]
    return " or ".join(parts) if parts != [""] else "otherwise"


class PhasesDirective(_ProtocolDirective):
    """The named state as a function of the variables: the first row whose condition holds."""

    def render(self, protocol: Protocol) -> list[nodes.Node]:
        rows: list[list[list[nodes.Node]]] = [
            [
                [nodes.Text(str(number))],
                [make_ref("state", f"state-{nodes.make_id(phase['state'])}", phase["state"])],
                [nodes.Text(_guard_text(phase["when"]))],
            ]
            for number, phase in enumerate(protocol.data.get("phases", []), 1)
        ]
        return [
            _table(["#", "State", "when (the first row that holds)"], [6, 24, 70], rows, ["protocol-phases"])
        ]


def transitions_anchor(state: str) -> str:
    return f"from-{nodes.make_id(state)}"


class TransitionsDirective(_ProtocolDirective):
    """One section per source state, in the order of STATES, with the rows of every table.

    The rows of one state are grouped by event, so that the guards that
    choose among them are read together; a row numbered S… is one that only
    a stream channel takes.
    """

    # "from": the section of one source state's transitions.
    host_kinds = ("transition", "from")

    def render(self, protocol: Protocol) -> list[nodes.Node]:
        out: list[nodes.Node] = []
        rows_of: dict[str, list[tuple[str, Any]]] = defaultdict(list)
        for number, t in protocol.all_transitions():
            rows_of[t.source].append((number, t))
        events = list(protocol.events)
        for source in protocol.states:
            table = sorted(
                rows_of.get(source, []),
                key=lambda row: (events.index(row[1].event) if row[1].event in events else len(events),),
            )
            if not table:
                continue
            rows = [self.row(number, t, source) for number, t in table]
            section = nodes.section(ids=[transitions_anchor(source)], classes=["protocol-from"])
            title = nodes.title()
            title += nodes.Text(f"From {source}")
            section += title
            intro = nodes.paragraph()
            intro += make_ref("state", f"state-{nodes.make_id(source)}", source)
            intro += nodes.Text(": ")
            intro.extend(self.para(protocol.states[source]))
            intro += nodes.Text(f" {len(table)} transitions.")
            section += intro
            section += _table(
                ["#", "Event", "Guard", "To", "What the calls get", "Clause"],
                [5, 14, 26, 13, 27, 15],
                rows,
                ["protocol-transitions"],
            )
            out.append(section)
        return out

    def row(self, number: str, t: Any, source: str) -> list[list[nodes.Node]]:
        num = nodes.inline("", "", ids=[f"transition-{number}"])
        num += nodes.Text(str(number))
        gets: list[nodes.Node] = [nodes.Text(t.gets)]
        if t.outcome:
            gets += [nodes.Text(" "), nodes.inline(text=f"({t.outcome})", classes=["protocol-note"])]
        return [
            [num],
            [nodes.literal(text=t.event)],
            [nodes.Text(t.guard)],
            [make_ref("from", transitions_anchor(t.target), t.target)]
            if t.target != source
            else [nodes.emphasis(text="(stays)")],
            gets,
            _join([make_ref("clause", f"clause-{nodes.make_id(c)}", c) for c in t.cites], " "),
        ]


class IndexDirective(_ProtocolDirective):
    """A link to each source state's transitions, with how many there are."""

    def render(self, protocol: Protocol) -> list[nodes.Node]:
        counts: dict[str, int] = defaultdict(int)
        for _, t in protocol.all_transitions():
            counts[t.source] += 1
        items = nodes.bullet_list(classes=["protocol-index"])
        for state in protocol.states:
            item = nodes.list_item()
            para = nodes.paragraph()
            para += make_ref("from", transitions_anchor(state), f"From {state}", literal=False)
            para += nodes.Text(f": {counts[state]} transitions")
            item += para
            items += item
        return [items]


class WalkDirective(_ProtocolDirective):
    """A scenario walked through the published machine: one event label per content line.

    Each step names the row it takes, so that the narration is the table's
    own: the build fails if an event is not enabled where the walk is.
    """

    has_content = True
    option_spec: ClassVar[OptionSpec | None] = {"machine": directives.unchanged}

    def render(self, protocol: Protocol) -> list[nodes.Node]:
        machine = self.options.get("machine", "Channel")
        walk = protocol.data["machines"][machine]
        # A plain channel takes the rows of the first table; a stream channel, every row.
        rows = protocol.transitions if machine == "Channel" else [t for _, t in protocol.all_transitions()]
        names = walk["variables"]
        configuration = walk["start"]
        steps = nodes.enumerated_list(classes=["protocol-walk"])
        for line in self.content:
            wanted = line.strip()
            if not wanted:
                continue
            here = walk["configurations"][configuration]
            choices = [(i, nxt) for i, nxt in here["steps"] if walk["events"][i]["label"] == wanted]
            if not choices:
                logger.warning(f"the walk cannot take {wanted!r} here", location=self.get_location())
                return []
            index, following = choices[0]
            event = walk["events"][index]
            values = {**dict(zip(names, here["values"], strict=True)), **_event_values(here, event)}
            state = protocol.phase(values)
            chosen = [t for t in rows if t.source == state and t.event == wanted and _holds(t.when, values)]
            if len(chosen) != 1:
                logger.warning(
                    f"{len(chosen)} transitions of {state} on {wanted!r} hold for {values}",
                    location=self.get_location(),
                )
                return []
            row = chosen[0]
            item = nodes.list_item()
            para = nodes.paragraph()
            para += nodes.literal(text=wanted)
            para += nodes.Text(" — ")
            para += make_ref("transition", f"transition-{row.id}", f"row {row.id}", literal=False)
            para += nodes.Text(": ")
            para += make_ref("from", transitions_anchor(state), state)
            para += nodes.Text(" → ")
            para += make_ref("from", transitions_anchor(row.target), row.target)
            para += nodes.Text(f"; {row.gets}.")
            item += para
            steps += item
            configuration = following
        return [steps]


def _holds(when: Any, values: dict[str, str]) -> bool:
    return any(all(values[name] in allowed for name, allowed in conjunction) for conjunction in when)


def _event_values(configuration: dict[str, Any], event: dict[str, Any]) -> dict[str, str]:
    """room and writer, as the variables table defines them."""
    room = configuration["room"]
    if event["kind"] == "client":
        room = event["arg"] if event["op"] == "read_items" else 1
    items = configuration["writer"]
    if event["op"] == "write_items" and event["kind"] in ("server", "race"):
        items = len(event["arg"])
    if items is None:
        writer = "none"
    else:
        writer = (
            "exhausted"
            if items == 0
            else "fits"
            if items < room
            else "fills"
            if items == room
            else "overflows"
        )
    return {"room": "0" if room == 0 else "1" if room == 1 else "more than 1", "writer": writer}


class DiagramDirective(_ProtocolDirective):
    """One view of the state diagram, laid out by sphinx.ext.graphviz; each state links to its transitions."""

    option_spec: ClassVar[OptionSpec | None] = {"view": directives.unchanged_required}

    def render(self, protocol: Protocol) -> list[nodes.Node]:
        view = self.options.get("view", "handoff")
        views = diagram_views(protocol.transitions)
        if view not in views:
            logger.warning(
                f"no diagram view {view!r}; views: {', '.join(views)}", location=self.get_location()
            )
            return []
        summaries = [summary for summary in SUMMARIES if summary.view == view]
        arcs = [
            t
            for t in views[view]
            if not any(t.source not in ENDING and t.event in summary.events for summary in summaries)
        ]
        node = graphviz()
        # The page of the transitions is known once every page is read: on_doctree_resolved.
        node["code"] = dot_source(protocol.states, protocol.transitions, arcs, TRANSITIONS_PAGE)
        node["options"] = {"docname": self.env.docname}
        node["alt"] = f"State diagram: {view}"
        node["classes"] = ["protocol-diagram"]
        return [*(nodes.paragraph("", "", *self.para(summary.sentence)) for summary in summaries), node]


class ClausesDirective(_ProtocolDirective):
    option_spec: ClassVar[OptionSpec | None] = {
        "group": directives.unchanged,
        "kind": lambda argument: directives.choice(argument, ("protocol", "project")),
    }
    host_kinds = ("clause",)

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
    host_kinds = ("test",)
    option_spec: ClassVar[OptionSpec | None] = {"source": directives.flag}

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


@dataclass(frozen=True)
class Summary:
    """One sentence that stands for many arcs of a view, as h11's docs do for its ERROR state.

    From every state where both ends are open (not in ENDING), each of
    ``events`` leads where ``target`` says for the configuration's values,
    or keeps its state (a refused call). The build checks the sentence on
    every configuration of the published walk; the view then leaves those
    arcs out.
    """

    view: str
    events: tuple[str, ...]
    sentence: str
    target: Callable[[dict[str, str]], str]


SUMMARIES = [
    Summary(
        "server-ends",
        (
            "server block ends",
            "server block raises",
            "server block re-raises",
            "server task cancelled",
            "server aclose",
        ),
        "From every state where both ends are open, the server block leaving (``server block ends``, "
        "``server block raises``, ``server block re-raises``), ``server task cancelled`` and "
        "``server aclose`` lead to :state:`SERVER_ENDED` while the client has no pending call, and to "
        ":state:`FINISHED` while it has one: that call learns how the block ended. The diagram draws the "
        "other arcs.",
        lambda values: "FINISHED" if values["client_call"] != "none" else "SERVER_ENDED",
    ),
    Summary(
        "client-ends",
        ("client aclose", "abandon client"),
        "From every state where both ends are open, ``client aclose`` and ``abandon client`` lead to "
        ":state:`CLIENT_CLOSED` (the server's pending call, if any, raises ``GeneratorExit``), or to "
        ":state:`FINISHED` while the server's ``async with`` waits for the first request (it raises "
        "``ClientClosedError``); a ``client aclose`` made while another client call is pending raises "
        "``AlreadyRunningError`` and keeps the state. The diagram draws the other arcs.",
        lambda values: "FINISHED" if values["server"] == "entering" else "CLIENT_CLOSED",
    ),
]


def check_summaries(protocol: Protocol) -> list[str]:
    """The summaries that some configuration of the published Channel walk contradicts."""
    walk = protocol.data["machines"]["Channel"]
    wrong: list[str] = []
    for summary in SUMMARIES:
        for configuration in walk["configurations"]:
            values = dict(zip(walk["variables"], configuration["values"], strict=True))
            state = protocol.phase(values)
            if state in ENDING:
                continue
            for index, following in configuration["steps"]:
                if walk["events"][index]["label"] not in summary.events:
                    continue
                reached = walk["configurations"][following]
                target = protocol.phase(dict(zip(walk["variables"], reached["values"], strict=True)))
                if target not in (state, summary.target(values)):
                    wrong.append(
                        f"the summary of the {summary.view} view says {walk['events'][index]['label']} leads "
                        f"{state} to {summary.target(values)}, but it leads {values} to {target}"
                    )
    return wrong


def _dot_id(name: str) -> str:
    return '"' + name.replace('"', r"\"") + '"'


# How an arc is drawn, by the kind of event that takes it: (kind, test on the label, dot style).
ARC_KINDS: list[tuple[str, Callable[[str], bool], str]] = [
    ("cancellation or race", lambda e: "cancel" in e, 'color="#b35900", fontcolor="#b35900", style=dashed'),
    (
        "server block leaves, client abandoned",
        lambda e: e.startswith(("server block", "abandon")),
        'color="#6b4c9a", fontcolor="#6b4c9a", style=dotted, penwidth=1.4',
    ),
    ("client call", lambda e: e.startswith("client"), 'color="#1f4e8c", fontcolor="#1f4e8c"'),
    ("server call", lambda e: True, 'color="#2d6a2d", fontcolor="#2d6a2d"'),
]

# The variables that never vary in a plain channel (no read_items, no write_items): the
# diagrams, which draw a plain channel, leave them out of the guards they show.
_STREAM_ONLY = {"writer", "batch"}


def _style(style: str, name: str) -> str:
    """The value of one attribute in a dot attribute list such as ``color="#fff", style=dashed``."""
    found = re.search(rf'\b{name}="?([^",]+)', style)
    return found.group(1) if found else ""


def arc_kind(event: str) -> str:
    return next(kind for kind, test, _ in ARC_KINDS if test(event))


def _plain_guard(when: Any) -> str:
    parts: list[str] = []
    for conjunction in when:
        tests = [
            f"{name} = {allowed[0]}" if len(allowed) == 1 else f"{name} in {{{', '.join(allowed)}}}"
            for name, allowed in conjunction
            if name not in _STREAM_ONLY
        ]
        parts.append(" and ".join(tests))
    return " or ".join(dict.fromkeys(p for p in parts if p))


def dot_source(states: dict[str, str], transitions: list[Any], arcs: list[Any], page: str) -> str:
    """A dot graph of ``arcs``: one edge per (source, target, kind of event), one label line per event.

    An event that leads one state to several targets shows, on each arc, the
    guard that chooses it. Each state links to its transitions on ``page``;
    a new channel starts at the black dot.
    """
    loops: dict[str, int] = defaultdict(int)
    targets: dict[tuple[str, str], set[str]] = defaultdict(set)
    for t in transitions:
        if t.source == t.target:
            loops[t.source] += 1
        else:
            targets[(t.source, t.event)].add(t.target)
    edges: dict[tuple[str, str, str], dict[str, list[str]]] = {}
    for t in arcs:
        labels = edges.setdefault((t.source, t.target, arc_kind(t.event)), {})
        guards = labels.setdefault(t.event, [])
        if len(targets[(t.source, t.event)]) > 1:
            guards.append(_plain_guard(t.when))
    used = [s for s in states if any(s in edge[:2] for edge in edges)]
    lines = [
        "digraph protocol {",
        '  graph [rankdir=TB, nodesep=0.3, ranksep=0.45, bgcolor="white", pad=0.15];',
        '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", color="#3b5b92", '
        'fontname="Helvetica", fontsize=12, margin="0.08,0.04"];',
        '  edge [fontname="Helvetica", fontsize=10, arrowsize=0.7];',
    ]
    if "CLIENT_UNSTARTED" in used:
        lines.append(
            '  start [shape=circle, style=filled, fillcolor=black, label="", width=0.18, '
            'tooltip="a new channel"];'
        )
        lines.append('  start -> "CLIENT_UNSTARTED" [color=black];')
    for state in used:
        note = f"\\n{loops[state]} events keep it" if loops[state] else ""
        lines.append(
            f"  {_dot_id(state)} [label={_dot_id(state + note)}, "
            f'URL="{page}#{transitions_anchor(state)}", target="_top", tooltip="{state}: its transitions"'
            + (', fillcolor="#f6eee6", color="#92603b"' if state in ENDING else "")
            + "];"
        )
    styles = {kind: style for kind, _, style in ARC_KINDS}
    for (source, target, kind), labels in edges.items():
        text = "".join(
            event + (f" [{' or '.join(dict.fromkeys(guards))}]" if guards else "") + "\\l"
            for event, guards in labels.items()
        )
        lines.append(f"  {_dot_id(source)} -> {_dot_id(target)} [label={_dot_id(text)}, {styles[kind]}];")
    # The legend, under the states: a sample of the line of each kind of arc that the view draws.
    glyphs = {"dashed": "- - - - -", "dotted": "· · · · · ·"}
    cells = "".join(
        f'<tr><td><font color="{_style(styles[kind], "color")}">'
        f"{glyphs.get(_style(styles[kind], 'style'), '———')}</font></td>"
        f'<td align="left">{kind}</td></tr>'
        for kind, _, _ in ARC_KINDS
        if any(edge[2] == kind for edge in edges)
    )
    lines.append(
        '  legend [shape=plaintext, style=filled, fillcolor=white, fontsize=10, label=<<table border="0" '
        f'cellborder="0" cellspacing="0" cellpadding="1"><tr><td colspan="2">Arcs</td></tr>{cells}</table>>];'
    )
    lines.append("  { rank=sink; legend; }")
    lines.append("}")
    return "\n".join(lines) + "\n"


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
    # The published protocol (relative to the source directory), and the module that writes it.
    app.add_config_value("protocol_data", "protocol.json", "env", [str])
    app.add_config_value("protocol_publisher", "spec.publish", "env", [str])
    # Each table whose closure is checked -> the arguments of ChannelModel() and events().
    app.add_config_value("protocol_closure", {"TRANSITIONS": {"stream": False}}, "env", [dict])
    app.setup_extension("sphinx.ext.graphviz")
    app.add_node(protocol_ref)
    app.add_directive("protocol-states", StatesDirective)
    app.add_directive("protocol-events", EventsDirective)
    app.add_directive("protocol-variables", VariablesDirective)
    app.add_directive("protocol-phases", PhasesDirective)
    app.add_directive("protocol-walk", WalkDirective)
    app.add_directive("protocol-index", IndexDirective)
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
    app.connect("autodoc-process-docstring", on_autodoc_process_docstring)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
