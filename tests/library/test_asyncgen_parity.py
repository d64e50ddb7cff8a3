"""CPython's own async-generator tests (Lib/test/test_asyncgen.py), run twice from one body.

Each scenario of test_asyncgen.py whose subject is what a consumer observes of
an async generator is written here once, in our own words, as a *body* (an
``async def body(emit, ctx)`` in which ``await emit(x)`` is ``yield x``) and a
*consumer* (a coroutine that drives the generator-like object it is given).
The body runs twice: as a native async generator, made from its source by
turning every ``await emit(x)`` into ``(yield x)``, and as the server block of
a channel in its own task, with ``emit = server.asend``. Both runs write one
observation log (what each call returned or raised, the body's side effects
in order, the event loop's exception-handler calls), and the two logs must be
equal. Where the project differs on purpose, the test asserts the documented
behaviour and cites the clause.

The tests of test_asyncgen.py that are not ported are listed in NOT_PORTED with
a reason, and ``test_every_cpython_test_is_ported_or_listed`` checks the lists
against the file of the running Python, so that a new CPython test is noticed.
"""

from __future__ import annotations

import ast
import asyncio
import gc
import importlib
import inspect
import sys
import textwrap
import warnings
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from channels import AlreadyRunningError, Channel, ChannelClosedError, ClientClosedError, ServerCancelledError
from spec.loops import blocked

LoopFactory = Callable[[], asyncio.AbstractEventLoop]
Body = Callable[..., Coroutine[Any, Any, None]]

# -- the observation log ---------------------------------------------------------

# Where both ends raise the same built-in exception for the same condition, the
# channel words its message as CPython does and adds what to do: the log keeps
# only CPython's words, so that the two logs compare.
CPYTHON_WORDING = (
    "already running",
    "can't send non-None value to a just-started",
    "ignored GeneratorExit",
    "raised StopAsyncIteration",
    "raised StopIteration",
    "cannot reuse already awaited",
)


class Raised(NamedTuple):
    """An exception as a consumer observes it: its built-in class and CPython's words."""

    kind: str
    message: str


def observed(exc: BaseException | None) -> Raised | None:
    """What the log keeps of a raised exception: the scenario's own class or the
    nearest built-in one, and CPython's words where the message has them."""
    if exc is None:
        return None
    kind = next(k for k in type(exc).__mro__ if k.__module__ in ("builtins", "asyncio.exceptions", __name__))
    message = str(exc)
    return Raised(kind.__name__, next((p for p in CPYTHON_WORDING if p in message), message))


def value(item: Any) -> Any:
    """What the log keeps of a returned value: an exception object by its class and args."""
    return ("object", type(item).__name__, item.args) if isinstance(item, BaseException) else item


RAISED: Any = object()  # what Run.call returns when the call raised


@dataclass
class Context:
    """What a body and its consumer share: the log, and objects a scenario needs."""

    log: list[Any] = field(default_factory=list[Any])
    me: Any = None  # the generator-like object, for a body that uses it itself
    extra: dict[str, Any] = field(default_factory=dict[str, Any])

    def note(self, *entry: Any) -> None:
        self.log.append(entry[0] if len(entry) == 1 else entry)


# -- one body, two generators ------------------------------------------------------


