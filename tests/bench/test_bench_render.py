"""``python -m bench --render``: the page and the figures drawn again from results.json alone."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from bench.runner import Case

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def bench_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    # bench/ is not part of the installed distribution: import it from the checkout.
    # pytest leaves syspath_prepend's argument unannotated.
    monkeypatch.syspath_prepend(str(ROOT))  # pyright: ignore[reportUnknownMemberType]


def _measured_cases() -> list[Case]:
    from bench import contenders as c
    from bench.runner import PAIRS, SIMPLEX, Case

    def never_run() -> float:
        raise AssertionError("rendering measures nothing")

    return [
        Case(SIMPLEX, c.CHANNEL, None, "asyncio", 1, never_run, [4.8e-6, 4.7e-6, 4.9e-6]),
        Case(SIMPLEX, c.FUTURES, None, "asyncio", 1, never_run, [4.3e-6, 4.2e-6, 4.4e-6]),
        Case(PAIRS, c.CHANNEL, 1, "asyncio", 1, never_run, [7.4e-6, 7.3e-6, 7.5e-6]),
        Case(PAIRS, c.CHANNEL, 100, "asyncio", 1, never_run, [4.5e-6, 4.6e-6, 4.4e-6]),
    ]


@pytest.mark.clause("BENCH-RENDER")
def test_render_draws_the_same_page_from_results_json(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from bench import report

    cases = _measured_cases()
    idle = {"Channel()": 456.0, "asyncio.Queue(1)": 3280.0}
    report.write(tmp_path, report.Results(cases), idle, ["asyncio"], ["a note"], ["How it was measured."])
    written = (tmp_path / "results.md").read_text()
    (tmp_path / "results.md").unlink()
    for figure in tmp_path.glob("*.png"):
        figure.unlink()

    report.render(tmp_path)

    assert (tmp_path / "results.md").read_text() == written
    assert "How it was measured." in written
    assert "a note" in written
    drawn = sorted(path.name for path in tmp_path.glob("*.png"))
    assert drawn == ["results-memory.png", "results-pairs.png", "results-simplex.png"]
    for name in drawn:  # each figure named in the page, next to its table
        assert f"]({name})" in written


@pytest.mark.clause("BENCH-RENDER")
def test_a_case_read_back_is_the_case_written() -> None:
    from bench import report

    for case in _measured_cases():
        read = report.case_from(case.label, case.per_item)
        assert (read.workload, read.contender, read.param, read.loop, read.per_item) == (
            case.workload,
            case.contender,
            case.param,
            case.loop,
            case.per_item,
        )
