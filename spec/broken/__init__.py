"""Implementations broken on purpose, one defect each: the fixtures of tests/kit/test_suite_verdicts.py.

Each module is channels.py with one behaviour changed, written as mixins
over its ends (:func:`with_ends`), never as a copy; each names in its
docstring the clause that ``pytest spec --impl spec/broken/NAME.py`` must
report, and :data:`VERDICTS` lists them with the test that finds them.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

import channels
from spec.clauses import CLAUSES


def with_ends(client: type | None = None, server: type | None = None, channel: type | None = None) -> Any:
    """``Channel`` and ``StreamChannel`` of channels.py, with these mixins over their ends and themselves."""

    def mixed(mixin: type | None, base: type) -> type:
        namespace = {"__slots__": (), "__module__": None if mixin is None else mixin.__module__}
        return base if mixin is None else type(base.__name__, (mixin, base), namespace)

    def kind(base: type, client_end: type, server_end: type) -> type:
        namespace: dict[str, Any] = {"__slots__": (), "_client_type": mixed(client, client_end)}
        namespace["_server_type"] = mixed(server, server_end)
        return mixed(channel, type(base.__name__, (base,), namespace))

    return (
        kind(channels.Channel, channels.ClientEnd, channels.ServerEnd),
        kind(channels.StreamChannel, channels.StreamClientEnd, channels.StreamServerEnd),
    )


def on_fifth_call(defect: Callable[[], Awaitable[Any]]) -> type:
    """A client mixin whose fifth call (``__anext__``, ``asend``, ``athrow`` or ``aclose``) on each
    client end awaits ``defect()`` instead, on whichever backend runs it."""
    calls: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()

    def counted(name: str) -> Callable[..., Awaitable[Any]]:
        def call(self: Any, *args: Any) -> Awaitable[Any]:
            calls[self] = calls.get(self, 0) + 1
            if calls[self] == 5:
                return defect()
            return getattr(super(FifthCall, self), name)(*args)  # type: ignore[no-any-return]

        call.__name__ = name
        return call

    class FifthCall:
        __anext__ = counted("__anext__")
        asend = counted("asend")
        athrow = counted("athrow")
        aclose = counted("aclose")

    return FifthCall


class Verdict(NamedTuple):
    """What the suite must say about a fixture: one of ``clauses``, found by the tests ``select`` picks,
    on each of ``backends`` ("asyncio", "uvloop" or "trio"), and ``says`` in its report."""

    clauses: frozenset[str]
    select: str  # a path under spec/ and a -k expression, or a path alone (on trio: its trio twin)
    backends: tuple[str, ...] = ("asyncio",)
    says: str = ""


VERDICTS: dict[str, Verdict] = {
    # failure modes
    # An aclose() from another loop's thread waits there forever, past the step's bound: NO-HANG.
    "never_resolves": Verdict(
        frozenset({"MIRROR-ACLOSE", "MIRROR-CLOSED-CLIENT", "NO-HANG"}), "spec/test_conformance.py"
    ),
    "swallows_cancel": Verdict(frozenset({"CANCEL-PROMPT"}), "spec/test_never_hangs.py"),
    "spins": Verdict(frozenset({"NO-HANG"}), "spec/test_conformance.py"),
    "blocks": Verdict(frozenset({"NO-HANG"}), "spec/test_conformance.py"),
    "spins_swallowing": Verdict(
        frozenset({"NO-HANG"}),
        "spec/test_conformance.py",
        ("asyncio", "uvloop", "trio"),
        "ran longer than its bound",
    ),
    # The fifth call's step names its own clauses, whichever they are; how the worker ended is the finding.
    "exits": Verdict(
        frozenset(CLAUSES),
        "spec/test_conformance.py",
        ("asyncio", "uvloop", "trio"),
        "the worker process ended with exit status 3",
    ),
    "raises_in_del": Verdict(frozenset({"NO-NOISE"}), "spec/test_conformance.py"),
    "keeps_raised": Verdict(frozenset({"NO-NOISE"}), "spec/test_conformance.py"),
    "athrow_unstarted_pending": Verdict(frozenset({"MIRROR-ATHROW-UNSTARTED"}), "spec/test_oracle.py"),
    # clause families
    "mirror_asend": Verdict(frozenset({"MIRROR-ASEND"}), "spec/test_oracle.py"),
    "cancel_misreported": Verdict(
        frozenset(
            {
                "CANCEL-SEND-UNTAKEN",
                "CANCEL-SEND-TAKEN",
                "CANCEL-REQUEST-UNTAKEN",
                "CANCEL-RECEIVE-RACE",
                "CANCEL-LEAVES-USABLE",
            }
        ),
        "spec/test_conformance.py",
    ),
    # The model cites the clause of aclose for a client abandoned before it started.
    "abandon_ignored": Verdict(
        frozenset({"ABANDON-CLIENT-GC", "MIRROR-ACLOSE-UNSTARTED"}), "spec/test_conformance.py"
    ),
    "second_client": Verdict(frozenset({"MISUSE-SECOND-END"}), "spec/test_conformance.py"),
    "empty_read": Verdict(frozenset({"READ-ITEMS-END"}), "spec/test_conformance.py"),
}
