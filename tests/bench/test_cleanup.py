"""Benchmarks stopped from outside, or failing, leave no process behind."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signalled_run_still_runs_its_finally_blocks(tmp_path: Path, signum: int) -> None:
    marker = tmp_path / "cleaned"
    script = (
        "import os, signal, sys, time\n"
        "from bench.cleanup import exit_on_signals\n"
        "with exit_on_signals():\n"
        "    try:\n"
        f"        os.kill(os.getpid(), {int(signum)})\n"
        "        time.sleep(30)\n"
        "    finally:\n"
        f"        open({str(marker)!r}, 'w').write('stopped the workers')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, timeout=60, check=False)
    assert done.returncode == 128 + signum
    assert marker.read_text() == "stopped the workers"


def test_outside_the_block_the_handlers_are_given_back() -> None:
    from bench.cleanup import exit_on_signals

    before = signal.getsignal(signal.SIGTERM)
    with exit_on_signals():
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before


def test_recovery_hands_its_pos_fake_to_the_stack_unstarted(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fake started twice kept its first server's threads (not daemons): the bench never exited."""
    from bench import recovery

    class ReachedError(Exception):
        pass

    class Stack:
        def start_fake(self, fake: Any) -> Any:
            fake.started_here = True
            return fake

        def add_shop(self, kind: str, *, pos: Any = None, **_options: Any) -> Any:
            assert not getattr(pos, "started_here", False), "add_shop starts the POS fake itself"
            raise ReachedError

    @contextmanager
    def stack(_label: str) -> Iterator[Stack]:
        yield Stack()

    monkeypatch.setattr(recovery, "stack", stack)
    with pytest.raises(ReachedError):
        recovery.run()
