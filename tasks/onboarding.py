"""Onboarding a tenant: every POS customer into possync's index before its first create (SPEC rule 34).

A shop connecting possync already has thousands of POS customers. Matching asks possync's index
first (rule 9), and only the index can match an email typed with stray blanks or a phone keyed in at
a till as `(613) 555-1212`; vendor searches compare stored text. So the index must hold the whole
base before possync creates anyone: the import walks the adapter's change feed from the beginning
(archived and deleted customers included), one page per transaction together with its own cursor,
so a crash resumes after the last committed page. It writes nothing to any vendor and makes no
POS -> Shopify jobs; when it completes, the change poll starts where it ended.

Who runs it: `possync tenant apply` marks it pending and hands it to the workers (Redis configured);
beat resumes one that is pending or was interrupted; a job that must wait for it sends it too (a
tenant served by `serve` + `worker` alone). Without Redis, `possync tenant import` runs it here.
One runs at a time per tenant (a Redis lock, renewed every page).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any, TypeVar

import redis
from redis.lock import Lock
from sqlalchemy import delete
from sqlalchemy.orm import Session

from possync.adapters.base import PosAdapter
from possync.adapters.errors import FatalError, RateLimitedError, RetryableError
from possync.models import pos_index
from possync.models.tables import ImportStatus, PollCursor, PosImport, PosIndexEntry, Tenant
from possync.models.tenants import TenantContext, context_by_name, get_tenant, load_context
from possync.tasks import waiting
from possync.tasks.clients import held_turn as holding_turn
from possync.tasks.clients import pos_adapter_for
from possync.tasks.runner import WaitForImportError, backoff
from possync.worker.celery_app import MAX_COUNTDOWN_SECONDS, app
from possync.worker.logging import bind_job, get_logger
from possync.worker.routing import POLL_QUEUE
from possync.worker.runtime import db_session, redis_client
from possync.worker.settings import get_settings

log = get_logger("possync.onboarding")
T = TypeVar("T")

LOCK_TIMEOUT_SECONDS = 300  # renewed every page and every wait: only a dead importer lets it lapse
QUEUED_TTL_SECONDS = 300  # "a message is on its way": beat and jobs send no second one meanwhile
CREATE_WAIT_MIN_SECONDS = 2.0  # how long a create waits before it looks again
CREATE_WAIT_MAX_SECONDS = 60.0
CLI_TRANSIENT_TRIES = 8
SETTLE_WAIT_SECONDS = 2.0


class ImportBusyError(Exception):
    """Another process is importing this tenant now."""


class ChangesSettling(RateLimitedError):  # noqa: N818 - a wait, as a rate limit is
    """The POS's newest changes are too fresh for its cursor to pass yet (adapters/change_cursor.py)."""

    def __init__(self) -> None:
        super().__init__("the newest POS changes are still settling", retry_after=SETTLE_WAIT_SECONDS)


def now() -> datetime:
    return datetime.now(UTC)


# --- the import's state ----------------------------------------------------------------------------------
def pos_account(pos_kind: str, pos_config: Mapping[str, Any]) -> str:
    """Which POS account a tenant points at: another one means another customer base to import."""
    account = pos_config.get("account_id") or pos_config.get("domain_prefix") or pos_config.get("subdomain") or ""
    return f"{pos_kind}|{pos_config.get('base_url') or ''}|{account}"


def mark_for_import(session: Session, tenant: Tenant, changed: bool) -> bool:
    """On `tenant apply`: a new tenant, or one whose POS account changed, is to be imported; True if it must be.

    A changed POS account also drops the index rows and the poll cursor of the old one. A failed import
    is tried again when the file changed (new credentials, most often). Not committed: the caller's
    transaction holds the tenant's own change.
    """
    if not tenant.pos_kind:  # a CRM-only tenant has no POS customers to import
        return False
    account = pos_account(tenant.pos_kind, tenant.pos_config or {})
    row = session.get(PosImport, tenant.id)
    if row is not None and row.pos_account in (None, account):
        row.pos_account = account  # a row made by the migration learns its account
        if row.status == ImportStatus.FAILED.value and changed:
            row.status, row.last_error = ImportStatus.PENDING.value, None
        return row.status != ImportStatus.COMPLETE.value
    if row is None:
        row = PosImport(tenant_id=tenant.id)
        session.add(row)
    else:  # another POS account: what the index and the poll knew is about someone else's customers
        session.execute(delete(PosIndexEntry).where(PosIndexEntry.tenant_id == tenant.id))
        session.execute(delete(PollCursor).where(PollCursor.tenant_id == tenant.id))
    restart(row)
    row.pos_account = account
    return True


