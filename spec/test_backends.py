"""Protocol clauses of the backends, checked on the implementation under test.

A task group in the server block (GROUP-EXIT) on asyncio, trio and anyio;
trio's checkpoints (TRIO-CHECKPOINT); which backends a channel runs on
(BACKENDS). Each check takes the implementation (``--impl``) as a parameter,
matches exceptions as the conformance suite does
(:func:`spec.harness.matches`), and fails naming the clause.

trio is optional (BACKENDS): a check that needs trio is skipped, with a
reason that names BACKENDS, for an implementation that refuses a call inside
``trio.run`` with RuntimeError, or when trio (or anyio) is not installed.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import os
import subprocess
import sys
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import ModuleType
from typing import Any, cast

import pytest

from .conformance import LoopFactory
from .harness import Boom, describe
from .impl import not_installed
from .loops import OutOfTestBound, Step, stepping
from .test_outside_the_model import BOUND, Outcome, expect, outcome, run, violation

# A bound on the producer's sends that never expires in a passing check: a
# producer needs one, and a timeout must let GeneratorExit and the thrown
# exception through.
SEND_TIMEOUT = 60.0

Spawn = Callable[[], None]
Group = Callable[[], AbstractAsyncContextManager[Spawn]]


def trio_or_skip(impl: ModuleType) -> Any:
    """trio, once ``impl`` is known to run on it; else skip, naming BACKENDS."""
    pytest.importorskip("trio", reason=not_installed("trio"))
    from . import trio_harness  # after the skip: it imports trio

    trio_harness.require_trio(impl)
    import trio

    return trio


def anyio_or_skip() -> Any:
    return pytest.importorskip("anyio", reason=not_installed("anyio"))


async def observe(call: Awaitable[Any]) -> Outcome:
    """What ``call`` did, on any backend; a cancellation (the check's bound) propagates."""
    try:
        return Outcome(await call)
    except BaseException as error:
        if type(error).__name__ in ("Cancelled", "CancelledError"):
            raise
        return Outcome(error=error)


class Backend:
    """Runs a check's main function, bounded, and lends it a task group."""

    def __init__(self, name: str, impl: ModuleType) -> None:
        self.name = name
        self.impl = impl
        if name == "trio":
            self.lib = trio_or_skip(impl)
        else:
            self.lib = anyio_or_skip()
            if name == "anyio-trio":
                trio_or_skip(impl)

    def run(self, clause: str, main: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
        lib = self.lib
        # trio's timeout; anyio's is the builtin TimeoutError.
        too_slow = cast(type[Exception], getattr(lib, "TooSlowError", TimeoutError))

        async def bounded() -> Any:
            with lib.fail_after(BOUND):
                return await main()

        try:
            with stepping(Step(event=f"a check of {clause} on {self.name}", clauses=(clause,))):
                if self.name == "trio":
                    return lib.run(bounded)
                return lib.run(bounded, backend=self.name.removeprefix("anyio-"))
        except (AssertionError, OutOfTestBound):
            raise
        except (TimeoutError, too_slow) as error:
            raise violation(self.impl, clause, f"the check did not end within {BOUND} s (NO-HANG)") from error
        except BaseException as error:
            raise violation(self.impl, clause, f"the check raised {error!r} on {self.name}") from error

    def open_group(self) -> AbstractAsyncContextManager[Any]:
        lib = self.lib
        group: AbstractAsyncContextManager[Any] = (
            lib.open_nursery() if self.name == "trio" else lib.create_task_group()
        )
        return group

    def group(self) -> AbstractAsyncContextManager[Spawn]:
        """A nursery or anyio task group with a timeout around the sends; spawn() adds a sleeper."""
        lib = self.lib

        @asynccontextmanager
        async def group() -> AsyncGenerator[Spawn, None]:
            async with self.open_group() as tasks:
                with lib.fail_after(SEND_TIMEOUT):
                    yield lambda: tasks.start_soon(lib.sleep_forever)

        return group()


def asyncio_group() -> AbstractAsyncContextManager[Spawn]:
    """An asyncio.TaskGroup with a timeout around the sends; spawn() adds a sleeper."""

    # asyncio.TaskGroup and asyncio.timeout are 3.11's: the checkers read the stubs of 3.10, the
    # floor, and the checks that use them skip on 3.10.
    @asynccontextmanager
    async def group() -> AsyncGenerator[Spawn, None]:
        async with asyncio.TaskGroup() as tasks, asyncio.timeout(SEND_TIMEOUT):  # type: ignore[attr-defined]
            yield lambda: tasks.create_task(asyncio.Event().wait())  # pyright: ignore[reportUnknownMemberType, reportUnknownLambdaType]

    return group()


# -- GROUP-EXIT: a producer with a task group ----------------------------------


async def produce(channel: Any, group: Group) -> str:
    """Sends 0, 1, 2, ... from inside a task group, with a helper task alongside."""
    async with channel.server() as server, group() as spawn:
        spawn()
        for item in itertools.count():
            await server.asend(item)
    return "ended quietly"


async def close_after_two(client: Any) -> list[Outcome]:
    return [
        await observe(client.__anext__()),
        await observe(client.__anext__()),
        await observe(client.aclose()),
    ]


async def throw_after_one(client: Any) -> list[Outcome]:
    return [await observe(client.__anext__()), await observe(client.athrow(Boom()))]


CONSUMERS = {"close": close_after_two, "throw": throw_after_one}


def check_group_exit(
    impl: ModuleType, where: str, consumer: str, client: list[Outcome], producer: Outcome
) -> None:
    clause = "GROUP-EXIT"
    if consumer == "close":
        got = [result.observed for result in client]
        if got != [("ok", 0), ("ok", 1), ("ok", None)]:
            raise violation(impl, "MIRROR-ASEND", f"{where}: the client's anext, anext, aclose did {got}")
        what = f"{where}: the producer, after the client closed"
    else:
        if client[0].observed != ("ok", 0):
            raise violation(impl, "MIRROR-ASEND", f"{where}: the client's anext did {client[0].observed}")
        expect(impl, clause, f"{where}: client.athrow(Boom()), which the block lets out", client[1], "Boom")
        what = f"{where}: the producer, after the thrown Boom left its block"
    if producer.observed != ("ok", "ended quietly"):
        raise violation(impl, clause, f"{what}: expected to end quietly; it raised {producer.error!r}")


@pytest.mark.clause("GROUP-EXIT", "MIRROR-ACLOSE", "MIRROR-ATHROW")
@pytest.mark.parametrize("consumer", sorted(CONSUMERS))
def test_a_producer_in_an_asyncio_task_group_ends_as_it_would_without_one(
    impl: ModuleType, loop_factory: LoopFactory, consumer: str
) -> None:
    if sys.version_info < (3, 11):
        pytest.skip("GROUP-EXIT: asyncio.TaskGroup is new in Python 3.11")

    async def scenario() -> tuple[list[Outcome], Outcome]:
        channel = impl.Channel()
        producer = asyncio.ensure_future(produce(channel, asyncio_group))
        client = await CONSUMERS[consumer](channel.client())
        return client, await outcome(producer)

    client, producer = run(impl, "GROUP-EXIT", loop_factory, scenario())
    check_group_exit(impl, "in an asyncio.TaskGroup", consumer, client, producer)


@pytest.mark.clause("GROUP-EXIT", "MIRROR-ACLOSE", "MIRROR-ATHROW", "BACKENDS")
@pytest.mark.parametrize("consumer", sorted(CONSUMERS))
@pytest.mark.parametrize("backend", ["trio", "anyio-asyncio", "anyio-trio"])
def test_a_producer_in_a_nursery_or_an_anyio_task_group_ends_as_it_would_without_one(
    impl: ModuleType, backend: str, consumer: str
) -> None:
    on = Backend(backend, impl)
    producer: list[Outcome] = []

    async def main() -> list[Outcome]:
        channel = impl.Channel()

        async def producing() -> None:
            producer.append(await observe(produce(channel, on.group)))

        async with on.open_group() as tasks:
            tasks.start_soon(producing)
            return await CONSUMERS[consumer](channel.client())

    client = on.run("GROUP-EXIT", main)
    group = (
        "a trio nursery" if backend == "trio" else f"an anyio task group on {backend.removeprefix('anyio-')}"
    )
    check_group_exit(impl, f"in {group}", consumer, client, producer[0])


def leaves(error: BaseException | None) -> list[BaseException] | None:
    """The leaves of an exception group, or None if ``error`` is not one."""
    inner_errors = getattr(error, "exceptions", None)
    if not isinstance(inner_errors, tuple):
        return None
    found: list[BaseException] = []
    for inner in cast(tuple[BaseException, ...], inner_errors):  # an exception group holds exceptions only
        found.extend(leaves(inner) or [inner])
    return found


@pytest.mark.clause("GROUP-EXIT", "MIRROR-SERVER-ERROR")
def test_a_group_with_another_failure_is_the_blocks_own_exception(
    impl: ModuleType, loop_factory: LoopFactory
) -> None:
    if sys.version_info < (3, 11):
        pytest.skip("GROUP-EXIT: asyncio.TaskGroup is new in Python 3.11")
    clause = "GROUP-EXIT"

    async def fail() -> None:
        raise Boom

    async def scenario() -> tuple[list[Outcome], Outcome]:
        channel = impl.Channel()

        async def produce_then_fail() -> None:
            # asyncio.TaskGroup is 3.11's (the test skips on 3.10): the checkers read the stubs of 3.10.
            async with channel.server() as server, asyncio.TaskGroup() as group:  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType, reportUnknownVariableType]
                await server.asend(0)
                group.create_task(fail())  # pyright: ignore[reportUnknownMemberType]
                for item in itertools.count(1):
                    await server.asend(item)

        producer = asyncio.ensure_future(produce_then_fail())
        client = channel.client()
        # The helper fails while the producer waits in a send: the client
        # gets a few items, then the group.
        received = [await outcome(client.__anext__())]
        while received[-1].error is None and len(received) < 10:
            received.append(await outcome(client.__anext__()))
        return received, await outcome(producer)

    received, producer = run(impl, clause, loop_factory, scenario())
    for what, got in (("the client's last call", received[-1]), ("the producer's task", producer)):
        if leaves(got.error) is None or not all(isinstance(leaf, Boom) for leaf in leaves(got.error) or ()):
            problem = f"{what} did {got.observed} ({got.error!r}); expected the TaskGroup's group of Boom"
            raise violation(
                impl, "MIRROR-SERVER-ERROR", f"a helper of the block's TaskGroup failed: {problem}"
            )


# -- TRIO-CHECKPOINT ------------------------------------------------------------


@pytest.mark.clause("TRIO-CHECKPOINT", "READ-ITEMS-BATCH", "REPLY-PENDING")
@pytest.mark.backend("trio")
def test_a_call_is_a_checkpoint_on_trio_exactly_when_it_waits(impl: ModuleType) -> None:
    trio = trio_or_skip(impl)
    testing = pytest.importorskip("trio.testing")
    clause = "TRIO-CHECKPOINT"
    seen: dict[str, Any] = {}

    async def cancelled(call: Awaitable[Any]) -> tuple[Any, bool]:
        """What ``call`` did in a cancelled scope, and whether the scope caught a cancellation."""
        # Empty if the call did not return: a trio.Cancelled propagates to the scope.
        got: list[Outcome] = []
        with trio.CancelScope() as scope:
            scope.cancel()
            got.append(await observe(call))
        observed = got[0].observed if got else ("raise", "Cancelled")
        return observed, scope.cancelled_caught

    async def main() -> None:
        stream = impl.StreamChannel()
        reader = stream.client()

        async def read() -> None:
            seen["read_items(3)"] = await observe(reader.read_items(3))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read)
            async with stream.server() as writer:
                # Into a batch with room, asend returns at once; the last item waits.
                seen["asend(1) into a batch with room"] = await cancelled(writer.asend(1))
                seen["asend(2) into a batch with room"] = await cancelled(writer.asend(2))
                seen["asend(3), which fills the batch and waits"] = await cancelled(writer.asend(3))
        seen["aclose()"] = await cancelled(reader.aclose())

        channel = impl.Channel()
        client = channel.client()

        async def reply() -> None:
            async with channel.server() as server:
                seen["the reply to a"] = await observe(server.asend("a"))
                await server.asend("b")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(reply)
            await client.__anext__()
            # It delivers its value, then its wait raises at once.
            seen["asend(x), which waits for the reply"] = await cancelled(client.asend("x"))
            await testing.wait_all_tasks_blocked()
            seen["anext() of the reply b, already there"] = await cancelled(client.__anext__())
            await client.aclose()

    Backend("trio", impl).run(clause, main)
    expected = {
        "asend(1) into a batch with room": ("ok", None),
        "asend(2) into a batch with room": ("ok", None),
        "asend(3), which fills the batch and waits": ("raise", "Cancelled"),
        "aclose()": ("ok", None),
        "asend(x), which waits for the reply": ("raise", "Cancelled"),
        "anext() of the reply b, already there": ("ok", "b"),
    }
    for call, (kind, value) in expected.items():
        observed, caught = seen[call]
        if observed != (kind, value) or caught != (kind == "raise"):
            raise violation(
                impl,
                clause,
                f"{call}, in a cancelled scope, {describe(observed)}; expected: {describe((kind, value))}",
            )
    if seen["read_items(3)"].observed != ("ok", [1, 2, 3]):
        raise violation(impl, "READ-ITEMS-BATCH", f"read_items(3) did {seen['read_items(3)'].observed}")
    if seen["the reply to a"].observed != ("ok", "x"):
        raise violation(impl, "REPLY-PENDING", f"the server's asend(a) did {seen['the reply to a'].observed}")


