"""Rows the console reads, written as the pipeline writes them (a job per Shopify customer, its attempts)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from possync.models.tables import SyncAttempt, SyncJob


def customer_json(email: str | None = None, phone: str | None = None, first: str = "Jane", last: str = "Doe") -> dict:
    return {"first_name": first, "last_name": last, "email": email, "phone": phone, "birthday": None,
            "billing_address": None, "shipping_address": None, "email_consent": None, "sms_consent": None}


def add_job(session: Session, tenant_id: int, shopify_id: str, *, status: str = "succeeded", email: str | None = None,
            phone: str | None = None, error_class: str | None = None, direction: str = "shopify_to_pos",
            outcome: str | None = None, finished_at: datetime | None = None, **context: Any) -> SyncJob:
    if email or phone:
        context["shopify_customer"] = {"id": shopify_id, "customer": customer_json(email, phone)}
    job = SyncJob(tenant_id=tenant_id, subject=shopify_id, direction=direction, step="upsert_pos_customer",
                  status=status, outcome=outcome or ("created" if status == "succeeded" else None),
                  last_error_class=error_class, last_error=f"{error_class} problem" if error_class else None,
                  context={"topic": "customers/create", **context},
                  finished_at=finished_at or datetime.now(UTC))
    session.add(job)
    session.flush()
    session.add(SyncAttempt(job_id=job.id, step="upsert_pos_customer", outcome="ok" if status != "failed" else "fatal",
                            http_status=201 if status != "failed" else 422, latency_ms=12.5))
    session.flush()
    return job
