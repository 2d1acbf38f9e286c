"""The latest reading of a POS customer any job took or wrote, shared for a few seconds (issue #14).

Several orders of one customer arrive together, and each job used to read the customer again. A
reading kept here is used as the job's own reading taken at that moment: the same catch-up since its
time guards a write on it (rule 37), so sharing it changes what a job costs, never what it may rely on.
Only a newer reading replaces an older one (a slow read must not hide a write made after it).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from possync.adapters.base import PosCustomer
from possync.models.customer import Customer
from possync.models.tables import PosStatus
from possync.tasks.rules.echo import pos_fingerprint
from possync.worker.runtime import redis_client
from possync.worker.settings import get_settings

KEPT_SECONDS = 30  # long enough for a burst of one customer's orders; a reading is only ever a starting point
CLAIM_SECONDS = 30  # how long the first job's claim to read a customer stands (it only saves requests)

# Set the reading only when it is newer than the one kept: KEYS[1]; ARGV: taken at (epoch s), JSON, seconds kept.
_SET_IF_NEWER = """
local at = tonumber(redis.call('HGET', KEYS[1], 'at') or '0')
if tonumber(ARGV[1]) <= at then return 0 end
redis.call('HSET', KEYS[1], 'at', ARGV[1], 'reading', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


@dataclass(frozen=True)
class Reading:
    pos: PosCustomer
    at: float  # when it was taken (epoch s): a write after it was made relies on a catch-up since then


def _key(tenant_id: int, pos_id: str) -> str:
    return f"{get_settings().redis_key_prefix}pos-reading:{tenant_id}:{pos_id}"


def remember(tenant_id: int, pos: PosCustomer, at: float) -> None:
    """Keep `pos`, read from the POS (or as written to it) at `at`, unless a newer reading is kept."""
    body = json.dumps(pos.to_json())
    redis_client().eval(_SET_IF_NEWER, 1, _key(tenant_id, pos.pos_id), repr(at), body, KEPT_SECONDS)


def recall(tenant_id: int, pos_id: str) -> Reading | None:
    """The latest kept reading of the POS customer, if any."""
    at, raw = redis_client().hmget(_key(tenant_id, pos_id), "at", "reading")
    if not at or not raw:
        return None
    return Reading(PosCustomer.from_json(json.loads(raw)), float(at))


def forget_changed(tenant_id: int, seen: Iterable[PosCustomer]) -> None:
    """Drop the kept readings the change poll contradicts (a merchant's edit, an archive): the next job
    reads such a record again instead of starting from a reading that misses the change. A poll seeing
    what possync itself wrote leaves the reading kept."""
    seen = list(seen)
    if not seen:
        return
    client = redis_client()
    keys = [_key(tenant_id, pos.pos_id) for pos in seen]
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.hget(key, "reading")
    stale = [key for key, raw, pos in zip(keys, pipe.execute(), seen, strict=True) if raw and _contradicts(raw, pos)]
    if stale:
        client.delete(*stale)


def _contradicts(raw: bytes, pos: PosCustomer) -> bool:
    kept = json.loads(raw)
    return (kept["status"] != PosStatus(pos.status).value
            or pos_fingerprint(Customer.from_json(kept["customer"])) != pos_fingerprint(pos.customer))


def claim(tenant_id: int, shopify_id: str, job_id: int) -> bool:
    """True for the first job of this customer to ask (and for it again); False while another job holds it."""
    client = redis_client()
    key = f"{get_settings().redis_key_prefix}pos-reader:{tenant_id}:{shopify_id}"
    if client.set(key, str(job_id), nx=True, ex=CLAIM_SECONDS):
        return True
    holder = client.get(key)
    return holder is not None and (holder.decode() if isinstance(holder, bytes) else holder) == str(job_id)
