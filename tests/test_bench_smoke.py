"""The benchmarks' smoke mode: every workload runs and every item arrives (no timing checked)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


@pytest.fixture(autouse=True)
def bench_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    # bench/ is not part of the installed distribution: import it from the checkout.
    monkeypatch.syspath_prepend(str(ROOT))


@pytest.mark.clause("BENCH-SMOKE")
def test_smoke_runs_every_workload_and_delivers_every_item() -> None:
    from bench import cli, contenders, runner

    results = cli.smoke()
    assert {case.workload for case in results.cases} == set(runner.WORKLOADS)
    assert all(len(case.per_item) == 1 for case in results.cases)
    measured = {case.contender for case in results.cases}
    assert {contenders.CHANNEL, contenders.CHANNEL_COPY, contenders.STREAM, contenders.FUTURES} <= measured
    assert {contenders.ASYNC_GENERATOR, contenders.QUEUE} <= measured


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
    runner.run_rounds(cases, 1, lambda *_: None)
    assert {case.workload for case in cases} == set(runner.WORKLOADS)


@pytest.mark.clause("BENCH-SMOKE")
def test_bytecode_count_names_the_handoff_functions() -> None:
    # In a subprocess: the count installs its own trace function, which would
    # replace a coverage tracer in this process.
    import subprocess

    result = subprocess.run(
        [sys.executable, "-m", "bench.opcodes", "--items", "20"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    counts = dict(line.split(": ", 1) for line in result.stdout.splitlines() if not line.startswith(" "))
    assert set(counts) == {"two futures (floor)", "Channel"}
    assert "client_call" in result.stdout
    assert "server_call" in result.stdout
    assert all(
        count.endswith(" bytecodes per item") and int(count.split()[0]) > 0 for count in counts.values()
    )
