"""Match keys for emails and phones (SPEC rules 7 and 8).

Both Shopify and the POS store contact details as typed; these keys are what possync compares and
indexes, so `(613)555-1212` and `+1 613-555-1212` are one customer.
"""

from __future__ import annotations

import re

import phonenumbers

_NON_DIGITS = re.compile(r"\D")
_NANP_REGIONS = frozenset(phonenumbers.region_codes_for_country_code(1))


def email_key(email: str | None) -> str | None:
    """Trimmed, lower-cased email; None for empty or obviously not an address."""
    if not email:
        return None
    key = email.strip().lower()
    return key if "@" in key else None


def phone_key(phone: str | None, region: str = "US") -> str | None:
    """A canonical key for a phone number, or None when it holds no digits.

    NANP numbers (region US, CA and the other +1 countries) become their ten national digits, so a
    leading `1` / `+1` typed or not gives the same key (rule 8). Other numbers are parsed with
    `phonenumbers` in the tenant's region and keyed as E.164, so a national `020 7946 0958` in GB
    equals `+44 20 7946 0958`. A string phonenumbers cannot parse falls back to its bare digits:
    staff type odd things into POS phone fields and they must still match themselves.
    """
    if not phone:
        return None
    digits = _NON_DIGITS.sub("", phone)
    if not digits:
        return None
    region = (region or "US").upper()
    try:
        parsed = phonenumbers.parse(phone, region)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is not None and phonenumbers.is_possible_number(parsed):
        if parsed.country_code == 1:
            return str(parsed.national_number)
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if region in _NANP_REGIONS and len(digits) == 11 and digits.startswith("1"):
        return digits[1:]
    return digits
