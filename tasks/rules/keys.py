"""Match keys for the rules' hot path: `phone_key` with a fast path for plainly typed NANP numbers.

`possync.models.normalise.phone_key` parses every number with `phonenumbers` (about 60-130 us a call), which
dominated the rules' cost (`bench.rules`). Most numbers in a North American shop are ten digits,
maybe a leading `1`/`+1`, and formatting characters; for those the key is simply the ten national
digits, exactly what `phone_key` returns. Anything else (letters, extensions, other lengths, a `+`
that is not `+1`, an area code starting 0 or 1, a non-NANP region) takes the full parse. The property
test `test_rule_8_fast_phone_key_agrees_with_phone_key` holds the two together.
"""

from __future__ import annotations

import re

import phonenumbers

from possync.models.normalise import email_key, phone_key

__all__ = ["email_key", "fast_phone_key", "same_phone"]

_FORMATTING = re.compile(r"[\s().\-]")
_PLAIN_NANP = re.compile(r"(?:\+?1)?([2-9]\d{9})")
_NANP_REGIONS = frozenset(phonenumbers.region_codes_for_country_code(1))


def fast_phone_key(phone: str | None, region: str) -> str | None:
    """Same result as `phone_key(phone, region)`, without parsing plainly typed NANP numbers."""
    if phone and (region or "US").upper() in _NANP_REGIONS:
        plain = _PLAIN_NANP.fullmatch(_FORMATTING.sub("", phone))
        if plain is not None:
            return plain.group(1)
    return phone_key(phone, region)


def same_phone(a: str | None, b: str | None, region: str) -> bool:
    """Whether two typed phones are one number (rule 8); identical text needs no parsing at all."""
    if a == b:
        return True
    return fast_phone_key(a, region) == fast_phone_key(b, region)
