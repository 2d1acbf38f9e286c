"""Benchmarks that leave nothing behind when stopped: SIGTERM or SIGHUP (`timeout`, a closed terminal,
a supervisor) become `SystemExit` while a run is open, so its `finally` blocks stop the worker
processes it started (each in a session of its own, out of reach of the signal) and drop its database.
Python's default for SIGTERM is to die on the spot, leaving them running."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _exit(signum: int, _frame: Any) -> None:
    sys.exit(128 + signum)


@contextmanager
def exit_on_signals() -> Iterator[None]:
    """While the block runs, the signals above raise `SystemExit` in the main thread (a no-op elsewhere)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, _exit) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
