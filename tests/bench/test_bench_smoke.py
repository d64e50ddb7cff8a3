"""The benchmarks' smoke mode: every workload runs and every item arrives (no timing checked)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def bench_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    # bench/ is not part of the installed distribution: import it from the checkout.
    # pytest leaves syspath_prepend's argument unannotated.
    monkeypatch.syspath_prepend(str(ROOT))  # pyright: ignore[reportUnknownMemberType]


@pytest.mark.clause("BENCH-SMOKE")
def test_smoke_runs_every_workload_and_delivers_every_item() -> None:
    from bench import cli, contenders, runner

    results = cli.smoke()
    assert {case.workload for case in results.cases} == set(runner.WORKLOADS)
    assert all(len(case.per_item) == 1 for case in results.cases)
    measured = {case.contender for case in results.cases}
    assert {contenders.CHANNEL, contenders.CHANNEL_COPY, contenders.STREAM, contenders.FUTURES} <= measured
    assert contenders.GUARDED in measured
    assert {contenders.ASYNC_GENERATOR, contenders.QUEUE} <= measured


@pytest.mark.clause("BENCH-SMOKE")
def test_compare_times_every_hot_path_on_every_loop(capsys: pytest.CaptureFixture[str]) -> None:
    import channels
    from bench import compare

    assert compare.main([channels.__file__ or "", "--smoke"]) == 0
    printed = capsys.readouterr().out
    for hot_path in ("duplex", "simplex", "stream [100]"):
        for loop in ("asyncio", "uvloop", "trio"):
            assert re.search(rf"^{re.escape(hot_path)} +{loop} +new ÷ old [0-9.]+", printed, re.M), printed


@pytest.mark.clause("BENCH-SMOKE")
async def test_guarded_floor_makes_the_checks_it_is_measured_for() -> None:
    # Its figure says what the checks cost: each must refuse what it names.
    from bench import contenders

    link = contenders.GuardedLink()
    producer = asyncio.create_task(link.first_request())
    await asyncio.sleep(0)  # the producer waits for the first request
    consumer = asyncio.create_task(link.receive(None))
    assert await producer is None
    with pytest.raises(RuntimeError, match="already running"):
        await link.receive(None)  # the consumer task's call is pending
    with pytest.raises(RuntimeError, match="another loop"):
        await asyncio.to_thread(asyncio.run, link.asend(1))
    consumer.cancel()
    with pytest.raises(RuntimeError, match="no pending call"):
        await link.asend(1)  # the cancelled call has not resumed yet
    with pytest.raises(asyncio.CancelledError):
        await consumer
    link.close()
    with pytest.raises(StopAsyncIteration):
        await link.receive(None)
    with pytest.raises(RuntimeError, match="closed"):
        await link.asend(1)


@pytest.mark.clause("BENCH-SMOKE")
def test_smoke_command_succeeds(capsys: pytest.CaptureFixture[str]) -> None:
    from bench import cli

    assert cli.main(["--smoke"]) == 0
    assert "every consumer received every item" in capsys.readouterr().out


@pytest.mark.clause("BENCH-SMOKE")
def test_missing_packages_are_skipped_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench import runner

    for name in runner.OPTIONAL_PACKAGES:
        monkeypatch.setitem(sys.modules, name, None)  # makes the import raise ImportError
    notes: list[str] = []
    modules = runner.optional_modules(notes)
    assert all(module is None for module in modules.values())
    assert len(notes) == len(runner.OPTIONAL_PACKAGES)
    found, loops = runner.available_contenders(modules)
    assert loops == ["asyncio"]
    cases = runner.build_cases(found, loops, runner.SMOKE)
    runner.run_rounds(cases, 1, lambda done, total, case: None)
    assert {case.workload for case in cases} == set(runner.WORKLOADS)


@pytest.mark.clause("BENCH-SMOKE")
@pytest.mark.parametrize(
    ("loop", "contenders"),
    [
        ("asyncio", {"two futures (floor)", "two futures behind ends, with the checks", "Channel"}),
        ("trio", {"two trio reschedules (floor)", "trio memory channel(0)", "Channel"}),
    ],
)
def test_bytecode_count_names_the_handoff_functions(loop: str, contenders: set[str]) -> None:
    # In a subprocess: the count installs its own trace function, which would
    # replace a coverage tracer in this process.
    result = subprocess.run(
        [sys.executable, "-m", "bench.opcodes", "--items", "20", "--loop", loop],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    counts = dict(line.split(": ", 1) for line in result.stdout.splitlines() if not line.startswith(" "))
    assert set(counts) == contenders
    assert "client_call" in result.stdout
    assert "server_call" in result.stdout
    assert all(
        count.endswith(" bytecodes per item") and int(count.split()[0]) > 0 for count in counts.values()
    )


@pytest.mark.clause("BENCH-SMOKE")
def test_no_measurement_in_development_mode() -> None:
    # Development mode turns on asyncio's debug checks, which would be timed
    # with the contenders; tox's test environments set it.
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "simplex · Channel · asyncio", "--rounds", "1"],
        cwd=ROOT,
        env={**os.environ, "PYTHONDEVMODE": "1"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "development mode" in result.stderr
