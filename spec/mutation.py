"""Mutation testing of channels.py by tests/ and spec/.

``python -m spec.mutation`` (tox -e mutation) makes every mutant of
channels.py that its operators allow (a comparison or boolean operator
flipped, a constant changed, an augmented assignment reversed, a statement
removed), runs the kill suite against each one in a subprocess, and reports
the mutation score and every surviving mutant. A mutant is killed when the
suite fails or hangs (the timeout). The kill suite is the deterministic part
of the suite plus the oracle: tests/, the named scenarios, the
exhaustive enumeration (depth 4 by default, ``--depth``), on asyncio's loop,
the checks outside the model, the task groups (GROUP-EXIT) and the trio tests.
``--only 74,76`` reruns chosen mutants, for instance at a greater depth;
``--every 5`` runs a sample, every fifth mutant.

Survivors are listed with the line they change, to be explained (an
equivalent mutant) or killed by a new test; ``spec/mutation-survivors.md``
holds the explanations of the last run.
"""

from __future__ import annotations

import argparse
import ast
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import cast

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "channels.py"
KILL_SUITE = [
    "tests/library/test_channels.py",
    "tests/library/test_scenarios.py",
    "tests/library/test_seed_examples.py",
    "spec/test_exhaustive.py",
    "spec/test_oracle.py",
    # Last, so that only the mutants that the suite above misses pay for them:
    # the misuse checks, the task groups and the trio runs.
    "spec/test_outside_the_model.py",
    "spec/test_backends.py",
    "tests/library/test_trio.py",
    "-k",
    "not uvloop",
]
TIMEOUT = 120.0

# Each operator and its mutant, one table per kind of operator node (a node's field takes only its kind).
_COMPARE_SWAP: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Lt: ast.GtE,
    ast.GtE: ast.Lt,
    ast.Gt: ast.LtE,
    ast.LtE: ast.Gt,
}
_BOOL_SWAP: dict[type[ast.boolop], type[ast.boolop]] = {ast.And: ast.Or, ast.Or: ast.And}
_ARITHMETIC_SWAP: dict[type[ast.operator], type[ast.operator]] = {ast.Add: ast.Sub, ast.Sub: ast.Add}


@dataclass(frozen=True)
class Mutant:
    index: int
    line: int
    description: str
    source: str


def _skipped(node: ast.AST) -> bool:
    """Docstrings and messages are not behaviour."""
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


