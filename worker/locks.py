"""Per-customer locks so concurrent events for one customer never create two POS customers (rule 33).

Events about the same customer may name it by Shopify id, email or phone; the upsert holds a lock on
each of those keys. All of a job's keys are taken in one atomic script, all or none, so two jobs
never deadlock and a job that finds one key busy holds nothing while it waits. Each key gets the
job's random token and a timeout (a killed worker cannot hold a lock forever), and release deletes
only keys that still carry that token, as redis-py's `Lock` does for one key; one round trip each way
instead of one per key (a sync takes three keys: six round trips became two).

A holder renews its locks while it works (`possync.worker.heartbeat`): a vendor may take 25 s per request and
a Heartland create is three of them, longer than any fixed timeout worth waiting out after a crash.
The timeout is therefore short, and only a dead holder's locks lapse, `LOCK_TIMEOUT_SECONDS` after
its last renewal.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from redis.commands.core import Script

from possync.worker.heartbeat import Heartbeat, heartbeat

LOCK_TIMEOUT_SECONDS = 20
RENEW_EVERY_SECONDS = 5.0  # several renewals per timeout, so one slow Redis answer does not lose a lock

_ACQUIRE = Path(__file__).with_name("locks_acquire.lua").read_text()
_RELEASE = Path(__file__).with_name("locks_release.lua").read_text()
_EXTEND = Path(__file__).with_name("locks_extend.lua").read_text()


@functools.lru_cache(maxsize=8)
def _scripts(client: redis.Redis) -> tuple[Script, Script, Script]:
    """The scripts registered once per client (as the limiter does), not hashed again per sync."""
    return client.register_script(_ACQUIRE), client.register_script(_RELEASE), client.register_script(_EXTEND)


class LockBusyError(Exception):
    """Another job holds this customer's lock; try again shortly (not a failure)."""


@contextmanager
def customer_locks(client: redis.Redis, prefix: str, tenant: str, keys: Iterable[str], *,
                   timeout: float = LOCK_TIMEOUT_SECONDS, renew_every: float = RENEW_EVERY_SECONDS
                   ) -> Iterator[Heartbeat | None]:
    """Hold the locks for the block, renewed every `renew_every` s; yields the renewing heartbeat."""
    names = sorted({f"{prefix}lock:{tenant}:{key}" for key in keys if key})
    if not names:
        yield None
        return
    token = uuid.uuid4().hex
    acquire, release, extend = _scripts(client)
    timeout_ms = max(1, round(timeout * 1000))
    busy = int(acquire(keys=names, args=[token, timeout_ms]))
    if busy:
        raise LockBusyError(f"customer lock {names[busy - 1].rsplit(':', 2)[-2]} is held by another job")

    def renew() -> bool:
        return int(extend(keys=names, args=[token, timeout_ms])) == len(names)

    try:
        with heartbeat(renew, renew_every, "customer locks") as beat:
            yield beat
    finally:
        # Keys that expired while we worked (or were taken over since) are left alone.
        release(keys=names, args=[token])
