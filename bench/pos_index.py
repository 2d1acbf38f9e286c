"""POS index lookups on PostgreSQL with one tenant of 1,000,000 indexed customers (SPEC rule 9).

Creates its own database `possync_bench_<random>`, migrates it, bulk-loads the index in SQL
(`generate_series`, then ANALYZE), measures email and phone lookups through `possync.models.pos_index.lookup`
(the ORM path the matcher uses, one query per lookup) and a page upsert through `index_customers`,
then drops the database. Every 50th customer is archived and phones are shared by pairs, so lookups
see the status filter and multi-row results they meet in real shops.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bench.table import Result, percentile, render
from possync.adapters.base import PosCustomer
from possync.models.customer import Customer
from possync.models.pos_index import index_customers, lookup
from possync.models.tables import PosStatus
from testing.stack import create_database, drop_database

CUSTOMERS = 1_000_000
LOOKUPS = 2_000
P99_TARGET_MS = 5.0
PAGE = 100

LOAD_SQL = """
INSERT INTO pos_index (tenant_id, pos_customer_id, age_key, email_key, phone_key, status, last_seen_at)
SELECT :tenant, g::text, lpad(g::text, 20, '0'), 'customer' || g || '@example.com',
       (2000000000 + g / 2)::text,
       CASE WHEN g % 50 = 0 THEN 'archived' ELSE 'active' END, now()
FROM generate_series(1, :n) AS g
"""


def _load(engine: sa.Engine) -> tuple[int, float]:
    start = time.perf_counter()
    with engine.begin() as conn:
        tenant = conn.execute(
            sa.text(
                "INSERT INTO tenants (name, account_name, shop_domain, pos_kind, shopify_config, pos_config, settings,"
                " shopify_secrets, pos_secrets, created_at, updated_at) VALUES ('bench', 'bench',"
                " 'bench.myshopify.com', 'lightspeed-r', '{}', '{}', '{}', 'x', 'x', now(), now()) RETURNING id"
            )
        ).scalar_one()
        conn.execute(sa.text(LOAD_SQL), {"tenant": tenant, "n": CUSTOMERS})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE pos_index"))
        # Flush the load's dirty pages now, so a background checkpoint does not land in the measurement.
        conn.execute(sa.text("CHECKPOINT"))
    return tenant, time.perf_counter() - start


def _timed_lookups(session: Session, tenant: int, kind: str, rng: random.Random) -> tuple[list[float], int]:
    timings, found = [], 0
    for _ in range(LOOKUPS):
        g = rng.randint(1, CUSTOMERS)
        key = {"email_key": f"customer{g}@example.com"} if kind == "email" else {"phone_key": str(2000000000 + g // 2)}
        start = time.perf_counter()
        rows = lookup(session, tenant, **key)
        timings.append((time.perf_counter() - start) * 1000.0)
        found += bool(rows)
    return timings, found


def _upsert_pages(session: Session, tenant: int, rng: random.Random, pages: int = 20) -> float:
    now = datetime.now(UTC)
    start = time.perf_counter()
    for _ in range(pages):
        batch = []
        for _ in range(PAGE):
            g = rng.randint(1, CUSTOMERS + 100_000)  # mostly updates, some new customers
            batch.append(
                PosCustomer(str(g), PosStatus.ACTIVE, Customer(email=f"Customer{g}@Example.com",
                                                                phone=f"+1 (613) 555-{g % 10000:04d}"), created_at=now)
            )
        index_customers(session, tenant, batch, "US")
        session.commit()
    return pages * PAGE / (time.perf_counter() - start)


def run() -> list[Result]:
    name, url = create_database()  # migrated
    engine = sa.create_engine(url)
    try:
        tenant, load_seconds = _load(engine)
        rng = random.Random(11)
        results = []
        with Session(engine) as session:
            _timed_lookups(session, tenant, "email", rng)  # warm the connection and the cache (not measured)
            for kind in ("email", "phone"):
                timings, found = _timed_lookups(session, tenant, kind, rng)
                p99 = percentile(timings, 99)
                results.append(
                    Result(
                        name=f"pos index: {kind} lookup p99 (1M customers)",
                        value=p99,
                        unit="ms",
                        target=f"< {P99_TARGET_MS:g} ms",
                        passed=p99 < P99_TARGET_MS,
                        note=f"{LOOKUPS} lookups via lookup(); p50 {percentile(timings, 50):.2f} ms; "
                        f"{found} with an active match; load {load_seconds:.0f} s",
                    )
                )
            rate = _upsert_pages(session, tenant, rng)
        results.append(
            Result(
                name="pos index: upsert pages of 100",
                value=rate,
                unit="customers/s",
                target="(informational)",
                passed=True,
                note="index_customers(): one INSERT ... ON CONFLICT per page, committed per page",
            )
        )
        return results
    finally:
        engine.dispose()
        drop_database(name)


if __name__ == "__main__":
    print(render(run()))