def native(body: Body) -> Callable[[Context], Any]:
    """The native async generator function whose body is ``body``, ``await emit(x)`` made ``(yield x)``."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(body)))
    function = tree.body[0]
    assert isinstance(function, ast.AsyncFunctionDef)
    function.decorator_list = []
    function.args.args = function.args.args[1:]  # emit is the yield itself

    class EmitIsYield(ast.NodeTransformer):
        def visit_Await(self, node: ast.Await) -> ast.AST:
            call = node.value
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "emit":
                (value,) = call.args or [ast.Constant(None)]
                return ast.Yield(self.visit(value))
            return self.generic_visit(node)

    tree = ast.fix_missing_locations(EmitIsYield().visit(tree))
    namespace: dict[str, Any] = {}
    exec(compile(tree, inspect.getfile(body), "exec"), body.__globals__, namespace)
    generator_function = namespace[body.__name__]
    assert inspect.isasyncgenfunction(generator_function), "a body must emit at least once"
    return generator_function  # type: ignore[no-any-return]


async def quiesce() -> None:
    """Run the loop until every other task is finished or waits on a pending future.

    Unlike spec.loops.settle(), which settles the tasks it is given, this takes in
    the tasks that appear meanwhile (a generator's finalizer starts one to close it).
    """
    current = asyncio.current_task()
    for _ in range(200):
        await asyncio.sleep(0)
        if all(blocked(task) for task in asyncio.all_tasks() if task is not current):
            return
    raise AssertionError("no quiescence after 200 loop iterations")


@dataclass
class Run:
    """One run of a scenario: ``gen`` is a native async generator or a channel's client end."""

    kind: str  # "native" or "channel"
    ctx: Context
    gen: Any
    server: asyncio.Task[None] | None = None

    @property
    def log(self) -> list[Any]:
        return self.ctx.log

    async def call(self, label: str, awaitable: Awaitable[Any]) -> Any:
        """Await one call of the consumer, log what it returned or raised, then let the body run."""
        try:
            result = await awaitable
            if label == "aclose" and self.kind == "channel":
                # The client's aclose() returns without waiting for the server
                # (MIRROR-ACLOSE): let it finish first, as a native aclose()
                # finishes the body, so that the logs compare.
                await quiesce()
        except (Exception, GeneratorExit, asyncio.CancelledError) as exc:
            self.ctx.note(label, "raised", observed(exc))
            result = RAISED
        else:
            self.ctx.note(label, value(result))
        await quiesce()
        return result

    async def items(self) -> list[Any]:
        """``async for`` over the generator, logging the items and how the loop ended."""
        items: list[Any] = []
        try:
            async for item in self.gen:
                items.append(item)
        except Exception as exc:
            self.ctx.note("async for", items, observed(exc))
        else:
            self.ctx.note("async for", items)
        await quiesce()
        return items

    def drop(self) -> None:
        """Forget the generator, as a consumer that walks away from it."""
        self.gen = self.ctx.me = None
        gc.collect()


Consumer = Callable[[Run], Coroutine[Any, Any, None]]


async def serve(channel: Channel[Any, Any], body: Body, ctx: Context) -> None:
    async with channel.server() as server:
        await body(server.asend, ctx)


def run_once(kind: str, body: Body, consume: Consumer, loop_factory: LoopFactory) -> Run:
    """Run ``consume`` against ``body`` made into a ``kind`` generator, on a new loop."""
    ctx = Context()
    loop = loop_factory()
    loop.set_exception_handler(
        lambda _loop, context: ctx.note(
            "loop handler", context["message"], observed(context.get("exception"))
        )
    )

    async def main() -> Run:
        if kind == "native":
            run = Run(kind, ctx, native(body)(ctx))
        else:
            channel: Channel[Any, Any] = Channel()
            run = Run(kind, ctx, channel.client())
            run.server = asyncio.ensure_future(serve(channel, body, ctx))
        ctx.me = run.gen
        await consume(run)
        await quiesce()
        return run

    try:
        run = loop.run_until_complete(asyncio.wait_for(main(), 10))
        observations = list(ctx.log)
        # Teardown: what it does is not observed.
        if run.server is not None:
            if not run.server.done():
                run.server.cancel()
                loop.run_until_complete(asyncio.wait([run.server]))
            if not run.server.cancelled():
                run.server.exception()  # retrieved: server_outcome() reads it
        run.gen = ctx.me = None
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()
    ctx.log = observations
    return run


def server_outcome(run: Run) -> Any:
    """How the channel's server task ended: None, "cancelled", or the class of what it raised."""
    assert run.server is not None
    assert run.server.done()
    if run.server.cancelled():
        return "cancelled"
    exc = run.server.exception()
    return None if exc is None else type(exc)


def parity(body: Body, consume: Consumer, loop_factory: LoopFactory, *, server: Any = None) -> Run:
    """Run both generators; their logs must be equal. Returns the channel's run.

    ``server`` is how the server task ends: None, or the class of the body's
    own exception, which the producer's task sees too (MIRROR-SERVER-ERROR).
    """
    natively = run_once("native", body, consume, loop_factory)
    channeled = run_once("channel", body, consume, loop_factory)
    assert channeled.log == natively.log
    assert server_outcome(channeled) == server
    return channeled


def differ(body: Body, consume: Consumer, loop_factory: LoopFactory) -> tuple[Run, Run]:
    """Run both generators where the project differs on purpose; the caller asserts how."""
    return run_once("native", body, consume, loop_factory), run_once("channel", body, consume, loop_factory)


# -- the ported tests, and those that are not --------------------------------------

PORTED: dict[str, str] = {}


def ports(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Record which tests of test_asyncgen.py the decorated test ports."""

    def record(test: Callable[..., Any]) -> Callable[..., Any]:
        for name in names:
            assert name not in PORTED, name
            PORTED[name] = test.__name__
        return test

    return record


class AwaitException(Exception):
    pass


class FooEr(Exception):
    pass


async def fail_with(exc: BaseException) -> None:
    """An await that raises, after a trip through the event loop."""
    await asyncio.sleep(0)
    raise exc


async def cancelled_await() -> None:
    """An await whose future is cancelled by someone else: the body sees CancelledError."""
    future = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_soon(future.cancel)
    await future


async def next_items(run: Run, n: int) -> None:
    for _ in range(n):
        await run.call("anext", anext(run.gen))


async def drain(run: Run) -> None:
    """anext until StopAsyncIteration, going on after any other exception (compare_generators)."""
    while (
        await run.call("anext", anext(run.gen)) is not RAISED or run.log[-1][2].kind != "StopAsyncIteration"
    ):
        pass


async def iterate(run: Run) -> None:
    await run.items()


# -- iteration, values and the end ---------------------------------------------------


async def three_items_with_awaits(emit: Any, ctx: Context) -> None:
    await asyncio.sleep(0)
    ctx.note("first reply", await emit(123))
    await asyncio.sleep(0)
    await emit(456)
    await asyncio.sleep(0)
    await emit(789)


@pytest.mark.clause("MIRROR-ASEND", "MIRROR-SERVER-RETURN")
@ports("AsyncGenTest.test_async_gen_iteration_01")
def test_items_with_awaits_between_them(loop_factory: LoopFactory) -> None:
    parity(three_items_with_awaits, iterate, loop_factory)


async def one_item_then_an_await(emit: Any, ctx: Context) -> None:
    await asyncio.sleep(0)
    await emit(123)
    await asyncio.sleep(0)
    ctx.note("body ends")


@pytest.mark.clause("MIRROR-SERVER-RETURN")
@ports("AsyncGenTest.test_async_gen_iteration_02")
def test_the_end_is_stop_async_iteration_without_args(loop_factory: LoopFactory) -> None:
    parity(one_item_then_an_await, lambda run: next_items(run, 3), loop_factory)


async def returns_before_its_last_item(emit: Any, ctx: Context) -> None:
    await emit(1)
    await asyncio.sleep(0)
    await emit(2)
    await asyncio.sleep(0)
    return
    await emit(3)


@pytest.mark.clause("MIRROR-SERVER-RETURN")
@ports("AsyncGenAsyncioTest.test_async_gen_asyncio_01")
def test_return_in_the_body_ends_the_iteration(loop_factory: LoopFactory) -> None:
    parity(returns_before_its_last_item, iterate, loop_factory)


async def one_two(emit: Any, ctx: Context) -> None:
    await emit(1)
    await asyncio.sleep(0)
    await emit(2)


class Holder:
    """An object whose ``__aiter__`` gives a generator (an async generator method, natively)."""

    def __init__(self, gen: Any) -> None:
        self.gen = gen

    def __aiter__(self) -> Any:
        return self.gen


async def through_aiter(run: Run) -> None:
    run.ctx.note("aiter is idempotent", aiter(aiter(run.gen)) is aiter(run.gen))
    run.ctx.note("items", [item async for item in aiter(run.gen)])


async def through_a_holder(run: Run) -> None:
    iterator = aiter(Holder(run.gen))
    while await run.call("anext", anext(iterator)) is not RAISED:
        pass


async def through_a_generator_expression(run: Run) -> None:
    doubled = (2 * i async for i in run.gen)
    run.ctx.note("items", [i async for i in doubled])


async def with_a_default(run: Run) -> None:
    for _ in range(3):
        await run.call("anext", anext(run.gen, "buckle my shoe"))
    await run.call("anext", anext(run.gen))
    await run.call("anext", anext(run.gen, "default"))
    await run.call("anext", anext(run.gen, "default"))


@pytest.mark.clause("MIRROR-ASEND", "MIRROR-CLOSED-CLIENT")
@ports(
    "AsyncGenAsyncioTest.test_async_gen_aiter",
    "AsyncGenAsyncioTest.test_aiter_idempotent",
    "AsyncGenAsyncioTest.test_async_gen_aiter_class",
    "AsyncGenAsyncioTest.test_async_gen_asyncio_03",
    "AsyncGenAsyncioTest.test_async_generator_anext",
    "AsyncGenAsyncioTest.test_async_gen_expression_01",
)
@pytest.mark.parametrize(
    "consume",
    [
        through_aiter,
        through_a_holder,
        with_a_default,
        through_a_generator_expression,
    ],
    ids=["aiter", "holder", "anext-default", "async-genexp"],
)
def test_the_builtins_and_comprehensions(loop_factory: LoopFactory, consume: Consumer) -> None:
    parity(one_two, consume, loop_factory)


async def replies(emit: Any, ctx: Context) -> None:
    reply = await emit(1)
    reply = await emit(reply)
    await emit(reply * 100)


async def send_replies(run: Run) -> None:
    for sent in (None, 10, 12, None):
        await run.call("asend", run.gen.asend(sent))


@pytest.mark.clause("MIRROR-ASEND")
@ports("AsyncGenAsyncioTest.test_async_gen_asyncio_anext_05")
def test_asend_values_reach_the_body(loop_factory: LoopFactory) -> None:
    parity(replies, send_replies, loop_factory)


async def doubles_with_a_finally(emit: Any, ctx: Context) -> None:
    try:
        await asyncio.sleep(0)
        reply = await emit(1)
        await asyncio.sleep(0)
        await emit(reply * 2)
        await asyncio.sleep(0)
        return
    finally:
        await asyncio.sleep(0)
        ctx.note("finally")


@pytest.mark.clause("MIRROR-ASEND", "MIRROR-SERVER-RETURN")
@ports("AsyncGenAsyncioTest.test_async_gen_asyncio_asend_01")
def test_asend_with_a_finally(loop_factory: LoopFactory) -> None:
    async def consume(run: Run) -> None:
        for sent in (None, 100, None):
            await run.call("asend", run.gen.asend(sent))

    parity(doubles_with_a_finally, consume, loop_factory)


async def bare_except(emit: Any, ctx: Context) -> None:
    try:
        await emit(None)
    except:  # noqa: E722 - the scenario: a bare except around the yield
        ctx.note("caught")
    ctx.note("after the try")


@pytest.mark.clause("MIRROR-SERVER-RETURN", "MIRROR-ATHROW", "MIRROR-ACLOSE")
@ports(
    "AsyncGenAsyncioTest.test_async_gen_asyncio_anext_06",
    "AsyncGenAsyncioTest.test_async_gen_asyncio_athrow_03",
    "AsyncGenAsyncioTest.test_async_gen_asyncio_aclose_10",
)
@pytest.mark.parametrize("second", ["asend", "athrow", "aclose"])
def test_a_bare_except_around_the_yield(loop_factory: LoopFactory, second: str) -> None:
    async def consume(run: Run) -> None:
        await run.call("asend", run.gen.asend(None))
        calls = {
            "asend": lambda: run.gen.asend(None),
            "athrow": lambda: run.gen.athrow(ValueError),
            "aclose": run.gen.aclose,
        }
        await run.call(second, calls[second]())
        await run.call("anext", anext(run.gen))

    parity(bare_except, consume, loop_factory)


# -- exceptions in the body ----------------------------------------------------------


async def fails_in_an_await(emit: Any, ctx: Context) -> None:
    await asyncio.sleep(0)
    await emit(123)
    await fail_with(AwaitException())
    await emit(456)


async def divides_by_zero(emit: Any, ctx: Context) -> None:
    await asyncio.sleep(0)
    await emit(123)
    ctx.note("dividing")
    raise ZeroDivisionError("division by zero")


async def divides_by_zero_after_two(emit: Any, ctx: Context) -> None:
    await emit(1)
    await asyncio.sleep(0)
    await emit(2)
    raise ZeroDivisionError("division by zero")
    await emit(3)


@pytest.mark.clause("MIRROR-SERVER-ERROR")
@ports(
    "AsyncGenTest.test_async_gen_exception_03",
    "AsyncGenTest.test_async_gen_exception_04",
    "AsyncGenAsyncioTest.test_async_gen_asyncio_02",
)
@pytest.mark.parametrize(
    ("body", "error"),
    [
        (fails_in_an_await, AwaitException),
        (divides_by_zero, ZeroDivisionError),
        (divides_by_zero_after_two, ZeroDivisionError),
    ],
    ids=["in-an-await", "after-the-item", "after-two-items"],
)
def test_an_exception_in_the_body_reaches_the_consumer(
    loop_factory: LoopFactory, body: Body, error: type[BaseException]
) -> None:
    parity(body, iterate, loop_factory, server=error)
    parity(body, lambda run: next_items(run, 4), loop_factory, server=error)


async def raises_stop_async_iteration(emit: Any, ctx: Context) -> None:
    await emit(123)
    raise StopAsyncIteration


async def raises_stop_iteration(emit: Any, ctx: Context) -> None:
    await emit(123)
    raise StopIteration


@pytest.mark.clause("MIRROR-STOPASYNCITERATION")
@ports("AsyncGenTest.test_async_gen_exception_05", "AsyncGenTest.test_async_gen_exception_06")
def test_stop_iterations_in_the_body_become_runtime_errors(loop_factory: LoopFactory) -> None:
    parity(raises_stop_async_iteration, iterate, loop_factory, server=StopAsyncIteration)
    # Natively the generator converts StopIteration; in a channel the body's
    # coroutine does it, with the same words.
    parity(raises_stop_iteration, iterate, loop_factory, server=RuntimeError)


async def yields_in_finally_after_an_error(emit: Any, ctx: Context) -> None:
    try:
        await emit(1)
        raise ZeroDivisionError("division by zero")
    finally:
        await emit(2)
        await emit(3)
    await emit(100)


async def fails_in_finally(emit: Any, ctx: Context) -> None:
    try:
        await emit(1)
        await asyncio.sleep(0)
    finally:
        await asyncio.sleep(0)
        await emit(2)
        raise ZeroDivisionError("division by zero")
        await emit(3)
    await emit(100)


async def awaits_in_finally_after_an_error(emit: Any, ctx: Context) -> None:
    try:
        await asyncio.sleep(0)
        await emit(1)
        raise ZeroDivisionError("division by zero")
    finally:
        await emit(2)
        await asyncio.sleep(0)
        await emit(3)
    await emit(100)


@pytest.mark.clause("MIRROR-SERVER-ERROR", "MIRROR-CLOSED-CLIENT")
@ports(
    "AsyncGenTest.test_async_gen_exception_07",
    "AsyncGenTest.test_async_gen_exception_08",
    "AsyncGenTest.test_async_gen_exception_09",
)
@pytest.mark.parametrize(
    "body", [yields_in_finally_after_an_error, fails_in_finally, awaits_in_finally_after_an_error]
)
def test_items_from_a_finally_block(loop_factory: LoopFactory, body: Body) -> None:
    parity(body, drain, loop_factory, server=ZeroDivisionError)


@pytest.mark.clause("MIRROR-FIRST-SEND-NONE")
@ports("AsyncGenTest.test_async_gen_exception_10")
def test_sending_a_value_before_the_first_item(loop_factory: LoopFactory) -> None:
    async def consume(run: Run) -> None:
        await run.call("asend", run.gen.asend(100))
        await next_items(run, 2)

    parity(one_item_then_an_await, consume, loop_factory)


async def ten_twenty(emit: Any, ctx: Context) -> None:
    await emit(10)
    await emit(20)


@pytest.mark.clause("MIRROR-ATHROW")
@ports("AsyncGenTest.test_async_gen_exception_11")
def test_athrow_generator_exit_comes_back_out(loop_factory: LoopFactory) -> None:
    async def consume(run: Run) -> None:
        await run.call("anext", anext(run.gen))
        await run.call("athrow", run.gen.athrow(GeneratorExit()))
        await run.call("anext", anext(run.gen))

    parity(ten_twenty, consume, loop_factory)


async def iterates_itself(emit: Any, ctx: Context) -> None:
    with warnings.catch_warnings():
        # Natively, 3.12+ also warns that anext()'s asend object was never
        # awaited: an artefact of CPython's refusal, not an observation.
        warnings.simplefilter("ignore", RuntimeWarning)
        await anext(ctx.me)
    await emit(123)


@pytest.mark.clause("MIRROR-ALREADY-RUNNING", "MIRROR-SERVER-ERROR")
@ports("AsyncGenTest.test_async_gen_exception_12")
def test_the_body_asking_its_own_generator_is_already_running(loop_factory: LoopFactory) -> None:
    parity(iterates_itself, lambda run: next_items(run, 2), loop_factory, server=AlreadyRunningError)


# -- athrow ---------------------------------------------------------------------------


async def catches_at_the_second_item(emit: Any, ctx: Context) -> None:
    await emit(1)
    await asyncio.sleep(0)
    try:
        await emit(2)
        await emit(3)
    except ZeroDivisionError:
        await emit(1000)
    await asyncio.sleep(0)
    await emit(4)


@pytest.mark.clause("MIRROR-ASEND", "MIRROR-ATHROW", "MIRROR-CLOSED-CLIENT")
@ports("AsyncGenAsyncioTest.test_async_gen_asyncio_anext_04")
@pytest.mark.parametrize("throw", [False, True], ids=["anext", "athrow"])
def test_athrow_caught_by_the_body_returns_its_next_item(loop_factory: LoopFactory, throw: bool) -> None:
    async def consume(run: Run) -> None:
        await next_items(run, 2)
        if throw:
            # CPython throws into the awaitable of __anext__(): athrow is what
            # reaches a channel's body (MIRROR-CALL-AWAITABLE).
            await run.call("athrow", run.gen.athrow(ZeroDivisionError))
        await next_items(run, 4)

    parity(catches_at_the_second_item, consume, loop_factory)


async def replaces_a_thrown_foo(emit: Any, ctx: Context) -> None:
    try:
        await asyncio.sleep(0)
        try:
            reply = await emit(1)
        except FooEr:
            reply = 1000
            await asyncio.sleep(0)
        await emit(reply * 2)
        await asyncio.sleep(0)
    finally:
        await asyncio.sleep(0)
        ctx.note("finally")


@pytest.mark.clause("MIRROR-ATHROW")
@ports("AsyncGenAsyncioTest.test_async_gen_asyncio_athrow_01")
def test_athrow_handled_by_the_body(loop_factory: LoopFactory) -> None:
    async def consume(run: Run) -> None:
        await run.call("asend", run.gen.asend(None))
        await run.call("athrow", run.gen.athrow(FooEr))
        await run.call("asend", run.gen.asend(None))

    parity(replaces_a_thrown_foo, consume, loop_factory)


async def exception_objects_and_tuples(emit: Any, ctx: Context) -> None:
    try:
        await emit((1,))
    except ZeroDivisionError:
        await emit((2,))
    try:
        await emit(StopIteration(1))
    except ZeroDivisionError:
        await emit(StopIteration(3))


@pytest.mark.clause("MIRROR-ASEND", "MIRROR-ATHROW")
@ports(
    "AsyncGenAsyncioTest.test_async_gen_asyncio_anext_tuple",
    "AsyncGenAsyncioTest.test_async_gen_asyncio_anext_stopiteration",
    "AsyncGenAsyncioTest.test_async_gen_asyncio_athrow_tuple",
    "AsyncGenAsyncioTest.test_async_gen_asyncio_athrow_stopiteration",
)
def test_tuples_and_stop_iteration_objects_are_plain_items(loop_factory: LoopFactory) -> None:
    async def consume(run: Run) -> None:
        for _ in range(2):
            await run.call("anext", anext(run.gen))
            await run.call("athrow", run.gen.athrow(ZeroDivisionError))
        await run.call("anext", anext(run.gen))

    parity(exception_objects_and_tuples, consume, loop_factory)


# -- aclose ---------------------------------------------------------------------------


async def cleans_up_in_finally(emit: Any, ctx: Context) -> None:
    try:
        await emit(1)
        ctx.note("resumed")
        await asyncio.get_running_loop().create_future()  # never reached: aclose ends the body first
    finally:
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        ctx.note("finally")
    ctx.note("after the finally")


async def awaits_a_failed_task_in_finally(emit: Any, ctx: Context) -> None:
    task = asyncio.ensure_future(fail_with(ZeroDivisionError()))
    try:
        await emit(1)
    finally:
        try:
            await task
        except ZeroDivisionError:
            ctx.note("the task failed")


@pytest.mark.clause("MIRROR-ACLOSE", "MIRROR-CLOSED-CLIENT")
@ports(
    "AsyncGenAsyncioTest.test_async_gen_asyncio_aclose_07",
    "AsyncGenAsyncioTest.test_async_gen_asyncio_aclose_08",
    "AsyncGenAsyncioTest.test_async_gen_asyncio_aclose_12",
    "AsyncGenAsyncioTest.test_async_gen_aclose_twice_with_different_coros",
)
@pytest.mark.parametrize("body", [cleans_up_in_finally, awaits_a_failed_task_in_finally])
def test_aclose_runs_the_finally_block(loop_factory: LoopFactory, body: Body) -> None:
    async def consume(run: Run) -> None:
        await run.call("anext", anext(run.gen))
        await run.call("aclose", run.gen.aclose())
        await run.call("aclose", run.gen.aclose())
        await run.call("anext", anext(run.gen))

    parity(body, consume, loop_factory)


@pytest.mark.clause("MIRROR-ACLOSE", "MIRROR-ACLOSE-UNSTARTED", "MIRROR-CLOSED-CLIENT")
@ports(
    "AsyncGenAsyncioTest.test_async_gen_aclose_after_exhaustion",
    "AsyncGenAsyncioTest.test_async_gen_await_same_anext_coro_twice",
    "AsyncGenAsyncioTest.test_async_gen_await_same_aclose_coro_twice",
)
def test_aclose_after_the_end_and_awaiting_a_call_twice(loop_factory: LoopFactory) -> None:
    async def consume(run: Run) -> None:
        call = anext(run.gen)
        await run.call("anext", call)
        await run.call("the same anext again", call)
        await run.items()
        call = run.gen.aclose()
        await run.call("aclose", call)
        await run.call("the same aclose again", call)

    parity(one_two, consume, loop_factory)


@pytest.mark.clause("MIRROR-ACLOSE-UNSTARTED")
@ports("AsyncGenAsyncioTest.test_async_gen_aclose_compatible_with_get_stack")
def test_aclose_in_a_task_of_its_own(loop_factory: LoopFactory) -> None:
    async def consume(run: Run) -> None:
        closing = asyncio.ensure_future(run.gen.aclose())
        for task in asyncio.all_tasks():
            task.get_stack()  # must not fail while the generator closes
        run.ctx.note("stacks taken")
        await run.call("aclose", closing)

    # A server whose client closed before asking never runs its block (MIRROR-ACLOSE-UNSTARTED).
    parity(one_two, consume, loop_factory, server=ClientClosedError)


async def loops_forever_with_a_finally(emit: Any, ctx: Context) -> None:
    try:
        while True:
            await emit(1)
    finally:
        await asyncio.sleep(0)
        ctx.note("finally")


@pytest.mark.clause("ABANDON-CLIENT-GC")
@ports("AsyncGenAsyncioTest.test_async_gen_asyncio_gc_aclose_09")
def test_a_generator_dropped_by_its_consumer_is_closed(loop_factory: LoopFactory) -> None:
    async def consume(run: Run) -> None:
        await next_items(run, 2)
        run.drop()
        await quiesce()
        run.ctx.note("after the drop")

    parity(loops_forever_with_a_finally, consume, loop_factory)


async def fails_after_a_reply(emit: Any, ctx: Context) -> None:
    try:
        await asyncio.sleep(0)
        reply = await emit(1)
        await fail_with(ZeroDivisionError())
        ctx.note("never")
        await emit(reply * 2)
    finally:
        await asyncio.sleep(0)
        ctx.note("finally")


@pytest.mark.clause("MIRROR-SERVER-ERROR")
@ports("AsyncGenAsyncioTest.test_async_gen_asyncio_asend_02")
def test_an_exception_after_asend_runs_the_finally_block(loop_factory: LoopFactory) -> None:
    async def consume(run: Run) -> None:
        await run.call("asend", run.gen.asend(None))
        await run.call("asend", run.gen.asend(100))

    parity(fails_after_a_reply, consume, loop_factory, server=ZeroDivisionError)


# -- one call at a time ---------------------------------------------------------------


async def busy_before_its_item(emit: Any, ctx: Context) -> None:
    ctx.note("started")
    await ctx.extra["gate"]
    await emit(1)


async def busy_after_a_throw(emit: Any, ctx: Context) -> None:
    try:
        await emit(1)
    except FooEr as exc:
        ctx.note("caught", observed(exc))
        await ctx.extra["gate"]
        raise


async def refused_while_pending(run: Run, first: Callable[[], Awaitable[Any]], second: str) -> None:
    """Start ``first`` in a task of its own, call ``second`` while it is pending, then finish ``first``."""
    run.ctx.extra["gate"] = asyncio.get_running_loop().create_future()
    pending = asyncio.ensure_future(first())
    await quiesce()
    calls = {"asend": lambda: run.gen.asend(None), "athrow": lambda: run.gen.athrow(FooEr)}
    await run.call(second, calls[second]())
    run.ctx.extra["gate"].set_result(None)
    await run.call("the pending call", pending)
    await run.call("anext", anext(run.gen))


@pytest.mark.clause("MIRROR-ALREADY-RUNNING")
@ports(
    "AsyncGenTest.test_async_gen_asend_throw_concurrent_with_send",
    "AsyncGenTest.test_async_gen_athrow_throw_concurrent_with_send",
    "TestUnawaitedWarnings.test_asend_send_already_running",
    "TestUnawaitedWarnings.test_athrow_send_already_running",
)
@pytest.mark.parametrize("second", ["asend", "athrow"])
def test_a_call_while_anext_is_pending_is_refused(loop_factory: LoopFactory, second: str) -> None:
    # The refused call was awaited: no "never awaited" warning (filterwarnings = error).
    parity(
        busy_before_its_item,
        lambda run: refused_while_pending(run, lambda: anext(run.gen), second),
        loop_factory,
    )


@pytest.mark.clause("MIRROR-ALREADY-RUNNING", "MIRROR-ATHROW")
@ports(
    "AsyncGenTest.test_async_gen_asend_throw_concurrent_with_throw",
    "AsyncGenTest.test_async_gen_athrow_throw_concurrent_with_throw",
)
@pytest.mark.parametrize("second", ["asend", "athrow"])
def test_a_call_while_athrow_is_pending_is_refused(loop_factory: LoopFactory, second: str) -> None:
    async def consume(run: Run) -> None:
        await run.call("anext", anext(run.gen))
        await refused_while_pending(run, lambda: run.gen.athrow(FooEr("first")), second)

    # The first athrow's exception goes back to it, not to the server's task (MIRROR-ATHROW).
    parity(busy_after_a_throw, consume, loop_factory)


# -- where a channel differs on purpose ---------------------------------------------


@pytest.mark.clause("MIRROR-ACLOSE")
def test_aclose_returns_before_the_server_has_finished(loop_factory: LoopFactory) -> None:
    async def consume(run: Run) -> None:
        await run.call("anext", anext(run.gen))
        await run.gen.aclose()
        run.ctx.note("aclose returned")
        await quiesce()

    natively, channeled = differ(cleans_up_in_finally, consume, loop_factory)
    assert natively.log == [("anext", 1), "finally", "aclose returned"]
    # The server runs in its own task, which finishes its block after aclose() returned.
    assert channeled.log == [("anext", 1), "aclose returned", "finally"]
    assert server_outcome(channeled) is None


async def sends_again_after_generator_exit(emit: Any, ctx: Context) -> None:
    try:
        await emit(1)
    except:  # noqa: E722 - the scenario: a body that swallows GeneratorExit
        ctx.note("caught")
    await asyncio.sleep(0)
    await emit(12)
    ctx.note("never")


@pytest.mark.clause("MIRROR-IGNORED-EXIT", "MIRROR-ACLOSE")
@ports(
    "AsyncGenAsyncioTest.test_async_gen_asyncio_aclose_06",
    "AsyncGenAsyncioTest.test_async_gen_asyncio_aclose_11",
)
def test_a_body_that_ignores_generator_exit(loop_factory: LoopFactory) -> None:
    async def consume(run: Run) -> None:
        await run.call("anext", anext(run.gen))
        await run.call("aclose", run.gen.aclose())

    natively, channeled = differ(sends_again_after_generator_exit, consume, loop_factory)
    ignored = Raised("RuntimeError", "ignored GeneratorExit")
    assert natively.log == [("anext", 1), "caught", ("aclose", "raised", ignored)]
    # aclose() does not wait for the server: the server's own task gets the error, in the same words.
    assert channeled.log == [("anext", 1), "caught", ("aclose", None)]
    assert channeled.server is not None
    assert isinstance(channeled.server.exception(), ChannelClosedError)
    assert observed(channeled.server.exception()) == ignored


async def cancelled_in_an_await(emit: Any, ctx: Context) -> None:
    try:
        try:
            reply = await emit(1)
        except FooEr:
            reply = 0
        await cancelled_await()
        await emit(reply)
    finally:
        await asyncio.sleep(0)
        ctx.note("finally")


@pytest.mark.clause("CANCEL-SERVER-TASK")
@ports(
    "AsyncGenAsyncioTest.test_async_gen_asyncio_asend_03",
    "AsyncGenAsyncioTest.test_async_gen_asyncio_athrow_02",
)
@pytest.mark.parametrize("second", ["asend", "athrow"])
def test_a_cancellation_inside_the_body(loop_factory: LoopFactory, second: str) -> None:
    async def consume(run: Run) -> None:
        await run.call("asend", run.gen.asend(None))
        await run.call(second, run.gen.asend(100) if second == "asend" else run.gen.athrow(FooEr))

    natively, channeled = differ(cancelled_in_an_await, consume, loop_factory)
    assert natively.log == [("asend", 1), "finally", (second, "raised", Raised("CancelledError", ""))]
    # A bare CancelledError would read as the client's own cancellation.
    refused = observed(ServerCancelledError("the server was cancelled before it ended the channel"))
    assert channeled.log == [("asend", 1), "finally", (second, "raised", refused)]
    assert server_outcome(channeled) == "cancelled"


@pytest.mark.clause("MIRROR-CALL-AWAITABLE")
async def test_a_call_driven_by_hand_is_a_coroutine_of_the_client() -> None:
    channel: Channel[int, int] = Channel()
    client = channel.client()
    replies: list[int | None] = []

    async def produce() -> None:
        async with channel.server() as server:
            replies.append(await server.asend(1))
            replies.append(await server.asend(2))

    producer = asyncio.ensure_future(produce())
    # Natively, throw() into the awaitable of __anext__() raises at the yield;
    # here it raises in the caller, and the server sees nothing.
    call = client.__anext__()
    with pytest.raises(ZeroDivisionError):
        call.throw(ZeroDivisionError)
    with pytest.raises(RuntimeError, match="cannot reuse already awaited"):
        call.throw(ZeroDivisionError)
    # send(value) into it is the coroutine's own first send, not asend(value).
    call = client.__anext__()
    with pytest.raises(TypeError, match="just-started coroutine"):
        call.send(10)
    call.close()
    assert await anext(client) == 1
    # throw() into aclose()'s awaitable does not close the client.
    closing = client.aclose()
    with pytest.raises(GeneratorExit):
        closing.throw(GeneratorExit)
    with pytest.raises(RuntimeError, match="cannot reuse already awaited"):
        closing.throw(GeneratorExit)
    assert await client.asend(20) == 2
    await client.aclose()
    await producer
    assert replies == [20]


# -- what is not ported, and the check against the running Python's file ---------------

HAND_DRIVEN = (
    "drives the awaitable of a call by hand (send/throw/close, no event loop): a channel call "
    "is a coroutine of the client (MIRROR-CALL-AWAITABLE)"
)
NOT_ASYNC_GENERATOR = "tests the anext()/aiter() builtins on objects that are not async generators"

NOT_PORTED: dict[str, str] = {
    **{
        f"AsyncGenSyntaxTest.test_async_gen_syntax_0{n}": "compile-time syntax of async generator bodies"
        for n in range(1, 6)
    },
    "AsyncGenTest.test_async_gen_api_01": "introspection attributes of generator objects (ag_frame...)",
    "AsyncGenTest.test_async_gen_asend_close_runtime_error": HAND_DRIVEN,
    "AsyncGenTest.test_async_gen_athrow_close_runtime_error": HAND_DRIVEN,
    "AsyncGenAsyncioTest.test_anext_iter": HAND_DRIVEN,
    "AsyncGenAsyncioTest.test_async_gen_throw_same_aclose_coro_twice": HAND_DRIVEN,
    "AsyncGenAsyncioTest.test_async_gen_throw_custom_same_aclose_coro_twice": HAND_DRIVEN,
    "AsyncGenAsyncioTest.test_async_gen_throw_custom_same_athrow_coro_twice": HAND_DRIVEN,
    "AsyncGenAsyncioTest.test_python_async_iterator_anext": NOT_ASYNC_GENERATOR,
    "AsyncGenAsyncioTest.test_python_async_iterator_types_coroutine_anext": NOT_ASYNC_GENERATOR,
    "AsyncGenAsyncioTest.test_anext_bad_args": NOT_ASYNC_GENERATOR,
    "AsyncGenAsyncioTest.test_anext_bad_await": NOT_ASYNC_GENERATOR,
    "AsyncGenAsyncioTest.test_anext_return_iterator": NOT_ASYNC_GENERATOR,
    "AsyncGenAsyncioTest.test_anext_return_generator": NOT_ASYNC_GENERATOR,
    "AsyncGenAsyncioTest.test_anext_await_raises": NOT_ASYNC_GENERATOR,
    "AsyncGenAsyncioTest.test_aiter_bad_args": NOT_ASYNC_GENERATOR,
    "AsyncGenAsyncioTest.test_async_gen_expression_02": "an async comprehension of a sync iterable: no body",
}

# The tests that the oldest supported Python (3.10) does not have yet.
SINCE: dict[str, tuple[int, int]] = {
    "AsyncGenTest.test_async_gen_3_arg_deprecation_warning": (3, 12),
    "AsyncGenTest.test_async_gen_exception_12": (3, 12),
    **{
        name: (3, 13)
        for name in (
            "AsyncGenTest.test_async_gen_asend_close_runtime_error",
            "AsyncGenTest.test_async_gen_athrow_close_runtime_error",
            "AsyncGenTest.test_async_gen_asend_throw_concurrent_with_send",
            "AsyncGenTest.test_async_gen_athrow_throw_concurrent_with_send",
            "AsyncGenTest.test_async_gen_asend_throw_concurrent_with_throw",
            "AsyncGenTest.test_async_gen_athrow_throw_concurrent_with_throw",
            "AsyncGenAsyncioTest.test_async_gen_throw_same_aclose_coro_twice",
            "AsyncGenAsyncioTest.test_async_gen_throw_custom_same_aclose_coro_twice",
            "AsyncGenAsyncioTest.test_async_gen_throw_custom_same_athrow_coro_twice",
            "TestUnawaitedWarnings.test_asend",
            "TestUnawaitedWarnings.test_athrow",
            "TestUnawaitedWarnings.test_aclose",
            "TestUnawaitedWarnings.test_aclose_throw",
            "TestUnawaitedWarnings.test_asend_send_already_running",
            "TestUnawaitedWarnings.test_athrow_send_already_running",
        )
    },
}


def cpython_test_names() -> set[str]:
    """The tests of the running Python's Lib/test/test_asyncgen.py, as ``Class.test_name``."""
    try:
        test = importlib.import_module("test")  # CPython's own tests: no stubs describe them
    except ImportError:  # pragma: no cover - some distributions ship Python without its tests
        pytest.skip("the running Python has no test package")
    path = Path(test.__path__[0]) / "test_asyncgen.py"
    if not path.is_file():  # pragma: no cover
        pytest.skip(f"the running Python has no {path}")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        f"{cls.name}.{function.name}"
        for cls in tree.body
        if isinstance(cls, ast.ClassDef)
        for function in cls.body
        if isinstance(function, ast.FunctionDef) and function.name.startswith("test")
    }


@pytest.mark.clause("MIRROR-ASEND")
def test_every_cpython_test_is_ported_or_listed() -> None:
    assert not PORTED.keys() & NOT_PORTED.keys()
    listed = {
        name for name in PORTED.keys() | NOT_PORTED.keys() if sys.version_info[:2] >= SINCE.get(name, (3, 10))
    }
    names = cpython_test_names()
    assert sorted(names - listed) == [], "new in test_asyncgen.py: port each, or list it in NOT_PORTED"
    assert sorted(listed - names) == [], "gone from test_asyncgen.py, or SINCE is wrong"


# -- warnings -------------------------------------------------------------------------


def warned(caught: list[warnings.WarningMessage]) -> list[tuple[str, str, str]]:
    return [(w.category.__name__, str(w.message), Path(w.filename).name) for w in caught]


@pytest.mark.clause("MIRROR-ATHROW-SIGNATURE", "MIRROR-ATHROW-UNSTARTED")
@ports("AsyncGenTest.test_async_gen_3_arg_deprecation_warning")
def test_the_three_argument_athrow_warns_when_called_as_cpython_does(loop_factory: LoopFactory) -> None:
    async def consume(run: Run) -> None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call = run.gen.athrow(GeneratorExit, GeneratorExit(), None)
        run.ctx.note("warned", warned(caught))
        await run.call("athrow", call)

    # An unstarted client closed by athrow: its server block never runs.
    parity(one_two, consume, loop_factory, server=ClientClosedError)


def native_athrow_warnings() -> list[tuple[str, str, str]]:
    """What the running Python warns for a native athrow(typ, val, tb) (nothing before 3.12)."""

    async def gen() -> AsyncGenerator[int, None]:
        yield 1

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gen().athrow(ValueError, ValueError(), None).close()
    return warned(caught)


@pytest.mark.clause("MIRROR-ATHROW-SIGNATURE", "MIRROR-ATHROW")
async def test_the_server_ends_three_argument_athrow_warns_as_cpython_does() -> None:
    channel: Channel[int, int] = Channel()
    client = channel.client()

    async def produce() -> None:
        async with channel.server() as server:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                call = server.athrow(ValueError, ValueError("thrown"), None)
            assert warned(caught) == native_athrow_warnings()
            assert await call == 7
            # One argument is not deprecated.
            await server.athrow(ValueError("again"))

    producer = asyncio.ensure_future(produce())
    with pytest.raises(ValueError, match="thrown"):
        await anext(client)
    with pytest.raises(ValueError, match="again"):
        await client.asend(7)
    await client.aclose()
    await producer


@pytest.mark.clause("MIRROR-ATHROW-SIGNATURE")
def test_the_deprecation_warning_is_worded_as_cpython_312(monkeypatch: pytest.MonkeyPatch) -> None:
    # On 3.10 and 3.11 the ends do not warn; this checks the words they use on 3.12+.
    import channels

    monkeypatch.setattr(channels, "_ATHROW_SIGNATURE_DEPRECATED", True)
    client = Channel[int, None]().client()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client.athrow(ValueError, None).close()
        client.athrow(ValueError("one argument")).close()
    assert warned(caught) == [
        (
            "DeprecationWarning",
            "the (type, exc, tb) signature of athrow() is deprecated, use the single-arg signature instead.",
            Path(__file__).name,
        )
    ]


@pytest.mark.clause("MIRROR-NEVER-AWAITED")
@ports(
    "TestUnawaitedWarnings.test_asend",
    "TestUnawaitedWarnings.test_athrow",
    "TestUnawaitedWarnings.test_aclose",
    "TestUnawaitedWarnings.test_aclose_throw",
)
async def test_a_call_never_awaited_warns_naming_the_method() -> None:
    channel: Channel[int, int] = Channel()
    client = channel.client()

    def never_awaited(make_call: Callable[[], Any], name: str) -> None:
        # CPython 3.13 says "coroutine method 'asend' of 'gen' was never awaited".
        # The call is dropped at once: reference counting finalizes it inside the block.
        with pytest.warns(RuntimeWarning, match=f"^coroutine '{name}' was never awaited$"):
            make_call()

    async def produce() -> None:
        async with channel.server() as server:
            never_awaited(lambda: server.asend(1), "ServerEnd.asend")
            never_awaited(lambda: server.athrow(ValueError), "ServerEnd.athrow")
            never_awaited(server.aclose, "ServerEnd.aclose")
            await server.asend(1)

    producer = asyncio.ensure_future(produce())
    never_awaited(lambda: client.asend(None), "ClientEnd.asend")
    never_awaited(client.__anext__, "ClientEnd.asend")  # CPython names asend for __anext__() too
    never_awaited(lambda: client.athrow(RuntimeError), "ClientEnd.athrow")
    never_awaited(client.aclose, "ClientEnd.aclose")
    # A call that raised when thrown into is not reported.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(FooEr):
            client.aclose().throw(FooEr)
        gc.collect()
    assert caught == []
    assert await anext(client) == 1
    await client.aclose()
    await producer


# -- the lifecycle at loop and interpreter shutdown -------------------------------------


def run_as_asyncio_run(main: Callable[[], Coroutine[Any, Any, None]], loop_factory: LoopFactory) -> None:
    """``asyncio.run(main())`` on a loop of ``loop_factory``.

    After main(), it cancels the remaining tasks, then calls loop.shutdown_asyncgens().
    """
    if sys.version_info >= (3, 11):
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(main())
        return

    # Python 3.10 has no Runner: its asyncio.run(), on a loop of our choice.
    from asyncio.runners import _cancel_all_tasks  # type: ignore[attr-defined]  # pragma: no cover

    loop = loop_factory()  # pragma: no cover
    try:  # pragma: no cover
        loop.run_until_complete(main())
    finally:  # pragma: no cover
        try:
            _cancel_all_tasks(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()


async def notes_how_it_ends(emit: Any, ctx: Context) -> None:
    try:
        await emit(1)
        await emit(2)
    except BaseException as exc:
        ctx.note("the body ends with", type(exc).__name__)
        if ctx.extra.get("fail"):
            raise ZeroDivisionError("division by zero")  # noqa: B904 - chained implicitly, as 1 / 0 would be
        raise


def break_then_shut_down(
    kind: str, body: Body, loop_factory: LoopFactory, *, hold: bool, fail: bool
) -> Context:
    """``async for ...: break`` in asyncio.run()'s main, the generator held past main or dropped in it."""
    ctx = Context(extra={"fail": fail})
    held: list[Any] = []
    producers: list[asyncio.Future[None]] = []

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(
            lambda _loop, context: ctx.note(
                "loop handler", context["message"], observed(context["exception"])
            )
        )
        if kind == "native":
            gen = native(body)(ctx)
        else:
            channel: Channel[Any, Any] = Channel()
            gen = channel.client()
            producers.append(asyncio.ensure_future(serve(channel, body, ctx)))
        if hold:
            held.append(gen)
        async for _ in gen:
            break
        del gen
        gc.collect()

    run_as_asyncio_run(main, loop_factory)
    # A task that failed is reported when it is collected, as the native closing task is.
    producers.clear()
    gc.collect()
    return ctx


@pytest.mark.clause("SHUTDOWN-RUN", "ABANDON-CLIENT-GC")
@ports(
    "AsyncGenAsyncioTest.test_asyncgen_nonstarted_hooks_are_cancellable",
    "AsyncGenAsyncioTest.test_async_gen_asyncio_shutdown_exception_02",
)
@pytest.mark.parametrize("fail", [False, True], ids=["quiet", "failing"])
def test_asyncio_run_after_the_consumer_dropped_the_generator(loop_factory: LoopFactory, fail: bool) -> None:
    natively = break_then_shut_down("native", notes_how_it_ends, loop_factory, hold=False, fail=fail)
    channeled = break_then_shut_down("channel", notes_how_it_ends, loop_factory, hold=False, fail=fail)
    # What the body sees depends on the loop (asyncio cancels the closing
    # task, uvloop lets it run first), but never on whether it is native.
    assert channeled.log == natively.log
    assert len([entry for entry in natively.log if entry[0] == "loop handler"]) == fail


@pytest.mark.clause("SHUTDOWN-RUN")
@ports(
    "AsyncGenAsyncioTest.test_async_gen_asyncio_shutdown_02",
    "AsyncGenAsyncioTest.test_async_gen_asyncio_shutdown_exception_01",
)
@pytest.mark.parametrize("fail", [False, True], ids=["quiet", "failing"])
def test_asyncio_run_with_the_generator_still_referenced(loop_factory: LoopFactory, fail: bool) -> None:
    natively = break_then_shut_down("native", notes_how_it_ends, loop_factory, hold=True, fail=fail)
    channeled = break_then_shut_down("channel", notes_how_it_ends, loop_factory, hold=True, fail=fail)
    error = [("loop handler", Raised("ZeroDivisionError", "division by zero"))] if fail else []

    def handler_calls(ctx: Context) -> list[Any]:
        return [(entry[0], entry[2]) for entry in ctx.log if entry[0] == "loop handler"]

    # loop.shutdown_asyncgens() closes the native generator...
    assert natively.log[0] == ("the body ends with", "GeneratorExit")
    assert handler_calls(natively) == error
    if fail:
        assert natively.log[1][1].startswith("an error occurred during closing of asynchronous generator")
    # ...but asyncio.run() cancels the remaining tasks first, the producer's among them.
    assert channeled.log[0] == ("the body ends with", "CancelledError")
    assert handler_calls(channeled) == error
    if fail:
        assert channeled.log[1][1] == "unhandled exception during asyncio.run() shutdown"


async def sleeps_before_its_item(emit: Any, ctx: Context) -> None:
    try:
        await asyncio.get_running_loop().create_future()  # never done: the item never comes
        await emit(1)
    finally:
        await asyncio.sleep(0)
        ctx.note("finally")


@pytest.mark.clause("SHUTDOWN-RUN", "CANCEL-SERVER-TASK")
@ports("AsyncGenAsyncioTest.test_async_gen_asyncio_shutdown_01")
def test_consumers_waiting_for_an_item_at_shutdown(loop_factory: LoopFactory) -> None:
    async def consume(run: Run) -> None:
        # A consumer waits for an item that never comes, and is cancelled, as in CPython's test.
        consumers = [asyncio.ensure_future(run.items())]
        await quiesce()
        for consumer in consumers:
            consumer.cancel()
        await run.call("the consumer", consumers[0])
        await run.call("shutdown_asyncgens", asyncio.get_running_loop().shutdown_asyncgens())

    natively = run_once("native", sleeps_before_its_item, consume, loop_factory)
    channeled = run_once("channel", sleeps_before_its_item, consume, loop_factory)
    cancelled = ("the consumer", "raised", Raised("CancelledError", ""))
    # Natively the body runs in the consumer's task and is cancelled with it...
    assert natively.log == ["finally", cancelled, ("shutdown_asyncgens", None)]
    # ...a channel's producer is its own task: the consumer's request is withdrawn
    # (CANCEL-REQUEST-UNTAKEN), and asyncio.run() cancels the producer's task
    # when it cancels the remaining tasks (here: the teardown of run_once).
    assert channeled.log == [cancelled, ("shutdown_asyncgens", None)]
    assert server_outcome(channeled) == "cancelled"


@pytest.mark.clause("SHUTDOWN-ASYNCGENS")
def test_shutdown_asyncgens_leaves_a_channel_open(loop_factory: LoopFactory) -> None:
    async def consume(run: Run) -> None:
        await run.call("anext", anext(run.gen))
        await run.call("shutdown_asyncgens", asyncio.get_running_loop().shutdown_asyncgens())
        if run.server is not None:
            run.server.cancel()
            await quiesce()

    natively = run_once("native", notes_how_it_ends, consume, loop_factory)
    channeled = run_once("channel", notes_how_it_ends, consume, loop_factory)
    assert natively.log == [
        ("anext", 1),
        ("the body ends with", "GeneratorExit"),
        ("shutdown_asyncgens", None),
    ]
    # The loop does not know the client end: the producer goes on waiting until its task is cancelled.
    assert channeled.log == [
        ("anext", 1),
        ("shutdown_asyncgens", None),
        ("the body ends with", "CancelledError"),
    ]
