"""Queues per POS kind, per dedicated tenant, and the router function (ARCHITECTURE principle 6)."""

from __future__ import annotations

import pytest

from possync.worker.routing import queue_for_pos, queues_for, route_task


def test_default_worker_consumes_every_shared_queue() -> None:
    assert queues_for() == ["intake", "poll", "pos.lightspeed_r", "pos.lightspeed_x", "pos.heartland", "crm.freshsales"]


def test_worker_for_one_pos_and_one_tenant_consumes_exactly_those() -> None:
    assert queues_for(["heartland"], ["acme"]) == ["pos.heartland", "tenant.acme"]
    assert queues_for(["lightspeed-r", "lightspeed_x"]) == ["pos.lightspeed_r", "pos.lightspeed_x"]


def test_unknown_pos_kind_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown POS kind 'square'"):
        queue_for_pos("square")


def test_router_sends_steps_to_their_route_and_fixed_tasks_to_their_queue() -> None:
    assert route_task("possync.pipeline.upsert_pos_customer", [1], {"route": "tenant.acme"}, {}) == {
        "queue": "tenant.acme"}
    assert route_task("possync.intake.process_event", [1], {}, {}) == {"queue": "intake"}
    assert route_task("possync.poll.poll_pos_changes", [1], {}, {}) == {"queue": "poll"}
    assert route_task("something.else", [], {}, {}) is None
