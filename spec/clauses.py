"""The clauses of the channel protocol: every guarantee, with its id and why.

A clause id names one behaviour; the model (``spec/model.py``) cites the
clause of every transition it takes, and every test cites the clauses it
proves with ``@pytest.mark.clause("ID")``. The docs render this table.

A clause is of one of two kinds. A *protocol* clause is a guarantee that
every implementation must keep: the conformance suite checks each of them
through ``--impl``. A *project* clause is the hygiene of this repository
(its examples, its types, its benchmarks, the wording of its repr), proven
for ``channels.py`` alone and asked of no other implementation.
"""

from __future__ import annotations

from dataclasses import dataclass

PROTOCOL = "protocol"
PROJECT = "project"


@dataclass(frozen=True)
class Clause:
    id: str
    group: str
    title: str
    statement: str
    rationale: str
    kind: str = PROTOCOL


_CLAUSES = [
    # -- the mirror of PEP 525 ----------------------------------------------
    Clause(
        "MIRROR-ASEND",
        "Mirror of PEP 525",
        "A handoff is a yield",
        "server.asend(x) hands x to the client's pending request and returns once the client comes "
        "back with its next request, returning the value that request sent (None for anext).",
        "The server block is a generator body and `await server.asend(x)` is `yield x`: the body "
        "resumes only when the consumer asks for the next item, with the value it sent.",
    ),
    Clause(
        "MIRROR-FIRST-SEND-NONE",
        "Mirror of PEP 525",
        "The first request sends None",
        "The client's first call must send None: asend(non-None) before the first request raises "
        "TypeError (\"can't send non-None value to a just-started channel client\", CPython's words) "
        "and sends nothing.",
        "PEP 525 raises the same TypeError: there is no yield expression yet to receive the value.",
    ),
    Clause(
        "MIRROR-SERVER-RETURN",
        "Mirror of PEP 525",
        "Leaving the block ends the iteration",
        "When the server block ends normally (or server.aclose() is awaited), the client's pending "
        "or next call raises StopAsyncIteration, and so does every call after it.",
        "A generator body that returns raises StopAsyncIteration in the consumer, once and forever.",
    ),
    Clause(
        "MIRROR-SERVER-ERROR",
        "Mirror of PEP 525",
        "The server's exception reaches the client",
        "When the server block raises an exception, the client's pending or next call raises that "
        "exception; later calls raise StopAsyncIteration. The server's task sees it too.",
        "A generator body's exception propagates out of asend/anext, and the generator is then "
        "exhausted. The producer's task also sees it because it is the producer's own failure.",
    ),
    Clause(
        "MIRROR-STOPASYNCITERATION",
        "Mirror of PEP 525",
        "StopAsyncIteration in the block becomes RuntimeError",
        "A StopAsyncIteration raised by the server block reaches the client as RuntimeError, and so "
        "does a StopIteration (which the body's coroutine converts); both messages say 'raised "
        "StopAsyncIteration' or 'raised StopIteration', as CPython's do.",
        "PEP 525 (like PEP 479) converts both so that a bug in the body cannot pass for the end of "
        "the iteration.",
    ),
    Clause(
        "MIRROR-ATHROW",
        "Mirror of PEP 525",
        "athrow raises in the server",
        "client.athrow(exc) raises exc in the server's pending (or next) call; if the server "
        "catches it and sends an item, athrow returns that item; if exc leaves the server block, "
        "athrow raises it and the server's task does not. Likewise server.athrow(exc) raises exc in "
        "the client's pending (or next) call and returns the client's next request.",
        "PEP 525's athrow raises at the yield: the body may handle it and yield again, or the "
        "exception propagates to the caller of athrow, who owns it.",
    ),
    Clause(
        "MIRROR-ATHROW-UNSTARTED",
        "Mirror of PEP 525",
        "athrow before the first request",
        "athrow(exc) on a client that never asked raises exc at once and closes the client; "
        "nothing runs on the server side.",
        "An async generator that never started is closed by athrow, which raises the exception.",
    ),
    Clause(
        "MIRROR-ACLOSE",
        "Mirror of PEP 525",
        "aclose raises GeneratorExit in the server",
        "client.aclose() makes the server's pending or next call raise GeneratorExit, which the "
        "server block lets out quietly; aclose returns at once, without waiting for the server.",
        "aclose() ends a generator body with GeneratorExit at its yield. The server runs in its "
        "own task, which reports its own errors; waiting for it would let a stuck producer hang "
        "the consumer.",
    ),
    Clause(
        "MIRROR-ACLOSE-UNSTARTED",
        "Mirror of PEP 525",
        "Closing a client that never asked",
        "aclose() (or abandonment) of a client that never asked returns at once; the server block "
        "never runs: entering it raises ClientClosedError.",
        "Closing an unstarted async generator runs nothing of its body. The producer must learn "
        "why its block cannot run, and the entry is the only place to tell it.",
    ),
    Clause(
        "MIRROR-IGNORED-EXIT",
        "Mirror of PEP 525",
        "Sending after GeneratorExit",
        "A server that goes on sending after it got GeneratorExit gets ChannelClosedError, a "
        "RuntimeError whose message says 'ignored GeneratorExit', in its own task: the client's "
        "aclose() has already returned (MIRROR-ACLOSE) and does not raise it.",
        "PEP 525 raises RuntimeError('async generator ignored GeneratorExit') out of aclose(); the "
        "server runs in another task, and aclose() does not wait for it.",
    ),
    Clause(
        "MIRROR-CLOSED-CLIENT",
        "Mirror of PEP 525",
        "An exhausted or closed client",
        "After the client closed or saw the end, anext/asend raise StopAsyncIteration, athrow "
        "returns None and aclose does nothing.",
        "That is what an exhausted async generator does.",
    ),
    Clause(
        "MIRROR-ALREADY-RUNNING",
        "Mirror of PEP 525",
        "One call at a time per end",
        "A call on an end that has a call pending raises AlreadyRunningError (a RuntimeError whose "
        "message says 'already running', as CPython's does) and changes nothing.",
        "PEP 525 raises RuntimeError('already running'); an end serves one task at a time.",
    ),
    Clause(
        "MIRROR-ATHROW-SIGNATURE",
        "Mirror of PEP 525",
        "The deprecated athrow signature",
        "On Python 3.12 and later, calling athrow() of either end with more than one argument "
        "(typ, val or typ, val, tb) warns DeprecationWarning when it is called, with CPython's "
        "message; on 3.10 and 3.11 it does not warn. The call works as before.",
        "CPython 3.12 deprecated that signature of an async generator's athrow(); code ported "
        "from a generator should hear the same warning.",
    ),
    # A project clause: how our awaitables act when driven by hand, which differs from
    # a native generator's; another implementation may come closer to PEP 525.
    Clause(
        "MIRROR-CALL-AWAITABLE",
        "Mirror of PEP 525",
        "A call's awaitable is a coroutine of the caller",
        "The awaitable that anext(), asend(), athrow() and aclose() of an end return is a coroutine "
        "running in the caller's task: driving it by hand with send(), throw() or close() acts on "
        "that coroutine only (throw() into a call that has not started raises in the caller, and "
        "reaches neither end's peer); to raise in the peer, call athrow().",
        "A native generator's awaitable runs the body itself; a channel's peer runs in another "
        "task, and the ends return their handoff's coroutine directly, with no wrapper on the hot "
        "path.",
        PROJECT,
    ),
    # A project clause: the warning names our classes (ClientEnd.asend), as a repr does.
    Clause(
        "MIRROR-NEVER-AWAITED",
        "Mirror of PEP 525",
        "The never-awaited warning names the call",
        "A call of an end that is never awaited warns RuntimeWarning naming the end's method: "
        "'ClientEnd.asend' (for anext() too, as CPython names 'asend'), 'ClientEnd.athrow', "
        "'ClientEnd.aclose' and the same of ServerEnd, never an internal coroutine.",
        "The warning is the only trace of a forgotten await; it must point at the user's call.",
        PROJECT,
    ),
    Clause(
        "GROUP-EXIT",
        "Mirror of PEP 525",
        "A TaskGroup or nursery in the block",
        "An exception group (a TaskGroup's, a nursery's, an anyio task group's) that leaves the "
        "server block with every leaf the GeneratorExit of the client's close means that "
        "GeneratorExit: the block ends quietly. One whose every leaf is the exception the client "
        "threw means that exception: the client's athrow raises it and the server's task does not. "
        "Any other group is the block's own exception (MIRROR-SERVER-ERROR).",
        "A producer that needs a task group or a timeout around its sends is the reason to use a "
        "channel rather than an async generator (PEP 789); its group wraps the close it was told "
        "of, which is not a failure of the producer.",
    ),
    Clause(
        "SERVER-BLOCK-ENTER",
        "Mirror of PEP 525",
        "Entering waits for the first request",
        "Entering `async with channel.server()` waits until the client sends its first request "
        "and then gives the server end.",
        "A generator body starts running only when the consumer first asks for an item.",
    ),
    # -- cancellation -------------------------------------------------------
    Clause(
        "CANCEL-SEND-UNTAKEN",
        "Cancellation",
        "A cancelled call withdraws an offer nobody took",
        "A call cancelled while its value was offered and not yet taken raises CancelledError at "
        "once and withdraws the value: it is never delivered, and the end may send again. On trio, "
        "CancelledError here and below is trio.Cancelled, raised when the call's cancel scope is "
        "cancelled (TRIO-CANCELLATION).",
        "Nothing is lost or duplicated: the sender keeps the value and knows it was not delivered.",
    ),
    Clause(
        "CANCEL-SEND-TAKEN",
        "Cancellation",
        "A cancelled call whose value was delivered",
        "A call cancelled after its value was delivered raises CancelledError at once; the value "
        "stays delivered (the end's `delivered` count says so), and the reply it waited for goes "
        "to the end's next call.",
        "Prompt cancellation cannot undo a delivery that the peer may already act on; counting "
        "deliveries tells the sender which case it is in.",
    ),
    Clause(
        "CANCEL-RECEIVE-RACE",
        "Cancellation",
        "Delivered, then cancelled before resuming",
        "When a message is delivered to a call whose task is cancelled before it resumes (the "
        "done-future-then-cancel race), the call raises CancelledError and the end's next call "
        "returns the message: it is neither lost nor duplicated. On trio the race cannot happen: "
        "a call handed a message returns it, even if its cancel scope is cancelled before it resumes.",
        "asyncio lets a task be cancelled after its future got a result; the message already "
        "belongs to that end, so it waits there for the end's next call. trio's abort protocol "
        "cancels a wait only before the task is rescheduled with its message.",
    ),
    Clause(
        "CANCEL-REQUEST-UNTAKEN",
        "Cancellation",
        "A timeout loop around anext gets every item once",
        "A client request cancelled before it took an item loses nothing: the item goes to the "
        "next request, so a timeout loop around anext(client) gets every item exactly once.",
        "The request was not consumed by an item, so the item waits for a taker instead.",
    ),
    Clause(
        "REPLY-PENDING",
        "Cancellation",
        "Only a receive while a reply is owed",
        "While an end waits for a reply that a cancelled call left owed, its next call must send "
        "None (anext/asend(None)/read_*) and returns that reply; sending a value or throwing "
        "raises ReplyPendingError and sends nothing.",
        "The protocol alternates turns; a value sent out of turn would be misrouted. The error "
        "tells the sender its earlier value was delivered.",
    ),
    Clause(
        "CANCEL-SERVER-TASK",
        "Cancellation",
        "A cancelled server",
        "When the server's task is cancelled (its block exits with CancelledError, or entering "
        "it is cancelled), the client's pending or next call raises ServerCancelledError, never a "
        "bare CancelledError; the server's task is cancelled as asked. On trio the cause is the "
        "server's trio.Cancelled, which its cancel scope then catches as usual.",
        "A bare CancelledError in the client would read as the client's own cancellation.",
    ),
    Clause(
        "CANCEL-LEAVES-USABLE",
        "Cancellation",
        "A cancelled call leaves the channel usable",
        "After any cancelled call, both ends go on working by the clauses above.",
        "Timeouts are routine; a channel that broke on one would force every user to rebuild it.",
    ),
    Clause(
        "TRIO-CANCELLATION",
        "Cancellation",
        "Cancellation on trio",
        "On trio (and anyio on trio) a call is cancelled by its cancel scope and raises "
        "trio.Cancelled wherever the clauses say CancelledError, with the same outcome for its "
        "message; as scopes are level-triggered, a call in a scope already cancelled sends (or "
        "offers) its message as usual, and its wait raises at once. A server's trio.Cancelled is a "
        "cancellation for CANCEL-SERVER-TASK.",
        "The clauses are about what happens to the messages, not about how a backend delivers "
        "cancellation; trio's level-triggered scopes need no special case.",
    ),
    Clause(
        "TRIO-CHECKPOINT",
        "Cancellation",
        "A call is a checkpoint when it waits",
        "On trio, a channel call is a checkpoint exactly when it waits for the peer; a call that "
        "completes without waiting (an asend into a read_items batch with room, a receive of a "
        "message already there, aclose) neither checks for cancellation nor yields, as on asyncio.",
        "The channel mirrors an async generator, whose asend is a schedule point only when its body "
        "awaits; an extra checkpoint would cost every handoff and cancel calls that lose nothing by "
        "completing. Every handoff waits for the peer, so no loop of channel calls starves the run.",
    ),
    # -- nothing hangs ------------------------------------------------------
    Clause(
        "ABANDON-CLIENT-GC",
        "Nothing hangs",
        "An abandoned client closes itself",
        "A client end garbage-collected without being closed (a consumer that broke out of "
        "`async for` and dropped it) is closed soon after, as aclose() would: the producer's "
        "pending call raises GeneratorExit and its block ends quietly. On trio the close is "
        "scheduled through the run's TrioToken, so it runs in that run whatever thread collects "
        "the client; once the loop or the run is over, nothing is left to close and nothing is logged.",
        "Native async generators are finalized the same way; a consumer that walks away must "
        "never strand its producer.",
    ),
    Clause(
        "ABANDON-SERVER",
        "Nothing hangs",
        "A server coroutine closed by the garbage collector",
        "If the server's coroutine is closed while its block is open, the client's pending or next "
        "call raises ServerCancelledError.",
        "Leaving the block never suspends, so even a coroutine closed from outside a task closes "
        "its channel.",
    ),
    # A project clause: what asyncio.run() does to our design (the producer is a task);
    # what an implementation must keep of it is ABANDON-CLIENT-GC, CANCEL-REQUEST-UNTAKEN
    # and CANCEL-SERVER-TASK, which are checked through --impl.
    Clause(
        "SHUTDOWN-RUN",
        "Nothing hangs",
        "What asyncio.run() does to an open channel",
        "When asyncio.run() (or asyncio.Runner) ends while a server block is open, it cancels the "
        "producer's task with the other remaining tasks: the block's pending call raises "
        "CancelledError, its finally clauses run, and an exception raised there reaches the loop's "
        "exception handler as 'unhandled exception during asyncio.run() shutdown'. A native "
        "generator still referenced there gets GeneratorExit from loop.shutdown_asyncgens() "
        "instead, and its error is reported as 'an error occurred during closing of asynchronous "
        "generator'. A client end dropped before main() returns is closed as a dropped native "
        "generator is, with the same outcome on each loop (ABANDON-CLIENT-GC); a consumer task "
        "still waiting in a call is cancelled, and its request withdrawn.",
        "asyncio.run() cancels tasks before it closes async generators, and the producer is a "
        "task. To end the producer with GeneratorExit, close the client and await the producer "
        "inside main() (a TaskGroup does both).",
        PROJECT,
    ),
    # A project clause: a consequence of our design; an implementation that the loop
    # closes at shutdown_asyncgens() breaks no promise to its users.
    Clause(
        "SHUTDOWN-ASYNCGENS",
        "Nothing hangs",
        "loop.shutdown_asyncgens() closes native generators only",
        "loop.shutdown_asyncgens() leaves a channel as it is: the client end is not closed, and the "
        "producer waits until its task is cancelled or the client is closed.",
        "The loop learns of async generators through sys.set_asyncgen_hooks(), which the "
        "interpreter calls for native generators only; registering the ends with the loop would "
        "take its private state, and asyncio.run() cancels the producer's task anyway.",
        PROJECT,
    ),
    Clause(
        "NO-HANG",
        "Nothing hangs",
        "Every step settles",
        "After every event the event loop reaches quiescence (each task finished, or waiting on a "
        "future that is still pending) within a bounded number of iterations and of seconds (the "
        "suite's step bound), and no call stays pending that the model ended.",
        "A busy loop or a blocked thread hangs a program as surely as a deadlock does.",
    ),
    Clause(
        "CANCEL-PROMPT",
        "Nothing hangs",
        "A cancelled call ends",
        "When the task of a pending call on either end is cancelled, that task ends within a "
        "bounded number of loop iterations: a channel call never swallows its cancellation.",
        "Timeouts, task groups and shutdown all cancel and then wait: a call that outlives its "
        "cancellation hangs them.",
    ),
    # -- misuse -------------------------------------------------------------
    Clause(
        "MISUSE-SECOND-END",
        "Misuse fails loudly",
        "One client, one server",
        "Asking a channel for a second client or a second server raises ChannelInUseError and "
        "changes nothing.",
        "Two consumers or producers on a rendezvous would misroute items.",
    ),
    Clause(
        "MISUSE-REFUSED-CHANGES-NOTHING",
        "Misuse fails loudly",
        "A refused call changes nothing",
        "A call refused with AlreadyRunningError, ReplyPendingError, ChannelClosedError, "
        "ChannelInUseError, or the TypeError or ValueError of its arguments raises at once and leaves "
        "the channel as it was: both ends' state and delivered counts, what a later call returns or "
        "raises, and whether the server's task raises; it keeps no reference to what it was given.",
        "A refusal reports a bug in the calling code, which may catch it and go on: the program "
        "around it must not change course because of a call that did not happen.",
    ),
    Clause(
        "MISUSE-CLOSED-SERVER",
        "Misuse fails loudly",
        "A server end used after its block",
        "Sending on a server end after its block ended or after server.aclose() raises ChannelClosedError.",
        "The block is the generator body: nothing can yield after it returned.",
    ),
    Clause(
        "MISUSE-WRONG-LOOP",
        "Misuse fails loudly",
        "One event loop per channel",
        "A channel is bound to the event loop of its first call; a call from another loop raises "
        "WrongEventLoopError. On trio, the channel is bound to the trio.run of its first call: a "
        "call from another trio.run, or between trio and asyncio either way, raises it too.",
        "Futures of one loop cannot be awaited from another; a trio task waits only in its own run.",
    ),
    Clause(
        "MISUSE-EXIT-WHILE-DELEGATED",
        "Misuse fails loudly",
        "Leaving the block while a delegate still sends",
        "If the server block ends while a call of the server end is pending in another task, the "
        "channel closes all the same: that call raises ChannelClosedError, and a block that ended "
        "normally raises AlreadyRunningError (an exception leaving the block, such as a "
        "cancellation, propagates unchanged). server.aclose() while a call is pending raises "
        "AlreadyRunningError and changes nothing.",
        "PEP 525 refuses to close a running generator; but the block is over, and a channel left "
        "open would strand both the delegate and the client.",
    ),
    Clause(
        "NO-NOISE",
        "Misuse fails loudly",
        "No stray warnings or cycles",
        "No channel operation logs 'exception was never retrieved', raises InvalidStateError, "
        "warns ResourceWarning, or leaves a reference cycle that keeps a task or frame alive.",
        "Noise hides real failures; cycles delay the finalization that abandonment relies on.",
    ),
    # The words of a repr are not an interface: no program may depend on them,
    # and checking another implementation's would prescribe our spelling.
    Clause(
        "REPR-SHOWS-STATE",
        "Debugging",
        "repr shows the state",
        "repr() of a channel, of its server block and of each end shows the state of both ends.",
        "Debugging a hang starts with knowing who waits for whom.",
        PROJECT,
    ),
    # -- streams ------------------------------------------------------------
    Clause(
        "READ-ITEMS-BATCH",
        "Streams",
        "read_items takes what the writer hands over",
        "read_items(n) waits for the first item only and returns 1..n items in order: those the "
        "writer hands over before the reader's task resumes, without a return to the event loop "
        "per item; a writer's asend into a batch with room returns at once.",
        "Bulk transfer should cost one wake-up per batch, not per item.",
    ),
    Clause(
        "READ-ITEMS-END",
        "Streams",
        "The end of a stream is StopAsyncIteration",
        "At the end of the stream, read_items returns the items it got; the next call raises "
        "StopAsyncIteration, never an internal exception. read_items(n < 1) raises ValueError.",
        "The end of a stream has one spelling everywhere, the one `async for` understands.",
    ),
    Clause(
        "WRITE-ITEMS-LAZY",
        "Streams",
        "write_items pulls an item only for a taker",
        "write_items(iterable) accepts any iterable, unsized iterators and generators included, "
        "and pulls an item only when a reader call is there to take it; a cancelled write_items "
        "loses no item.",
        "An item pulled from an iterator and then dropped would be lost for good.",
    ),
    Clause(
        "WRITE-ITEMS-BATCH",
        "Streams",
        "write_items fills a pending read_items",
        "write_items hands a pending read_items(n) up to n items without a return to the event "
        "loop, and returns once the reader came back after the last item, as a loop of asend "
        "would.",
        "One wake-up per batch on each side is what makes bulk transfer fast.",
    ),
    # -- project clauses: this repository's hygiene, not the protocol -------
    Clause(
        "BACKENDS",
        "Examples",
        "asyncio, uvloop, trio and anyio",
        "A channel runs on asyncio and uvloop. trio is optional: a channel may also run on trio, "
        "and then through anyio on either backend (ours does); where it runs, it keeps the same "
        "clauses (where a backend differs, the clause says so) and does what it does on asyncio. "
        "One that does not run on trio refuses a call inside trio.run with RuntimeError, and the "
        "conformance suite skips its trio checks, naming this clause. trio is imported only when a "
        "channel is used inside trio.run: a program on asyncio never imports it. A call outside "
        "any of them raises RuntimeError.",
        "The producers that need a channel most, those with a nursery or a cancel scope around "
        "their sends, are trio's and anyio's; asyncio users pay for none of it. trio is a "
        "capability rather than a requirement because an asyncio-only channel keeps every other "
        "guarantee for its users; it must only say plainly that it does not run on trio.",
    ),
    Clause(
        "SEED-EXAMPLES",
        "Examples",
        "The seed's examples",
        "The two examples of sav.channels 0.4, run as written with `from channels import "
        "Channel`, print exactly `One Two Three` and `A 0 B 1`, one per line.",
        "They are the facts this project started from.",
        PROJECT,
    ),
    Clause(
        "TYPED-GENERICS",
        "Examples",
        "Typed generics",
        "Channel[T, U] and StreamChannel[T] are generic; client() is an "
        "collections.abc.AsyncGenerator[T, U] and the server end an AsyncGenerator[U, T].",
        "Type checkers should catch a producer and a consumer that disagree.",
        PROJECT,
    ),
    Clause(
        "CONFORMANCE-KIT",
        "Examples",
        "The conformance suite installs without the repository",
        "The wheel of rendezvous-channels-conformance carries spec/ as the package "
        "channels_conformance and nothing else of the repository; `python -m channels_conformance "
        "--impl NAME`, run from any directory, runs the suite under its own pytest configuration, "
        "and the replay scripts of its failures import channels_conformance.",
        "An implementer checks a rival implementation without cloning ours, and the name cannot "
        "collide with a package of theirs or with our top-level spec/.",
        PROJECT,
    ),
    Clause(
        "CONFORMANCE-POWER",
        "Examples",
        "The suite catches realistic bugs",
        "Every bug of spec/bugs.py (one behavioural change of channels.py each) still applies to "
        "channels.py, and the implementer's default command, `python -m spec --impl FILE`, fails "
        "on each copy with every Hypothesis seed measured, naming the clause the bug breaks; "
        "spec/power.md gives the figures and the command that measures them.",
        "A pass means something only if the suite is known to fail on the bugs that real "
        "implementations have; a table of bugs that no longer applies would measure nothing.",
        PROJECT,
    ),
    Clause(
        "BENCH-SMOKE",
        "Examples",
        "The benchmarks keep working",
        "Every benchmark workload runs and delivers every item in a tiny smoke run; the "
        "guarded floor makes each check it is measured for; and nothing is measured in "
        "development mode, whose debug checks would be timed too.",
        "A benchmark that no longer runs, or measures something other than what it says, is a figure "
        "nobody can check.",
        PROJECT,
    ),
    Clause(
        "CONFORMANCE-COVER",
        "Examples",
        "The default run takes every transition of the model",
        "The implementer's default command runs the transition cover of spec/coverage.py on every "
        "backend: walks over the model's graph that take every transition of the table from every "
        "abstract state, and the pairs of transitions that find a bug of a later step, in an order "
        "that no seed changes; its summary gives the share of the table taken, for Channel and "
        "StreamChannel, and a failing walk is reported as the shortest path found that fails too.",
        "A random sample rarely draws a bug that needs five or more particular steps, and an "
        "enumeration to a fixed depth never reaches the model's deepest states: a pass must mean "
        "the same every time it is run.",
        PROJECT,
    ),
]

CLAUSES: dict[str, Clause] = {clause.id: clause for clause in _CLAUSES}
PROTOCOL_CLAUSES: dict[str, Clause] = {c.id: c for c in _CLAUSES if c.kind == PROTOCOL}