def restart(row: PosImport) -> None:
    """Back to the start: pending, no cursor, nothing read."""
    row.status = ImportStatus.PENDING.value
    row.cursor, row.vendor_total, row.last_error = None, None, None
    row.pages_read = row.customers_read = 0
    row.started_at = row.finished_at = None


def progress(row: PosImport | None) -> dict[str, Any]:
    """What `possync status` shows of a tenant's import (`null` status: the tenant was never marked)."""
    if row is None:
        return {"status": None, "read": 0, "total": None, "pages": 0, "started_at": None, "finished_at": None,
                "error": None}
    return {"status": row.status, "read": row.customers_read, "total": row.vendor_total, "pages": row.pages_read,
            "started_at": _iso(row.started_at), "finished_at": _iso(row.finished_at), "error": row.last_error}


def import_state(tenant_name: str) -> PosImport | None:
    """A tenant's import by tenant name (None: never marked); `LookupError` for an unknown tenant."""
    with db_session() as session:
        tenant = get_tenant(session, tenant_name)
        if tenant is None:
            raise LookupError(f"no tenant named {tenant_name!r}")
        row = session.get(PosImport, tenant.id)
        if row is not None:
            session.expunge(row)
        return row


def describe_progress(row: PosImport) -> str:
    total = f" of {row.vendor_total:,}" if row.vendor_total is not None else ""
    return f"{row.status}, {row.customers_read:,}{total} customers read"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# --- running it ---------------------------------------------------------------------------------------------
Wait = Callable[[RateLimitedError], None]
PageDone = Callable[[PosImport], object]  # its result is not used


def run_import(session: Session, tenant: TenantContext, make_adapter: Callable[[], PosAdapter], *,
               on_wait: Wait, on_page: PageDone = lambda _row: None,
               held_turn: float | None = None) -> PosImport:
    """Import the tenant's POS customers from where the last committed page left off; returns the state.

    `make_adapter` builds an adapter wired to the shared limiter, one per request: only a step's first
    request may be told to wait (`possync.tasks.clients.wire_limiter`), and here each page is a step of its own.
    `on_wait(exc)` waits out a rate limit (sleeps) or raises to give a worker slot back; the next request
    then holds the turn it was given. A permanent vendor error marks the import failed and is raised;
    a transient one is recorded and raised for the caller to retry.
    """
    row = session.get(PosImport, tenant.id)
    if row is None:
        row = PosImport(tenant_id=tenant.id)
        restart(row)
        session.add(row)
    if row.status == ImportStatus.COMPLETE.value:
        return row
    row.status, row.last_error = ImportStatus.RUNNING.value, None
    row.started_at = row.started_at or now()
    session.commit()
    turn = [held_turn]

    def call(request: Callable[[PosAdapter], T]) -> T:
        while True:
            try:
                with holding_turn(turn[0]):
                    answer = request(make_adapter())
                turn[0] = None
                return answer
            except RateLimitedError as exc:  # waiting is not failing
                on_wait(exc)
                turn[0] = exc.turn_at

    try:
        if row.vendor_total is None and row.pages_read == 0:
            row.vendor_total = _count(call)
            session.commit()
        region = tenant.settings.default_phone_region
        while row.status != ImportStatus.COMPLETE.value:
            page, whole = call(lambda adapter: (adapter.changes_since(row.cursor), adapter.change_rows_are_readings))
            if page.has_more and not page.customers and page.next_cursor == row.cursor:
                on_wait(ChangesSettling())  # come back when they have settled, rather than ask again at once
                continue
            # The page's index rows and the import's cursor commit together: resuming never skips a page.
            pos_index.index_customers(session, tenant.id, page.customers, region, whole=whole)
            row.cursor = page.next_cursor or row.cursor
            row.pages_read += 1
            row.customers_read += len(page.customers)
            if not page.has_more:
                _complete(session, row)
            session.commit()
            on_page(row)
    except FatalError as exc:
        session.rollback()
        row.status, row.last_error = ImportStatus.FAILED.value, str(exc)[:2000]
        session.commit()
        raise
    except RetryableError as exc:
        session.rollback()
        row.last_error = str(exc)[:2000]
        session.commit()
        raise
    return row


