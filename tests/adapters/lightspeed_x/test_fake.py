"""The X-Series fake follows the vendor's contract, quirks included (checked with plain `requests`)."""

from __future__ import annotations

import email.utils
import time
from typing import Any

import pytest
import requests

from possync.adapters.lightspeed_x.fake import FIRST_VERSION, MAX_SEARCH_PAGE_SIZE, FakeServer

AUTH = {"Authorization": f"Bearer {FakeServer.DEFAULT_TOKEN}"}


def call(fake: FakeServer, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {**AUTH, **kwargs.pop("headers", {})}
    return requests.request(method, fake.url + path, headers=headers, timeout=5, **kwargs)


def test_list_shape_and_version_bounds(fake: FakeServer) -> None:
    empty = call(fake, "GET", "/api/2.0/customers").json()
    assert empty == {"data": [], "version": {"min": None, "max": None}}
    ids = fake.seed([{"first_name": f"C{i}", "last_name": "X"} for i in range(5)])
    body = call(fake, "GET", "/api/2.0/customers", params={"page_size": 2}).json()
    assert [c["id"] for c in body["data"]] == ids[:2]
    assert body["version"] == {"min": body["data"][0]["version"], "max": body["data"][1]["version"]}
    after = call(fake, "GET", "/api/2.0/customers", params={"after": body["version"]["max"]}).json()
    assert [c["id"] for c in after["data"]] == ids[2:]  # `after` is exclusive
    before = call(fake, "GET", "/api/2.0/customers", params={"before": after["data"][1]["version"]}).json()
    assert [c["id"] for c in before["data"]] == ids[:3]  # `before` is exclusive too


def test_version_only_goes_up_with_gaps_on_every_write(fake: FakeServer) -> None:
    [cid] = fake.seed([{"first_name": "A", "last_name": "B"}])
    versions = [fake.record(cid)["version"]]
    versions.append(call(fake, "PUT", f"/api/2.0/customers/{cid}", json={"email": "a@b.c"}).json()["data"]["version"])
    call(fake, "DELETE", f"/api/2.0/customers/{cid}")
    versions.append(fake.record(cid)["version"])
    assert versions == sorted(versions) and len(set(versions)) == 3 and versions[0] > FIRST_VERSION


def test_deleted_only_with_deleted_true(fake: FakeServer) -> None:
    live, gone = fake.seed([{"first_name": "L", "last_name": "X"}, {"first_name": "G", "last_name": "X"}])
    assert call(fake, "DELETE", f"/api/2.0/customers/{gone}").status_code == 204
    plain = [c["id"] for c in call(fake, "GET", "/api/2.0/customers").json()["data"]]
    everything = call(fake, "GET", "/api/2.0/customers", params={"deleted": "true"}).json()["data"]
    assert plain == [live]
    assert [c["id"] for c in everything] == [live, gone] and everything[1]["deleted_at"]
    assert call(fake, "DELETE", f"/api/2.0/customers/{gone}").status_code == 404


def test_null_fields_are_left_out_but_names_stay(fake: FakeServer) -> None:
    [cid] = fake.seed([{"first_name": None, "last_name": None}])
    data = call(fake, "GET", f"/api/2.0/customers/{cid}").json()["data"]
    assert data["first_name"] is None and data["last_name"] is None
    assert "email" not in data and "phone" not in data and "deleted_at" not in data
    assert data["customer_code"].startswith("UNNAMED-") and data["do_not_email"] is False


def test_create_answers_201_with_data(fake: FakeServer) -> None:
    response = call(fake, "POST", "/api/2.0/customers", json={"first_name": "Tony", "last_name": "Stark",
                                                              "email": "tony@starkinc.com", "mobile": "+15551234",
                                                              "enable_promotional_sms": True})  # fmt: skip
    assert response.status_code == 201
    data = response.json()["data"]
    assert data["name"] == "Tony Stark" and data["customer_code"].startswith("Tony-") and data["version"]
    assert data["customer_group_id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"first_name": "A"}, "last_name"),
        ({"last_name": "B"}, "first_name"),
        ({"first_name": "A", "last_name": "B", "do_not_email": "no"}, "do_not_email"),
        ({"first_name": "A", "last_name": "B", "email": 5}, "email"),
        ({"first_name": "A", "last_name": "B", "date_of_birth": "3/3/63"}, "date_of_birth"),
        ({"first_name": "A", "last_name": "B", "gender": "X"}, "gender"),
    ],
    ids=["no-last-name-key", "no-first-name-key", "bool-as-string", "email-int", "bad-date", "bad-gender"],
)
def test_create_validation_is_422(fake: FakeServer, body: dict, field: str) -> None:
    response = call(fake, "POST", "/api/2.0/customers", json=body)
    assert response.status_code == 422 and field in response.json()["details"]


def test_customer_code_unique(fake: FakeServer) -> None:
    ids = fake.seed([{"first_name": "Tony", "last_name": str(i)} for i in range(60)])
    codes = {fake.record(i)["customer_code"].lower() for i in ids}
    assert len(codes) == 60
    taken = fake.record(ids[0])["customer_code"]
    dup = call(fake, "POST", "/api/2.0/customers", json={"first_name": "A", "last_name": "B", "customer_code": taken})
    assert dup.status_code == 422 and "customer_code" in dup.json()["details"]
    same = call(fake, "PUT", f"/api/2.0/customers/{ids[0]}", json={"customer_code": taken})
    assert same.status_code == 200  # keeping one's own code is not a clash


def test_put_is_partial(fake: FakeServer) -> None:
    [cid] = fake.seed([{"first_name": "A", "last_name": "B", "email": "a@b.c", "note": "keep"}])
    data = call(fake, "PUT", f"/api/2.0/customers/{cid}", json={"phone": "123"}).json()["data"]
    assert (data["phone"], data["email"], data["note"], data["first_name"]) == ("123", "a@b.c", "keep", "A")


