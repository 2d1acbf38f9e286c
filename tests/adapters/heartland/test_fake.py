"""The Heartland fake speaks the vendor's contract over raw HTTP, quirks included."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
import requests

from possync.adapters.heartland.fake import FakeServer
from tests.adapters.heartland.conftest import Clock
from tests.adapters.heartland.helpers import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}
ADDRESS = {"line_1": "1 Main St", "city": "Austin", "state": "TX", "postal_code": "78701", "country": "US"}


def get(fake: FakeServer, path: str, params: Any = None, headers: dict | None = None) -> requests.Response:
    return requests.get(fake.url + path, params=params, headers=AUTH if headers is None else headers, timeout=5)


def send(fake: FakeServer, method: str, path: str, body: Any) -> requests.Response:
    return requests.request(method, fake.url + path, json=body, headers=AUTH, timeout=5)


def emails(response: requests.Response) -> list[str]:
    return [r["email"] for r in response.json()["results"]]


def test_bearer_token_is_required(fake: FakeServer) -> None:
    assert get(fake, "/api/customers", headers={}).status_code == 401
    assert get(fake, "/api/customers", headers={"Authorization": "Token token=x"}).status_code == 401
    assert get(fake, "/api/customers", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert get(fake, "/api/customers").status_code == 200


def test_create_answers_201_with_location_and_an_empty_body(fake: FakeServer) -> None:
    response = send(fake, "POST", "/api/customers", {"first_name": "Jane", "email": "jane@example.com"})
    assert response.status_code == 201 and response.content == b""
    assert response.headers["Location"] == f"{fake.url}/api/customers/1"
    address = send(fake, "POST", "/api/customers/1/addresses", ADDRESS)
    assert address.status_code == 201 and address.headers["Location"].endswith("/api/customers/1/addresses/1")
    assert fake.record(1)["address_id"] is None  # linking is a separate PUT


@pytest.mark.parametrize(
    ("body", "errors"),
    [({"first_name": "Jane"}, {"email": ["can't be blank"]}), ({"email": "  "}, {"email": ["can't be blank"]}),
     ({"email": "jane@"}, {"email": ["is invalid"]}), ({"email": "a@b.co", "active": "yes"},
                                                       {"active": ["must be true or false"]})],
    ids=["no-email", "blank-email", "malformed-email", "active-not-bool"],
)
def test_customer_validation_is_422_naming_fields(fake: FakeServer, body: dict, errors: dict) -> None:
    response = send(fake, "POST", "/api/customers", body)
    assert response.status_code == 422 and response.json()["errors"] == errors
    assert response.json()["message"].startswith("Validation failed")
    assert fake.records == []


def test_address_validation_is_422_naming_missing_fields(fake: FakeServer) -> None:
    [cid] = fake.seed([{"email": "a@b.co"}])
    response = send(fake, "POST", f"/api/customers/{cid}/addresses", {"line_1": "1 Main St", "country": "USA"})
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"city", "state", "postal_code", "country"}
    assert fake.record(cid)["addresses"] == []
    [address] = fake.seed([{"email": "b@b.co", "address": ADDRESS}])
    aid = fake.record(address)["address_id"]
    assert send(fake, "PUT", f"/api/customers/{address}/addresses/{aid}", {"city": ""}).status_code == 422


def test_put_merges_custom_and_checks_address_links(fake: FakeServer) -> None:
    a, b = fake.seed([{"email": "a@b.co", "custom": {"loyalty": "gold"}}, {"email": "b@b.co", "address": ADDRESS}])
    other_address = fake.record(b)["address_id"]
    before = fake.record(a)["updated_at"]
    response = send(fake, "PUT", f"/api/customers/{a}", {"custom": {"optin": True}, "unknown_key": 1})
    assert response.status_code == 200 and response.json()["custom"] == {"loyalty": "gold", "optin": True}
    assert fake.record(a)["updated_at"] > before
    bad = send(fake, "PUT", f"/api/customers/{a}", {"billing_address_id": other_address})
    assert bad.status_code == 422 and "billing_address_id" in bad.json()["errors"]
    assert send(fake, "PUT", "/api/customers/999", {"first_name": "x"}).status_code == 404


def test_main_address_is_always_embedded_the_others_on_request(fake: FakeServer) -> None:
    [cid] = fake.seed([{"email": "a@b.co", "billing_address": ADDRESS, "shipping_address": ADDRESS | {"city": "X"}}])
    plain = get(fake, f"/api/customers/{cid}").json()
    assert plain["address"]["city"] == "Austin" and "shipping_address" not in plain
    full = get(fake, f"/api/customers/{cid}", [("_include[]", "billing_address"), ("_include[]", "shipping_address")])
    assert full.json()["shipping_address"]["city"] == "X"
    assert get(fake, "/api/customers/999").json() == {"message": "Not found"}


@pytest.fixture
def people(fake: FakeServer) -> list[int]:
    return fake.seed([
        {"email": "ann@example.com", "first_name": "Ann", "updated_at": "2024-01-01T10:00:00-05:00",
         "custom": {"size": "XL"}},
        {"email": "Bob@Example.com", "first_name": "Bob", "updated_at": "2024-01-02T10:00:00+00:00"},
        {"email": "cy@example.org", "first_name": "Cy", "active": False, "updated_at": "2024-01-03T10:00:00Z"},
    ])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"_filter": '{"email":"ann@example.com"}'}, ["ann@example.com"]),
        ({"_filter": '{"email":"bob@example.com"}'}, []),  # equality is exact: case matters
        ({"_filter": '{"email":{"$like":"%@example.com"}}'}, ["ann@example.com"]),
        ({"_filter": '{"email":{"$in":["cy@example.org","ann@example.com"]}}'}, ["ann@example.com", "cy@example.org"]),
        ({"_filter": '{"updated_at":{"$gte":"2024-01-02T10:00:00Z"}}'}, ["Bob@Example.com", "cy@example.org"]),
        ({"_filter": '{"updated_at":{"$gt":"2024-01-01T15:00:00Z"}}'}, ["Bob@Example.com", "cy@example.org"]),
        ({"_filter": '{"active":false}'}, ["cy@example.org"]),
        ({"_filter": '{"custom@size":"XL"}'}, ["ann@example.com"]),
        ({"_filter": '[{"active":true},{"first_name":{"$ne":"Ann"}}]'}, ["Bob@Example.com"]),
        ({"_filter[]": ['{"active":true}', '{"first_name":"Ann"}']}, ["ann@example.com"]),
        ({"_filter": '{"$or":[{"first_name":"Ann"},{"first_name":"Cy"}]}'}, ["ann@example.com", "cy@example.org"]),
        ({"_filter": '{"$and":[{"active":true},{"email":{"$like":"B%"}}]}'}, ["Bob@Example.com"]),
        ({"_filter": '{"email":{"$in":["bob@example.com","x"]}}'}, []),
        ({"_filter": '{"email":{"$nin":["cy@example.org","ann@example.com"]}}'}, ["Bob@Example.com"]),
        ({"_filter": '{"updated_at":{"$in":["2024-01-01T15:00:00Z","x"]}}'}, ["ann@example.com"]),
        ({"_filter": '{"id":{"$in":["1"]}}'}, ["ann@example.com"]),
    ],
    ids=["eq", "eq-is-case-sensitive", "like", "in", "gte-as-instants", "gt-across-offsets", "bool", "custom-at",
         "array-is-and", "repeated-filter-brackets", "or", "and", "in-is-case-sensitive", "nin",
         "in-compares-instants", "in-takes-an-id-as-text"],
)
def test_filter_json(fake: FakeServer, people: list[int], params: dict, expected: list[str]) -> None:
    response = get(fake, "/api/customers", params)
    assert response.status_code == 200
    assert emails(response) == expected


@pytest.mark.parametrize(
    "raw", ["{email:1}", '"text"', '{"email":{"$regex":"a"}}', '{"$not":{}}', '{"id":{"$in":3}}'],
    ids=["not-json", "not-object", "unknown-op", "unknown-logical", "in-not-list"],
)
def test_bad_filter_is_400(fake: FakeServer, raw: str) -> None:
    response = get(fake, "/api/customers", {"_filter": raw})
    assert response.status_code == 400 and response.json()["message"]


def test_sorting_and_paging(fake: FakeServer, people: list[int]) -> None:
    fake.seed([{"email": f"x{i}@example.com"} for i in range(22)])
    default = get(fake, "/api/customers").json()
    assert (default["total"], default["pages"], default["per_page"], len(default["results"])) == (25, 2, 20, 20)
    capped = get(fake, "/api/customers", {"per_page": 500}).json()
    assert (capped["pages"], capped["per_page"]) == (1, 100)
    page2 = get(fake, "/api/customers", {"per_page": 10, "page": 3}).json()
    assert [r["id"] for r in page2["results"]] == list(range(21, 26))
    newest_first = get(fake, "/api/customers", {"sort[]": "updated_at,desc", "per_page": 25}).json()["results"]
    assert [r["first_name"] for r in newest_first][-3:] == ["Cy", "Bob", "Ann"]
    empty = get(fake, "/api/customers", {"_filter": '{"email":"nobody"}'}).json()
    assert (empty["total"], empty["pages"], empty["results"]) == (0, 0, [])
    assert get(fake, "/api/customers", {"page": 0}).status_code == 400


def test_rate_limit_answers_429_with_retry_after_and_can_be_switched_off(fake: FakeServer) -> None:
    fake.set_rate_limit(3, 30.0)
    statuses = [get(fake, "/api/customers").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = get(fake, "/api/customers")
    assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 30
    fake.set_rate_limit(None)
    assert all(get(fake, "/api/customers").status_code == 200 for _ in range(20))


def test_injected_429_carries_retry_after(fake: FakeServer) -> None:
    fake.inject(429)
    fake.inject(429, headers={"Retry-After": "9"})
    assert get(fake, "/api/customers").headers["Retry-After"] == "1"
    assert get(fake, "/api/customers").headers["Retry-After"] == "9"


def test_control_api_seeds_and_shows_state(fake: FakeServer) -> None:
    seeded = requests.post(fake.url + "/_control/seed", json={"records": [
        {"email": "a@b.co", "phone": "555", "address": {"address1": "1 Main", "zip": "78701", "country_code": "US"}}
    ]}, timeout=5).json()
    assert seeded == {"ids": [1]}
    state = requests.get(fake.url + "/_control/state", timeout=5).json()
    [customer] = state["customers"]
    assert customer["phone_number"] == "555"
    [address] = customer["addresses"]
    assert (address["line_1"], address["postal_code"], address["country"], address["phone"]) == (
        "1 Main", "78701", "US", "555")
    assert customer["address_id"] == customer["billing_address_id"] == customer["shipping_address_id"] == 1


def test_timestamps_carry_the_store_offset_and_only_move_forward(fake: FakeServer) -> None:
    stamps = [fake.now() for _ in range(50)]
    assert stamps == sorted(stamps) and len(set(stamps)) == 50
    assert stamps[0].endswith("-05:00")


def test_module_serves_the_fake_on_a_port() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "possync.adapters.heartland.fake", "--port", "0", "--token", "abc"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = line.strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:")
        response = requests.get(url + "/api/customers", headers={"Authorization": "Bearer abc"}, timeout=5)
        assert response.status_code == 200 and json.loads(response.text)["results"] == []
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_state_dump_seeds_back_the_same_records(fake: FakeServer) -> None:
    fake.seed([{"email": "a@b.co", "billing_address": ADDRESS, "shipping_address": ADDRESS | {"city": "X"}}])
    dump = fake.state()
    fake.clear()
    fake.seed(dump["customers"])
    assert fake.state() == dump
    with pytest.raises(ValueError, match="already exists"):
        fake.seed([{"id": 1, "email": "again@b.co"}])


def test_responses_are_dated_by_the_clock_that_stamps_updated_at(fake: FakeServer, clock: Clock) -> None:
    """Clients judge whether an `updated_at` is settled by the vendor's `Date`, not their own clock."""
    clock.now = 1_700_000_000.0  # a clock of the fake's own, far from this machine's
    (cid,) = fake.seed([{"email": "now@example.com"}])
    response = get(fake, f"/api/customers/{cid}")
    stamp = datetime.fromisoformat(response.json()["updated_at"])
    served = parsedate_to_datetime(response.headers["Date"])
    assert timedelta(0) <= stamp - served < timedelta(seconds=1)  # `Date` is whole seconds
