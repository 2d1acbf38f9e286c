"""POS -> Shopify (SPEC rule 2) and echo suppression both ways (rule 5), through a real worker."""

from __future__ import annotations

from possync.adapters.shopify.webhooks import customer_payload
from possync.models.tables import JobStatus
from possync.tasks.operations import poll_now
from tests.e2e.harness import Shop, wait_for
from tests.e2e.test_shopify_to_pos import ADDRESS, finished, jobs_of


def edit_last_name(shop: Shop, pos_id: str, last_name: str) -> None:
    """A merchant's edit in the POS back office, in each vendor's own shape."""
    if shop.kind == "lightspeed-r":
        shop.pos.advance_clock(2)
        shop.pos.edit(pos_id, {"lastName": last_name})
    else:
        shop.pos.edit(pos_id, last_name=last_name)


def test_rule_2_and_5_pos_edits_reach_shopify_and_nothing_echoes(shop: Shop, db_url: str) -> None:
    customer_id = shop.shopify.add_customer("Lou", "Marr", "lou@example.com", "+1 613-555-0199", address=ADDRESS)
    payload = customer_payload(id=customer_id, email="lou@example.com")
    shop.send("customers/create", payload)
    [created] = wait_for(lambda: finished(db_url), what="the Shopify -> POS sync")
    assert created.outcome == "created", created.last_error

    # Our own write comes back through the poll: recognised, no job (rule 5).
    first = poll_now(shop.name)
    assert first["echoes"] >= 1 and first["jobs"] == 0, first

    # The merchant edits the customer in the POS: the poll pushes it to Shopify.
    edit_last_name(shop, created.context["pos_id"], "Marr-Lee")
    second = poll_now(shop.name)
    assert second["jobs"] == 1, second
    wait_for(lambda: finished(db_url, 2), what="the POS -> Shopify push")
    push = jobs_of(db_url)[-1]
    assert push.direction == "pos_to_shopify" and push.status == JobStatus.SUCCEEDED.value, push.last_error
    assert push.outcome == "updated"
    assert shop.shopify.customers[customer_id]["last_name"] == "Marr-Lee"

    # Shopify's customers/update about our own write is an echo (rule 5): nothing is written to the POS.
    before = len(shop.pos.vendor_requests())
    shop.send("customers/update", payload)
    wait_for(lambda: finished(db_url, 3), what="the echoed webhook")
    assert jobs_of(db_url)[-1].outcome == "echo"
    assert len(shop.pos.vendor_requests()) == before

    # Nothing changed since: the next poll has nothing to do.
    assert poll_now(shop.name)["jobs"] == 0


def test_rule_2_a_new_pos_customer_is_created_in_shopify(make_shop, db_url: str) -> None:  # type: ignore[no-untyped-def]
    shop = make_shop("lightspeed-x")
    [pos_id] = shop.pos.seed([{"first_name": "Nia", "last_name": "Oak", "email": "nia@example.com"}])
    result = poll_now(shop.name)
    assert result["jobs"] == 1, result
    [job] = wait_for(lambda: finished(db_url), what="the push")
    assert job.status == JobStatus.SUCCEEDED.value and job.outcome == "created", job.last_error
    [created] = shop.shopify.customers.values()
    assert created["email"] == "nia@example.com"
    assert job.subject == str(pos_id)
    # The POS's default "may email" is no evidence of consent: Shopify is not subscribed by it.
    assert created["email_consent"]["state"] == "NOT_SUBSCRIBED"


def test_rule_2_an_x_series_webhook_triggers_the_same_push(make_shop, db_url: str, secret_key: str) -> None:  # type: ignore[no-untyped-def]
    import requests

    from possync.models import webhook_tokens
    from possync.models.db import session_scope
    from possync.models.tenants import get_tenant

    shop = make_shop("lightspeed-x")
    [pos_id] = shop.pos.seed([{"first_name": "Ola", "last_name": "Pine", "email": "ola@example.com"}])
    with session_scope(db_url) as session:
        token = webhook_tokens.reveal(get_tenant(session, shop.name).webhook_token, secret_key)
    url = f"{shop.receiver_url}{webhook_tokens.url_path(shop.name, token)}"
    assert requests.post(f"{shop.receiver_url}/webhooks/lightspeed-x/{shop.name}", data={"payload": "{}"},
                         timeout=5).status_code == 404  # no token: as for an unknown tenant
    first = shop.pos.send_webhook(url, str(pos_id))
    assert first.status_code == 200 and first.json()["stored_as"] == "received"
    assert shop.pos.send_webhook(url, str(pos_id)).json()["duplicate"] is True  # the same delivery again
    [job] = wait_for(lambda: finished(db_url), what="the webhook's push")
    assert job.direction == "pos_to_shopify" and job.outcome == "created", job.last_error
    assert [c["email"] for c in shop.shopify.customers.values()] == ["ola@example.com"]
    assert requests.post(f"{shop.receiver_url}/webhooks/lightspeed-x/nobody/{token}", data={"payload": "{}"},
                         timeout=5).status_code == 404
    junk = requests.post(url, data={"payload": "not json"}, timeout=5)
    assert junk.status_code == 200 and junk.json()["stored_as"] == "failed"


def test_metrics_report_the_pipelines_numbers(shop: Shop, db_url: str) -> None:
    import requests

    customer_id = shop.shopify.add_customer("Pia", "Quin", "pia@example.com", None, address=ADDRESS)
    shop.send("customers/create", customer_payload(id=customer_id, email="pia@example.com"))
    wait_for(lambda: finished(db_url), what="the sync")
    text = requests.get(f"{shop.receiver_url}/metrics", timeout=5).text
    pattern = (rf'possync_sync_jobs{{direction="shopify_to_pos",outcome="created",pos="{shop.kind}",'
               rf'status="succeeded",tenant="{shop.name}"}} 1.0')
    assert pattern in text, text[-2000:]
    assert f'possync_failed_list_size{{tenant="{shop.name}"}} 0.0' in text
