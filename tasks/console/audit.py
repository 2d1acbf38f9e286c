"""The console's audit log: every operator action and every reveal of personal data, with who and when."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from possync.models.tables import ConsoleAction


def record(session: Session, actor: str, action: str, *, tenant_id: int | None = None, customer: str | None = None,
           **detail: Any) -> ConsoleAction:
    row = ConsoleAction(actor=actor, action=action, tenant_id=tenant_id, customer=customer, detail=detail)
    session.add(row)
    session.flush()
    return row


def recent(session: Session, limit: int = 50) -> list[ConsoleAction]:
    return list(session.scalars(select(ConsoleAction).order_by(ConsoleAction.id.desc()).limit(limit)))


def for_customer(session: Session, tenant_id: int, customer: str) -> list[ConsoleAction]:
    return list(session.scalars(select(ConsoleAction).where(
        ConsoleAction.tenant_id == tenant_id, ConsoleAction.customer == customer).order_by(ConsoleAction.at)))