# -- BACKENDS --------------------------------------------------------------------


async def attempt(call: Callable[[], Awaitable[Any]]) -> Outcome:
    """What ``call()`` did, the lookup of a method the implementation lacks included."""
    try:
        awaitable = call()
    except Exception as error:
        return Outcome(error=error)
    return await observe(awaitable)


async def handoff(impl: ModuleType, kind: str, group: Callable[[], AbstractAsyncContextManager[Any]]) -> Any:
    """What a client receives through a channel of ``kind``, and what the server's calls return.

    Every outcome is observed, none raised: a channel that fails here on
    asyncio too is judged by the other clauses, not by BACKENDS.
    """
    channel = getattr(impl, kind)()
    replies: list[Outcome] = []

    async def serve() -> list[Outcome]:
        async with channel.server() as server:
            if kind == "StreamChannel":
                return [await attempt(lambda: server.write_items(range(10)))]
            return [await attempt(functools.partial(server.asend, item)) for item in "abc"]

    async def producing() -> None:
        served = await observe(serve())
        replies.extend(served.value if served.error is None else [served])

    client = channel.client()
    async with group() as tasks:
        tasks.start_soon(producing)
        if kind == "StreamChannel":
            received = [await attempt(lambda: client.read_items(4)) for _ in range(4)]
        else:
            received = [
                await attempt(client.__anext__),
                *[await attempt(functools.partial(client.asend, n)) for n in (1, 2, 3)],
            ]
        await attempt(client.aclose)  # lets a producer that still sends end
    return [got.observed for got in received], [got.observed for got in replies]


