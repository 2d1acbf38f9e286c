"""SQL `LIKE` patterns (`%` any run, `_` one character) as compiled regular expressions, for the fakes.

Cached: a fake's search applies one pattern to every record it holds, and building the expression
per record was the largest cost of an R-Series search over a thousand customers.
"""

from __future__ import annotations

import functools
import re

# MySQL's LIKE escape character: `\x` is a literal `x` (so `\%` and `\_` are no wildcards); a `\` that
# ends the pattern is itself.
MYSQL_ESCAPE = "\\"

Part = list[str | None]  # literal characters, None for `_`


def like_parts(pattern: str, escape: str | None = None) -> list[Part]:
    """`pattern` split at its `%` wildcards; each part a list of literal characters and None for `_`."""
    parts: list[Part] = [[]]
    chars = iter(enumerate(pattern))
    for i, c in chars:
        if c == escape and i + 1 < len(pattern):
            parts[-1].append(next(chars)[1])
        elif c == "%":
            parts.append([])
        else:
            parts[-1].append(None if c == "_" else c)
    return parts


def part_regex(part: Part, one: str = ".") -> str:
    return "".join(one if c is None else re.escape(c) for c in part)


@functools.lru_cache(maxsize=1024)
def like_pattern(pattern: str, *, ignore_case: bool, escape: str | None = None) -> re.Pattern[str]:
    regex = ".*".join(part_regex(part) for part in like_parts(pattern, escape))
    return re.compile(regex, (re.IGNORECASE if ignore_case else 0) | re.DOTALL)
