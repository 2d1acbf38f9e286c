"""Shopify customers that are one person by possync's own rules, and merging them safely (SPEC rule 51).

Two Shopify customers are one person when possync linked both to one POS customer, or when they share
an email key or a phone key (rules 7, 8: the keys matching uses). Each group carries Shopify's merge
preview: the blockers that refuse a merge and the limits that hold it until edited. A merge runs only
for a pair in such a group with neither; Shopify merges asynchronously, so the job is followed to its
end. possync's links move when the `customers/merge` webhook arrives (rule 13, `possync.tasks.intake`), for
every destination, the same way as for a merge done in Shopify's admin.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from possync.adapters.shopify import merge
from possync.adapters.shopify.client import ShopifyClient
from possync.models.customer import Consent, ConsentState
from possync.models.normalise import email_key, phone_key
from possync.models.shopify_values import ShopifyCustomer
from possync.models.tables import CustomerLink
from possync.models.tenants import TenantContext
from possync.tasks.clients import shopify_client_for
from possync.tasks.waiting import patiently

SAME_POS = "same POS customer"
REASONS = (SAME_POS, "email", "phone")


class MergeRefusedError(Exception):
    """The operator asked for a merge possync will not run; the message says why."""


@dataclass(frozen=True)
class DuplicateGroup:
    """Shopify customers that are one person; `customers` oldest (lowest id) first."""

    customers: list[str]
    reason: str
    blockers: list[str]
    limits: list[str]

    @property
    def mergeable(self) -> bool:
        return not self.blockers and not self.limits

    def to_json(self) -> dict[str, Any]:
        return {"customers": list(self.customers), "reason": self.reason, "blockers": list(self.blockers),
                "limits": list(self.limits), "mergeable": self.mergeable}


def _by_age(ids: Any) -> list[str]:
    return sorted({str(i) for i in ids}, key=lambda i: (len(i), i))


def _keys(customer: ShopifyCustomer, region: str) -> Iterator[tuple[str, str]]:
    if key := email_key(customer.customer.email):
        yield "email", key
    if key := phone_key(customer.customer.phone, region):
        yield "phone", key


def candidate_groups(session: Session, tenant: TenantContext, shopify: ShopifyClient, *,
                     sleep: Callable[[float], None] = time.sleep) -> list[tuple[list[str], str]]:
    """(customer ids, reason) for every set of Shopify customers that are one person; no vendor writes."""
    found: dict[tuple[str, ...], str] = {}
    by_pos: dict[str, set[str]] = defaultdict(set)
    for pos_id, shopify_id in session.execute(select(CustomerLink.pos_customer_id, CustomerLink.shopify_customer_id)
                                              .where(CustomerLink.tenant_id == tenant.id)):
        by_pos[pos_id].add(shopify_id)
    for ids in by_pos.values():
        if len(ids) > 1:
            found.setdefault(tuple(_by_age(ids)), SAME_POS)
    by_key: dict[tuple[str, str], set[str]] = defaultdict(set)
    region = tenant.settings.default_phone_region
    after: str | None = None
    while True:
        page = patiently(lambda: shopify.list_customers(after, with_address=False), sleep=sleep)  # noqa: B023
        for customer in page.customers:
            for key in _keys(customer, region):
                by_key[key].add(customer.id)
        if not page.has_next:
            break
        after = page.end_cursor
    for (kind, _), ids in sorted(by_key.items()):
        if len(ids) > 1:
            found.setdefault(tuple(_by_age(ids)), kind)
    return sorted(((list(ids), reason) for ids, reason in found.items()), key=lambda item: _by_age(item[0])[0])


def _preview_group(shopify: ShopifyClient, ids: list[str], reason: str) -> DuplicateGroup:
    """Each younger customer previewed into the oldest; a group's blockers and limits are all of theirs."""
    blockers: set[str] = set()
    limits: set[str] = set()
    for other in ids[1:]:
        preview = merge.preview(shopify, other, ids[0])
        blockers.update(preview.blockers)
        limits.update(preview.limits)
    return DuplicateGroup(ids, reason, sorted(blockers), sorted(limits))


def find_duplicate_groups(session: Session, tenant: TenantContext, shopify: ShopifyClient | None = None, *,
                          sleep: Callable[[float], None] = time.sleep) -> list[DuplicateGroup]:
    """Every group of Shopify customers that are one person, with Shopify's merge preview."""
    if shopify is None:
        shopify = shopify_client_for(tenant)
    return [_preview_group(shopify, ids, reason)
            for ids, reason in candidate_groups(session, tenant, shopify, sleep=sleep)]