def _count(call: Callable[[Callable[[PosAdapter], int | None]], int | None]) -> int | None:
    """The vendor's total, for the progress bar only: a vendor that refuses to count is not an error."""
    try:
        return call(lambda adapter: adapter.count_customers())
    except FatalError:
        return None


def _complete(session: Session, row: PosImport) -> None:
    """Done: the change poll starts where the import ended, unless a poll has already run."""
    row.status, row.finished_at = ImportStatus.COMPLETE.value, now()
    cursor = session.get(PollCursor, row.tenant_id)
    if cursor is None:
        session.add(PollCursor(tenant_id=row.tenant_id, cursor=row.cursor))
    elif cursor.cursor is None and cursor.last_polled_at is None:
        cursor.cursor = row.cursor


# --- one at a time per tenant ---------------------------------------------------------------------------
def _key(kind: str, tenant_id: int) -> str:
    return f"{get_settings().redis_key_prefix}import-{kind}:{tenant_id}"


@contextmanager
def import_lock(tenant_id: int) -> Iterator[Lock]:
    lock = redis_client().lock(_key("lock", tenant_id), timeout=LOCK_TIMEOUT_SECONDS)
    if not lock.acquire(blocking=False):
        raise ImportBusyError("an import of this tenant is already running (see possync status)")
    try:
        yield lock
    finally:
        with suppress(redis.exceptions.LockError):  # expired meanwhile: nothing to give back
            lock.release()


def enqueue_import(tenant_id: int) -> bool:
    """Hand the import to the workers unless it is running or a message is already on its way."""
    client = redis_client()
    if client.exists(_key("lock", tenant_id)):
        return False
    if not client.set(_key("queued", tenant_id), "1", nx=True, ex=QUEUED_TTL_SECONDS):
        return False
    import_pos_customers.apply_async(args=[tenant_id], queue=POLL_QUEUE)
    return True


# The imports not complete: beat reads them in the same query as the polls due (`possync.tasks.poll`).
NOT_IMPORTED = PosImport.status != ImportStatus.COMPLETE.value


def resume_imports(waiting: Mapping[int, str]) -> set[int]:
    """Beat: send the imports that are pending or were interrupted, of `waiting` (tenant -> status of each
    import not complete); returns every tenant not yet imported.

    A running import whose lock has lapsed was interrupted (its worker died): it resumes from its
    cursor. A failed one waits for the operator (`tenant apply` with a fix, or `tenant import`).
    """
    for tenant_id, status in waiting.items():
        if status != ImportStatus.FAILED.value:
            enqueue_import(tenant_id)
    return set(waiting)


# --- creates wait ------------------------------------------------------------------------------------------
def read_import(session: Session, tenant_id: int) -> PosImport | None:
    """The tenant's import row, read fresh and detached: the steps hold it for the rest of their run.

    None: a tenant made without `tenant apply` (tests that build tenants directly). It is treated as
    one that predates onboarding: nothing waits for an import, and matching asks the vendor's search.
    """
    row = session.get(PosImport, tenant_id, populate_existing=True)
    if row is not None:
        session.expunge(row)
    return row


def index_complete(row: PosImport | None) -> bool:
    """Whether the tenant's POS index holds its whole POS: its import is complete (rule 34).

    From then on the change poll keeps it whole, and a create first catches it up (rule 36).
    """
    return row is not None and row.status == ImportStatus.COMPLETE.value


def wait_for_import(row: PosImport | None) -> None:
    """Before a POS create: while the tenant's import is not complete, raise `WaitForImportError`.

    The job comes back after a countdown (no worker slot held, no attempt charged). A pending or
    interrupted import is sent to the workers from here too, so a tenant served without beat is imported.
    """
    if row is None or row.status == ImportStatus.COMPLETE.value:
        return
    if row.status != ImportStatus.FAILED.value and get_settings().redis_url:
        enqueue_import(row.tenant_id)
    raise WaitForImportError(f"waiting for the POS import of this tenant ({describe_progress(row)})",
                             _create_wait(row))


