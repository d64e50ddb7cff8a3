"""The PEP 525 mirror, checked differentially against native async generators.

Hypothesis draws a *body script* (yield these values, maybe catch what is
thrown, then return or raise) and a *client script* (anext, asend, athrow,
aclose). The body runs once as a native async generator and once as the
server block of a channel in another task; the client script drives each.
What every client call returns or raises, and what the body receives at each
yield, must be the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conformance import LoopFactory
from .harness import Boom

Body = tuple[tuple[int, ...], bool, str]  # values to yield, catch Boom?, "return" or "raise"

bodies = st.tuples(
    st.lists(st.integers(0, 9), max_size=4).map(tuple), st.booleans(), st.sampled_from(["return", "raise"])
)
client_ops = st.lists(
    st.one_of(
        st.just(("anext", None)),
        st.tuples(st.just("asend"), st.integers(10, 19)),
        st.just(("athrow", None)),
        st.just(("aclose", None)),
    ),
    max_size=7,
)


class BodyFailed(Exception):
    """What the body script raises when it ends by raising."""


async def native_body(body: Body, log: list[Any]) -> AsyncGenerator[int, Any]:
    values, catch, ending = body
    for value in values:
        try:
            log.append(("got", (yield value)))
        except Boom:
            log.append(("thrown",))
            if not catch:
                raise
        except GeneratorExit:
            log.append(("exit",))
            raise
    if ending == "raise":
        raise BodyFailed


async def channel_body(channel: Any, body: Body, log: list[Any]) -> None:
    values, catch, ending = body
    async with channel.server() as server:
        for value in values:
            try:
                log.append(("got", await server.asend(value)))
            except Boom:
                log.append(("thrown",))
                if not catch:
                    raise
            except GeneratorExit:
                log.append(("exit",))
                raise
        if ending == "raise":
            raise BodyFailed


async def drive(agen: Any, ops: list[tuple[str, Any]]) -> list[Any]:
    observed = []
    for op, arg in ops:
        try:
            if op == "anext":
                value = await agen.__anext__()
            elif op == "asend":
                value = await agen.asend(arg)
            elif op == "athrow":
                value = await agen.athrow(Boom("thrown"))
            else:
                value = await agen.aclose()
        except BaseException as exc:
            observed.append((op, "raise", type(exc).__name__))
        else:
            observed.append((op, "ok", value))
    return observed


async def run_native(body: Body, ops: list[tuple[str, Any]]) -> tuple[list[Any], list[Any]]:
    log: list[Any] = []
    agen = native_body(body, log)
    observed = await drive(agen, ops)
    await agen.aclose()
    return observed, log


async def run_channel(
    impl: ModuleType, body: Body, ops: list[tuple[str, Any]]
) -> tuple[list[Any], list[Any]]:
    log: list[Any] = []
    channel = impl.Channel()
    client = channel.client()
    server = asyncio.ensure_future(channel_body(channel, body, log))
    observed = await drive(client, ops)
    await client.aclose()
    # The server's own failures are its task's business; the client saw them above.
    await asyncio.gather(server, return_exceptions=True)
    return observed, log


@pytest.mark.clause(
    "MIRROR-ASEND",
    "MIRROR-FIRST-SEND-NONE",
    "MIRROR-SERVER-RETURN",
    "MIRROR-SERVER-ERROR",
    "MIRROR-ATHROW",
    "MIRROR-ATHROW-UNSTARTED",
    "MIRROR-ACLOSE",
    "MIRROR-ACLOSE-UNSTARTED",
    "MIRROR-CLOSED-CLIENT",
    "SERVER-BLOCK-ENTER",
)
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, ops=client_ops)
def test_channel_mirrors_a_native_async_generator(
    impl: ModuleType, loop_factory: LoopFactory, body: Body, ops: list[tuple[str, Any]]
) -> None:
    loop = loop_factory()
    try:
        native = loop.run_until_complete(asyncio.wait_for(run_native(body, ops), 5))
        channel = loop.run_until_complete(asyncio.wait_for(run_channel(impl, body, ops), 5))
    finally:
        loop.close()
    assert channel[0] == native[0], "client calls differ from the native async generator's"
    assert channel[1] == native[1], "what the body received differs from the native body's"
