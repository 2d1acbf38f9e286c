"""Per-customer locks against a real Redis: all or none, busy keys, tokens, timeouts, round trips."""

from __future__ import annotations

import pytest
import redis

from possync.worker import locks
from possync.worker.locks import LockBusyError, customer_locks
from possync.worker.runtime import connect_redis


def _held(client: redis.Redis, prefix: str) -> list[str]:
    return sorted(key.decode() for key in client.keys(f"{prefix}lock:*"))


def test_every_key_is_held_inside_and_released_after(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    with customer_locks(redis_client, redis_prefix, "acme", ["shopify:1", "email:a@b.co", "phone:+1613"]):
        assert _held(redis_client, redis_prefix) == [f"{redis_prefix}lock:acme:{k}"
                                                     for k in ("email:a@b.co", "phone:+1613", "shopify:1")]
        ttl = redis_client.pttl(f"{redis_prefix}lock:acme:shopify:1")
        assert 0 < ttl <= locks.LOCK_TIMEOUT_SECONDS * 1000
    assert _held(redis_client, redis_prefix) == []


def test_one_busy_key_takes_none_and_names_the_busy_kind(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    redis_client.set(f"{redis_prefix}lock:acme:phone:+1613", "another-job")
    with pytest.raises(LockBusyError, match="phone"), \
            customer_locks(redis_client, redis_prefix, "acme", ["shopify:1", "email:a@b.co", "phone:+1613"]):
        pytest.fail("the body must not run while a key is busy")
    assert _held(redis_client, redis_prefix) == [f"{redis_prefix}lock:acme:phone:+1613"]  # nothing else taken
    assert redis_client.get(f"{redis_prefix}lock:acme:phone:+1613") == b"another-job"


def test_a_second_job_on_a_shared_key_waits_and_gets_it_after_release(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    with customer_locks(redis_client, redis_prefix, "acme", ["shopify:1", "email:a@b.co"]):
        with pytest.raises(LockBusyError, match="email"), \
                customer_locks(redis_client, redis_prefix, "acme", ["shopify:2", "email:a@b.co"]):
            pass
        with customer_locks(redis_client, redis_prefix, "other-tenant", ["email:a@b.co"]):
            pass  # locks are per tenant
    with customer_locks(redis_client, redis_prefix, "acme", ["shopify:2", "email:a@b.co"]):
        pass


def test_release_leaves_a_lock_that_expired_and_was_taken_over(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    name = f"{redis_prefix}lock:acme:shopify:1"
    with customer_locks(redis_client, redis_prefix, "acme", ["shopify:1", "email:a@b.co"]):
        redis_client.set(name, "the-next-job")  # ours expired mid-step and another job took it
    assert redis_client.get(name) == b"the-next-job"
    assert _held(redis_client, redis_prefix) == [name]


def test_released_when_the_body_raises(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuntimeError), customer_locks(redis_client, redis_prefix, "acme", ["shopify:1"]):
        raise RuntimeError("step failed")
    assert _held(redis_client, redis_prefix) == []


def test_empty_keys_are_ignored_and_no_keys_take_nothing(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    with customer_locks(redis_client, redis_prefix, "acme", ["", "shopify:1", "shopify:1"]):
        assert _held(redis_client, redis_prefix) == [f"{redis_prefix}lock:acme:shopify:1"]
    with customer_locks(redis_client, redis_prefix, "acme", []):
        assert _held(redis_client, redis_prefix) == []


def test_one_round_trip_to_take_and_one_to_release(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    calls: list[tuple[object, ...]] = []
    real = redis_client.execute_command

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(args)
        return real(*args, **kwargs)

    redis_client.execute_command = counting
    with customer_locks(redis_client, redis_prefix, "acme", ["shopify:1", "email:a@b.co", "phone:+1613"]):
        assert len(calls) == 1
    assert len(calls) == 2


def test_locks_held_through_a_failover_are_released_on_the_new_master(sentinel_group, sentinel_settings) -> None:  # type: ignore[no-untyped-def]
    client = connect_redis(sentinel_settings, socket_timeout=5, socket_connect_timeout=3)
    prefix, keys = "failover:", ["shopify:1", "email:a@b.co"]
    with customer_locks(client, prefix, "acme", keys):
        assert client.wait(1, 5000) == 1  # the locks have reached the replica
        new = sentinel_group.kill_master()
        with new.client() as direct:
            assert len(_held(direct, prefix)) == 2  # still held for every other job
            direct.script_flush()  # certain NOSCRIPT for the release
        with pytest.raises(LockBusyError), customer_locks(connect_redis(sentinel_settings), prefix, "acme", keys):
            pytest.fail("taken twice")
    with new.client() as direct:
        assert _held(direct, prefix) == []
    with customer_locks(client, prefix, "acme", keys):
        pass


def test_a_holder_that_outlives_the_timeout_keeps_its_locks(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    from tests.e2e.harness import wait_for

    with customer_locks(redis_client, redis_prefix, "acme", ["shopify:1", "email:a@b.co"],
                        timeout=0.4, renew_every=0.1) as beat:
        assert beat is not None
        wait_for(lambda: beat.renewals >= 10, timeout=30, interval=0.05, what="ten renewals (2.5 timeouts)")
        with pytest.raises(LockBusyError), customer_locks(redis_client, redis_prefix, "acme", ["email:a@b.co"]):
            pytest.fail("taken from a live holder")
        assert not beat.lost
    assert _held(redis_client, redis_prefix) == []


def test_a_killed_holders_locks_expire(redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    """A process that dies inside the block (SIGKILL: no release, no renewal) leaves locks that lapse."""
    import os
    import subprocess
    import sys

    from tests.e2e.harness import wait_for

    url = redis_client.connection_pool.connection_kwargs
    script = (
        "import os, signal, redis\n"
        "from possync.worker.locks import customer_locks\n"
        f"client = redis.Redis(host={url.get('host', '127.0.0.1')!r}, port={url.get('port', 6379)}, "
        f"db={url.get('db', 0)})\n"
        f"with customer_locks(client, {redis_prefix!r}, 'acme', ['shopify:9'], timeout=3, renew_every=0.5):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n")
    proc = subprocess.run([sys.executable, "-c", script], env=os.environ.copy(), timeout=60)
    assert proc.returncode == -9
    name = f"{redis_prefix}lock:acme:shopify:9"
    assert redis_client.exists(name)  # nobody released it
    wait_for(lambda: not redis_client.exists(name), timeout=30, interval=0.1, what="the dead holder's lock to lapse")
    with customer_locks(redis_client, redis_prefix, "acme", ["shopify:9"]):
        pass
