"""Database tables (SQLAlchemy 2.x typed models).

Work is data (ARCHITECTURE principle 2): inbound events, sync jobs and their attempts are rows, so
retries, the failed list, replay and status are queries, not log greps. Secrets live encrypted in
`Tenant.shopify_secrets` / `Tenant.pos_secrets` (see `possync.models.crypto`).
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

JSONType = JSON().with_variant(JSONB(), "postgresql")
IdType = BigInteger().with_variant(Integer(), "sqlite")  # SQLite only autoincrements INTEGER keys


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    if TYPE_CHECKING:  # every model here maps a Table (SQLAlchemy types `__table__` as any FromClause)
        __table__: ClassVar[Table]

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


PENDING_HINT = "hint_subject IS NOT NULL AND status IN ('received', 'enqueued')"


class PosKind(enum.StrEnum):
    LIGHTSPEED_R = "lightspeed-r"
    LIGHTSPEED_X = "lightspeed-x"
    HEARTLAND = "heartland"

    @property
    def queue(self) -> str:
        """The Celery queue of this POS kind (ARCHITECTURE principle 6)."""
        return "pos." + self.value.replace("-", "_")


class PosStatus(enum.StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"  # R-Series, Heartland: can come back
    DELETED = "deleted"  # X-Series: gone for good


class EventStatus(enum.StrEnum):
    RECEIVED = "received"  # stored, not yet handed to the broker
    ENQUEUED = "enqueued"
    PROCESSED = "processed"
    FAILED = "failed"  # stored with a reason (bad JSON, schema)
    IGNORED = "ignored"  # a topic possync does not act on


class ImportStatus(enum.StrEnum):
    PENDING = "pending"  # to do (a new tenant, or its POS account changed)
    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"  # a permanent error (e.g. credentials): `last_error` says which; creates keep waiting


class JobStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # in the failed list: replayable


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    account_name: Mapped[str] = mapped_column(String(255))
    shop_domain: Mapped[str] = mapped_column(String(255), unique=True)
    pos_kind: Mapped[str | None] = mapped_column(String(32))  # None: the tenant has no POS (a CRM only)
    # Non-secret connection details (api_version, base URLs, account ids) as in the tenant file.
    shopify_config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    pos_config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Fernet tokens of JSON objects: never stored or printed in clear.
    shopify_secrets: Mapped[str] = mapped_column(Text)
    pos_secrets: Mapped[str] = mapped_column(Text)
    # The tenant file's optional `shipstation` block (SPEC section 11): settings, and the key pair encrypted.
    shipstation_config: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    shipstation_secrets: Mapped[str | None] = mapped_column(Text)
    # The CRM destination (SPEC section 10), beside or instead of the POS; None: the tenant has none.
    crm_kind: Mapped[str | None] = mapped_column(String(32))
    crm_config: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    crm_secrets: Mapped[str | None] = mapped_column(Text)
    # Fernet token of the secret in the tenant's X-Series webhook URL (`possync tenant webhook-url`).
    webhook_token: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class CustomerLink(Base):
    """Shopify customer id <-> POS customer id, with what possync last wrote each way (echoes)."""

    __tablename__ = "customer_links"
    __table_args__ = (
        UniqueConstraint("tenant_id", "shopify_customer_id"),
        Index("ix_customer_links_tenant_pos", "tenant_id", "pos_customer_id"),
        Index("ix_customer_links_pos_any_tenant", "pos_customer_id"),  # the console's search by POS id
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    shopify_customer_id: Mapped[str] = mapped_column(String(64))
    pos_customer_id: Mapped[str] = mapped_column(String(64))
    pos_status: Mapped[str] = mapped_column(String(16), default=PosStatus.ACTIVE.value)
    pos_fingerprint: Mapped[str | None] = mapped_column(String(64))  # what possync last wrote to the POS
    shopify_fingerprint: Mapped[str | None] = mapped_column(String(64))  # ... and to Shopify
    # The Shopify side possync last synced to the POS (the desired POS customer): an unchanged one needs
    # no POS request at all.
    synced_fingerprint: Mapped[str | None] = mapped_column(String(64))
    # Linked although its email contradicts the Shopify customer's (`conflicting_match: link`, rule 10):
    # its email, phone and names are never overwritten, and it is never pushed to that Shopify account.
    contradicted: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class NearMatch(Base):
    """A record that one key found and another contradicted (rule 10), kept for the operator to review."""

    __tablename__ = "near_matches"
    __table_args__ = (UniqueConstraint("tenant_id", "direction", "shopify_customer_id", "pos_customer_id",
                                       name="uq_near_matches_pair"),
                      Index("ix_near_matches_job_id", "job_id"))

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(24))  # the sync that met it: shopify_to_pos / pos_to_shopify
    shopify_customer_id: Mapped[str] = mapped_column(String(64))  # the Shopify side (the one searched for, or found)
    pos_customer_id: Mapped[str] = mapped_column(String(64))
    matched_on: Mapped[str] = mapped_column(String(16))
    differs: Mapped[str] = mapped_column(String(16))
    decision: Mapped[str] = mapped_column(String(16))  # new / update / link, as the tenant's setting said
    job_id: Mapped[int | None] = mapped_column(ForeignKey("sync_jobs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PosIndexEntry(Base):
    """possync's own index of a tenant's POS customers (SPEC rule 9): matching reads it first."""

    __tablename__ = "pos_index"
    __table_args__ = (
        UniqueConstraint("tenant_id", "pos_customer_id"),
        Index("ix_pos_index_email", "tenant_id", "email_key"),
        Index("ix_pos_index_phone", "tenant_id", "phone_key"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    pos_customer_id: Mapped[str] = mapped_column(String(64))
    # Orders candidates by age so "the oldest record" wins deterministically (rule 11).
    age_key: Mapped[str] = mapped_column(String(64))
    email_key: Mapped[str | None] = mapped_column(String(320))
    phone_key: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=PosStatus.ACTIVE.value)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The whole record as the import or the change poll read it (`pos_index.index_row`), where an update
    # can start from it; None: read the customer by id first. Any other write of the row clears it.
    reading: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class InboundEvent(Base):
    """One webhook delivery exactly as received; stored before it is acknowledged."""

    __tablename__ = "inbound_events"
    __table_args__ = (
        UniqueConstraint("source", "webhook_id"),
        # One row per sender event and topic: a signed body replayed under a new webhook id (or a second
        # subscription's delivery of the same action) is a duplicate. NULLs never collide.
        Index("ux_inbound_events_sender_event", "tenant_id", "source", "topic", "sender_event_id", unique=True),
        Index("ix_inbound_events_status", "status", "received_at"),
        # At most one pending X-Series hint per customer: a second one while it waits is a duplicate.
        Index("ux_inbound_events_pending_hint", "tenant_id", "source", "hint_subject", unique=True,
              postgresql_where=text(PENDING_HINT), sqlite_where=text(PENDING_HINT)),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16), default="shopify")
    webhook_id: Mapped[str] = mapped_column(String(128))
    sender_event_id: Mapped[str | None] = mapped_column(String(128))  # X-Shopify-Event-Id, when sent
    hint_subject: Mapped[str | None] = mapped_column(String(64))  # the customer an X-Series hint names
    topic: Mapped[str] = mapped_column(String(128))
    headers: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default=EventStatus.RECEIVED.value)
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    enqueued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SyncJob(Base):
    """One customer sync: which step it is at, its status, and what each step found."""

    __tablename__ = "sync_jobs"
    __table_args__ = (
        Index("ix_sync_jobs_status", "status", "updated_at"),
        Index("ix_sync_jobs_tenant_status", "tenant_id", "status"),
        Index("ix_sync_jobs_subject", "tenant_id", "subject"),
        # The operator console's pages (migration 0011; PostgreSQL also indexes the email and phone a job read).
        # Today's syncs by outcome read from the index alone.
        Index("ix_sync_jobs_tenant_finished", "tenant_id", "finished_at", "status", "outcome"),
        Index("ix_sync_jobs_failed_newest", "id", postgresql_where=text("status = 'failed'"),
              sqlite_where=text("status = 'failed'")),
        Index("ix_sync_jobs_failed", "tenant_id", "last_error_class", "id",
              postgresql_where=text("status = 'failed'"), sqlite_where=text("status = 'failed'")),
        Index("ix_sync_jobs_ambiguous", "tenant_id", "id", postgresql_where=text("ambiguous IS true"),
              sqlite_where=text("ambiguous IS true")),
        Index("ix_sync_jobs_ambiguous_newest", "id", postgresql_where=text("ambiguous IS true"),
              sqlite_where=text("ambiguous IS true")),
        Index("ix_sync_jobs_subject_any_tenant", "subject"),
        Index("ix_sync_jobs_event_id", "event_id"),  # the SET NULL when `possync prune` deletes an event
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_events.id", ondelete="SET NULL"))
    direction: Mapped[str] = mapped_column(String(24), default="shopify_to_pos")
    subject: Mapped[str | None] = mapped_column(String(64))  # Shopify (or POS) customer id when known
    step: Mapped[str] = mapped_column(String(48))
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_class: Mapped[str | None] = mapped_column(String(64))
    ambiguous: Mapped[bool] = mapped_column(Boolean, default=False)
    outcome: Mapped[str | None] = mapped_column(String(24))  # created / updated / unchanged / skipped ...
    context: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    attempts_log: Mapped[list[SyncAttempt]] = relationship(
        back_populates="job", cascade="all, delete-orphan", order_by="SyncAttempt.id"
    )


class SyncAttempt(Base):
    """One try of one step: for audit, status and the latency figures."""

    __tablename__ = "sync_attempts"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("sync_jobs.id", ondelete="CASCADE"), index=True)
    step: Mapped[str] = mapped_column(String(48))
    outcome: Mapped[str] = mapped_column(String(16))  # ok / retry / rate_limited / fatal
    http_status: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float | None]
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    job: Mapped[SyncJob] = relationship(back_populates="attempts_log")


class PollCursor(Base):
    """Where the POS change poll of a tenant got to; written only after the page's work is committed."""

    __tablename__ = "poll_cursors"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(Text)  # opaque to possync; bounded by each adapter
    last_polled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)


