"""Personal data as the console shows it until an operator reveals one customer (the reveal is recorded)."""

from __future__ import annotations

import re

_DIGITS = re.compile(r"\d")


def mask_email(email: str | None) -> str | None:
    """`j***@example.com`: enough to tell two customers apart, not to write to one."""
    if not email:
        return email
    local, at, domain = email.partition("@")
    return f"{local[:1]}***{at}{domain}" if at else "***"


def mask_phone(phone: str | None) -> str | None:
    """Every digit but the last four hidden, the formatting kept."""
    if not phone:
        return phone
    digits = len(_DIGITS.findall(phone))
    seen = 0
    masked = []
    for char in phone:
        if char.isdigit():
            seen += 1
            masked.append(char if seen > digits - 4 else "•")
        else:
            masked.append(char)
    return "".join(masked)


def mask_name(name: str | None) -> str | None:
    return f"{name[:1]}***" if name else name


MASKS = {"email": mask_email, "phone": mask_phone, "first_name": mask_name, "last_name": mask_name}


def mask_customer(customer: dict[str, object] | None) -> dict[str, object] | None:
    """A customer's JSON (`possync.models.customer.Customer.to_json`) with its names and contacts masked and its
    addresses and birthday hidden; consent states stay (they are what an operator checks)."""
    if customer is None:
        return None
    shown: dict[str, object] = {}
    for key, value in customer.items():
        if key in MASKS:
            shown[key] = MASKS[key](value if isinstance(value, str) else None)
        elif key in ("billing_address", "shipping_address", "birthday"):
            shown[key] = "hidden" if value else None
        else:
            shown[key] = value
    return shown
