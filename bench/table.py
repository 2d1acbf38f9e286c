"""One row of the benchmark table and the table printer."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    name: str  # what was measured
    value: float
    unit: str  # "/s", "ms", "ratio", "requests", ...
    target: str  # human text, e.g. ">= 300/s"
    passed: bool
    note: str = ""  # how it was measured, or the measured cause of a miss

    @property
    def shown(self) -> str:
        number = f"{self.value:,.0f}" if abs(self.value) >= 100 else f"{self.value:,.2f}"
        return f"{number} {self.unit}".strip()


def render(results: Iterable[Result]) -> str:
    """A Markdown table (it goes into the README unchanged)."""
    lines = ["| benchmark | measured | target | result | note |", "| --- | --- | --- | --- | --- |"]
    for r in results:
        lines.append(f"| {r.name} | {r.shown} | {r.target} | {'pass' if r.passed else 'MISS'} | {r.note} |")
    return "\n".join(lines)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100) of a non-empty list."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, math.ceil(pct / 100 * len(ordered)) - 1))
    return ordered[index]
