"""The scale bench's own receiver (`bench.scale._receiver`): its deliveries are stored and enqueued as the
receiver does it, so the prune row's latencies are those of the path a real delivery takes."""

from __future__ import annotations

import sqlalchemy as sa

from bench.scale import Scale, _receiver


def test_the_bench_receiver_stores_and_enqueues_each_delivery(db_url: str, secret_key: str,
                                                              redis_prefix: str) -> None:
    engine = sa.create_engine(db_url)
    scale = Scale(db_url, engine, secret_key, jobs=0, say=lambda _text: None, redis_prefix=redis_prefix)
    enqueued, deliver, tenant_id = _receiver(scale)
    for _ in range(3):
        deliver()
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT id FROM inbound_events WHERE tenant_id = :t ORDER BY id"),
                              {"t": tenant_id}).scalars().all()
    engine.dispose()
    assert len(stored) == 3 and enqueued == list(stored)
