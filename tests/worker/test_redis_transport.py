"""The broker transports reuse one client per channel, and still deliver through real Redis and Sentinel."""

from __future__ import annotations

from kombu import Connection, Exchange, Queue

from possync.worker.celery_app import celery_config
from possync.worker.redis_transport import SentinelTransport, Transport
from possync.worker.settings import Settings
from tests.resilience.servers import SentinelGroup


def _one_client_and_three_messages(conn: Connection, name: str) -> list[int]:
    queue = Queue(name, Exchange(name), routing_key=name)
    channel = conn.default_channel
    assert channel._create_client() is channel._create_client()
    producer = conn.Producer(serializer="json")
    for number in range(3):
        producer.publish({"n": number}, exchange=queue.exchange, routing_key=queue.routing_key, declare=[queue])
    with conn.SimpleQueue(queue) as simple:
        return [simple.get(timeout=2).payload["n"] for _ in range(3)]


def test_one_client_per_channel_and_messages_still_flow(redis_server_url: str, redis_prefix: str) -> None:
    with Connection(redis_server_url, transport=Transport) as conn:
        assert _one_client_and_three_messages(conn, f"{redis_prefix}q") == [0, 1, 2]


def test_the_sentinel_broker_is_the_master_the_sentinels_name(sentinel_group: SentinelGroup,
                                                              sentinel_settings: Settings) -> None:
    """Celery's own configuration for a sentinel:// URL: possync's transport, kombu's Sentinel channel."""
    conf = celery_config(sentinel_settings)
    assert conf["broker_transport"] == "possync.worker.redis_transport:SentinelTransport"
    with Connection(conf["broker_url"], transport=SentinelTransport,
                    transport_options=conf["broker_transport_options"]) as conn:
        assert _one_client_and_three_messages(conn, "q") == [0, 1, 2]
        conn.Producer(serializer="json").publish({"n": 3}, routing_key="kept", declare=[Queue("kept")])
    with sentinel_group.master().client() as direct:
        assert direct.llen("kept") == 1
