"""Waiting for the pipeline and showing it: a tqdm bar of finished sync jobs on stderr.

The script knows how many jobs each scripted event makes, so the bar's total grows as events are
sent and it fills as the in-process worker finishes them. Waiting reads the job rows (the single
source of truth), never Celery's state.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from sqlalchemy import func, select
from tqdm import tqdm

from possync.models.db import session_scope
from possync.models.tables import JobStatus, SyncJob

TERMINAL = (JobStatus.SUCCEEDED.value, JobStatus.FAILED.value)
PHASE_TIMEOUT_SECONDS = 45.0


class PipelineStalledError(Exception):
    """The worker did not finish the jobs of a phase in time; the message says how far it got."""


class JobProgress:
    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.expected = 0
        self.started = time.monotonic()
        # Drawn on a terminal only; elsewhere (CI, pipes) the phase lines alone say where it is.
        self.bar = tqdm(total=0, unit="job", desc="possync demo", file=sys.stderr, dynamic_ncols=True,
                        disable=not sys.stderr.isatty(),
                        bar_format="{desc:<34} {bar} {n_fmt}/{total_fmt} jobs [{elapsed}]")

    def phase(self, title: str) -> None:
        self.bar.set_description_str(title[:34])
        tqdm.write(f"[{time.monotonic() - self.started:5.1f}s] {title}", file=sys.stderr)

    def expect(self, jobs: int) -> None:
        """`jobs` more sync jobs will appear (events sent, pushes made)."""
        self.expected += jobs
        self.bar.total = self.expected
        self.bar.refresh()

    def counts(self) -> tuple[int, int]:
        """(all jobs, finished jobs)."""
        with session_scope(self.database_url) as session:
            total = session.scalar(select(func.count()).select_from(SyncJob)) or 0
            done = session.scalar(select(func.count()).select_from(SyncJob).where(SyncJob.status.in_(TERMINAL))) or 0
        return total, done

    def wait(self, timeout: float = PHASE_TIMEOUT_SECONDS, also: Callable[[], bool] | None = None) -> None:
        """Until every expected job exists and has finished (and `also()` holds)."""
        deadline = time.monotonic() + timeout
        while True:
            total, done = self.counts()
            self.bar.n = min(done, self.expected)
            self.bar.refresh()
            if total >= self.expected and done == total and (also is None or also()):
                return
            if time.monotonic() > deadline:
                raise PipelineStalledError(f"after {timeout:.0f}s: {done} of {max(total, self.expected)} jobs finished")
            time.sleep(0.05)

    def close(self) -> None:
        self.bar.close()
