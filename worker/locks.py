"""Per-customer locks so concurrent events for one customer never create two POS customers (rule 33).

Events about the same customer may name it by Shopify id, email or phone; the upsert holds a lock on
each of those keys (taken in sorted order, so two jobs never deadlock). Locks are redis-py `Lock`s
(atomic Lua release with a token) with a timeout, so a killed worker cannot hold one forever.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import redis
from redis.lock import Lock

LOCK_TIMEOUT_SECONDS = 60


class LockBusyError(Exception):
    """Another job holds this customer's lock; try again shortly (not a failure)."""


@contextmanager
def customer_locks(client: redis.Redis, prefix: str, tenant: str, keys: Iterable[str]) -> Iterator[None]:
    names = sorted({f"{prefix}lock:{tenant}:{key}" for key in keys if key})
    held: list[Lock] = []
    try:
        for name in names:
            lock = client.lock(name, timeout=LOCK_TIMEOUT_SECONDS, blocking=False)
            if not lock.acquire():
                raise LockBusyError(f"customer lock {name.rsplit(':', 2)[-2]} is held by another job")
            held.append(lock)
        yield
    finally:
        for lock in reversed(held):
            with contextlib.suppress(redis.exceptions.LockError):  # expired while we worked
                lock.release()
