"""The conformance checks catch bugs planted in the reference channels.py, and report them well.

Each test patches one defect into ``channels`` (the reference, imported here,
never through ``--impl``) and runs a scenario of spec/test_conformance.py
against it: the check must fail, at the step that broke the protocol first,
naming the clause whose guarantee the defect breaks. These are tests of the
kit, so they live here and not in the wheel.
"""

from __future__ import annotations

import asyncio
from types import ModuleType
from typing import Any

import pytest

import channels
from spec.conformance import ConformanceError, LoopFactory
from spec.harness import Harness
from spec.model import Event
from spec.test_conformance import OBSERVED, REFUSED_ATHROWS, anext_, enter, verdict

# The defects are planted in the handoff, which channels.py keeps private.
HANDOFF = channels._Handoff  # pyright: ignore[reportPrivateUsage]


@pytest.fixture
def eager_thrown(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """channels.py as 1.0 was: athrow() recorded its exception before the call was accepted."""
    original = HANDOFF.client_throw

    async def client_throw(self: Any, end: Any, thrown: Any) -> Any:
        if self.client_life == "open":
            self.thrown = thrown.exc
        return await original(self, end, thrown)

    monkeypatch.setattr(HANDOFF, "client_throw", client_throw)
    return channels


@pytest.mark.clause("MIRROR-ALREADY-RUNNING", "REPLY-PENDING", "MISUSE-REFUSED-CHANGES-NOTHING")
@pytest.mark.parametrize("scenario", sorted(REFUSED_ATHROWS))
def test_a_refusal_that_keeps_what_it_was_given_fails_at_once(
    eager_thrown: ModuleType, loop_factory: LoopFactory, scenario: str
) -> None:
    events = REFUSED_ATHROWS[scenario]
    with pytest.raises(ConformanceError) as failure:
        verdict(eager_thrown, loop_factory, events)
    assert failure.value.events == events[:-1]  # the refused athrow, not the step where it shows
    assert "MISUSE-REFUSED-CHANGES-NOTHING" in failure.value.clauses


@pytest.mark.clause("MIRROR-ATHROW", "MISUSE-REFUSED-CHANGES-NOTHING")
@pytest.mark.parametrize("scenario", sorted(REFUSED_ATHROWS))
def test_a_refusal_that_changes_state_fails_where_the_server_task_raises(
    eager_thrown: ModuleType, loop_factory: LoopFactory, scenario: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without the direct check, the server's task outcome shows the change.
    def keeps_nothing(self: Harness, call: int) -> bool:
        return False

    monkeypatch.setattr(Harness, "keeps_thrown", keeps_nothing)
    with pytest.raises(
        ConformanceError, match=r"the server's task: the model returns None; the implementation raises Boom"
    ) as failure:
        verdict(eager_thrown, loop_factory, REFUSED_ATHROWS[scenario])
    assert failure.value.clauses == ["MIRROR-ATHROW"]


# -- reports name the clause broken first --------------------------------------


@pytest.mark.clause("CANCEL-SEND-UNTAKEN")
def test_a_report_names_the_step_that_broke_its_clause_first(
    loop_factory: LoopFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A cancelled call that leaves its request offered: it shows only when a
    # later call takes the request, but the cancellation broke the clause.
    def withdraws_nothing(side: Any) -> None:
        pass

    monkeypatch.setattr(HANDOFF, "withdraw", staticmethod(withdraws_nothing))
    events = [anext_, Event("cancel", end="client"), enter]
    with pytest.raises(ConformanceError) as failure:
        verdict(channels, loop_factory, events)
    assert failure.value.clauses == ["SERVER-BLOCK-ENTER"]  # where it showed
    report = str(failure.value)
    assert report.startswith("channels violates CANCEL-SEND-UNTAKEN\n"), report
    assert "first at step 2, cancel client:" in report
    assert "call 2 (server.enter): the model is still pending; the implementation returns None" in report
    # The run's verdict files the failure under the clause its report blames, not where it showed.
    assert failure.value.blamed == ["CANCEL-SEND-UNTAKEN"]


@pytest.mark.clause("WRITE-ITEMS-LAZY")
def test_an_item_pulled_by_a_cancelled_write_items_is_seen_lost(
    loop_factory: LoopFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = HANDOFF.server_write

    async def pulls_one_first(self: Any, items: Any) -> None:
        iterator = iter(items)
        next(iterator)  # pulled before a reader is there, and lost
        await original(self, iterator)

    monkeypatch.setattr(HANDOFF, "server_write", pulls_one_first)
    with pytest.raises(ConformanceError, match="items pulled from each write_items") as failure:
        verdict(channels, loop_factory, OBSERVED["write-items-cancelled-waiting"][1], stream=True)
    assert failure.value.clauses == ["WRITE-ITEMS-LAZY"]
    assert len(failure.value.events) == 4  # the write_items, not the cancellation after it


@pytest.mark.clause("MIRROR-SERVER-ERROR")
def test_a_server_task_that_does_not_see_its_own_error_fails(
    loop_factory: LoopFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = HANDOFF.server_exit

    def swallows_its_own(self: Any, exc: BaseException | None) -> bool:
        return original(self, exc) or True

    monkeypatch.setattr(HANDOFF, "server_exit", swallows_its_own)
    with pytest.raises(ConformanceError, match="the server's task: the model raises ValueError") as failure:
        verdict(channels, loop_factory, OBSERVED["server-task-sees-its-own-error"][1])
    assert failure.value.clauses == ["MIRROR-SERVER-ERROR"]


@pytest.mark.clause("READ-ITEMS-BATCH")
def test_an_asend_that_yields_to_the_loop_splits_the_burst(
    loop_factory: LoopFactory, monkeypatch: pytest.MonkeyPatch
) -> None:

    original = HANDOFF.server_call

    async def yields_first(self: Any, message: Any, method: str) -> Any:
        await asyncio.sleep(0)  # the reader's task resumes with what it has
        return await original(self, message, method)

    monkeypatch.setattr(HANDOFF, "server_call", yields_first)
    with pytest.raises(ConformanceError) as failure:
        verdict(channels, loop_factory, OBSERVED["burst-into-one-batch"][1], stream=True)
    assert "READ-ITEMS-BATCH" in failure.value.clauses
    assert "call 1 (client.read_items): the model returns [1, 2]; the implementation returns [1]" in str(
        failure.value
    )


@pytest.mark.clause("DELIVERED-COUNT")
def test_a_count_wrong_after_a_plain_delivery_is_filed_under_the_counting_clause(
    loop_factory: LoopFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A client end that counts its requests from the second one on: no call is ever cancelled.
    delivered = vars(channels.ClientEnd)["delivered"]
    assert isinstance(delivered, property)
    assert delivered.fget is not None
    counted = delivered.fget
    monkeypatch.setattr(channels.ClientEnd, "delivered", property(lambda end: max(0, counted(end) - 1)))
    events = [anext_, enter]
    with pytest.raises(ConformanceError, match=r"client\.delivered is 0; the model counts 1") as failure:
        verdict(channels, loop_factory, events)
    assert failure.value.clauses == ["DELIVERED-COUNT"]
    assert failure.value.events == events
    report = str(failure.value)
    # Not "first at" an earlier step, nor "showed later as" another clause: this step, this clause.
    assert report.startswith("channels violates DELIVERED-COUNT\n"), report
    assert "showed later" not in report
