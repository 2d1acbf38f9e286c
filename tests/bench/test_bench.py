"""Smoke tests of the benchmark suite: every module imports, the table renders, a crash becomes a MISS row.

The benchmarks themselves are not run here (they take minutes and measure the machine, not the code).
"""

from __future__ import annotations

import importlib
import sys
import types

import pytest

from bench import __main__ as suite
from bench.table import Result, percentile, render
from testing.stack import CpuSample


@pytest.mark.parametrize("name", sorted(suite.MODULES))
def test_each_benchmark_module_imports_and_has_run(name: str) -> None:
    module = importlib.import_module(suite.MODULES[name])
    assert callable(module.run)


def test_the_helper_modules_import() -> None:
    for name in ("testing.stack", "bench.noop_tasks"):
        importlib.import_module(name)


def test_render_prints_one_markdown_row_per_result() -> None:
    table = render([Result("a", 1234.5, "/s", ">= 100/s", True, "how"), Result("b", 0.25, "ms", "< 1 ms", False)])
    lines = table.splitlines()
    assert lines[0].startswith("| benchmark |") and len(lines) == 4
    assert lines[2] == "| a | 1,234 /s | >= 100/s | pass | how |"
    assert "| b | 0.25 ms | < 1 ms | MISS |" in lines[3]


def test_percentile_picks_a_member_by_rank() -> None:
    values = [float(v) for v in range(100, 0, -1)]
    assert percentile(values, 50) == 50.0 and percentile(values, 0) == 1.0 and percentile(values, 100) == 100.0
    assert percentile(values, 99) >= 99.0 and percentile([3.0], 99) == 3.0


def test_a_crashing_module_becomes_one_miss_row(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = types.ModuleType("bench_broken_for_test")

    def run() -> list[Result]:
        raise RuntimeError("the fake broke")

    broken.run = run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "bench_broken_for_test", broken)
    monkeypatch.setitem(suite.MODULES, "broken", "bench_broken_for_test")
    [row] = suite.run_module("broken", lambda _text: None)
    assert not row.passed and row.name == "broken: crashed"
    assert "RuntimeError" in row.note and "the fake broke" in row.note


def test_an_unimportable_module_is_a_miss_row_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(suite.MODULES, "missing", "bench.no_such_module_here")
    [row] = suite.run_module("missing", lambda _text: None)
    assert not row.passed and "ModuleNotFoundError" in row.note


def test_progress_is_passed_to_modules_that_take_it(monkeypatch: pytest.MonkeyPatch) -> None:
    said: list[str] = []
    module = types.ModuleType("bench_talking_for_test")

    def run(progress=None) -> list[Result]:  # type: ignore[no-untyped-def]
        progress("working")
        return [Result("x", 1.0, "", "t", True)]

    module.run = run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "bench_talking_for_test", module)
    monkeypatch.setitem(suite.MODULES, "talking", "bench_talking_for_test")
    assert [r.name for r in suite.run_module("talking", said.append)] == ["x"]
    assert said == ["working"]


def test_main_runs_only_the_named_benchmarks_and_names_the_machine(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ran: list[str] = []

    def fake_run_module(name: str, say, small=False):  # type: ignore[no-untyped-def]
        ran.append(name)
        return [Result(f"{name} figure", 2.0, "ms", "< 3 ms", True)]

    monkeypatch.setattr(suite, "run_module", fake_run_module)
    assert suite.main(["rules", "adapters"]) == 0
    out = capsys.readouterr().out
    assert ran == ["rules", "adapters"]
    assert out.startswith("Machine: ") and "cores (nproc)" in out and "Python 3." in out
    assert "| rules figure | 2.00 ms | < 3 ms | pass |" in out and "| adapters figure |" in out


def test_main_refuses_an_unknown_name() -> None:
    with pytest.raises(SystemExit):
        suite.main(["no-such-bench"])


def test_cpu_samples_subtract_and_describe_per_item() -> None:
    before = CpuSample(worker=1.0, own=1.0, postgres=1.0, redis=1.0, machine=10.0)
    after = CpuSample(worker=2.0, own=1.5, postgres=1.2, redis=1.1, machine=14.0)
    used = after - before
    assert used == CpuSample(1.0, 0.5, pytest.approx(0.2), pytest.approx(0.1), 4.0)
    note = used.per_item_note(100, 2.0)
    assert "worker 10.0" in note and "fakes+driver 5.0" in note and "other programs 22.0" in note


def test_a_restarted_worker_runs_the_same_command_in_the_same_environment(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The resilience suite's supervisor restarts an exited worker with `fresh()` (it once raised here)."""
    from tests.e2e.harness import WorkerProcess

    first = WorkerProcess({"POSSYNC_X": "1"}, ("--concurrency", "3"), log_dir=str(tmp_path))
    again = first.fresh()
    assert type(again) is WorkerProcess and again is not first and again.proc is None
    assert (again.env, again.command, again.log.parent) == (first.env, first.command, tmp_path)
    assert again.log != first.log