def test_search_pages_by_offset_and_caps_page_size(fake: FakeServer) -> None:
    ids = fake.seed([{"first_name": f"N{i}", "last_name": "X", "email": "s@example.com"} for i in range(5)])
    fake.seed([{"first_name": "O", "last_name": "X", "email": "S@example.com"}])  # stored text differs
    params = {"type": "customers", "email": "s@example.com", "page_size": 2}
    pages = [call(fake, "GET", "/api/2.0/search", params={**params, "offset": o}).json()["data"] for o in (0, 2, 4)]
    assert [c["id"] for page in pages for c in page] == ids
    assert "version" not in call(fake, "GET", "/api/2.0/search", params=params).json()
    fake.seed([{"first_name": "Z", "last_name": "X", "email": "z@example.com"} for _ in range(1005)])
    big = call(fake, "GET", "/api/2.0/search", params={"type": "customers", "email": "z@example.com",
                                                         "page_size": 5000}).json()["data"]  # fmt: skip
    assert len(big) == MAX_SEARCH_PAGE_SIZE
    assert call(fake, "GET", "/api/2.0/search", params={"email": "s@example.com"}).status_code == 400


def test_requests_without_a_valid_token_are_401(fake: FakeServer) -> None:
    assert call(fake, "GET", "/api/2.0/customers", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert requests.get(fake.url + "/api/2.0/customers", timeout=5).status_code == 401


def test_token_endpoint_rotates_and_revokes(fake: FakeServer) -> None:
    form = {"grant_type": "refresh_token", "refresh_token": FakeServer.DEFAULT_REFRESH_TOKEN,
            "client_id": FakeServer.DEFAULT_CLIENT_ID, "client_secret": FakeServer.DEFAULT_CLIENT_SECRET}  # fmt: skip
    first = requests.post(fake.url + "/api/1.0/token", data=form, timeout=5)
    assert first.status_code == 200
    tokens = first.json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] > 0 and tokens["domain_prefix"] == "fakestore"
    again = requests.post(fake.url + "/api/1.0/token", data=form, timeout=5)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    wrong_client = requests.post(fake.url + "/api/1.0/token", data={**form, "client_secret": "x"}, timeout=5)
    assert wrong_client.status_code == 401
    use = call(fake, "GET", "/api/2.0/customers", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert use.status_code == 200


def test_rate_limit_window_per_app_with_vendor_headers() -> None:
    fake = FakeServer(rate_limit=3, window_seconds=60)
    fake.start()
    try:
        statuses = []
        for _ in range(4):
            response = call(fake, "GET", "/api/2.0/customers")
            statuses.append(response.status_code)
        assert statuses == [200, 200, 200, 429]
        assert response.json() == {"error": "Too Many Requests", "message": "Rate limiting enforced"}
        assert response.headers["X-RateLimit-Limit"] == "3" and response.headers["X-RateLimit-Remaining"] == "0"
        when = email.utils.parsedate_to_datetime(response.headers["Retry-After"])  # an HTTP date, not seconds
        assert 55 <= when.timestamp() - time.time() <= 61
        assert int(response.headers["X-RateLimit-Reset"]) == int(when.timestamp())
        # another app (an OAuth token) on the same retailer has its own window
        fake.add_access_token("app-token", app="another-app")
        other = call(fake, "GET", "/api/2.0/customers", headers={"Authorization": "Bearer app-token"})
        assert other.status_code == 200 and other.headers["X-RateLimit-Remaining"] == "2"
    finally:
        fake.stop()


def test_control_api_fault_429_gets_vendor_headers(fake: FakeServer) -> None:
    requests.post(fake.url + "/_control/fault", json={"status": 429, "count": 1}, timeout=5)
    response = call(fake, "GET", "/api/2.0/customers")
    assert response.status_code == 429 and response.json()["message"] == "Rate limiting enforced"
    assert email.utils.parsedate_to_datetime(response.headers["Retry-After"]).timestamp() >= time.time() - 1
    assert "X-Fake-Retry-After-Seconds" not in response.headers


def test_webhook_subscriptions_conflict_on_duplicates(fake: FakeServer) -> None:
    hook = {"active": True, "type": "customer.update", "url": "https://example.invalid/hook"}
    created = call(fake, "POST", "/api/2.0/webhooks", json=hook)
    assert created.status_code == 201 and created.json()["data"]["type"] == "customer.update"
    assert call(fake, "POST", "/api/2.0/webhooks", json=hook).status_code == 409
    assert len(call(fake, "GET", "/api/2.0/webhooks").json()["data"]) == 1


def test_seed_accepts_convenience_keys(fake: FakeServer) -> None:
    [cid] = fake.seed([{"first_name": "A", "last_name": "B", "birthday": "2000-01-02", "email_opt_in": False,
                        "sms_opt_in": True, "tags": ["Shopify", "acme"], "deleted": True,
                        "billing_address": {"address1": "1 Main", "country_code": "CA", "company": "Co"},
                        "shipping_address": {"city": "Hull"}}])  # fmt: skip
    record = fake.record(cid)
    assert record["date_of_birth"] == "2000-01-02" and record["do_not_email"] is True
    assert record["enable_promotional_sms"] is True and record["custom_field_4"] == "Shopify, acme"
    assert record["physical_address_1"] == "1 Main" and record["physical_country_id"] == "CA"
    assert record["company_name"] == "Co" and record["postal_city"] == "Hull" and record["deleted_at"]
    assert fake.state()["customers"][0]["id"] == cid
