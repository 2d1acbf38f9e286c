"""Shared test values: the three POS capability sets, a tenant row, an in-memory POS adapter."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from possync.adapters.base import Capabilities, ChangePage, PosAdapter, PosCustomer, RequestStats
from possync.adapters.lightspeed_r import CAPABILITIES as LIGHTSPEED_R_CAPABILITIES
from possync.adapters.lightspeed_x import CAPABILITIES as LIGHTSPEED_X_CAPABILITIES
from possync.models.customer import Customer
from possync.models.tables import PosStatus, Tenant
from possync.models.tags import Tags
from possync.tasks.rules.consent import pos_flag_consent, pos_opt_in
from possync.tasks.rules.heartland import heartland_capabilities
from possync.tasks.rules.mapping import held_fields

# The adapters' own capability sets: the rules are tested against what the POS really holds.
R_SERIES = LIGHTSPEED_R_CAPABILITIES
X_SERIES = LIGHTSPEED_X_CAPABILITIES
HEARTLAND_FIELDS = {"email_opt_in": "opt_in", "birthday": "dob", "tags": "tags"}
HEARTLAND = heartland_capabilities(HEARTLAND_FIELDS)  # no SMS mapping: SMS consent not held
ALL_POS = {"r-series": R_SERIES, "x-series": X_SERIES, "heartland": HEARTLAND}


def make_tenant(session: Session, name: str = "acme") -> int:
    tenant = Tenant(
        name=name,
        account_name=f"{name}store",
        shop_domain=f"{name}.myshopify.com",
        pos_kind="lightspeed-r",
        shopify_secrets="x",
        pos_secrets="x",
    )
    session.add(tenant)
    session.flush()
    return tenant.id


class MemoryAdapter(PosAdapter):
    """A POS whose searches behave like the vendors': substring email search, exact-text phone search."""

    kind = "memory"

    def __init__(self, capabilities: Capabilities = R_SERIES) -> None:
        self.capabilities = capabilities
        self.stats = RequestStats()
        self.customers: dict[str, PosCustomer] = {}
        self.searches: list[tuple[str, str]] = []
        self._ids = itertools.count(1)

    def add(self, customer: Customer, *, status: PosStatus = PosStatus.ACTIVE, pos_id: str | None = None) -> str:
        pos_id = pos_id or str(next(self._ids))
        self.customers[pos_id] = PosCustomer(pos_id, status, customer, created_at=datetime.now(UTC))
        return pos_id

    def get_customer(self, pos_id: str) -> PosCustomer | None:
        return self.customers.get(pos_id)

    def search_by_email(self, email: str) -> list[PosCustomer]:
        self.searches.append(("email", email))
        return [p for p in self._visible() if email in (p.customer.email or "")]  # fuzzy: "contains"

    def search_by_phone(self, phone: str) -> list[PosCustomer]:
        self.searches.append(("phone", phone))
        return [p for p in self._visible() if phone and phone == p.customer.phone]  # exact stored text

    def _visible(self) -> list[PosCustomer]:
        return [p for p in self.customers.values() if p.status is not PosStatus.DELETED]

    def create_customer(self, customer: Customer) -> PosCustomer:
        pos_id = self.add(customer)
        return self.customers[pos_id]

    def update_customer(self, pos_id: str, changes: Mapping[str, Any]) -> PosCustomer:
        current = self.customers[pos_id]
        updated = PosCustomer(pos_id, current.status, current.customer.replace(**changes), current.created_at)
        self.customers[pos_id] = updated
        return updated

    def changes_since(self, cursor: str | None) -> ChangePage:
        return ChangePage(list(self.customers.values()), None)


# --- what a POS holds: the per-POS table above as data ---------------------------------------------


def held_values(customer: Customer, capabilities: Capabilities) -> dict[str, Any]:
    """The customer as the POS would store it, keyed by the POS's own slot names.

    Phone 1 goes to `capabilities.phone_slot` (rule 15), consent becomes a boolean, tags become a
    text field where the POS has no tags (rule 18). Fields the POS cannot hold are absent. A model of a
    POS for the round-trip property tests (the adapters keep their own vendor mappings).
    """
    keep = held_fields(capabilities)
    out: dict[str, Any] = {}
    for name in keep:
        value = getattr(customer, name)
        if name == "phone":
            out[capabilities.phone_slot] = value
        elif name in ("email_consent", "sms_consent"):
            out[name.replace("consent", "opt_in")] = None if value is None else pos_opt_in(value.state)
        elif name == "tags":
            out["tags" if capabilities.has_tags else str(capabilities.tags_field)] = (
                Tags(value) if capabilities.has_tags else Tags(value).text()
            )
        else:
            out[name] = value
    return out


def from_held_values(values: Mapping[str, Any], capabilities: Capabilities) -> Customer:
    """The canonical customer back from `held_values` (a POS reading: consent as explicit flags)."""
    fields: dict[str, Any] = {}
    for name in held_fields(capabilities):
        if name == "phone":
            fields["phone"] = values.get(capabilities.phone_slot)
        elif name in ("email_consent", "sms_consent"):
            flag = values.get(name.replace("consent", "opt_in"))
            fields[name] = None if flag is None else pos_flag_consent(flag)
        elif name == "tags":
            raw = values.get("tags" if capabilities.has_tags else str(capabilities.tags_field))
            fields["tags"] = Tags.parse(raw)
        else:
            fields[name] = values.get(name)
    return Customer(**fields)