@dataclass(frozen=True)
class MergeResult:
    merged: str
    into: str
    job_id: str
    status: str
    resulting_id: str | None
    consent_kept: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"merged": self.merged, "into": self.into, "job": self.job_id, "status": self.status,
                "resulting_customer_id": self.resulting_id, "consent_kept": list(self.consent_kept)}


def _reason(session: Session, tenant: TenantContext, one: ShopifyCustomer, two: ShopifyCustomer) -> str | None:
    pos = {link.shopify_customer_id: link.pos_customer_id for link in session.scalars(select(CustomerLink).where(
        CustomerLink.tenant_id == tenant.id, CustomerLink.shopify_customer_id.in_([one.id, two.id])))}
    if len(pos) == 2 and pos[one.id] == pos[two.id]:
        return SAME_POS
    shared = set(_keys(one, tenant.settings.default_phone_region)) & set(
        _keys(two, tenant.settings.default_phone_region))
    return min((kind for kind, _ in shared), default=None)


def kept_consent(one: Consent | None, two: Consent | None) -> Consent | None:
    """A subscription either side had, to write on the merged customer; None when nothing is to be kept.

    An unsubscribe newer than the subscription wins (rule 26): the person said no after saying yes.
    """
    subscribed = [c for c in (one, two) if c is not None and c.state is ConsentState.SUBSCRIBED]
    if not subscribed:
        return None
    yes_at = max((c.updated_at for c in subscribed if c.updated_at), default=None)
    for other in (one, two):
        said_no_at = other.updated_at if other is not None and other.state is ConsentState.UNSUBSCRIBED else None
        if said_no_at and yes_at and said_no_at > yes_at:
            return None
    return Consent(ConsentState.SUBSCRIBED, datetime.now(UTC))


def merge_customers(session: Session, tenant: TenantContext, merged: str, into: str,
                    shopify: ShopifyClient | None = None, *, sleep: Callable[[float], None] = time.sleep,
                    timeout: float = 120.0, poll_every: float = 0.5) -> MergeResult:
    """Merge `merged` into `into` when they are one person and Shopify shows nothing against it.

    The merged customer keeps `into`'s email (when it has one) and a marketing subscription either side
    had (`kept_consent`); Shopify's own choice of consent follows only the kept email's record.
    """
    if shopify is None:
        shopify = shopify_client_for(tenant)
    if merged == into:
        raise MergeRefusedError("--merge and --into name the same customer")
    one, two = shopify.get_customer(merged), shopify.get_customer(into)
    for given, customer in ((merged, one), (into, two)):
        if customer is None:
            raise MergeRefusedError(f"Shopify customer {given} does not exist")
    assert one is not None and two is not None
    if _reason(session, tenant, one, two) is None:
        raise MergeRefusedError(f"customers {merged} and {into} are not one person by possync's rules "
                                "(no shared POS customer, email or phone)")
    keep_email_of = into if two.customer.email else None
    preview = merge.preview(shopify, merged, into, keep_email_of=keep_email_of)
    if preview.blockers or preview.limits:
        raise MergeRefusedError(f"Shopify refuses this merge: {', '.join(preview.blockers + preview.limits)}")
    job = merge.start(shopify, merged, into, keep_email_of=keep_email_of)
    deadline = time.monotonic() + timeout
    while job.status not in merge.FINAL_STATES:
        if time.monotonic() > deadline:
            raise MergeRefusedError(f"the merge job {job.job_id} has not finished after {timeout:.0f} s; "
                                    "Shopify's customers/merge webhook will still move the links when it does")
        sleep(poll_every)
        job = merge.status(shopify, job.job_id)
    kept: list[str] = []
    resulting = job.resulting_id or into
    current = shopify.get_customer(resulting) if job.status == "COMPLETED" else None
    if current is not None:
        for channel, write in (("email_consent", shopify.update_email_consent),
                               ("sms_consent", shopify.update_sms_consent)):
            consent = kept_consent(getattr(one.customer, channel), getattr(two.customer, channel))
            if consent is not None and _needs(current, channel):
                write(resulting, consent)
                kept.append(channel.removesuffix("_consent"))
    return MergeResult(merged, into, job.job_id, job.status, resulting, kept)


def _needs(current: ShopifyCustomer, channel: str) -> bool:
    """The merged customer lacks the subscription and has the email (or phone) to attach it to."""
    consent = getattr(current.customer, channel)
    contact = current.customer.email if channel == "email_consent" else current.customer.phone
    return bool(contact) and (consent is None or consent.state is not ConsentState.SUBSCRIBED)
