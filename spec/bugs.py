"""Realistic bugs of our own making: the data that measures the suite's power.

Each :class:`Bug` is one behavioural change that an implementer of a
rendezvous channel might make, written as an exact fragment of
``channels.py`` and its replacement, with the clause whose promise the
change breaks. :func:`apply` writes the buggy copy; it raises
:class:`StaleBug` when the fragment is no longer in ``channels.py`` exactly
once, so that the table cannot rot silently (tests/kit/test_power.py runs it).
``python -m spec.power`` runs the implementer's default command against
each copy (CONFORMANCE-POWER); ``python -m spec.bugs NAME`` prints one
bug's diff, ``python -m spec.bugs --write NAME DIR`` writes its copy.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from dataclasses import dataclass
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent / "channels.py"


class StaleBug(LookupError):
    """A bug's fragment is not in channels.py exactly once: rewrite the bug."""


@dataclass(frozen=True)
class Bug:
    name: str
    clause: str  # the clause that the change breaks
    what: str  # what the implementer got wrong
    fragment: str  # exact text of channels.py, found exactly once
    replacement: str

    def source(self, original: str) -> str:
        count = original.count(self.fragment)
        if count != 1:
            raise StaleBug(
                f"bug {self.name}: its fragment is in channels.py {count} times, not once; "
                f"update spec/bugs.py to the current source"
            )
        return original.replace(self.fragment, self.replacement)


