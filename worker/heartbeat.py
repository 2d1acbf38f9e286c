"""A background thread that renews a lease while its holder works.

Leases with a short time to live (customer locks, a dispatched job's ticket) stay held for as long as a
live process works under them and expire soon after that process dies; the holder's thread renews
them every `interval` seconds until the block ends or a renewal reports the lease lost.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from possync.worker.logging import get_logger

log = get_logger("possync.heartbeat")


class Heartbeat:
    """Calls `renew()` every `interval` s on a daemon thread; `renew` returns False when the lease is lost."""

    def __init__(self, renew: Callable[[], bool], interval: float, what: str) -> None:
        self.renew = renew
        self.interval = interval
        self.what = what
        self.renewals = 0  # how many renewals succeeded (tests read it)
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat:{what}", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                kept = self.renew()
            except Exception:  # Redis briefly unreachable: the lease may still hold; try at the next beat
                log.warning("could not renew a lease", what=self.what, exc_info=True)
                continue
            if not kept:
                self.lost = True
                log.warning("lease lost while its holder still works", what=self.what)
                return
            self.renewals += 1

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.interval + 5)


@contextmanager
def heartbeat(renew: Callable[[], bool], interval: float, what: str) -> Iterator[Heartbeat]:
    beat = Heartbeat(renew, interval, what).start()
    try:
        yield beat
    finally:
        beat.stop()
