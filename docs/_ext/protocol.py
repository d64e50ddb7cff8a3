"""Render the protocol of ``spec/model.py`` at build time, and check its tests.

The pages about the protocol are generated from the same tables that the
conformance suite runs: ``spec.model`` exposes ``CLAUSES``, ``STATES`` and
``TRANSITIONS``, and the tests in ``tests/`` and ``spec/`` cite the clauses
they prove with ``@pytest.mark.clause("ID", ...)``. The citations are read
by parsing the test files with :mod:`ast`; nothing is run.

Directives:

``.. protocol-states::``       the states, one row each
``.. protocol-transitions::``  the transition table
``.. protocol-diagram::``      the state diagram, drawn as inline SVG in Python
``.. protocol-clauses::``      every clause (or one ``:group:``), with its tests
``.. protocol-tests::``        every test, with the clauses it cites and its source

Roles: ``:clause:`ID``` links to a clause, ``:state:`NAME``` to a state.

Every build (not only the ones that re-read a page) warns, so that
``sphinx-build -W`` fails, when the model cannot be imported or is
inconsistent, when a clause has no test, when a test function or ``Test*``
class cites no clause, and when a test cites an unknown clause id.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import math
import re
import sys
import traceback
from collections import defaultdict
from dataclasses import dataclass, field
from html import escape
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

    def groups(self) -> dict[str, list[Any]]:
        groups: dict[str, list[Any]] = {}
        for clause in self.clauses.values():
            groups.setdefault(clause.group, []).append(clause)
        return groups


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


# -- reading the citations with ast ------------------------------------------


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


class _FileScanner:
    """Finds the tests of one file and the clause ids each one cites."""

    def __init__(self, path: Path, rel: str, problems: list[tuple[str, str]], root: Path) -> None:
        self.root = root
        self.path = path
        self.rel = rel
        self.text = path.read_text(encoding="utf-8")
        self.lines = self.text.splitlines()
        self.problems = problems
        self.constants: dict[str, tuple[str, ...]] = {}
        self.aliases: set[str] = set()
        self.tests: list[TestRef] = []

    def problem(self, node: ast.AST | int, message: str) -> None:
        line = node if isinstance(node, int) else getattr(node, "lineno", 0)
        self.problems.append((f"{self.path}:{line}", message))

    def is_clause_mark(self, node: ast.AST) -> bool:
        name = _dotted(node)
        return name.endswith("mark.clause") or name in self.aliases

    def strings(self, node: ast.AST) -> tuple[str, ...] | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return (node.value,)
        if isinstance(node, ast.Name) and node.id in self.constants:
            return self.constants[node.id]
        if isinstance(node, ast.Starred):
            return self.strings(node.value)
        if isinstance(node, (ast.Tuple, ast.List)):
            out: list[str] = []
            for element in node.elts:
                got = self.strings(element)
                if got is None:
                    return None
                out.extend(got)
            return tuple(out)
        return None

    def marks(self, node: ast.AST) -> tuple[str, ...]:
        """The clause ids in one decorator or ``pytestmark`` value."""
        if isinstance(node, (ast.List, ast.Tuple)):
            return tuple(i for element in node.elts for i in self.marks(element))
        if not (isinstance(node, ast.Call) and self.is_clause_mark(node.func)):
            return ()
        ids: list[str] = []
        if not node.args:
            self.problem(node, "pytest.mark.clause() without a clause id")
        for arg in node.args:
            got = self.strings(arg)
            if got is None:
                self.problem(
                    arg,
                    f"cannot read the clause id {ast.unparse(arg)!r} without running the file: "
                    "cite clauses with string literals, or with module-level constants (str or tuple "
                    "of str) defined or imported from a module of the repository",
                )
            else:
                ids.extend(got)
        return tuple(ids)

    def body_pytestmark(self, body: list[ast.stmt]) -> tuple[str, ...]:
        ids: list[str] = []
        for stmt in body:
            if isinstance(stmt, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "pytestmark" for t in stmt.targets
            ):
                ids.extend(self.marks(stmt.value))
        return tuple(ids)

    def source_of(self, node: ast.AST) -> str:
        decorators = getattr(node, "decorator_list", [])
        first = min([node.lineno] + [d.lineno for d in decorators])  # type: ignore[attr-defined]
        last = node.end_lineno or node.lineno  # type: ignore[attr-defined]
        chunk = self.lines[first - 1 : last]
        indent = min((len(s) - len(s.lstrip()) for s in chunk if s.strip()), default=0)
        return "\n".join(s[indent:] for s in chunk)

    def imported_constants(self, stmt: ast.ImportFrom) -> None:
        """Names imported from a module of the repository, if they are string constants there."""
        if stmt.level:
            base = self.path.parent
            for _ in range(stmt.level - 1):
                base = base.parent
            target = base.joinpath(*(stmt.module or "").split(".")) if stmt.module else base / "__init__"
        else:
            target = self.root.joinpath(*(stmt.module or "").split("."))
        path = target.with_suffix(".py")
        if not path.is_file():
            return
        other = _FileScanner(path, "", [], self.root)
        other.read_constants(ast.parse(other.text, filename=str(path)))
        for alias in stmt.names:
            if alias.name in other.constants:
                self.constants[alias.asname or alias.name] = other.constants[alias.name]

    def read_constants(self, tree: ast.Module) -> None:
        for stmt in tree.body:
            if isinstance(stmt, ast.ImportFrom):
                self.imported_constants(stmt)
            elif (
                isinstance(stmt, ast.Assign)
                and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)
            ):
                name = stmt.targets[0].id
                if self.is_clause_mark(stmt.value):
                    self.aliases.add(name)
                else:
                    got = self.strings(stmt.value)
                    if got is not None:
                        self.constants[name] = got
            elif (
                isinstance(stmt, ast.AnnAssign)
                and isinstance(stmt.target, ast.Name)
                and stmt.value is not None
            ):
                got = self.strings(stmt.value)
                if got is not None:
                    self.constants[stmt.target.id] = got

    def scan(self) -> list[TestRef]:
        tree = ast.parse(self.text, filename=str(self.path))
        self.read_constants(tree)
        module_ids = self.body_pytestmark(tree.body)
        self.visit_body(tree.body, prefix="", inherited=module_ids)
        return self.tests

    def visit_body(self, body: list[ast.stmt], prefix: str, inherited: tuple[str, ...]) -> None:
        for stmt in body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name.startswith("test"):
                own = tuple(i for d in stmt.decorator_list for i in self.marks(d))
                self.add(stmt, prefix + stmt.name, inherited + own, is_class=False)
            elif isinstance(stmt, ast.ClassDef) and stmt.name.startswith("Test"):
                own = tuple(i for d in stmt.decorator_list for i in self.marks(d))
                own += self.body_pytestmark(stmt.body)
                before = len(self.tests)
                self.visit_body(stmt.body, prefix + stmt.name + ".", inherited + own)
                methods = self.tests[before:]
                cited = inherited + own + tuple(i for m in methods for i in m.clauses)
                if not methods and not (own or inherited):
                    self.problem(stmt, f"test class {prefix + stmt.name} cites no clause and has no test")
                self.tests.insert(
                    before,
                    TestRef(
                        self.rel,
                        prefix + stmt.name,
                        stmt.lineno,
                        tuple(dict.fromkeys(cited)),
                        "",
                        _summary(stmt),
                        is_class=True,
                    ),
                )

    def add(
        self,
        stmt: ast.FunctionDef | ast.AsyncFunctionDef,
        qualname: str,
        ids: tuple[str, ...],
        *,
        is_class: bool,
    ) -> None:
        ids = tuple(dict.fromkeys(ids))
        if not ids:
            self.problem(
                stmt,
                f'test {qualname} cites no clause: mark it with @pytest.mark.clause("ID", ...) '
                "naming the clauses of spec/model.py that it proves",
            )
        self.tests.append(
            TestRef(self.rel, qualname, stmt.lineno, ids, self.source_of(stmt), _summary(stmt), is_class)
        )


def _summary(node: ast.AST) -> str:
    doc = ast.get_docstring(node)  # type: ignore[arg-type]
    return doc.strip().split("\n\n")[0].replace("\n", " ") if doc else ""


def test_files(root: Path, dirs: list[str], patterns: list[str]) -> list[Path]:
    found: set[Path] = set()
    for d in dirs:
        base = root / d
        if base.is_dir():
            for pattern in patterns:
                found.update(p for p in base.rglob(pattern) if "_build" not in p.parts)
    return sorted(found)


def python_files_patterns(root: Path) -> list[str]:
    """pytest's ``python_files`` setting from pyproject.toml (its default otherwise)."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        tomllib = None  # type: ignore[assignment]
    pyproject = root / "pyproject.toml"
    if tomllib is not None and pyproject.is_file():
        with pyproject.open("rb") as f:
            options = tomllib.load(f).get("tool", {}).get("pytest", {}).get("ini_options", {})
        value = options.get("python_files")
        if value:
            return value.split() if isinstance(value, str) else list(value)
    return ["test_*.py", "*_test.py"]


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

    patterns = python_files_patterns(root)
    for path in test_files(root, list(config.protocol_test_dirs), patterns):
        rel = path.relative_to(root).as_posix()
        scanner = _FileScanner(path, rel, problems, root)
        try:
            protocol.tests.extend(scanner.scan())
        except SyntaxError as exc:
            problems.append((f"{path}:{exc.lineno}", f"cannot parse: {exc.msg}"))
            continue
        if protocol.loaded:
            for test in scanner.tests:
                for clause_id in test.clauses:
                    if clause_id not in protocol.clauses:
                        problems.append(
                            (
                                f"{path}:{test.lineno}",
                                f"test {test.qualname} cites unknown clause {clause_id!r}",
                            )
                        )
    # A class's own unknown ids are reported once, by its methods.
    problems = list(dict.fromkeys(problems))

    if protocol.loaded:
        for clause_id in protocol.clauses:
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
    digest.update(repr(protocol.states).encode())
    digest.update(
        repr(
            [(n, t.source, t.event, t.target, t.clause, t.outcome) for n, t in protocol.all_transitions()]
        ).encode()
    )
    digest.update(repr(protocol.tests).encode())
    # A change to this extension changes the pages it draws.
    digest.update(Path(__file__).read_bytes())
    protocol.fingerprint = digest.hexdigest()
    return protocol, problems


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
    node += nodes.literal(text, text) if literal else nodes.Text(text)
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
                rows.append(
                    [
                        [num],
                        self.para(t.event),
                        [make_ref("state", f"state-{nodes.make_id(t.target)}", t.target)]
                        if t.target != source
                        else [nodes.emphasis(text="(stays)")],
                        self.para(t.outcome),
                        [make_ref("clause", f"clause-{nodes.make_id(t.clause)}", t.clause)],
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
                    ["#", "Event", "To", "What the calls get", "Clause"],
                    [5, 20, 20, 35, 20],
                    rows,
                    ["protocol-transitions"],
                )
            )
        return out