class AsyncioTasks:
    """The part of a nursery that handoff() uses, on plain asyncio: the tasks end with the block."""

    def __init__(self) -> None:
        self.tasks: list[asyncio.Future[Any]] = []

    def start_soon(self, function: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        self.tasks.append(asyncio.ensure_future(function()))

    async def __aenter__(self) -> AsyncioTasks:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.gather(*self.tasks)


@pytest.mark.clause("BACKENDS")
@pytest.mark.parametrize("kind", ["Channel", "StreamChannel"])
@pytest.mark.parametrize("backend", ["trio", "anyio-asyncio", "anyio-trio"])
def test_a_channel_does_on_trio_and_through_anyio_what_it_does_on_asyncio(
    impl: ModuleType, backend: str, kind: str
) -> None:
    on = Backend(backend, impl)
    # What the same channel does on asyncio, whether right or not: the model judges that.
    try:
        expected = run(impl, "BACKENDS", asyncio.new_event_loop, handoff(impl, kind, AsyncioTasks))
    except AssertionError as failure:
        problem = str(failure).splitlines()[-1].strip()
        pytest.skip(f"BACKENDS: a {kind} fails on asyncio too ({problem}), which other clauses judge")
    got = on.run("BACKENDS", lambda: handoff(impl, kind, on.open_group))
    if got != expected:
        problem = (
            f"a {kind} on {backend}: the client got {got[0]} and the server {got[1]}; on asyncio {expected}"
        )
        raise violation(impl, "BACKENDS", problem)


@pytest.mark.clause("BACKENDS")
def test_a_call_outside_any_event_loop_raises_runtime_error(impl: ModuleType) -> None:
    call = impl.Channel().client().__anext__()
    try:
        got = Outcome(call.send(None))
    except BaseException as error:
        got = Outcome(error=error)
    finally:
        call.close()
    expect(impl, "BACKENDS", "client.__anext__() outside any event loop", got, "RuntimeError")


@pytest.mark.clause("BACKENDS")
@pytest.mark.backend("asyncio")
def test_a_program_on_asyncio_never_imports_trio(impl: ModuleType, impl_name: str) -> None:
    # A process of its own: this one has imported trio already.
    script = (
        "import asyncio, sys\n"
        f"from {__package__}.impl import load\n"
        f"impl = load({impl_name!r})\n"
        "async def main():\n"
        "    channel = impl.Channel()\n"
        "    async def produce():\n"
        "        async with channel.server() as server:\n"
        "            await server.asend(1)\n"
        "    task = asyncio.ensure_future(produce())\n"
        "    assert [item async for item in channel.client()] == [1]\n"
        "    await task\n"
        "asyncio.run(main())\n"
        "print('trio' in sys.modules)\n"
    )
    path = os.pathsep.join([os.getcwd(), *sys.path])
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": path}
    )
    if done.returncode != 0:
        raise violation(impl, "BACKENDS", f"one item through a channel on asyncio failed:\n{done.stderr}")
    if done.stdout.strip() != "False":
        raise violation(impl, "BACKENDS", "one item through a channel on asyncio imported trio")
