"""Onboarding through the real stack (SPEC rule 34): a real worker, real Redis and PostgreSQL, the fakes, no beat.

`possync tenant apply` hands the import to the workers by itself; a create waits while the import is
pending (no attempt charged, no POS write) and proceeds once it is complete, and a POS customer whose
email was keyed with stray blanks is linked through the index instead of being created twice.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

from sqlalchemy import func, select

from possync.adapters.shopify.fake import FakeShopify
from possync.adapters.shopify.webhooks import customer_payload, order_payload
from possync.models.db import session_scope
from possync.models.tables import ImportStatus, JobStatus, PosImport, PosIndexEntry, SyncJob, Tenant
from possync.tasks import onboarding
from tests.e2e.harness import SHOPIFY_TOKEN, Shop, make_pos_fake, tenant_file, wait_for
from tests.entry.cli.test_commands import possync

ADDRESS = {"address1": "150 Elgin St", "city": "Ottawa", "provinceCode": "ON", "zip": "K2P 1L4", "countryCode": "CA"}


def import_state(db_url: str, tenant_id: int) -> PosImport | None:
    with session_scope(db_url) as session:
        return session.get(PosImport, tenant_id)


def tenant_id_of(db_url: str, name: str) -> int:
    with session_scope(db_url) as session:
        return session.scalars(select(Tenant.id).where(Tenant.name == name)).one()


def test_apply_starts_the_import_by_itself_with_a_worker_and_no_beat(  # type: ignore[no-untyped-def]
        db_url: str, e2e_env: dict[str, str], worker_process, tmp_path: Path) -> None:
    shopify, pos = FakeShopify(SHOPIFY_TOKEN, maximum_available=None), make_pos_fake("lightspeed-r")
    shopify.start()
    pos.start()
    try:
        ids = pos.seed({"first_name": f"F{i}", "email": f" Customer{i}@Example.com ", "time_stamp": 1_780_000_000 + i}
                       for i in range(150))
        name = f"o{uuid.uuid4().hex[:8]}"
        (tmp_path / "tenant.json").write_text(json.dumps(tenant_file(name, "lightspeed-r", shopify.url, pos, "s")))
        applied = possync("tenant", "apply", str(tmp_path / "tenant.json"), env=e2e_env)
        assert applied.returncode == 0, applied.stderr
        assert "POS import handed to the workers" in applied.stdout
        tenant_id = tenant_id_of(db_url, name)
        done = wait_for(lambda: (s := import_state(db_url, tenant_id)) and s.status == ImportStatus.COMPLETE.value
                        and s, timeout=60, what="the import, run by the worker")
        assert done.customers_read == 150 and done.vendor_total == 150
        with session_scope(db_url) as session:
            indexed = set(session.scalars(select(PosIndexEntry.pos_customer_id)
                                          .where(PosIndexEntry.tenant_id == tenant_id)))
            assert indexed == {str(i) for i in ids}
            assert session.scalar(select(func.count()).select_from(SyncJob)) == 0  # nothing pushed to Shopify
        assert {r.method for r in pos.vendor_requests()} == {"GET"}
        again = possync("tenant", "apply", str(tmp_path / "tenant.json"), env=e2e_env)
        assert again.stdout.strip() == f"tenant {name}: unchanged"  # the same file: no second import
    finally:
        shopify.stop()
        pos.stop()


def test_a_create_waits_for_the_import_then_proceeds_without_a_duplicate(make_shop, db_url: str) -> None:  # type: ignore[no-untyped-def]
    # X-Series: its searches compare stored text, so only possync's index can find Jane as she was keyed.
    shop: Shop = make_shop("lightspeed-x")
    [jane_pos] = shop.pos.seed([{"first_name": "Jane", "last_name": "Doe", "email": "  Jane.Doe@Example.com ",
                                 "phone": "(613) 230-4411"}])
    tenant_id = tenant_id_of(db_url, shop.name)
    with session_scope(db_url) as session:  # what `tenant apply` does for a new tenant
        onboarding.mark_for_import(session, session.get_one(Tenant, tenant_id), changed=True)

    with onboarding.import_lock(tenant_id):  # the import is "running" elsewhere and slow: it holds the lock
        jane = shop.shopify.add_customer("Jane", "Doe", "jane.doe@example.com", "+1 613-230-4411", address=ADDRESS)
        nia = shop.shopify.add_customer("Nia", "Park", "nia@example.com", "+1 613-230-4422", address=ADDRESS)
        for customer_id, email in ((jane, "jane.doe@example.com"), (nia, "nia@example.com")):
            assert shop.send("orders/create", order_payload(customer=customer_payload(customer_id, email))).ok
        waiting = wait_for(lambda: _jobs_waiting(db_url, 2), what="both jobs waiting for the import")
        time.sleep(3)  # a wake-up or two later: still waiting, nothing written, no attempt charged
        still = _jobs_waiting(db_url, 2)
        assert still and [j.id for j in still] == [j.id for j in waiting]
        assert all(j.attempts == 0 and j.step == "upsert_pos_customer" for j in still)
        assert shop.pos.count_requests("POST") == 0 and shop.pos.count_requests("PUT") == 0

    # The lock is free: the next wake-up of a waiting job hands the import to the worker, then creates.
    done = wait_for(lambda: _finished(db_url, 2), timeout=60, what="both jobs after the import")
    assert all(j.status == JobStatus.SUCCEEDED.value for j in done), [j.last_error for j in done]
    outcomes = {j.subject: j.outcome for j in done}
    assert outcomes[nia] == "created" and outcomes[jane] in ("updated", "unchanged")
    assert import_state(db_url, tenant_id).status == ImportStatus.COMPLETE.value
    assert shop.pos.count_requests("POST") == 1  # Nia only: Jane was in the POS, with blanks in her email
    customers = shop.pos.state()["customers"]
    assert len(customers) == 2 and sum("jane.doe" in str(c).lower() for c in customers) == 1
    with session_scope(db_url) as session:
        from possync.models.tables import CustomerLink

        link = session.scalar(select(CustomerLink).where(CustomerLink.shopify_customer_id == jane))
        assert link is not None and link.pos_customer_id == str(jane_pos)


def _jobs_waiting(db_url: str, count: int) -> list[SyncJob] | None:
    with session_scope(db_url) as session:
        jobs = list(session.scalars(select(SyncJob).where(SyncJob.status == JobStatus.PENDING.value,
                                                          SyncJob.step == "upsert_pos_customer",
                                                          SyncJob.next_run_at.is_not(None)).order_by(SyncJob.id)))
    return jobs if len(jobs) == count else None


def _finished(db_url: str, count: int) -> list[SyncJob] | None:
    with session_scope(db_url) as session:
        jobs = list(session.scalars(select(SyncJob).where(SyncJob.status.in_(
            [JobStatus.SUCCEEDED.value, JobStatus.FAILED.value])).order_by(SyncJob.id)))
    return jobs if len(jobs) >= count else None
