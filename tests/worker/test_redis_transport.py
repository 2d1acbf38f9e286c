"""The broker transport reuses one client per channel, and still delivers through real Redis."""

from __future__ import annotations

from kombu import Connection, Exchange, Queue

from worker.redis_transport import Transport


def test_one_client_per_channel_and_messages_still_flow(redis_server_url: str, redis_prefix: str) -> None:
    queue = Queue(f"{redis_prefix}q", Exchange(f"{redis_prefix}q"), routing_key=f"{redis_prefix}q")
    with Connection(redis_server_url, transport=Transport) as conn:
        channel = conn.default_channel
        assert channel._create_client() is channel._create_client()
        producer = conn.Producer(serializer="json")
        for number in range(3):
            producer.publish({"n": number}, exchange=queue.exchange, routing_key=queue.routing_key,
                             declare=[queue])
        with conn.SimpleQueue(queue) as simple:
            got = [simple.get(timeout=2).payload["n"] for _ in range(3)]
    assert got == [0, 1, 2]
