"""`possync.tasks.operations` pieces the CLI and the console share."""

from __future__ import annotations

import redis

from possync.tasks.operations import queue_depths


def test_queue_depths_reads_every_queue_under_the_prefix(activate_env, redis_server_url: str,  # type: ignore[no-untyped-def]
                                                         redis_prefix: str, redis_client: redis.Redis) -> None:
    activate_env(POSSYNC_REDIS_URL=redis_server_url, POSSYNC_REDIS_KEY_PREFIX=redis_prefix)
    redis_client.lpush(redis_prefix + "intake", "a", "b")
    redis_client.lpush(redis_prefix + "poll", "c")
    depths = queue_depths()
    assert depths["intake"] == 2 and depths["poll"] == 1
    assert set(depths.values()) <= {0, 1, 2} and len(depths) > 2
    activate_env()  # no Redis: nothing to read
    assert queue_depths() == {}
