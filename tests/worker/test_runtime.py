"""`connect_redis`: one way to reach the configured Redis, and through Sentinel one that follows failovers."""

from __future__ import annotations

import pytest
import redis
import redis.sentinel
from redis.backoff import NoBackoff
from redis.retry import Retry

from possync.worker.runtime import connect_redis
from possync.worker.settings import Settings, load_settings
from tests.resilience.servers import SentinelGroup


def test_a_redis_url_gives_a_plain_client(redis_server_url: str) -> None:
    client = connect_redis(load_settings({"POSSYNC_REDIS_URL": redis_server_url}))
    assert client.ping() and type(client.connection_pool) is redis.ConnectionPool


def test_the_sentinel_url_reaches_the_master_they_name(sentinel_group: SentinelGroup,
                                                       sentinel_settings: Settings) -> None:
    client = connect_redis(sentinel_settings)
    assert isinstance(client.connection_pool, redis.sentinel.SentinelConnectionPool)
    client.set("where", "here")
    assert sentinel_group.master().client().get("where") == b"here"


def test_a_dead_first_sentinel_is_passed_over(sentinel_group: SentinelGroup, sentinel_settings: Settings) -> None:
    sentinel_group.sentinels[0].stop()
    client = connect_redis(sentinel_settings, socket_connect_timeout=1)
    client.set("where", "still here")
    assert sentinel_group.master().client().get("where") == b"still here"


def test_the_client_follows_the_master_when_it_is_killed(sentinel_group: SentinelGroup,
                                                         sentinel_settings: Settings) -> None:
    client = connect_redis(sentinel_settings, socket_timeout=5, socket_connect_timeout=3)
    client.set("count", 1)
    assert client.wait(1, 5000) == 1  # the count has reached the replica (WAIT: acknowledged by one replica)
    old = sentinel_group.master()
    sentinel_group.wait_settled()
    new = sentinel_group.kill_master()
    assert new is not old
    assert client.incr("count") == 2  # the same client, its connection to the dead master retried on the new one
    assert new.client().get("count") == b"2"


def test_no_sentinel_answering_is_a_connection_error_naming_the_master() -> None:
    settings = load_settings({"POSSYNC_REDIS_URL": "sentinel://127.0.0.1:1", "POSSYNC_REDIS_SENTINEL_MASTER": "m1"})
    client = connect_redis(settings, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    with pytest.raises(redis.sentinel.MasterNotFoundError, match="'m1'"):  # a ConnectionError: tasks retry it
        client.ping()


def test_one_definition_of_a_transient_failure() -> None:
    import redis as redis_lib
    import sqlalchemy.exc as sa_exc

    from possync.tasks import intake, runner
    from possync.worker.runtime import TRANSIENT_ERRORS

    def make(cls: type[Exception]) -> Exception:
        return cls("stmt", {}, Exception("x")) if issubclass(cls, sa_exc.DBAPIError) else cls("x")

    for cls in (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError, redis_lib.ConnectionError,
                redis_lib.TimeoutError):
        assert isinstance(make(cls), TRANSIENT_ERRORS), cls
        assert runner._transient(make(cls)), cls
    assert not isinstance(make(sa_exc.IntegrityError), TRANSIENT_ERRORS)  # a wrong statement stays wrong
    assert intake.TRANSIENT_ERRORS is TRANSIENT_ERRORS