def _create_wait(row: PosImport) -> float:
    """Until the import is likely done (from its pace so far), within bounds, with jitter."""
    wait = CREATE_WAIT_MIN_SECONDS
    if row.vendor_total and row.customers_read and row.started_at:
        started = row.started_at if row.started_at.tzinfo else row.started_at.replace(tzinfo=UTC)
        elapsed = (now() - started).total_seconds()
        left = max(0, row.vendor_total - row.customers_read)
        wait = elapsed / row.customers_read * left
    return min(max(wait, CREATE_WAIT_MIN_SECONDS), CREATE_WAIT_MAX_SECONDS) + random.uniform(0, 1.0)


# --- the worker's task -------------------------------------------------------------------------------------
class _GiveSlotBack(Exception):  # noqa: N818 - a control-flow signal
    def __init__(self, exc: RateLimitedError) -> None:
        super().__init__(str(exc))
        self.countdown = exc.countdown(jitter=random.uniform(0, 0.25))
        self.turn_at = exc.turn_at


def _give_slot_back(exc: RateLimitedError) -> None:
    raise _GiveSlotBack(exc)


@app.task(bind=True, name="possync.onboarding.import_pos_customers", max_retries=None)
def import_pos_customers(self, tenant_id: int, held_turn: float | None = None,
                         failures: int = 0) -> None:
    """The import in a worker: a rate-limit wait sends the task again with its turn (the slot is freed)."""
    settings = get_settings()
    client = redis_client()
    client.delete(_key("queued", tenant_id))

    def again(countdown: float, **kwargs: Any) -> Exception:
        client.set(_key("queued", tenant_id), "1", ex=int(countdown) + QUEUED_TTL_SECONDS)
        return self.retry(countdown=min(countdown, MAX_COUNTDOWN_SECONDS),
                          kwargs={"held_turn": None, "failures": 0, **kwargs})

    try:
        with import_lock(tenant_id) as lock, db_session() as session:
            record = session.get(Tenant, tenant_id)
            if record is None:
                return
            tenant = load_context(record, settings.require_secret_key())
            bind_job(tenant=tenant.name, task="import")
            try:
                row = run_import(session, tenant, lambda: pos_adapter_for(tenant), on_wait=_give_slot_back,
                                 on_page=lambda _row: lock.reacquire(), held_turn=held_turn)
                log.info("POS import complete", customers=row.customers_read, pages=row.pages_read)
            except _GiveSlotBack as wait:
                raise again(wait.countdown, held_turn=wait.turn_at) from None
            except RetryableError as exc:
                log.warning("POS import interrupted; retrying", error=str(exc))
                raise again(backoff(failures + 1, settings.retry_backoff_max_seconds), failures=failures + 1) from None
            except FatalError as exc:
                log.warning("POS import failed", error=str(exc))  # recorded with its reason for `possync status`
    except ImportBusyError:
        return


# --- the CLI -----------------------------------------------------------------------------------------------
def import_here(tenant_name: str, *, on_page: PageDone, restart_import: bool = False) -> PosImport:
    """`possync tenant import`: run the tenant's import in this process, waiting out rate limits."""
    settings = get_settings()
    with db_session() as session:
        tenant = context_by_name(session, tenant_name, settings.require_secret_key())
        with import_lock(tenant.id) as lock:
            row = session.get(PosImport, tenant.id)
            if row is None:
                row = PosImport(tenant_id=tenant.id, pos_account=pos_account(tenant.pos_kind, tenant.pos_config))
                session.add(row)
                restart(row)
            elif restart_import:
                restart(row)
            session.commit()

            def sleep(exc: RateLimitedError) -> None:
                waiting.wait_out(exc, renew=lock.reacquire)

            def page_done(done: PosImport) -> None:
                lock.reacquire()
                on_page(done)

            return waiting.patiently(
                lambda: run_import(session, tenant, lambda: pos_adapter_for(tenant), on_wait=sleep, on_page=page_done),
                renew=lock.reacquire, tries=CLI_TRANSIENT_TRIES, backoff_cap=settings.retry_backoff_max_seconds)

