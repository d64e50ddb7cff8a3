"""Shared by tests/ and spec/: the event loops that every loop-driven test runs on."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from spec.loops import loop_factories


@pytest.fixture(params=sorted(loop_factories()))
def loop_factory(request: pytest.FixtureRequest) -> Callable[[], asyncio.AbstractEventLoop]:
    return loop_factories()[request.param]