class _Mutator(ast.NodeTransformer):
    """Applies the ``target``-th mutation point (or counts them, when target is -1)."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.count = 0
        self.applied: tuple[int, str] | None = None

    def _point(self, node: ast.AST, description: str) -> bool:
        hit = self.count == self.target
        self.count += 1
        if hit:
            self.applied = (getattr(node, "lineno", 0), description)
        return hit

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        for position, op in enumerate(node.ops):
            swap = _COMPARE_SWAP.get(type(op))
            if swap is not None and self._point(node, f"{type(op).__name__} -> {swap.__name__}"):
                node.ops[position] = swap()
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        self.generic_visit(node)
        swap = _BOOL_SWAP[type(node.op)]
        if self._point(node, f"{type(node.op).__name__} -> {swap.__name__}"):
            node.op = swap()
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Not) and self._point(node, "not x -> x"):
            return node.operand
        return node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        self.generic_visit(node)
        swap = _ARITHMETIC_SWAP.get(type(node.op))
        if swap is not None and self._point(node, f"{type(node.op).__name__}= -> {swap.__name__}="):
            node.op = swap()
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if isinstance(node.value, bool) and self._point(node, f"{node.value} -> {not node.value}"):
            return ast.copy_location(ast.Constant(not node.value), node)
        if (
            type(node.value) is int
            and not _skipped(node)
            and self._point(node, f"{node.value} -> {node.value + 1}")
        ):
            return ast.copy_location(ast.Constant(node.value + 1), node)
        return node

    def _statements(self, body: list[ast.stmt]) -> list[ast.stmt]:
        result: list[ast.stmt] = []
        for statement in body:
            removable = isinstance(statement, (ast.Assign, ast.AugAssign, ast.Expr, ast.Raise)) and not (
                isinstance(statement, ast.Expr) and _skipped(statement.value)
            )
            if removable and self._point(statement, "statement removed"):
                result.append(ast.copy_location(ast.Pass(), statement))
            else:
                result.append(statement)
        return result

    def generic_visit(self, node: ast.AST) -> ast.AST:
        for field in ("body", "orelse", "finalbody"):
            body: object = getattr(node, field, None)
            if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
                statements = cast(list[ast.stmt], body)  # a node's statement list holds statements only
                setattr(node, field, self._statements(statements))
        return super().generic_visit(node)


def _mutated_region(tree: ast.Module) -> list[ast.stmt]:
    """The classes and functions whose behaviour the suite specifies."""
    return [node for node in tree.body if isinstance(node, (ast.ClassDef, ast.FunctionDef))]


def mutants() -> Iterator[Mutant]:
    text = SOURCE.read_text(encoding="utf-8")
    counter = _Mutator(-1)
    for node in _mutated_region(ast.parse(text)):
        counter.visit(node)
    for index in range(counter.count):
        tree = ast.parse(text)
        mutator = _Mutator(index)
        for node in _mutated_region(tree):
            mutator.visit(node)
        assert mutator.applied is not None
        line, description = mutator.applied
        yield Mutant(index, line, description, ast.unparse(ast.fix_missing_locations(tree)))


def killed(mutant: Mutant, depth: int = 4) -> bool:
    with tempfile.TemporaryDirectory() as directory:
        (Path(directory) / "channels.py").write_text(mutant.source, encoding="utf-8")
        environment = dict(
            os.environ, PYTHONPATH=os.pathsep.join([directory, str(ROOT)]), HYPOTHESIS_PROFILE="dev"
        )
        command = [
            sys.executable,
            "-P",  # the checkout's own channels.py must not shadow the mutant (Python 3.11+)
            "-m",
            "pytest",
            "-x",
            "-q",
            "-p",
            "no:cacheprovider",
            "--import-mode=importlib",
        ]
        try:
            result = subprocess.run(
                [*command, *KILL_SUITE, "--exhaustive-depth", str(depth)],
                cwd=ROOT,
                env=environment,
                capture_output=True,
                timeout=TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return True  # a hang is caught (NO-HANG)
        return result.returncode != 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--limit", type=int, default=0, help="run only the first N mutants (0: all)")
    parser.add_argument("--only", default="", help="run only these mutants: comma-separated numbers")
    parser.add_argument("--every", type=int, default=1, help="run every Nth mutant only (default 1: all)")
    parser.add_argument("--depth", type=int, default=4, help="exhaustive depth of the kill suite (default 4)")
    args = parser.parse_args(argv)
    population = list(mutants())
    if args.only:
        wanted = {int(number) for number in args.only.split(",")}
        population = [mutant for mutant in population if mutant.index in wanted]
    population = population[:: args.every]
    if args.limit:
        population = population[: args.limit]
    started = time.perf_counter()
    survivors: list[Mutant] = []
    depth: int = args.depth

    def verdict(mutant: Mutant) -> bool:
        return killed(mutant, depth)

    with ThreadPoolExecutor(args.workers) as pool:
        verdicts = pool.map(verdict, population)
        for done, (mutant, dead) in enumerate(zip(population, verdicts, strict=True), 1):
            if not dead:
                survivors.append(mutant)
                print(f"survived: #{mutant.index} line {mutant.line}: {mutant.description}", flush=True)
            print(f"\r{done}/{len(population)} mutants, {len(survivors)} survived", end="", file=sys.stderr)
    score = 1 - len(survivors) / len(population)
    print(
        f"\nmutation score {score:.1%}: {len(population) - len(survivors)} of {len(population)} "
        f"mutants killed in {time.perf_counter() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