class DiagramDirective(_ProtocolDirective):
    option_spec: ClassVar[dict[str, Any]] = {"caption": directives.unchanged}

    def render(self, protocol: Protocol) -> list[nodes.Node]:
        svg = render_svg(protocol.states, protocol.transitions)
        figure = nodes.figure(classes=["protocol-diagram"])
        figure += nodes.raw("", svg, format="html")
        caption = self.options.get("caption")
        if caption:
            figure += nodes.caption("", "", *self.para(caption))
        return [figure]


class ClausesDirective(_ProtocolDirective):
    option_spec: ClassVar[dict[str, Any]] = {"group": directives.unchanged}
    host_kind = "clause"

    def render(self, protocol: Protocol) -> list[nodes.Node]:
        wanted = self.options.get("group")
        groups = protocol.groups()
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
            out.append(nodes.rubric(text=path, classes=["protocol-test-file"]))
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
                    block = nodes.literal_block(test.source, test.source, language="python")
                    box += block
                out.append(box)
        return out


# --------------------------------------------------------------------------
# The state diagram, as SVG drawn here (no Graphviz)
# --------------------------------------------------------------------------

_FONT = 13.0  # px; labels use a monospace font so their width is predictable
_CHAR = 0.62 * _FONT
_LINE = 1.3 * _FONT