BUGS = [
    # -- cancellation -------------------------------------------------------
    Bug(
        "client-offer-not-withdrawn",
        "CANCEL-SEND-UNTAKEN",
        "a cancelled client call leaves its untaken request offered",
        "        if client.offer is not _NOTHING:\n            self.withdraw(client)\n",
        "        if client.offer is not _NOTHING:\n            pass\n",
    ),
    Bug(
        "server-offer-not-withdrawn",
        "CANCEL-SEND-UNTAKEN",
        "a cancelled server call leaves its untaken item offered",
        "            # and the end may send again (CANCEL-LEAVES-USABLE).\n"
        "            self.withdraw(server)\n",
        "            # and the end may send again (CANCEL-LEAVES-USABLE).\n            pass\n",
    ),
    Bug(
        "withdrawn-first-request-stays-started",
        "CANCEL-SEND-UNTAKEN",
        "a withdrawn first request leaves the client started",
        '            if not client.delivered:\n                self.client_life = "unstarted"\n',
        "            pass\n",
    ),
    Bug(
        "cancelled-request-forgets-item",
        "CANCEL-REQUEST-UNTAKEN",
        "a client request cancelled after the server took it forgets that an item is owed to it",
        "            _received(client, waiter)\n            self.withdraw_request()\n",
        "            _received(client, waiter)\n"
        "            client.owed = False\n"
        "            self.withdraw_request()\n",
    ),
    Bug(
        "client-race-message-lost",
        "CANCEL-RECEIVE-RACE",
        "an item delivered to a client call cancelled before it resumed is lost",
        "            _received(client, waiter)\n            self.withdraw_request()\n",
        "            self.withdraw_request()\n",
    ),
    Bug(
        "server-race-message-lost",
        "CANCEL-RECEIVE-RACE",
        "a request delivered to a server call cancelled before it resumed is lost",
        "            except BaseException:\n"
        "                _received(server, waiter)\n"
        "                raise\n",
        "            except BaseException:\n                raise\n",
    ),
    Bug(
        "server-taken-send-forgets-reply",
        "REPLY-PENDING",
        "a server call cancelled after its item was taken forgets that the reply is owed",
        "            self.withdraw(server)\n            raise\n",
        "            self.withdraw(server)\n            server.owed = False\n            raise\n",
    ),
    Bug(
        "client-reply-pending-unchecked",
        "REPLY-PENDING",
        "asend(x) after a cancelled delivered request sends x instead of refusing",
        "        if client.held or (client.owed and self.outcome is None):\n",
        "        if client.held or (client.owed and self.outcome is None and message is None):\n",
    ),
    Bug(
        "cancelled-server-error-bare",
        "CANCEL-SERVER-TASK",
        "a cancelled server's CancelledError reaches the client bare",
        "            outcome = self.cancelled(exc)  # CANCEL-SERVER-TASK, ABANDON-SERVER\n",
        "            outcome = exc  # CANCEL-SERVER-TASK, ABANDON-SERVER\n",
    ),
    # -- the mirror of PEP 525 --------------------------------------------
    Bug(
        "first-send-not-none-accepted",
        "MIRROR-FIRST-SEND-NONE",
        "a first asend(x) with x not None is sent",
        'self.client_life == "unstarted" and type(message) is not _Thrown:\n',
        'self.client_life == "absent" and type(message) is not _Thrown:\n',
    ),
    Bug(
        "server-error-swallowed",
        "MIRROR-SERVER-ERROR",
        "the server block's exception ends the client's iteration quietly",
        "            outcome = exc  # MIRROR-SERVER-ERROR\n",
        "            outcome = _END  # MIRROR-SERVER-ERROR\n",
    ),
    Bug(
        "stopasynciteration-passed-through",
        "MIRROR-STOPASYNCITERATION",
        "a StopAsyncIteration raised in the block ends the client's iteration",
        "        elif isinstance(exc, StopAsyncIteration):  # MIRROR-STOPASYNCITERATION\n",
        "        elif isinstance(exc, StopAsyncIteration) and False:\n",
    ),
    Bug(
        "thrown-reraise-fails-server",
        "MIRROR-ATHROW",
        "the client's thrown exception, re-raised by the server, also fails the server's task",
        "            outcome, swallow = exc, True\n",
        "            outcome, swallow = exc, False\n",
    ),
    Bug(
        "thrown-recorded-before-refusal",
        "MISUSE-REFUSED-CHANGES-NOTHING",
        "athrow() records its exception before it may be refused (the bug of issue 10)",
        '        return await self.client_call(end, thrown, 0, "athrow")\n',
        '        self.thrown = thrown.exc\n        return await self.client_call(end, thrown, 0, "athrow")\n',
    ),
    Bug(
        "athrow-unstarted-leaves-open",
        "MIRROR-ATHROW-UNSTARTED",
        "athrow() on a client that never asked raises but does not close it",
        '            self.begin(client, "client", "athrow")\n'
        "            self.close_client()\n"
        "            raise thrown.take()\n",
        '            self.begin(client, "client", "athrow")\n            raise thrown.take()\n',
    ),
    Bug(
        "athrow-closed-raises",
        "MIRROR-CLOSED-CLIENT",
        "athrow() on a closed client raises its exception instead of returning None",
        '            self.begin(client, "client", "athrow")\n            return None\n',
        '            self.begin(client, "client", "athrow")\n            raise thrown.take()\n',
    ),
    Bug(
        "aclose-exit-not-swallowed",
        "MIRROR-ACLOSE",
        "the GeneratorExit of the client's close escapes the server block",
        "            outcome, swallow = _END, True\n",
        "            outcome, swallow = _END, False\n",
    ),
    Bug(
        "aclose-unstarted-wrong-error",
        "MIRROR-ACLOSE-UNSTARTED",
        "entering the block of a client closed before it asked raises ChannelClosedError",
        "                    raise ClientClosedError(  # MIRROR-ACLOSE-UNSTARTED\n",
        "                    raise ChannelClosedError(  # MIRROR-ACLOSE-UNSTARTED\n",
    ),
    Bug(
        "ignored-exit-not-refused",
        "MIRROR-IGNORED-EXIT",
        "a server that ignored GeneratorExit may call again",
        '        if self.server_life == "exiting":\n'
        "            raise ChannelClosedError(  # MIRROR-IGNORED-EXIT\n",
        '        if self.server_life == "exiting" and self.server.delivered < 0:\n'
        "            raise ChannelClosedError(  # MIRROR-IGNORED-EXIT\n",
    ),
    Bug(
        "concurrent-client-call-accepted",
        "MIRROR-ALREADY-RUNNING",
        "a second client call while one is pending is not refused",
        "        if source is not client.waiter_source or client.waiter is not None:\n"
        '            source = self.begin(client, "client", method)\n',
        "        if source is not client.waiter_source:\n"
        '            source = self.begin(client, "client", method)\n',
    ),
    # -- misuse ---------------------------------------------------------
    Bug(
        "second-client-allowed",
        "MISUSE-SECOND-END",
        "a closed channel hands out a second client",
        '        if handoff.client_life != "absent":\n',
        '        if handoff.client_life in ("unstarted", "open"):\n',
    ),
    Bug(
        "closed-server-sends",
        "MISUSE-CLOSED-SERVER",
        "a server end used after server.aclose() is not refused",
        '        if self.server_life == "closed":\n'
        "            raise ChannelClosedError(  # MISUSE-CLOSED-SERVER\n",
        '        if self.server_life == "closed" and self.outcome is None:\n'
        "            raise ChannelClosedError(  # MISUSE-CLOSED-SERVER\n",
    ),
    Bug(
        "server-aclose-no-wake",
        "MIRROR-SERVER-RETURN",
        "server.aclose() closes the end but does not end the client's iteration",
        '        if self.server_life != "closed":\n'
        "            self.finish_server(_END)  # MIRROR-SERVER-RETURN\n",
        '        if self.server_life != "closed":\n            self.server_life = "closed"\n',
    ),
    Bug(
        "other-loop-rebinds",
        "MISUSE-WRONG-LOOP",
        "a call from another event loop rebinds the end instead of being refused",
        "        elif self.loop is not loop:\n",
        "        elif self.loop is not loop and side.waiter_source is None:\n",
    ),
    Bug(
        "groups-not-unwrapped",
        "GROUP-EXIT",
        "a TaskGroup's exception group around GeneratorExit fails the block",
        "        if group_type is None or not isinstance(exc, group_type):\n            return exc\n",
        "        if group_type is None or isinstance(exc, BaseException):\n            return exc\n",
    ),
    Bug(
        "no-close-on-gc",
        "ABANDON-CLIENT-GC",
        "a client end that is garbage-collected is not closed",
        "    def __del__(self) -> None:\n        handoff = self._handoff\n",
        "    def _finalize(self) -> None:\n        handoff = self._handoff\n",
    ),
    # -- counting -------------------------------------------------------
    Bug(
        "request-handoff-not-counted",
        "CANCEL-SEND-TAKEN",
        "a request handed straight to a waiting server is not counted in client.delivered",
        "                client.delivered += 1\n                server.capacity = 0\n",
        "                server.capacity = 0\n",
    ),
    Bug(
        "batch-counted-once",
        "CANCEL-SEND-TAKEN",
        "write_items counts a batch as one delivered item",
        "                    server.delivered += taken\n",
        "                    server.delivered += 1\n",
    ),
    # -- streams --------------------------------------------------------
    Bug(
        "asend-burst-one-short",
        "READ-ITEMS-BATCH",
        "a read_items(n) batch of asends ends one item short",
        "                if capacity > 1 and type(message) is not _Thrown:\n",
        "                if capacity > 2 and type(message) is not _Thrown:\n",
    ),
    Bug(
        "write-batch-one-short",
        "WRITE-ITEMS-BATCH",
        "write_items hands a pending read_items(n) one item fewer than it takes",
        "            room = client.capacity\n",
        "            room = max(client.capacity - 1, 1)\n",
    ),
    Bug(
        "write-items-eager",
        "WRITE-ITEMS-LAZY",
        "write_items pulls the items before a reader asks, so a cancelled call loses them",
        "        iterator = iter(items)\n",
        "        iterator = iter(list(items))\n",
    ),
    Bug(
        "end-drops-read-batch",
        "READ-ITEMS-END",
        "the server's end clears the items that the reader's batch holds",
        '        self.server_life = "closed"\n        self.server.held.clear()\n',
        '        self.server_life = "closed"\n        self.client.held.clear()\n',
    ),
    # -- deep and bulk: found by the transition cover (spec/coverage.py), not by a
    # sample of the default run every time (issue 19, item 5). Each needs five or
    # more steps, or a bulk call cancelled at one of its waits and a later call.
    Bug(
        "closed-server-forgets-thrown",
        "MIRROR-ATHROW",
        "server.aclose() forgets the exception the client threw, so a block that re-raises it "
        "afterwards fails its task (anext, enter, asend, athrow, server aclose, re-raise: six steps)",
        '        self.server_life = "closed"\n        self.server.held.clear()\n',
        '        self.server_life = "closed"\n        self.server.held.clear()\n        self.thrown = None\n',
    ),
    Bug(
        "athrow-loses-next-item",
        "MIRROR-ATHROW",
        "athrow() returns None where the server, having caught the exception, sends an item: the "
        "item is lost (anext, enter, asend, athrow, asend: five steps)",
        '        return await self.client_call(end, thrown, 0, "athrow")\n',
        '        await self.client_call(end, thrown, 0, "athrow")\n        return None\n',
    ),
    Bug(
        "second-thrown-not-recorded",
        "MIRROR-ATHROW",
        "only the first exception the client throws is recorded, so a block that re-raises a "
        "second one fails its task (anext, enter, asend, athrow, asend, athrow, re-raise: seven steps)",
        "        exc = self.thrown = thrown.take()\n",
        "        exc = thrown.take()\n        if self.thrown is None:\n            self.thrown = exc\n",
    ),
    Bug(
        "cancelled-write-forgets-reply",
        "CANCEL-SEND-TAKEN",
        "write_items cancelled while it waits for the reader's reply forgets that the reply is owed, "
        "so the server's next asend(x) is sent instead of refused",
        '            await self.server_call(None, "write_items")\n',
        "            try:\n"
        '                await self.server_call(None, "write_items")\n'
        "            except BaseException:\n"
        "                server.owed = False\n"
        "                raise\n",
    ),
    Bug(
        "anext-takes-held-batch",
        "CANCEL-RECEIVE-RACE",
        "after a read_items call was cancelled holding a batch, anext() takes the whole batch and "
        "returns its first item: the others are lost",
        "            wanted = count or 1\n",
        "            wanted = count or len(inbox)\n",
    ),
]

BY_NAME = {bug.name: bug for bug in BUGS}
assert len(BY_NAME) == len(BUGS), "two bugs share a name"


def apply(bug: Bug, directory: Path) -> Path:
    """Write channels.py with ``bug`` into ``directory``; return the path."""
    path = Path(directory) / "channels.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(bug.source(SOURCE.read_text()))
    return path


def diff(bug: Bug) -> str:
    original = SOURCE.read_text()
    return "".join(
        difflib.unified_diff(
            original.splitlines(keepends=True),
            bug.source(original).splitlines(keepends=True),
            "channels.py",
            f"channels.py ({bug.name})",
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spec.bugs", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="bugs to show (default: list them all)")
    parser.add_argument("--write", metavar="DIR", help="write the (single) named bug's channels.py into DIR")
    args = parser.parse_args(argv)
    if not args.names:
        for bug in BUGS:
            print(f"{bug.name:40} {bug.clause:32} {bug.what}")
        return 0
    for name in args.names:
        if args.write:
            print(apply(BY_NAME[name], Path(args.write)))
        else:
            print(diff(BY_NAME[name]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
