"""What the onboarding tests share: a tenant of a POS kind over its fakes, its POS customers as staff keyed them."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from possync.adapters.fakes.server import FakeVendorServer
from possync.adapters.shopify.fake import FakeShopify
from possync.models.tenant_file import validate_tenant_data
from possync.models.tenants import apply_tenant
from possync.tasks import onboarding
from possync.tasks.runner import StepOutcome, run_steps
from possync.tasks.steps import STEP_FUNCTIONS
from testing.stack import SHOPIFY_TOKEN, make_pos_fake, tenant_file

KINDS = ("lightspeed-r", "lightspeed-x", "heartland")
CUSTOMERS = 260  # three pages on R-Series and Heartland (100 a page), two on X-Series (200)
REMOVED = range(0, CUSTOMERS, 13)  # archived (R-Series, Heartland) or deleted (X-Series) in the back office
HISTORY = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
ADDRESS = {"address1": "150 Elgin St", "city": "Ottawa", "provinceCode": "ON", "zip": "K2P 1L4", "countryCode": "CA"}


@dataclass
class Shop:
    name: str
    kind: str
    tenant_id: int
    pos: FakeVendorServer
    shopify: FakeShopify
    pos_ids: list[str]


def pos_record(i: int) -> dict[str, Any]:
    """As staff key them in: every third email with stray blanks and capitals, phones in till formats."""
    email = f"  Customer{i}@Example.com " if i % 3 == 0 else f"customer{i}@example.com"
    phone = f"(613) 230-{i:04d}" if i % 2 else f"613.230.{i:04d}"
    return {"first_name": f"First{i}", "last_name": f"Last{i}", "email": email, "phone": phone}


def seed_record(kind: str, i: int) -> dict[str, Any]:
    """Customer `i` as the POS holds it: changed ten seconds after the one before, some archived (deleted).

    Spread in time on purpose: a bulk import's thousands in one second are SPEC rule 35's case, which
    the adapters' cursors answer; here the import's own paging is under test.
    """
    record = pos_record(i)
    removed = i in REMOVED
    when = HISTORY + timedelta(seconds=10 * i)
    if kind == "lightspeed-r":
        record.update(time_stamp=int(when.timestamp()), archived=removed)
    elif kind == "lightspeed-x":
        record.update(deleted=removed)  # its cursor is a version number: time plays no part
    else:
        stamp = when.isoformat(timespec="milliseconds")
        record.update(created_at=stamp, updated_at=stamp, active=not removed)
        if removed and i % 2:
            record["deleted_at"] = stamp
    return record


def make_shop(session: Session, secret_key: str, kind: str, customers: int = CUSTOMERS,
              settings: dict[str, Any] | None = None) -> Shop:
    pos, shopify = make_pos_fake(kind), FakeShopify(SHOPIFY_TOKEN, maximum_available=None)
    pos.start()
    shopify.start()
    name = f"{kind.split('-')[-1][0]}{uuid.uuid4().hex[:8]}"
    data = validate_tenant_data(tenant_file(name, kind, shopify.url, pos, "s", settings))
    tenant, _ = apply_tenant(session, data, secret_key)
    session.flush()
    assert onboarding.mark_for_import(session, tenant, changed=True)
    session.commit()
    ids = [str(i) for i in pos.seed(seed_record(kind, i) for i in range(customers))]
    return Shop(name, kind, tenant.id, pos, shopify, ids)


def run_job(db_url: str, job_id: int, *steps: str) -> StepOutcome:
    """Run the job's steps (or `steps`) as a worker would, waiting out the countdown of a job told to wait
    for the POS index (the next catch-up, or the one running); any other outcome is returned."""
    from possync.models.db import get_sessionmaker

    for _ in range(20):
        outcome = run_steps(job_id, STEP_FUNCTIONS, get_sessionmaker(db_url), steps=steps or None)
        if outcome.action != "retry" or "POS index" not in outcome.reason:
            return outcome
        time.sleep(outcome.countdown)
    raise AssertionError("the job waited for the POS index 20 times")
