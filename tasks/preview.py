"""`possync tenant preview`: what possync would do for every Shopify customer, before going live (SPEC rule 38).

For each Shopify customer, read page by page, the same decision the pipeline makes before a create:
an existing link, else `find_match` in the tenant's `customer_matching` order against possync's POS
index only (the import filled it; no vendor request per customer), else a create, which Heartland
refuses when the email or address is missing (rule 22). Nothing is written anywhere: the database is
only read (in read-only transactions on PostgreSQL) and Shopify is only asked for pages.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from possync.adapters.base import Capabilities
from possync.adapters.shopify.client import ShopifyClient
from possync.models import links, military
from possync.models.shopify_values import ShopifyCustomer
from possync.models.tables import ImportStatus, PosImport, PosIndexEntry, PosKind, PosStatus
from possync.models.tenants import TenantContext
from possync.tasks.rules.heartland import create_problems, describe_problems, heartland_capabilities
from possync.tasks.rules.mapping import desired_pos_customer
from possync.tasks.rules.matching import find_match
from possync.tasks.waiting import patiently

Action = Literal["link", "ambiguous", "create", "refused"]
ACTIONS: tuple[Action, ...] = ("link", "ambiguous", "create", "refused")
T = TypeVar("T")


class ImportNotCompleteError(Exception):
    """The tenant's POS index is not the whole POS yet: a preview against it would mislead."""


@dataclass(frozen=True)
class PreviewRow:
    """One Shopify customer's outcome, in the shape of INTERFACE.md's `customers[]`."""

    shopify_customer_id: str
    action: Action
    pos_customer_id: str | None = None
    candidates: list[str] = field(default_factory=list)
    matched_on: str | None = None
    reason: str | None = None
    near_match: str | None = None  # a POS record one key found and the email contradicts (rule 10); table only

    def to_json(self) -> dict[str, Any]:
        return {"shopify_customer_id": self.shopify_customer_id, "action": self.action,
                "pos_customer_id": self.pos_customer_id, "candidates": list(self.candidates),
                "matched_on": self.matched_on, "reason": self.reason}


def require_complete_import(session: Session, tenant: TenantContext) -> None:
    row = session.get(PosImport, tenant.id)
    if row is None or row.status != ImportStatus.COMPLETE.value:
        state = "has not run" if row is None else f"is {row.status} ({row.customers_read:,} customers read)"
        raise ImportNotCompleteError(f"the POS import of {tenant.name} {state}; run `possync tenant import "
                                     f"{tenant.name}` first: a preview needs every POS customer in the index")


def decide(session: Session, tenant: TenantContext, customer: ShopifyCustomer,
           capabilities: Capabilities | None = None) -> PreviewRow:
    """The pipeline's decision for one Shopify customer, from the database alone."""
    link = links.get_link(session, tenant.id, customer.id)
    if link is not None and _active(session, tenant.id, link.pos_customer_id):
        return PreviewRow(customer.id, "link", link.pos_customer_id, [link.pos_customer_id])
    settings = tenant.settings
    match = find_match(customer.customer, order=settings.customer_matching, region=settings.default_phone_region,
                       session=session, tenant_id=tenant.id, adapter=None, conflicting=settings.conflicting_match)
    if match.pos_id is not None:
        return PreviewRow(customer.id, "ambiguous" if match.ambiguous else "link", match.pos_id,
                          list(match.candidates), match.matched_on)
    near = match.near_match.pos_id if match.near_match else None  # rule 10: another person's record
    if tenant.pos_kind is PosKind.HEARTLAND:
        caps = capabilities or heartland_capabilities(settings.heartland_custom_fields)
        desired = desired_pos_customer(customer, order=None, account_name=tenant.account_name, capabilities=caps)
        if problems := create_problems(desired):
            return PreviewRow(customer.id, "refused", reason=describe_problems(problems), near_match=near)
        if broken := military.customer_problems(desired):  # rule 52: the sync would fail naming the field
            return PreviewRow(customer.id, "refused", reason=military.describe(broken), near_match=near)
    return PreviewRow(customer.id, "create", near_match=near)


def _active(session: Session, tenant_id: int, pos_id: str) -> bool:
    """A linked POS customer the index knows archived or deleted is matched again (rule 12)."""
    status = session.scalar(select(PosIndexEntry.status).where(PosIndexEntry.tenant_id == tenant_id,
                                                               PosIndexEntry.pos_customer_id == pos_id))
    return status in (None, PosStatus.ACTIVE.value)


def preview(session: Session, tenant: TenantContext, shopify: ShopifyClient, *,
            sleep: Callable[[float], None] = time.sleep) -> Iterator[PreviewRow]:
    """Every Shopify customer's row, page by page (memory holds one page). Throttling is waited out."""
    require_complete_import(session, tenant)
    session.rollback()
    with_address = tenant.pos_kind is PosKind.HEARTLAND
    capabilities = heartland_capabilities(tenant.settings.heartland_custom_fields) if with_address else None
    after: str | None = None
    while True:
        page = patiently(lambda: shopify.list_customers(after, with_address=with_address), sleep=sleep)  # noqa: B023
        _read_only(session)
        for customer in page.customers:
            yield decide(session, tenant, customer, capabilities)
        session.rollback()  # nothing to keep; ends the read-only transaction between pages
        if not page.has_next:
            return
        after = page.end_cursor


def _read_only(session: Session) -> None:
    """On PostgreSQL the database itself refuses any write in this transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET TRANSACTION READ ONLY"))


def summarise(rows: Iterator[PreviewRow], counts: dict[str, int]) -> Iterator[PreviewRow]:
    """Pass the rows on, counting actions into `counts` as they go."""
    for action in ACTIONS:
        counts.setdefault(action, 0)
    for row in rows:
        counts[row.action] += 1
        yield row
