"""Background load for a bench: one call repeated in a thread, at a pace, while a measured block runs."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def paced(call: Callable[[], float], per_second: float) -> Iterator[list[float]]:
    """Repeat `call` in a thread while the block runs, `per_second` times a second (0: back to back, the
    most a script could send); yields what the calls returned (their times), appended as each ends."""
    returned: list[float] = []
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            returned.append(call())
            if per_second:
                stop.wait(1 / per_second)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield returned
    finally:
        stop.set()
        thread.join()
