"""1,000 signed, malformed webhook bodies: no 5xx, the worker stays up, and every failure keeps a reason.

Hypothesis writes the bodies, for topics possync acts on: random JSON of any shape, real payloads with
a field removed or replaced by a value of another type, strings PostgreSQL cannot store (NUL, lone
surrogates) and NaN, bytes that are not UTF-8, and nesting thousands of levels deep. Every body is signed
with the shop's real secret, so each one passes the signature check and reaches the parsers.

Valid `shop/redact` bodies are left out: they would (correctly) erase the tenant under test.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from possync.adapters.shopify.webhooks import (
    customer_delete_payload,
    customer_payload,
    customer_redact_payload,
    data_request_payload,
    email_consent_payload,
    merge_payload,
    order_payload,
    refund_payload,
    shop_redact_payload,
    sms_consent_payload,
)
from possync.models.shopify_payloads import ACTED_TOPICS, PayloadError, parse_payload
from possync.models.tables import EventStatus, JobStatus
from tests.resilience.conftest import Stack

EXAMPLES = 1000
CUSTOMER = customer_payload(id=7001, email="fuzz@res.example.com", phone="+16135550199",
                            default_address={"address1": "1 Main St", "city": "Ottawa", "province_code": "ON",
                                             "zip": "K2P 1L4", "country_code": "CA"})
TEMPLATES: dict[str, dict[str, Any]] = {
    "orders/create": order_payload(id=8001, customer=CUSTOMER),
    "orders/updated": order_payload(id=8002, customer=CUSTOMER),
    "refunds/create": refund_payload(8001),
    "customers/create": CUSTOMER,
    "customers/update": CUSTOMER,
    "customers/delete": customer_delete_payload(7001),
    "customers/merge": merge_payload(7001, 7002),
    "customers_email_marketing_consent/update": email_consent_payload(7001, "fuzz@res.example.com"),
    "customers_marketing_consent/update": sms_consent_payload(7001, "+16135550199"),
    "customers/data_request": data_request_payload(7001, email="fuzz@res.example.com"),
    "customers/redact": customer_redact_payload(7001, email="fuzz@res.example.com"),
    "shop/redact": shop_redact_payload(),
}
assert set(TEMPLATES) == set(ACTED_TOPICS), "a topic was added: give it a template"

ODD_STRINGS = st.sampled_from(["\x00", "a\x00b", "\ud800", "\udfff", "x\ud83d", "\u202e", "", " ", "\n",
                               "x" * 100_000, "null", "0", "-1", "1e309", "gid://shopify/Customer/abc"])
SCALARS = (st.none() | st.booleans() | st.integers() | st.integers(min_value=2**63, max_value=2**70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30) | ODD_STRINGS)
RANDOM_JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=20)


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:  # type: ignore[type-arg]
    """Every key path inside a JSON value (dict keys and list positions)."""
    found = []
    if isinstance(value, dict):
        for key, inner in value.items():
            found.append((*prefix, key))
            found += paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found.append((*prefix, index))
            found += paths(inner, (*prefix, index))
    return found


def dumps(value: Any) -> bytes:
    """JSON as a sloppy sender might write it: NaN allowed, lone surrogates escaped (still valid JSON text)."""
    return json.dumps(value, allow_nan=True).encode("utf-8")


@st.composite
def mutated(draw: st.DrawFn, topic: str) -> bytes:
    """The topic's real payload with one to three fields removed or given a value of another type."""
    body = json.loads(json.dumps(TEMPLATES[topic]))
    for _ in range(draw(st.integers(1, 3))):
        candidates = paths(body)
        if not candidates:
            break
        path = draw(st.sampled_from(candidates))
        parent = body
        for step in path[:-1]:
            parent = parent[step]
        if draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(RANDOM_JSON)
    return dumps(body)


@st.composite
def not_utf8(draw: st.DrawFn, topic: str) -> bytes:
    raw = dumps(TEMPLATES[topic])
    position = draw(st.integers(0, len(raw)))
    junk = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80\x80"]))
    return raw[:position] + junk + raw[position:]


@st.composite
def deeply_nested(draw: st.DrawFn, topic: str) -> bytes:
    depth = draw(st.sampled_from([200, 999, 1_001, 5_000, 100_000]))
    inner = b"[" * depth + b"]" * depth if draw(st.booleans()) else b'{"a":' * depth + b"1" + b"}" * depth
    key = draw(st.sampled_from([*sorted(TEMPLATES[topic]), "customer", "unknown"]))
    raw = dumps(TEMPLATES[topic])
    return b'{"' + key.encode() + b'":' + inner + b"," + raw[1:] if draw(st.booleans()) else inner


@st.composite
def delivery(draw: st.DrawFn) -> tuple[str, bytes]:
    topic = draw(st.sampled_from(sorted(ACTED_TOPICS)))
    body = draw(st.one_of(
        RANDOM_JSON.map(dumps),
        mutated(topic),
        not_utf8(topic),
        deeply_nested(topic),
        st.binary(max_size=64),
    ))
    if topic == "shop/redact":
        try:
            parse_payload(topic, body)
        except PayloadError:
            pass
        else:
            assume(False)  # a valid shop/redact erases the tenant under test
    return topic, body


@pytest.mark.resilience
@pytest.mark.timeout(240)
def test_a_thousand_malformed_signed_bodies_get_no_5xx_and_each_failure_has_a_reason(stack: Stack) -> None:
    from possync.worker.celery_app import app

    shop = stack.shop("lightspeed-r")
    worker = stack.start_worker(concurrency=2)
    answers: list[tuple[int, str, int]] = []

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(delivery())
    def post(item: tuple[str, bytes]) -> None:
        topic, body = item
        status = shop.send(topic, body).status_code
        answers.append((status, topic, len(body)))
        assert status < 500, (status, topic, body[:200])

    post()
    assert len(answers) >= EXAMPLES
    assert {status for status, _, _ in answers} <= {200}, [a for a in answers if a[0] != 200][:5]
    assert worker.proc is not None and worker.proc.poll() is None, worker.tail()
    assert app.control.ping(timeout=2.0), "the worker does not answer a ping"

    events = stack.wait_sweeping(lambda: stack.events_settled() and stack.all_finished(0) is not None
                                 and stack.events(), timeout=150, what="every fuzzed event to be settled")
    assert len(events) == len(answers)  # every delivery stored once
    statuses = {e.status for e in events}
    assert statuses <= {EventStatus.FAILED.value, EventStatus.PROCESSED.value, EventStatus.IGNORED.value}
    assert [e.id for e in events if e.status == EventStatus.FAILED.value and not (e.error or "").strip()] == []
    jobs = stack.jobs()
    assert [j.id for j in jobs if j.status == JobStatus.FAILED.value and not (j.last_error or "").strip()] == []
    assert sum(e.status == EventStatus.FAILED.value for e in events) > len(events) / 2  # they were malformed
    # A reason the merchant can act on, not the intake's last-resort "internal error" (a bug in possync).
    internal = [(e.id, e.topic, e.error) for e in events if "while processing this event" in (e.error or "")]
    assert internal == []
    assert app.control.ping(timeout=2.0) and worker.proc.poll() is None, "the worker died on a fuzzed event"
