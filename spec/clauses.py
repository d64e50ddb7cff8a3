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
        "server.asend(x) hands x to the client's pending call (or offers it until a client call takes "
        "it) and returns once the client comes back with its next request, returning the value that "
        "request sent (None for anext). Into a read_items batch that has room after x, it returns None "
        "at once: the batch stands for the next request (READ-ITEMS-BATCH).",
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
        "call raises StopAsyncIteration; so does its next call once it has taken the items already "
        "delivered to it (CANCEL-RECEIVE-RACE), and every call after that.",
        "A generator body that returns raises StopAsyncIteration in the consumer, once and forever.",
    ),
    Clause(
        "MIRROR-SERVER-ERROR",
        "Mirror of PEP 525",
        "The server's exception reaches the client",
        "When the server block raises an exception, the client's pending call raises that exception, "
        "or its next call once it has taken the items already delivered to it (CANCEL-RECEIVE-RACE); "
        "later calls raise StopAsyncIteration. The server's task sees it too.",
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
        "athrow raises it and the server's task does not, even when the block re-raises it after "
        "server.aclose() (then the client, whose iteration had ended, learns nothing new): an "
        "implementation remembers the exception the client threw until the block ends. Likewise "
        "server.athrow(exc) raises exc in the client's pending (or next) call and returns the client's "
        "next request.",
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
        "A task group in the server block (a TaskGroup, a nursery, an anyio task group) may hand the "
        "GeneratorExit of the client's close, or the exception the client threw, out of the block bare "
        "(asyncio's TaskGroup re-raises a bare GeneratorExit of its body) or wrapped in an exception "
        "group (trio's nurseries and anyio's task groups wrap it). A group whose every leaf is that "
        "GeneratorExit means it: the block ends quietly, as with the bare GeneratorExit. A group whose "
        "every leaf is the exception the client threw means that exception: the client's athrow "
        "raises it and the server's task does not. Any other group is the block's own exception "
        "(MIRROR-SERVER-ERROR).",
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
        "to the end's next call. Each end's `delivered` counts the messages of its calls that the "
        "peer took: the client's, its requests (not the next request that a read_items batch with "
        "room stands for, which no call of the client sent); the server's, its items and throws, one "
        "per item that write_items hands over.",
        "Prompt cancellation cannot undo a delivery that the peer may already act on; counting "
        "deliveries tells the sender which case it is in.",
    ),
    Clause(
        "DELIVERED-COUNT",
        "Cancellation",
        "Each end counts what it delivered",
        "An end's `delivered` count, where the implementation has one, is the number of its "
        "messages (values, requests, items) that reached the peer: one for each that a call of the "
        "peer took, whether or not the call that sent it was cancelled afterwards, and none for a "
        "message withdrawn (CANCEL-SEND-UNTAKEN).",
        "A sender whose call raised compares the count before and after to learn whether its value "
        "was delivered (CANCEL-SEND-TAKEN); a count that is wrong after any step misleads it.",
    ),
    Clause(
        "CANCEL-RECEIVE-RACE",
        "Cancellation",
        "Delivered, then cancelled before resuming",
        "When a message is delivered to a call whose task is cancelled before it resumes (the "
        "done-future-then-cancel race), the call raises CancelledError and the end's next call "
        "returns the message: it is neither lost nor duplicated. Items held so are returned in "
        "order: anext (or asend, read_once) returns the first, read_items(n) the first n (a list), and "
        "what is left waits for the next call. On trio the race cannot happen: "
        "a call handed a message returns it, even if its cancel scope is cancelled before it resumes.",
        "asyncio lets a task be cancelled after its future got a result; the message already "
        "belongs to that end, so it waits there for the end's next call. trio's abort protocol "
        "cancels a wait only before the task is rescheduled with its message.",
    ),
    Clause(
        "CANCEL-REQUEST-UNTAKEN",
        "Cancellation",
        "A timeout loop around anext gets every item once",
        "A client request cancelled before it took an item raises CancelledError and loses nothing: "
        "the item goes to the next request, so a timeout loop around anext(client) gets every item "
        "exactly once.",
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
        "the client; once the loop or the run is over, nothing is left to close and nothing is logged. "
        "An exception raised into a client call (the server's athrow, the end of the iteration) must "
        "not keep the client alive through its traceback: a frame of the implementation that refers "
        "to the client end would stop the collector from closing it.",
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
        "Calling channel.client() or channel.server() a second time on one channel raises "
        "ChannelInUseError and changes nothing (the second server() raises at the call, before any "
        "block is entered).",
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
        "cancellation, propagates unchanged). The client learns how the block ended as if no call "
        "were pending: after a normal exit its pending or next call raises StopAsyncIteration. "
        "server.aclose() while a call is pending raises AlreadyRunningError and changes nothing.",
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
        "raises CancelledError and loses no item.",
        "An item pulled from an iterator and then dropped would be lost for good.",
    ),
    Clause(
        "WRITE-ITEMS-BATCH",
        "Streams",
        "write_items fills a pending read_items",
        "write_items hands a pending read_items(n) up to n items without a return to the event "
        "loop. When its remaining items fit in the batch with room to spare, it returns None at once, "
        "as a loop of asend into the batch would (READ-ITEMS-BATCH). When they fill or overflow the "
        "room, it waits for the reader's next request and goes on; it learns that its iterable is "
        "exhausted only when pulling the next item raises StopIteration, so after a last item that "
        "filled the room it returns at the reader's next request, without handing anything over.",
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
        "BENCH-RENDER",
        "Examples",
        "The benchmark page is drawn from its raw timings",
        "`python -m bench --render` draws results.md and one figure per workload again from "
        "results.json alone, the same page that the run wrote; every figure is named in the page "
        "next to its table.",
        "A figure that only the run that measured it can draw cannot be checked or redrawn "
        "more legibly without measuring again.",
        PROJECT,
    ),
    Clause(
        "DOCS-SNIPPETS-TYPED",
        "Examples",
        "The docs' snippets type-check",
        "Every Python snippet of the documentation and of README.md passes `mypy --strict`, "
        "each as one module.",
        "Readers paste the snippets into typed code; a snippet that type-checks only loosely "
        "teaches an annotation that their checker refuses.",
        PROJECT,
    ),
    Clause(
        "PROTOCOL-DATA",
        "The published protocol",
        "The protocol is published as data that rebuilds the machine",
        "docs/protocol.json is what `python -m spec.publish` writes from spec/model.py now, and follows "
        "docs/protocol.schema.json. A machine rebuilt from the file alone (its phases, guards, targets "
        "and results, walked over its configurations) equals the model over the whole reachable "
        "relation of both kinds of channel; the guards of one state and one event are disjoint over "
        "every value of the variables and cover every reachable configuration.",
        "An implementer tests against the page's own data without this repository; a table that only "
        "told rows apart, or drifted from the model, would send them to build the wrong machine.",
        PROJECT,
    ),
    Clause(
        "TRACEABILITY",
        "Examples",
        "Every protocol clause has a code site and a test that name it",
        "spec/traceability.txt lists, for every clause, the functions and classes of channels.py "
        "that name it and the tests that mark it, as pytest collects them; it is regenerated by "
        "`python -m spec.traceability --write`, and it is stale, or a protocol clause has no code "
        "site or no test whose clause mark names it literally, only if the check fails.",
        "A reader goes from a clause to its code and its proof with one grep, and the index cannot "
        "drift from the code it describes.",
        PROJECT,
    ),
    # -- as_safe_generator: this module's decorator, built on the protocol ---
    # Project clauses: the conformance suite drives an implementation through
    # Channel and StreamChannel only (spec/impl.py), and asks no implementation
    # for a decorator; tests/library checks ours on every backend.
    Clause(
        "SAFE-GEN-NO-READ-AHEAD",
        "as_safe_generator",
        "The body runs when the consumer asks",
        "The body of an as_safe_generator function runs only while the consumer has asked for an "
        "item: a step starts with anext, asend or athrow and ends at the next yield; asend's value "
        "is the yield's value and athrow's exception is raised at the yield.",
        "The decorator replaces a native generator under aclosing: nothing the body does may happen "
        "earlier than it would there.",
        PROJECT,
    ),
    Clause(
        "SAFE-GEN-CLOSE",
        "as_safe_generator",
        "Leaving closes the body and waits for its cleanup",
        "Leaving the async with block, or aclose(), closes the body: GeneratorExit at its yield, or "
        "a cancellation of its task when it waits on anything else. Both return once the body's "
        "cleanup has finished, and raise what the cleanup raised, as aclosing does. A cancellation "
        "of the consumer while it waits for the cleanup is forwarded to the body, then raised. "
        "aclose() while a call is pending in another task raises AlreadyRunningError.",
        "A lock taken in the body must be free once aclosing exits, and a cleanup error must not "
        "vanish in a background task.",
        PROJECT,
    ),
    Clause(
        "SAFE-GEN-UNSTARTED",
        "as_safe_generator",
        "A block left before the first item",
        "A block left (or a generator closed or thrown into) before the first item never runs "
        "the body and raises nothing of its own; a block is entered once.",
        "A native generator closed before it started never runs its body (PEP 525).",
        PROJECT,
    ),
    Clause(
        "SAFE-GEN-ERROR",
        "as_safe_generator",
        "The body's exception is raised once, as itself",
        "An exception raised by the body reaches the consumer once, where a generator raises it "
        "(anext, asend, athrow), as itself and never wrapped in an exception group; a block that "
        "it leaves adds no second copy. One raised while the consumer was away (after a timeout "
        "at a yield) and never asked for is raised by the block.",
        "The body's task is an implementation detail: its failure is the generator's failure, "
        "reported where the consumer looks, once.",
        PROJECT,
    ),
    Clause(
        "SAFE-GEN-SCOPE-AT-YIELD",
        "as_safe_generator",
        "Scopes across yields fire in the body",
        "A timeout, cancel scope, task group or nursery around a yield belongs to the body's "
        "task: a deadline fires in the body, at that yield, while the consumer holds the item; "
        "the value that the consumer's next call sends is dropped (no yield waits for it) and "
        "the call returns the body's next item.",
        "PEP 789: in a native generator such a scope would cancel the consumer instead.",
        PROJECT,
    ),
    Clause(
        "SAFE-GEN-SIGNATURE",
        "as_safe_generator",
        "The decorated function keeps its name, docstring, signature and types",
        "as_safe_generator(fn) keeps fn's name, qualified name, docstring and signature, binds "
        "the arguments when called, and is typed Callable[P, AsyncGenerator[Y, S]] to "
        "Callable[P, AbstractAsyncContextManager[AsyncGenerator[Y, S]]] (mypy --strict, pyright "
        "strict).",
        "Switching to the decorator must not cost what tools know about the function.",
        PROJECT,
    ),
    Clause(
        "SAFE-GEN-INSPECT",
        "as_safe_generator",
        "What consumers inspect",
        "A client end has ag_running (true while a call is pending) and ag_await (what that call "
        "waits on, else None); a safe generator has ag_running, and the body's ag_await, "
        "ag_frame (None once the body ended), ag_code, __name__ and __qualname__.",
        "aiostream, inspect.getasyncgenstate and others read them to tell a running or closed "
        "generator from one they may close.",
        PROJECT,
    ),
    Clause(
        "SAFE-GEN-DIFFERENTIAL",
        "as_safe_generator",
        "Real consumers see what a native generator shows them",
        "aiostream, asyncstdlib, aioitertools, contextlib.aclosing and anyio, run over a native "
        "generator under aclosing and over the decorator with the same body, observe the same "
        "values, exceptions, cleanup order, warnings and loop exception-handler calls, except "
        "where the docs list a difference with its reason.",
        "Nothing to unlearn: the decorator is a drop-in for the generators that consumers already handle.",
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

# What the calls that a protocol clause decides may get, as the transition
# tables say it ("returns ..." or "raises ..."; an exception thrown by athrow
# or raised by the block is named by its role). Every outcome of a row must
# be one that a clause it cites states here, every outcome stated here must
# be carried by a row that cites the clause, and each exception must be named
# in the clause's statement (tests/kit/test_protocol_data.py).
OUTCOMES: dict[str, tuple[str, ...]] = {
    "MIRROR-ASEND": ("returns the item", "returns the items", "returns the request"),
    "MIRROR-FIRST-SEND-NONE": ("raises TypeError",),
    "MIRROR-SERVER-RETURN": ("raises StopAsyncIteration", "returns None"),
    "MIRROR-SERVER-ERROR": ("raises the block's exception",),
    "MIRROR-ATHROW": ("raises the thrown exception",),
    "MIRROR-ATHROW-UNSTARTED": ("raises the thrown exception",),
    "MIRROR-ACLOSE": ("raises GeneratorExit", "returns None"),
    "MIRROR-ACLOSE-UNSTARTED": ("raises ClientClosedError", "returns None"),
    "MIRROR-IGNORED-EXIT": ("raises ChannelClosedError",),
    "MIRROR-CLOSED-CLIENT": ("raises StopAsyncIteration", "returns None"),
    "MIRROR-ALREADY-RUNNING": ("raises AlreadyRunningError",),
    "SERVER-BLOCK-ENTER": ("returns None",),
    "CANCEL-SEND-UNTAKEN": ("raises CancelledError",),
    "CANCEL-SEND-TAKEN": ("raises CancelledError",),
    "CANCEL-RECEIVE-RACE": (
        "raises CancelledError",
        "returns the item",
        "returns the items",
        "returns the request",
    ),
    "CANCEL-REQUEST-UNTAKEN": ("raises CancelledError", "returns the item", "returns the items"),
    "REPLY-PENDING": ("raises ReplyPendingError",),
    "CANCEL-SERVER-TASK": ("raises CancelledError", "raises ServerCancelledError"),
    "ABANDON-CLIENT-GC": ("raises GeneratorExit",),
    "MISUSE-SECOND-END": ("raises ChannelInUseError",),
    "MISUSE-CLOSED-SERVER": ("raises ChannelClosedError", "returns None"),
    "READ-ITEMS-BATCH": ("returns the items", "returns the request"),
    "READ-ITEMS-END": ("raises StopAsyncIteration",),
    "WRITE-ITEMS-LAZY": ("raises CancelledError",),
    "WRITE-ITEMS-BATCH": ("returns None",),
}
