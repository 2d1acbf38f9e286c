"""SQL `LIKE` patterns (`%` any run, `_` one character) as compiled regular expressions, for the fakes.

Cached: a fake's search applies one pattern to every record it holds, and building the expression
per record was the largest cost of an R-Series search over a thousand customers.
"""

from __future__ import annotations

import functools
import re


@functools.lru_cache(maxsize=1024)
def like_pattern(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    parts = [".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), (re.IGNORECASE if ignore_case else 0) | re.DOTALL)
