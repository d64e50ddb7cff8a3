"""Every test runs on asyncio's loop and on uvloop, each await under a timeout."""

from __future__ import annotations

import asyncio
import functools
import gc
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from spec.loops import loop_factories

# A test that takes longer than this hangs: fail it instead of the whole run.
TEST_TIMEOUT = 10.0


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> Mapping[str, Any]:
    return loop_factories()


def _with_timeout(test: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(test)
    async def bounded(*args: Any, **kwargs: Any) -> Any:
        # What the loop logs ("exception was never retrieved", ...) fails the test (NO-NOISE).
        logged: list[dict[str, Any]] = []
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _loop, context: logged.append(context))
        result = await asyncio.wait_for(test(*args, **kwargs), TEST_TIMEOUT)
        gc.collect()
        assert not logged, logged
        return result

    return bounded


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if isinstance(item, pytest.Function) and inspect.iscoroutinefunction(item.obj):
            item.obj = _with_timeout(item.obj)
