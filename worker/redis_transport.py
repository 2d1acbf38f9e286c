"""kombu's Redis transports with one synchronous client per channel instead of one per command.

kombu builds a new `redis.Redis` around the channel's pool for every publish (`conn_or_acquire`), and
redis-py 8 fills a case-insensitive table of ~170 response callbacks in every client's constructor,
which costs more than the publish itself (README). A client is only a thin,
thread-safe wrapper over the pool, so the channel keeps one (made again when the pool is replaced,
e.g. after a fork). Selected with `broker_transport` in `possync.worker.celery_app`: `Transport` for redis://,
`SentinelTransport` for sentinel:// (its pool follows the sentinels' master, so the kept client does too).
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis


class OneClientPerChannel:
    """Mixed into a kombu Redis channel: `_create_client()` returns the same client while the pool lasts."""

    _sync_client: Any = None
    _sync_client_pool: Any = None
    pool: Any

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:
            return super()._create_client(asynchronous=True)  # type: ignore[misc]
        pool = self.pool
        if self._sync_client is None or self._sync_client_pool is not pool:
            self._sync_client = super()._create_client()  # type: ignore[misc]
            self._sync_client_pool = pool
        return self._sync_client


class Channel(OneClientPerChannel, kombu_redis.Channel):
    pass


class SentinelChannel(OneClientPerChannel, kombu_redis.SentinelChannel):
    pass


class Transport(kombu_redis.Transport):
    Channel = Channel


class SentinelTransport(kombu_redis.SentinelTransport):
    Channel = SentinelChannel
