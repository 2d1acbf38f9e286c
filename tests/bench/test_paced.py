"""The benches' background load: repeated at its pace while the block runs, and stopped after it."""

from __future__ import annotations

import itertools
import time

from bench.paced import paced


def test_calls_repeat_while_the_block_runs_and_stop_after_it() -> None:
    calls = itertools.count()
    with paced(lambda: float(next(calls)), per_second=0) as returned:
        time.sleep(0.2)
    seen = len(returned)
    assert seen > 10 and returned[:3] == [0.0, 1.0, 2.0]
    time.sleep(0.1)
    assert len(returned) == seen  # the thread has ended: nothing comes after the block


def test_the_pace_spaces_the_calls() -> None:
    with paced(lambda: time.monotonic(), per_second=10) as returned:
        time.sleep(0.55)
    gaps = [later - earlier for earlier, later in itertools.pairwise(returned)]
    # 0.1 s apart at 10 a second; a loaded machine only lengthens the gaps, never shortens them.
    assert len(returned) >= 3 and min(gaps) >= 0.09, gaps
