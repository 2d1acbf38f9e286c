"""The columns of ShipStation's customer import file (SPEC rule 47; reference §6.3).

A merchant's downloaded template is the authority: its header row is copied byte for byte and its
columns are filled by name. Without one, `BUILTIN_HEADER` is used: the reference names the required
columns but the template itself was not found, so its exact text and order are UNVERIFIED.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

# UNVERIFIED (reference §6.3: "exact full header list and order UNVERIFIED"): pass --template to be sure.
BUILTIN_HEADER = ("Username", "Email", "Full Name", "First Name", "Last Name", "Company Name", "Phone",
                  "Address Line 1", "Address Line 2", "City", "State", "Postal Code", "Country Code", "Tags")
TAG_SEPARATOR = ","  # how several tags share the Tags cell: UNVERIFIED

# A column's name, lower-cased with spaces and punctuation dropped -> the value it holds.
FIELD_BY_NAME = {
    "username": "username", "email": "email", "emailaddress": "email", "fullname": "full_name", "name": "full_name",
    "firstname": "first_name", "lastname": "last_name", "companyname": "company", "company": "company",
    "phone": "phone", "phonenumber": "phone", "addressline1": "street1", "address1": "street1",
    "addressline2": "street2", "address2": "street2", "city": "city", "state": "state", "province": "state",
    "postalcode": "postal_code", "zip": "postal_code", "zipcode": "postal_code", "countrycode": "country_code",
    "country": "country_code", "tags": "tags", "tag": "tags",
}
REQUIRED = (("username", "username"), ("street1", "address line 1"), ("city", "city"), ("state", "state"),
            ("postal_code", "postal code"), ("country_code", "country code"))
ONE_NAME = ("full_name", "first_name", "last_name", "company")
# What a ShipStation record holds, and so what an update must carry over (first/last names are only
# ever the parts of a name possync itself supplies).
RECORD_FIELDS = ("username", "email", "full_name", "company", "phone", "street1", "street2", "city", "state",
                 "postal_code", "country_code", "tags")


class TemplateError(ValueError):
    """The template cannot be used (names what is wrong)."""


@dataclass(frozen=True)
class Header:
    raw: bytes  # the header row exactly as written, line end included
    names: tuple[str, ...]
    fields: tuple[str | None, ...]  # per column, the value it holds; None for a column possync cannot fill

    @property
    def unknown(self) -> list[str]:
        return [name for name, f in zip(self.names, self.fields, strict=True) if f is None]


def _field(name: str) -> str | None:
    return FIELD_BY_NAME.get(re.sub(r"[^0-9a-z]", "", name.casefold()))


def builtin_header() -> Header:
    raw = (",".join(BUILTIN_HEADER) + "\r\n").encode()
    return Header(raw, BUILTIN_HEADER, tuple(_field(n) for n in BUILTIN_HEADER))


def header_from_template(data: bytes) -> Header:
    """The template's first line, kept byte for byte; its names read as CSV."""
    end = data.find(b"\n")
    raw = data if end < 0 else data[: end + 1]
    if not raw.strip():
        raise TemplateError("the template is empty: its first line must be the header row")
    if end < 0:
        raw += b"\r\n"
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise TemplateError("the template is not UTF-8 text") from None
    names = tuple(next(csv.reader(io.StringIO(text))))
    fields = tuple(_field(n) for n in names)
    missing = [label for key, label in REQUIRED if key not in fields]
    if missing:
        raise TemplateError(f"the template has no column for {', '.join(missing)}")
    if not any(f in ONE_NAME for f in fields):
        raise TemplateError("the template has no name column (Full Name, First Name, Last Name or Company Name)")
    return Header(raw, names, fields)
