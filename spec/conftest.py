"""``pytest spec --impl NAME`` selects the implementation that the suite checks.

Everything the suite needs from pytest is here, so that it runs the same from
this repository and as the installed ``channels_conformance`` package.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from types import ModuleType

import pytest
from hypothesis import HealthCheck, settings

from .impl import DEFAULT, load
from .loops import loop_factories

settings.register_profile(
    "ci",
    max_examples=100,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=40, stateful_step_count=20, deadline=None)
settings.register_profile(
    "thorough",
    max_examples=600,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("channels spec")
    group.addoption(
        "--impl",
        default=DEFAULT,
        help="the implementation under test: a dotted module name or a path to a .py file "
        "that defines Channel and StreamChannel (default: channels)",
    )
    group.addoption(
        "--exhaustive-depth",
        type=int,
        default=4,
        help="the depth of spec/test_exhaustive.py's enumeration (default 4; tox -e spec-exhaustive uses 6)",
    )


@pytest.fixture(scope="session")
def impl_name(request: pytest.FixtureRequest) -> str:
    return str(request.config.getoption("--impl"))


@pytest.fixture(scope="session")
def impl(impl_name: str) -> ModuleType:
    return load(impl_name)


@pytest.fixture(params=sorted(loop_factories()))
def loop_factory(request: pytest.FixtureRequest) -> Callable[[], asyncio.AbstractEventLoop]:
    """Each event loop that the suite runs on: asyncio's, and uvloop's where it is installed."""
    return loop_factories()[request.param]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from .conformance import STATS
    from .test_exhaustive import EXPLORED

    for name, count in EXPLORED.items():
        terminalreporter.write_line(f"exhaustive: {name}: {count} sequences explored")

    if STATS["runs"]:
        terminalreporter.write_line(
            f"conformance: {STATS['runs']} runs, {STATS['steps']} steps compared with the model "
            f"(Hypothesis profile {os.environ.get('HYPOTHESIS_PROFILE', 'dev')})"
        )
