"""US military (APO/FPO/DPO) addresses (SPEC rule 52; reference §4.4).

Such an address is domestic (country US) with a city of exactly `APO`, `FPO` or `DPO`, a state of
`AA`, `AE` or `AP`, a street line naming a PSC, UNIT or CMR and a BOX, and a military ZIP. Shoppers
type them every which way ("apo", "Armed Forces Europe", country Germany), so possync puts them into
that form before any destination sees them, and names the field that still breaks it.
"""

from __future__ import annotations

import dataclasses
import re

from possync.models.customer import Address, Customer

CITIES = frozenset({"APO", "FPO", "DPO"})
STATES = frozenset({"AA", "AE", "AP"})
# "Armed Forces ..." as typed or as a province name; Canada, Africa and the Middle East are AE.
_STATE_NAMES = {
    "armed forces americas": "AA",
    "armed forces america": "AA",
    "armed forces europe": "AE",
    "armed forces middle east": "AE",
    "armed forces africa": "AE",
    "armed forces canada": "AE",
    "armed forces pacific": "AP",
}
# UNVERIFIED: the military ZIP ranges per state, from general USPS knowledge (reference §4.4 marks them
# so); a ZIP outside them is reported, never rewritten.
ZIP_RANGES = {"AA": ((34000, 34099),), "AE": ((9000, 9999),), "AP": ((96200, 96699),)}
_STREET = re.compile(r"\b(PSC|UNIT|CMR)\s*\d+.*\bBOX\s*\d+", re.IGNORECASE)
_ZIP = re.compile(r"^(\d{5})(-\d{4})?$")
_US_NAMES = frozenset({"US", "USA", "UNITED STATES", "UNITED STATES OF AMERICA"})


def _city_key(city: str | None) -> str:
    return "".join((city or "").split()).replace(".", "").upper()


def _state_code(value: str | None) -> str | None:
    text = " ".join((value or "").replace("-", " ").split())
    if text.upper() in STATES:
        return text.upper()
    return _STATE_NAMES.get(text.casefold().replace(" (ae)", "").replace(" (aa)", "").replace(" (ap)", ""))


def is_military(address: Address | None) -> bool:
    """An APO/FPO/DPO city, or an Armed Forces state: either one says the shopper meant a military address."""
    if address is None:
        return False
    city, state = address.city, address.province_code
    # Cheap tests first, inline: every address of every sync passes here, and almost none is military.
    if city and len(city) <= 9 and "".join(city.split()).replace(".", "").upper() in CITIES:
        return True
    if not state:
        return False
    code = state.strip()
    if len(code) == 2:
        return code.upper() in STATES
    return "armed" in code.casefold() and _state_code(code) is not None


def normalise(address: Address | None) -> Address | None:
    """The address in the military form where it is one (`apo` -> `APO`, "Armed Forces Europe" -> `AE`,
    country US, street line upper-cased); any other address is returned as it is."""
    if not is_military(address):
        return address
    assert address is not None
    city = _city_key(address.city)
    state = _state_code(address.province_code)
    street = " ".join((address.address1 or "").split()).upper() or None
    return dataclasses.replace(
        address,
        address1=street,
        city=city if city in CITIES else address.city,
        province_code=state or address.province_code,
        zip=(address.zip or "").strip() or None,
        country_code="US",
    )


def problems(address: Address | None) -> list[str]:
    """The fields of a military address that break the form (`address1`, `city`, `province_code`, `zip`,
    `country_code`); empty for a well-formed one and for any address that is not military."""
    if address is None or not is_military(address):
        return []
    found = []
    if not _STREET.search(address.address1 or ""):
        found.append("address1")
    if _city_key(address.city) not in CITIES:
        found.append("city")
    state = _state_code(address.province_code)
    if state is None:
        found.append("province_code")
    match = _ZIP.match((address.zip or "").strip())
    if match is None or (state is not None and not any(
            low <= int(match.group(1)) <= high for low, high in ZIP_RANGES[state])):
        found.append("zip")
    if (address.country_code or "US").strip().upper() not in _US_NAMES:
        found.append("country_code")
    return found


def customer_problems(customer: Customer) -> list[str]:
    """`billing_address.zip`-style names of what breaks the form in this customer's addresses."""
    return [f"{slot}.{name}" for slot in ("billing_address", "shipping_address")
            for name in problems(getattr(customer, slot))]


LABELS = {
    "address1": "street line (PSC, UNIT or CMR number and BOX number)",
    "city": "city (APO, FPO or DPO)",
    "province_code": "state (AA, AE or AP)",
    "zip": "ZIP (a military ZIP of its state)",
    "country_code": "country (United States)",
}


def describe(found: list[str]) -> str:
    """A reason a merchant can act on, naming each field (`billing_address.zip` or `zip`)."""
    parts = []
    for name in found:
        slot, _, field = name.rpartition(".")
        parts.append(f"{slot.replace('_', ' ')} {LABELS.get(field, field)}".strip())
    return ("US military address (APO/FPO/DPO) breaks the required form; fix the " + "; ".join(parts)
            + " in Shopify and the sync is retried.")