class PosImport(Base):
    """The one-time import of a tenant's POS customers into `pos_index` (SPEC rule 34).

    `cursor` is the adapter's change cursor after the last committed page, committed with that page's
    index rows, so a crash resumes after it. POS creates wait until `status` is complete.
    """

    __tablename__ = "pos_imports"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    # The POS account imported (kind, address, account): applying another account starts again.
    pos_account: Mapped[str | None] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16), default=ImportStatus.PENDING.value)
    cursor: Mapped[str | None] = mapped_column(Text)
    pages_read: Mapped[int] = mapped_column(Integer, default=0)
    customers_read: Mapped[int] = mapped_column(Integer, default=0)
    vendor_total: Mapped[int | None] = mapped_column(Integer)  # None: the vendor has no count
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)


class ShipStationRecord(Base):
    """A tenant's ShipStation customer as last read (SPEC rule 46), with the keys that link it.

    `shopify_customer_id`: the username of its Shopify-store entry, or a manual username that is a
    Shopify id (a row possync exported); email and phone keys link it to Shopify and POS customers the
    way matching does; `address_key` groups duplicates (rule 49). `record` is what the export fills from.
    """

    __tablename__ = "shipstation_customers"
    __table_args__ = (
        UniqueConstraint("tenant_id", "customer_id"),
        Index("ix_shipstation_customers_shopify", "tenant_id", "shopify_customer_id"),
        Index("ix_shipstation_customers_username", "tenant_id", "manual_username"),
        Index("ix_shipstation_customers_email", "tenant_id", "email_key"),
        Index("ix_shipstation_customers_address", "tenant_id", "address_key"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    customer_id: Mapped[str] = mapped_column(String(32))
    shopify_customer_id: Mapped[str | None] = mapped_column(String(64))
    manual_username: Mapped[str | None] = mapped_column(String(320))
    store_imported: Mapped[bool] = mapped_column(Boolean, default=False)
    email_key: Mapped[str | None] = mapped_column(String(320))
    phone_key: Mapped[str | None] = mapped_column(String(32))
    address_key: Mapped[str | None] = mapped_column(String(512))
    modify_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    record: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    read_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class ShipStationRead(Base):
    """Where reading a tenant's ShipStation customers got to: the newest modify date already read."""

    __tablename__ = "shipstation_reads"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    modified_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # None: a full read next
    tags: Mapped[list[Any]] = mapped_column(JSONType, default=list)  # the account's tags at the last read
    last_read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    customers_read: Mapped[int] = mapped_column(Integer, default=0)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
class CrmLink(Base):
    """Shopify customer id <-> CRM contact id, with the fingerprint of what possync last wrote (rule 45)."""

    __tablename__ = "crm_links"
    __table_args__ = (UniqueConstraint("tenant_id", "shopify_customer_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    shopify_customer_id: Mapped[str] = mapped_column(String(64))
    contact_id: Mapped[str] = mapped_column(String(64))
    written_fingerprint: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class CrmState(Base):
    """Per tenant: the cached connect check (rule 39) and the backfill's progress (rule 40).

    `fields` holds what the check found (the `cf_` API names, lifecycle and status ids) and `missing`
    what it could not create (label and type); `backfill_cursor` is the Shopify page cursor after the
    last committed page, so a crashed backfill resumes there.
    """

    __tablename__ = "crm_state"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    fields: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    missing: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    check_error: Mapped[str | None] = mapped_column(Text)
    backfill_status: Mapped[str | None] = mapped_column(String(16))  # running / complete / failed
    backfill_cursor: Mapped[str | None] = mapped_column(Text)
    backfill_done: Mapped[int] = mapped_column(Integer, default=0)
    backfill_total: Mapped[int | None] = mapped_column(Integer)
    backfill_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    backfill_finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    backfill_error: Mapped[str | None] = mapped_column(Text)
class ConsoleAction(Base):
    """What an operator did in the console (a replay, a relink, a reveal of personal data): who, when, on what."""

    __tablename__ = "console_actions"
    __table_args__ = (Index("ix_console_actions_customer", "tenant_id", "customer", "at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(255))  # the basic-auth user
    action: Mapped[str] = mapped_column(String(32))
    tenant_id: Mapped[int | None] = mapped_column(IdType)  # no foreign key: the record outlives the tenant
    customer: Mapped[str | None] = mapped_column(String(64))  # the Shopify customer id acted on, when one
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
class ShopifyDuplicateScan(Base):
    """A tenant's last search for Shopify customers that are one person (SPEC rule 51), with Shopify's merge
    preview of each group: what the console lists, so a page never calls Shopify (`possync.tasks.duplicate_scan`)."""

    __tablename__ = "shopify_duplicate_scans"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # queued / running / done / failed
    groups: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)  # `DuplicateGroup.to_json`s
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    scanned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # when `groups` were found
    error: Mapped[str | None] = mapped_column(Text)


class HistoryCount(Base):
    """How many jobs (`kind` job) or events (`kind` event) have each key, past retention included.

    Maintained on PostgreSQL by triggers (migration 0010) through `HistoryCountDelta`, so `/metrics` and
    `possync status` read a table the size of the key space, not of the history (`possync.models.counts`).
    """

    __tablename__ = "history_counts"

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(IdType, primary_key=True)
    direction: Mapped[str] = mapped_column(String(24), primary_key=True)  # '' for events
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(24), primary_key=True)  # '' for none
    ambiguous: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)


class HistoryCountDelta(Base):
    """A change to a `HistoryCount`, appended in the transaction that made it; folded in by beat."""

    __tablename__ = "history_count_deltas"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    tenant_id: Mapped[int] = mapped_column(IdType)
    direction: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(24))
    ambiguous: Mapped[bool] = mapped_column(Boolean)
    n: Mapped[int] = mapped_column(BigInteger)
