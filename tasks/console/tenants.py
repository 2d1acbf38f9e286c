"""The console's tenants page: `possync status` per tenant, with the syncs counted since midnight UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from possync.models.tables import Tenant
from possync.tasks.operations import tenant_status


def start_of_day(now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def overview(session: Session, now: datetime | None = None) -> list[dict[str, Any]]:
    """Each tenant's status row; `succeeded` holds today's syncs by outcome (the destination is its POS)."""
    since = start_of_day(now)
    return [tenant_status(session, tenant, since=since)
            for tenant in session.scalars(select(Tenant).order_by(Tenant.name))]


def tenant_names(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Tenant.id, Tenant.name).order_by(Tenant.name)).all())