def _text_box(lines: list[str]) -> tuple[float, float]:
    return max(len(s) for s in lines) * _CHAR + 10, len(lines) * _LINE + 6


def _clip(cx: float, cy: float, hw: float, hh: float, tx: float, ty: float) -> tuple[float, float]:
    """Where the segment from the box centre towards (tx, ty) leaves the box."""
    dx, dy = tx - cx, ty - cy
    if dx == 0 and dy == 0:
        return cx, cy
    scale = min(hw / abs(dx) if dx else math.inf, hh / abs(dy) if dy else math.inf)
    return cx + dx * scale, cy + dy * scale


def _compact(events: list[str]) -> list[str]:
    """Distinct events, those of one actor on one line: "client anext | aclose"."""
    lines: dict[str, list[str]] = {}
    for event in dict.fromkeys(events):
        actor, _, rest = event.partition(" ")
        if actor in ("client", "server") and rest:
            lines.setdefault(actor, []).append(rest)
        else:
            lines.setdefault(event, [])
    return [f"{k} {' | '.join(v)}" if v else k for k, v in lines.items()]


def _components(names: list[str], edges: list[tuple[str, str]]) -> list[list[str]]:
    """Strongly connected components (Tarjan), each in the order of ``names``."""
    succ: dict[str, list[str]] = {n: [] for n in names}
    for a, b in edges:
        succ[a].append(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in succ[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            found.append(sorted(component, key=names.index))

    for name in names:
        if name not in index:
            visit(name)
    return sorted(found, key=lambda c: names.index(c[0]))


def _circle_order(component: list[str], edges: list[tuple[str, str]]) -> list[str]:
    """The order around a circle with the fewest crossing arrows (then the shortest).

    The first state stays first (at the top); small components are solved by
    trying every order, larger ones keep the order of STATES.
    """
    if len(component) > 8:
        return component
    from itertools import permutations

    members = set(component)
    chords = list({tuple(sorted((a, b))) for a, b in edges if a in members and b in members and a != b})
    best, best_cost = component, None
    k = len(component)
    for rest in permutations(component[1:]):
        order = (component[0], *rest)
        at = {n: i for i, n in enumerate(order)}
        spans = [tuple(sorted((at[a], at[b]))) for a, b in chords]
        crossings = sum(
            1 for i, (a, b) in enumerate(spans) for c, d in spans[i + 1 :] if a < c < b < d or c < a < d < b
        )
        length = sum(min(b - a, k - (b - a)) for a, b in spans)
        cost = (crossings, length)
        if best_cost is None or cost < best_cost:
            best, best_cost = list(order), cost
    return best


def render_svg(states: dict[str, str], transitions: list[Any]) -> str:
    """Draw the states and one arrow per (source, target) pair.

    The states that can reach each other (a strongly connected component:
    the handoff's turns) sit on an ellipse, in the order of STATES, and
    their arrows carry their events. The states that the handoff leaves for
    good sit in layers below, and the arrows into them are dashed, without
    labels (hover one for its events; the transition table has them all).
    The first state is the initial one (an entry arrow points at it); states
    that no transition leaves are final (double border). Transitions that
    keep the state are not drawn: the state shows their number (↻) and
    lists them when hovered.
    """
    names = list(states)
    pairs: dict[tuple[str, str], list[tuple[int, str]]] = {}
    loops: dict[str, list[tuple[int, str]]] = {n: [] for n in names}
    for number, t in enumerate(transitions, 1):
        if t.source == t.target:
            loops[t.source].append((number, t.event))
        else:
            pairs.setdefault((t.source, t.target), []).append((number, t.event))
    components = _components(names, list(pairs))
    component_of = {n: i for i, c in enumerate(components) for n in c}
    # Layers of the condensation, by longest path.
    layer = [0] * len(components)
    for _ in components:
        for a, b in pairs:
            ca, cb = component_of[a], component_of[b]
            if ca != cb:
                layer[cb] = max(layer[cb], layer[ca] + 1)
    box = {
        n: (max((len(n) + (len(str(len(loops[n]))) + 3 if loops[n] else 0)) * 8.6 + 30, 100.0), 36.0)
        for n in names
    }
    pos: dict[str, tuple[float, float]] = {}
    sizes: list[tuple[float, float]] = []  # width, height of each component
    local: dict[str, tuple[float, float]] = {}
    for component in components:
        if len(component) == 1:
            local[component[0]] = (0.0, 0.0)
            sizes.append(box[component[0]])
            continue
        component = _circle_order(component, list(pairs))
        k = len(component)
        rx, ry = max(300.0, 56.0 * k), max(200.0, 38.0 * k)
        for i, name in enumerate(component):
            angle = -math.pi / 2 + 2 * math.pi * i / k
            local[name] = (rx * math.cos(angle), ry * math.sin(angle))
        sizes.append((2 * rx + max(box[n][0] for n in component), 2 * ry + 36.0))
    y = 0.0
    for level in range(max(layer, default=0) + 1):
        members = [i for i in range(len(components)) if layer[i] == level]
        if not members:
            continue
        gap = 120.0
        total = sum(sizes[i][0] for i in members) + gap * (len(members) - 1)
        height = max(sizes[i][1] for i in members)
        x = -total / 2
        for i in members:
            cx, cy = x + sizes[i][0] / 2, y + height / 2
            for name in components[i]:
                pos[name] = (cx + local[name][0], cy + local[name][1])
            x += sizes[i][0] + gap
        y += height + 130.0

    shapes: list[str] = []
    labels: list[str] = []
    bounds = [
        (x - box[n][0] / 2, y - box[n][1] / 2, x + box[n][0] / 2, y + box[n][1] / 2)
        for n, (x, y) in pos.items()
    ]

    taken = list(bounds)  # boxes that a label must not cover: states, then placed labels

    def overlap(x: float, y: float, w: float, h: float) -> float:
        """The area of the label box at (x, y) that covers states or other labels."""
        return sum(
            max(0.0, min(x + w / 2, c) - max(x - w / 2, a)) * max(0.0, min(y + h / 2, d) - max(y - h / 2, b))
            for a, b, c, d in taken
        )

    def label(x: float, y: float, lines: list[str], tip: str) -> None:
        w, h = _text_box(lines)
        taken.append((x - w / 2 - 2, y - h / 2 - 1, x + w / 2 + 2, y + h / 2 + 1))
        bounds.append((x - w / 2, y - h / 2, x + w / 2, y + h / 2))
        labels.append(f'<g class="label"><title>{escape(tip)}</title>')
        labels.append(
            f'<rect class="lbg" x="{x - w / 2:.1f}" y="{y - h / 2:.1f}" '
            f'width="{w:.1f}" height="{h:.1f}" rx="3"/>'
        )
        for k, line in enumerate(lines):
            ty = y - h / 2 + 3 + _LINE * (k + 0.78)
            labels.append(f'<text class="lbl" x="{x:.1f}" y="{ty:.1f}">{escape(line)}</text>')
        labels.append("</g>")

    for (src, dst), events in pairs.items():
        x1, y1 = pos[src]
        x2, y2 = pos[dst]
        w1, h1 = box[src]
        w2, h2 = box[dst]
        dx, dy = x2 - x1, y2 - y1
        length = math.hypot(dx, dy) or 1.0
        inner = component_of[src] == component_of[dst]
        # Bow each arrow to its right, so that the two directions of a pair separate.
        bow = 0.12 * length if inner else 0.06 * length
        if (dst, src) in pairs:
            bow = max(bow, 40.0)
        cx = (x1 + x2) / 2 + dy / length * bow
        cy = (y1 + y2) / 2 - dx / length * bow
        sx, sy = _clip(x1, y1, w1 / 2 + 2, h1 / 2 + 2, cx, cy)
        ex, ey = _clip(x2, y2, w2 / 2 + 4, h2 / 2 + 4, cx, cy)
        tip = f"{src} → {dst}:\n" + "\n".join(f"{n}. {e}" for n, e in events)
        shapes.append(
            f'<path class="edge{"" if inner else " exit"}" d="M{sx:.1f},{sy:.1f} Q{cx:.1f},{cy:.1f} '
            f'{ex:.1f},{ey:.1f}" marker-end="url(#arrow)"><title>{escape(tip)}</title></path>'
        )
        if inner:
            # The middle of the curve, or the nearest point along it where
            # the label covers no state and no other label.
            lines = _compact([e for _, e in events])
            w, h = _text_box(lines)
            spots = []
            for t in (0.5, 0.42, 0.58, 0.34, 0.66, 0.26, 0.74):
                u = 1 - t
                spots.append(
                    (u * u * sx + 2 * u * t * cx + t * t * ex, u * u * sy + 2 * u * t * cy + t * t * ey)
                )
            mx, my = min(spots, key=lambda p: overlap(p[0], p[1], w, h))
            label(mx, my, lines, tip)

    leaving = {t.source for t in transitions if t.target != t.source}
    for i, name in enumerate(names):
        x, y = pos[name]
        w, h = box[name]
        final = name not in leaving
        tip = f"{name}: {states[name]}"
        if loops[name]:
            tip += f"\n\nTransitions that keep {name}:\n" + "\n".join(f"{n}. {e}" for n, e in loops[name])
        shapes.append(
            f'<g class="state{" final" if final else ""}{" initial" if i == 0 else ""}">'
            f"<title>{escape(tip)}</title>"
            f'<rect x="{x - w / 2:.1f}" y="{y - h / 2:.1f}" width="{w:.1f}" height="{h:.1f}" rx="8"/>'
            + (
                f'<rect class="inner" x="{x - w / 2 + 3:.1f}" y="{y - h / 2 + 3:.1f}" width="{w - 6:.1f}" '
                f'height="{h - 6:.1f}" rx="6"/>'
                if final
                else ""
            )
            + (
                f'<text x="{x:.1f}" y="{y + 5:.1f}">{escape(name)}'
                + (f'<tspan class="loops" dx="8">↻{len(loops[name])}</tspan>' if loops[name] else "")
                + "</text>"
            )
            + "</g>"
        )
        if i == 0:
            top = y - h / 2
            shapes.append(
                f'<path class="edge" d="M{x:.1f},{top - 36:.1f} L{x:.1f},{top - 3:.1f}" '
                'marker-end="url(#arrow)"/>'
            )
            shapes.append(f'<circle class="start" cx="{x:.1f}" cy="{top - 40:.1f}" r="5"/>')
            bounds.append((x - 6, top - 46, x + 6, top))

    x0 = min(b[0] for b in bounds) - 12
    y0 = min(b[1] for b in bounds) - 12
    width = max(b[2] for b in bounds) + 12 - x0
    height = max(b[3] for b in bounds) + 12 - y0
    style = (
        "svg.protocol{max-width:100%;height:auto;font-family:var(--font-stack--monospace,monospace)}"
        ".protocol .edge{fill:none;stroke:var(--color-foreground-secondary,#555);stroke-width:1.3}"
        ".protocol .edge.exit{stroke-dasharray:5 4;opacity:.75}"
        ".protocol .edge:hover{stroke:var(--color-brand-primary,#2962ff);stroke-width:2.5}"
        ".protocol .state rect{fill:var(--color-background-secondary,#f8f9fb);"
        "stroke:var(--color-foreground-primary,#222);stroke-width:1.5}"
        ".protocol .state.initial rect{stroke:var(--color-brand-primary,#2962ff);stroke-width:2.2}"
        ".protocol .state rect.inner{fill:none;stroke-width:1}"
        ".protocol .state text{fill:var(--color-foreground-primary,#222);font-size:14px;font-weight:bold;"
        "text-anchor:middle}"
        ".protocol .state .loops{font-size:12px;font-weight:normal;"
        "fill:var(--color-foreground-secondary,#555)}"
        ".protocol .start,.protocol #arrow path{fill:var(--color-foreground-secondary,#555)}"
        ".protocol .lbg{fill:var(--color-background-primary,#fff);opacity:.9}"
        ".protocol .lbl{fill:var(--color-foreground-primary,#222);"
        f"font-size:{_FONT:.0f}px;text-anchor:middle}}"
    )
    return (
        f'<svg class="protocol" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'aria-label="State diagram of the channel handoff: {len(names)} states, '
        f'{len(transitions)} transitions" '
        f'viewBox="{x0:.0f} {y0:.0f} {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}">'
        f"<style>{style}</style>"
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>'
        + "".join(shapes)
        + "".join(labels)
        + "</svg>"
    )


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
    app.add_config_value("protocol_extra_transitions", {}, "env", [dict])
    app.add_node(protocol_ref)
    app.add_directive("protocol-states", StatesDirective)
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
