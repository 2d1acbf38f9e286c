"""Shopify's customer merge through the client against the fake: preview, blockers, limits, the job, the webhook."""

from __future__ import annotations

import json
import time

import pytest

from possync.adapters.shopify import merge
from possync.adapters.shopify.client import ShopifyClient, ShopifyUserError
from possync.adapters.shopify.fake import FakeShopify
from tests.adapters.shopify.conftest import Capture


def _finish(client: ShopifyClient, job: merge.MergeJob) -> merge.MergeJob:
    deadline = time.monotonic() + 10
    while job.status not in merge.FINAL_STATES and time.monotonic() < deadline:
        time.sleep(0.05)
        job = merge.status(client, job.job_id)
    return job


def test_a_clean_pair_previews_mergeable_and_merges_asynchronously(fake: FakeShopify, client: ShopifyClient,
                                                                   capture: Capture) -> None:
    fake.subscribe(capture.start(), "secret", topics=["customers/merge"])
    old = fake.add_customer("Ann", "Lee", "ann@example.com", tags=["VIP"], note="likes blue", orders_count=2)
    new = fake.add_customer("Ann", None, None, "+16135550100", tags=["vip", "Online"], note="web", orders_count=1)
    preview = merge.preview(client, new, old, keep_email_of=old)
    assert preview == merge.MergePreview(old, [], [])
    job = merge.start(client, new, old, keep_email_of=old)
    assert job.status == "REQUESTED" and job.resulting_id == old
    assert new in fake.customers  # nothing happens until the job runs
    done = _finish(client, job)
    assert done.status == "COMPLETED" and done.resulting_id == old
    kept = fake.customers[old]
    assert new not in fake.customers
    assert sorted(kept["tags"], key=str.lower) == ["Online", "VIP"]  # case-insensitive union
    assert kept["phone"] == "+16135550100" and kept["orders_count"] == 3
    assert "likes blue" in kept["note"] and "web" in kept["note"]
    fake.wait_for_deliveries()
    [(headers, body)] = capture.received
    assert headers["X-Shopify-Topic"] == "customers/merge"
    sent = json.loads(body)
    assert sent["admin_graphql_api_customer_kept_id"].endswith(f"/{old}")
    assert sent["admin_graphql_api_customer_deleted_id"].endswith(f"/{new}") and sent["status"] == "completed"


@pytest.mark.parametrize("blocker", ["SUBSCRIPTIONS", "COMPANY_CONTACT", "CUSTOMER_PAYMENT_METHODS", "STORE_CREDIT",
                                     "GIFT_CARDS", "MULTIPASS_IDENTIFIER", "PENDING_DATA_REQUEST", "DELETED_AT"])
def test_a_blocker_shows_in_the_preview_and_refuses_the_merge(fake: FakeShopify, client: ShopifyClient,
                                                              blocker: str) -> None:
    one = fake.add_customer("Bo", email="bo@example.com")
    two = fake.add_customer("Bo", email="bo2@example.com", merge_blockers=[blocker])
    assert merge.preview(client, two, one).blockers == [blocker]
    with pytest.raises(ShopifyUserError):
        merge.start(client, two, one)
    assert two in fake.customers and one in fake.customers


def test_a_redacted_customer_and_a_merge_in_progress_block(fake: FakeShopify, client: ShopifyClient) -> None:
    one = fake.add_customer("Cy", email="cy@example.com", email_consent="REDACTED")
    two = fake.add_customer("Cy", email="cy2@example.com")
    three = fake.add_customer("Cy", email="cy3@example.com")
    assert merge.preview(client, two, one).blockers == ["REDACTED_AT"]
    fake.merge_seconds = 5.0
    merge.start(client, three, two)
    assert merge.preview(client, two, three).blockers == ["MERGE_IN_PROGRESS"]


def test_limits_block_until_edited(fake: FakeShopify, client: ShopifyClient) -> None:
    one = fake.add_customer("Di", email="di@example.com", note="x" * 3000, tags=[f"a{i}" for i in range(200)])
    two = fake.add_customer("Di", email="di2@example.com", note="y" * 2500, tags=[f"b{i}" for i in range(60)])
    preview = merge.preview(client, two, one)
    assert preview.blockers == []
    assert preview.limits == ["merged note over 5000 characters", "more than 250 merged tags"]
    with pytest.raises(ShopifyUserError):
        merge.start(client, two, one)


def test_without_an_override_the_profile_with_the_email_survives(fake: FakeShopify, client: ShopifyClient) -> None:
    with_email = fake.add_customer("Ed", email="ed@example.com")
    without = fake.add_customer("Ed", phone="+16135550111")
    assert merge.preview(client, with_email, without).resulting_id == with_email
