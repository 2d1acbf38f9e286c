"""The fake's own contract: Shopify's response shapes, validation, throttling and webhooks after writes."""

from __future__ import annotations

import json
from typing import Any

import requests

from possync.adapters.shopify.fake import CostBucket, FakeShopify
from possync.adapters.shopify.hmac import verify
from possync.models.shopify_payloads import ConsentPayload, CustomerPayload, parse_payload
from tests.adapters.shopify.conftest import TOKEN, Capture


def post(fake: FakeShopify, body: Any, token: str = TOKEN) -> requests.Response:
    return requests.post(f"{fake.url}/admin/api/2026-07/graphql.json", json=body,
                         headers={"X-Shopify-Access-Token": token}, timeout=5)


def test_successful_response_envelope(fake: FakeShopify) -> None:
    customer_id = fake.add_customer("Ann", email="ann@example.com", orders_count=3)
    response = post(fake, {"query": "query GetCustomer($id: ID!) { customer(id: $id) { id } }",
                           "variables": {"id": f"gid://shopify/Customer/{customer_id}"},
                           "operationName": "GetCustomer"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"data", "extensions"}
    cost = body["extensions"]["cost"]
    assert set(cost) == {"requestedQueryCost", "actualQueryCost", "throttleStatus"}
    assert set(cost["throttleStatus"]) == {"maximumAvailable", "currentlyAvailable", "restoreRate"}
    assert cost["throttleStatus"]["maximumAvailable"] == 2000.0 and cost["throttleStatus"]["restoreRate"] == 100.0
    assert body["data"]["customer"]["numberOfOrders"] == "3"  # UnsignedInt64 is a string


def test_operation_found_from_the_root_field_without_operation_name(fake: FakeShopify) -> None:
    response = post(fake, {"query": "{ customer(id: $id) { id } }", "variables": {"id": "gid://shopify/Customer/1"}})
    assert response.json()["data"] == {"customer": None}


def test_bad_token_is_401_with_shopifys_body(fake: FakeShopify) -> None:
    response = post(fake, {"query": "{ customer { id } }"}, token="nope")
    assert response.status_code == 401
    assert response.json() == {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
    assert post(fake, {"query": "{ customer { id } }"}, token="").status_code == 401


def test_malformed_request_is_400(fake: FakeShopify) -> None:
    response = requests.post(f"{fake.url}/admin/api/2026-07/graphql.json", data=b"not json",
                             headers={"X-Shopify-Access-Token": TOKEN}, timeout=5)
    assert response.status_code == 400 and "errors" in response.json()


def test_variables_are_validated_like_the_real_api(fake: FakeShopify) -> None:
    missing = post(fake, {"query": "q", "operationName": "GetCustomer", "variables": {}}).json()
    assert missing["errors"][0]["extensions"]["code"] == "INVALID_VARIABLE" and "data" not in missing
    not_gid = post(fake, {"query": "q", "operationName": "GetCustomer", "variables": {"id": "42"}}).json()
    assert not_gid["errors"][0]["message"] == "Invalid global id '42'"
    no_input = post(fake, {"query": "q", "operationName": "CustomerCreate", "variables": {}}).json()
    assert no_input["errors"][0]["extensions"]["code"] == "INVALID_VARIABLE"
    unknown = post(fake, {"query": "{ shop { name } }", "operationName": "GetShop"}).json()
    assert unknown["errors"][0]["extensions"]["code"] == "undefinedField"


def test_consent_input_refuses_states_shopify_owns(fake: FakeShopify) -> None:
    customer_id = fake.add_customer("Ann", email="ann@example.com")
    body = post(fake, {
        "query": "q", "operationName": "CustomerEmailMarketingConsentUpdate",
        "variables": {"input": {"customerId": f"gid://shopify/Customer/{customer_id}",
                                "emailMarketingConsent": {"marketingState": "NOT_SUBSCRIBED"}}},
    }).json()
    result = body["data"]["customerEmailMarketingConsentUpdate"]
    assert result["customer"] is None
    assert result["userErrors"][0]["field"] == ["input", "emailMarketingConsent", "marketingState"]


def test_throttled_response_shape(fake: FakeShopify) -> None:
    fake.bucket = CostBucket(5, 1)
    customer_id = fake.add_customer("Ann", email="ann@example.com")
    query = {"query": "q", "operationName": "GetCustomer", "variables": {"id": f"gid://shopify/Customer/{customer_id}"}}
    response = post(fake, query)  # costs 6 > 5 available
    assert response.status_code == 200
    body = response.json()
    assert body["errors"] == [{"message": "Throttled", "extensions": {
        "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}]
    assert body["extensions"]["cost"]["requestedQueryCost"] == 6
    assert body["extensions"]["cost"]["actualQueryCost"] is None
    assert "data" not in body


def test_throttling_can_be_disabled() -> None:
    fake = FakeShopify(TOKEN, maximum_available=None)
    customer_id = fake.add_customer("Ann", email="ann@example.com")
    variables = {"id": f"gid://shopify/Customer/{customer_id}"}
    for _ in range(200):  # 1200 points: more than a full bucket (in-process: the HTTP layer is tested above)
        answer = fake.execute("q", variables, "GetCustomer")
        assert "errors" not in answer
    # What it reports is what it enforces: nothing a client pacing itself by throttleStatus could use up.
    status = answer["extensions"]["cost"]["throttleStatus"]
    assert status["currentlyAvailable"] == status["maximumAvailable"] >= 1e6 and status["restoreRate"] >= 1e6


def test_cost_bucket_restores_over_time() -> None:
    now = [0.0]
    bucket = CostBucket(100, 50, clock=lambda: now[0])
    assert bucket.take(80) and not bucket.take(30)
    now[0] = 0.2  # +10 points
    assert bucket.status()["currentlyAvailable"] == 30 and bucket.take(30)
    bucket.refund(500)
    assert bucket.status()["currentlyAvailable"] == 100  # never above the maximum


def test_seed_and_state_through_the_control_api(fake: FakeShopify) -> None:
    ids = requests.post(f"{fake.url}/_control/seed", json={"records": [
        {"type": "customer", "first_name": "Ann", "email": "ann@example.com"},
    ]}, timeout=5).json()["ids"]
    requests.post(f"{fake.url}/_control/seed", json={"records": [{"type": "order", "customer_id": ids[0]}]},
                  timeout=5)
    state = requests.get(f"{fake.url}/_control/state", timeout=5).json()
    assert [c["email"] for c in state["customers"]] == ["ann@example.com"]
    assert state["orders"][0]["customer_id"] == ids[0]
    assert fake.customers[ids[0]]["orders_count"] == 1


def test_api_writes_send_signed_webhooks(fake: FakeShopify, capture: Capture) -> None:
    fake.subscribe(f"http://127.0.0.1:{capture.server.port}/hook", "hook-secret")
    created = post(fake, {"query": "q", "operationName": "CustomerCreate", "variables": {"input": {
        "firstName": "Ann", "email": "ann@example.com", "addresses": [{"address1": "1 Main", "countryCode": "CA"}],
    }}}).json()["data"]["customerCreate"]["customer"]
    post(fake, {"query": "q", "operationName": "CustomerEmailMarketingConsentUpdate", "variables": {"input": {
        "customerId": created["id"], "emailMarketingConsent": {"marketingState": "SUBSCRIBED"}}}})
    fake.wait_for_deliveries()

    topics = [headers["X-Shopify-Topic"] for headers, _ in capture.received]
    assert topics == ["customers/create", "customers_email_marketing_consent/update"]
    for headers, body in capture.received:
        assert verify(body, headers["X-Shopify-Hmac-Sha256"], ["hook-secret"]) == 0
        assert headers["X-Shopify-Shop-Domain"] == "acme.myshopify.com"
    create = parse_payload("customers/create", capture.received[0][1])
    assert isinstance(create, CustomerPayload) and create.customer.customer.email == "ann@example.com"
    assert create.customer.customer.billing_address.address1 == "1 Main"
    consent = parse_payload("customers_email_marketing_consent/update", capture.received[1][1])
    assert isinstance(consent, ConsentPayload) and consent.consent.state.value == "subscribed"
    assert all(d.status == 200 for d in fake.deliveries)


def test_an_update_that_changes_nothing_sends_no_webhook(fake: FakeShopify, capture: Capture) -> None:
    customer_id = fake.add_customer("Ann", email="ann@example.com")
    fake.subscribe(f"http://127.0.0.1:{capture.server.port}/hook", "hook-secret")
    update = {"query": "q", "operationName": "CustomerUpdate",
              "variables": {"input": {"id": f"gid://shopify/Customer/{customer_id}", "firstName": "Ann"}}}
    assert post(fake, update).json()["data"]["customerUpdate"]["userErrors"] == []
    fake.wait_for_deliveries()
    assert capture.received == []
    update["variables"]["input"]["firstName"] = "Anne"
    post(fake, update)
    fake.wait_for_deliveries()
    [(headers, body)] = capture.received
    assert headers["X-Shopify-Topic"] == "customers/update" and json.loads(body)["first_name"] == "Anne"
