"""`possync crm backfill`: every existing Shopify customer to the tenant's CRM (SPEC rule 40).

Shopify is read a page at a time (paged GraphQL under its cost-based throttling); each customer costs
one CRM upsert, none when possync already wrote the same contact (rule 45). Requests take their places
in the tenant's CRM windows (`crm:<tenant>`, shared with the workers), so the backfill runs at the
plan's hourly budget beside live syncs, waiting, never meeting a 429. The Shopify cursor is committed
with each page's links, so a crash resumes after the last page done. A customer the CRM refuses
becomes a failed CRM job (the failed list names tenant, field and the CRM's message; replay retries
it on the workers); the rest go on.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from possync.adapters.errors import FatalError
from possync.models.crm_links import get_crm_link, save_crm_link
from possync.models.normalise import email_key
from possync.models.shopify_values import ShopifyCustomer
from possync.models.tables import CrmState
from possync.models.tenants import TenantContext
from possync.tasks import jobs
from possync.tasks.crm import connect, contact_for, crm_state, left_this_hour, missing_labels, refused
from possync.tasks.waiting import patiently
from possync.worker.locks import LockBusyError, customer_locks
from possync.worker.runtime import redis_client
from possync.worker.settings import get_settings

RUNNING, COMPLETE, FAILED = "running", "complete", "failed"
PER_MINUTE = 400


@dataclass(frozen=True)
class Estimate:
    """Told up front: how many customers, how many this hour's budget still covers, how long it takes."""

    customers: int | None
    to_go: int | None
    per_hour: int
    left_this_hour: int
    seconds: float | None

    def describe(self) -> str:
        if self.to_go is None or self.seconds is None:
            return f"the shop's customer count is unknown; at {self.per_hour:,} CRM requests an hour"
        hours = self.seconds / 3600
        span = f"about {hours:.1f} hours" if hours >= 1 else f"about {max(1, round(self.seconds / 60))} minutes"
        return (f"{self.to_go:,} customers to send at {self.per_hour:,} CRM requests an hour "
                f"({self.left_this_hour:,} left this hour): {span}")


def estimate(customers: int | None, done: int, per_hour: int, left_this_hour: int) -> Estimate:
    """One request a customer: what this hour has left goes at the per-minute pace, the rest by the hour."""
    if customers is None:
        return Estimate(None, None, per_hour, left_this_hour, None)
    to_go = max(0, customers - done)
    now = min(to_go, left_this_hour)
    seconds = now / PER_MINUTE * 60 + (to_go - now) / per_hour * 3600
    return Estimate(customers, to_go, per_hour, left_this_hour, seconds)


@dataclass
class Counts:
    written: int = 0
    unchanged: int = 0
    refused: int = 0


def run_backfill(session: Any, tenant: TenantContext, shopify: Any, adapter: Any, *,
                 on_start: Callable[[Estimate], None] = lambda _: None,
                 on_customer: Callable[[CrmState], None] = lambda _: None,
                 restart: bool = False, sleep: Callable[[float], None] = time.sleep) -> tuple[CrmState, Counts]:
    """Send every Shopify customer to the CRM from where the last run stopped (or the start)."""
    row = crm_state(session, tenant.id)
    if restart or row.backfill_status in (None, COMPLETE):
        row.backfill_cursor, row.backfill_done, row.backfill_started_at = None, 0, jobs.now()
    row.backfill_status, row.backfill_error, row.backfill_finished_at = RUNNING, None, None
    row.backfill_total = patiently(shopify.count_customers, sleep=sleep)
    session.commit()
    per_hour = int(tenant.crm_config.get("requests_per_hour") or 1000)
    on_start(estimate(row.backfill_total, row.backfill_done, per_hour, left_this_hour(tenant.name, per_hour)))
    schema, missing = patiently(lambda: connect(session, tenant, adapter), sleep=sleep)
    counts = Counts()
    try:
        while True:
            after = row.backfill_cursor
            page = patiently(lambda: shopify.list_customers(after, full=True), sleep=sleep)  # noqa: B023
            for customer in page.customers:
                _one(session, tenant, adapter, customer, schema, missing, counts, sleep)
                row.backfill_done += 1
                on_customer(row)
            row.backfill_cursor = page.end_cursor if page.has_next else None
            if not page.has_next:
                row.backfill_status, row.backfill_finished_at = COMPLETE, jobs.now()
            session.commit()  # the page's links with the cursor after it: a crash resumes here
            if not page.has_next:
                return row, counts
    except Exception as exc:
        session.rollback()
        row = crm_state(session, tenant.id)
        row.backfill_status, row.backfill_error = FAILED, str(exc)[:2000]
        session.commit()
        raise


def _one(session: Any, tenant: TenantContext, adapter: Any, customer: ShopifyCustomer, schema: Any,
         missing: list[dict], counts: Counts, sleep: Callable[[float], None]) -> None:
    settings = get_settings()
    keys = [f"crm:{customer.id}", f"crm:{email_key(customer.customer.email) or ''}"]
    while True:
        try:
            with customer_locks(redis_client(), settings.redis_key_prefix, tenant.name, keys):
                link = get_crm_link(session, tenant.id, customer.id)
                contact = contact_for(tenant, adapter, customer, schema, first_write=link is None)
                written = adapter.fingerprint(contact)
                if link is not None and link.written_fingerprint == written:
                    counts.unchanged += 1
                    return
                result = patiently(lambda: adapter.upsert_contact(contact), sleep=sleep)  # noqa: B023
                save_crm_link(session, tenant.id, customer.id, result.contact_id, written)
                session.flush()
                counts.written += 1
                return
        except LockBusyError:
            sleep(random.uniform(0.2, 1.0))  # a live sync of this customer is writing it now
        except FatalError as exc:
            counts.refused += 1
            _failed_job(session, tenant, customer, refused(tenant, exc, adapter), missing)
            return


def _failed_job(session: Any, tenant: TenantContext, customer: ShopifyCustomer, exc: FatalError,
                missing: list[dict]) -> None:
    """The refused customer as a failed CRM job: listed, and replayed on the workers once fixed."""
    job = jobs.new_job(session, tenant_id=tenant.id, direction="shopify_to_crm", subject=customer.id,
                       context={"topic": "backfill", "customer_id": customer.id,
                                "crm_missing": missing_labels(missing)})
    job.attempts = 1
    jobs.fail(job, str(exc), getattr(exc, "error_class", "crm_refused"))
