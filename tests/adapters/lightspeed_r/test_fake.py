"""The R-Series fake itself, over raw HTTP: it must show the vendor's quirks, or the adapter tests prove nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from possync.adapters.lightspeed_r.fake import FakeServer
from tests.adapters.lightspeed_r.helpers import running

AUTH = {"Authorization": "Bearer fake-access-token", "Accept": "application/json"}
REL = '["Contact","Tags"]'
ROOT = Path(__file__).resolve().parents[3]


def api(fake: FakeServer, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, f"{fake.url}/API/V3/Account/{fake.account_id}/{path}", headers=AUTH, timeout=5,
                            **kwargs)


def listing(fake: FakeServer, **params: Any) -> dict[str, Any]:
    response = api(fake, "GET", "Customer.json", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_scalars_are_strings_and_foreign_keys_zero(fake: FakeServer) -> None:
    (pos_id,) = fake.seed([{"first_name": "Jane", "birthday": "1990-05-01", "no_email": True}])
    body = api(fake, "GET", f"Customer/{pos_id}.json", params={"load_relations": REL}).json()
    customer = body["Customer"]
    assert customer["customerID"] == pos_id and customer["archived"] == "false"
    assert customer["creditAccountID"] == "0" and customer["customerTypeID"] == "0"
    assert customer["Contact"]["noEmail"] == "true" and customer["Contact"]["noPhone"] == "false"
    assert customer["Contact"]["contactID"].isdigit()
    assert all(isinstance(v, str) for k, v in customer.items() if k not in ("Contact", "Tags"))


def test_relations_only_when_loaded_and_dob_absent_when_unset(fake: FakeServer) -> None:
    (pos_id,) = fake.seed([{"first_name": "Plain", "email": "p@example.com"}])
    customer = api(fake, "GET", f"Customer/{pos_id}.json").json()["Customer"]
    assert "Contact" not in customer and "Tags" not in customer and "dob" not in customer
    bad = api(fake, "GET", f"Customer/{pos_id}.json", params={"load_relations": "Contact"})
    assert bad.status_code == 400  # must be a JSON array string


def test_one_element_is_an_object_several_an_array_none_empty_string(fake: FakeServer) -> None:
    fake.seed([{"first_name": "One", "email": "a@example.com"},
               {"first_name": "Two", "emails": ["b@example.com", "c@example.com"]},
               {"first_name": "None"}])
    one = listing(fake, load_relations=REL, firstName="One")
    assert isinstance(one["Customer"], dict)
    assert isinstance(one["Customer"]["Contact"]["Emails"]["ContactEmail"], dict)
    many = listing(fake, load_relations=REL)
    assert isinstance(many["Customer"], list) and len(many["Customer"]) == 3
    assert isinstance(many["Customer"][1]["Contact"]["Emails"]["ContactEmail"], list)
    assert many["Customer"][2]["Contact"]["Emails"] == "" and many["Customer"][2]["Tags"] == ""
    nobody = listing(fake, firstName="Nobody")
    assert "Customer" not in nobody and nobody["@attributes"]["count"] == "0"
    assert nobody["@attributes"]["next"] == "" and nobody["@attributes"]["previous"] == ""


def test_archived_hidden_unless_asked_and_delete_archives(fake: FakeServer) -> None:
    ids = fake.seed([{"first_name": "Keep"}, {"first_name": "Drop"}])
    deleted = api(fake, "DELETE", f"Customer/{ids[1]}.json")
    assert deleted.status_code == 200 and deleted.json()["Customer"]["archived"] == "true"
    assert fake.record(ids[1]) is not None  # soft delete
    assert listing(fake)["Customer"]["customerID"] == ids[0]
    assert len(listing(fake, archived="true")["Customer"]) == 2
    assert listing(fake, archived="only")["Customer"]["customerID"] == ids[1]
    assert api(fake, "GET", f"Customer/{ids[1]}.json").json()["Customer"]["archived"] == "true"
    unarchived = api(fake, "PUT", f"Customer/{ids[1]}.json", json={"archived": False})
    assert unarchived.json()["Customer"]["archived"] == "false"


def test_like_operator_and_relation_must_be_loaded(fake: FakeServer) -> None:
    ids = fake.seed([{"email": "Jane@Example.com"}, {"phone": "(360) 555-2453"}])
    found = listing(fake, load_relations=REL, **{"Contact.Emails.ContactEmail.address": "~,jane@example.com"})
    assert found["Customer"]["customerID"] == ids[0]  # LIKE without % is equality, case-insensitive
    found = listing(fake, load_relations=REL, **{"Contact.Phones.ContactPhone.number": "~,%555-24%"})
    assert found["Customer"]["customerID"] == ids[1]
    exact = listing(fake, load_relations=REL, **{"Contact.Phones.ContactPhone.number": "~,3605552453"})
    assert "Customer" not in exact  # stored as typed: an exact digits search misses it
    refused = api(fake, "GET", "Customer.json", params={"Contact.Emails.ContactEmail.address": "~,x"})
    assert refused.status_code == 400


def test_operators_and_timestamp_filters(fake: FakeServer) -> None:
    ids = fake.seed([{"first_name": "A", "time_stamp": "2024-01-01T00:00:00+00:00"},
                     {"first_name": "B", "time_stamp": "2024-02-01T00:00:00+00:00"},
                     {"first_name": "C", "time_stamp": "2024-03-01T00:00:00+00:00"}])

    def names(**params: Any) -> list[str]:
        found = listing(fake, **params).get("Customer", [])
        return [c["firstName"] for c in (found if isinstance(found, list) else [found])]

    assert names(timeStamp=">=,2024-02-01T00:00:00+00:00") == ["B", "C"]
    assert names(timeStamp=">,2024-02-01T00:00:00+00:00") == ["C"]
    assert names(timeStamp="><,2024-01-15T00:00:00+00:00,2024-02-15T00:00:00+00:00") == ["B"]
    assert names(customerID=f"IN,[{ids[0]},{ids[2]}]") == ["A", "C"]
    assert names(firstName="!=,B") == ["A", "C"]
    assert names(sort="-timeStamp") == ["C", "B", "A"]
    assert api(fake, "GET", "Customer.json", params={"timeStamp": ">=,garbage"}).status_code == 400


@pytest.mark.parametrize(
    "params",
    [{"limit": "101"}, {"limit": "0"}, {"offset": "10"}, {"orderby": "firstName"}, {"sort": "email"},
     {"count": "1", "limit": "5"}, {"archived": "yes"}, {"nope": "1"}, {"after": "%%%"}],
    ids=["limit-over-100", "limit-zero", "offset-removed", "orderby-removed", "unsortable", "count-with-limit",
         "archived-bad", "unknown-field", "bad-cursor"],
)
def test_bad_queries_are_400(fake: FakeServer, params: dict[str, str]) -> None:
    response = api(fake, "GET", "Customer.json", params=params)
    assert response.status_code == 400 and response.json()["message"]


def test_next_and_previous_are_full_urls_with_an_opaque_after(fake: FakeServer) -> None:
    fake.seed([{"first_name": f"N{i}"} for i in range(5)])
    first = listing(fake, limit=2, sort="firstName")
    next_url = first["@attributes"]["next"]
    assert next_url.startswith(f"{fake.url}/API/V3/Account/") and "after=" in next_url and "sort=firstName" in next_url
    assert first["@attributes"]["previous"] == ""
    second = requests.get(next_url, headers=AUTH, timeout=5).json()
    assert [c["firstName"] for c in second["Customer"]] == ["N2", "N3"]
    assert "before=" in second["@attributes"]["previous"]
    back = requests.get(second["@attributes"]["previous"], headers=AUTH, timeout=5).json()
    assert [c["firstName"] for c in back["Customer"]] == ["N0", "N1"]
    last = requests.get(second["@attributes"]["next"], headers=AUTH, timeout=5).json()
    assert last["Customer"]["firstName"] == "N4" and last["@attributes"]["next"] == ""


def test_count(fake: FakeServer) -> None:
    fake.seed([{"first_name": "A"}, {"first_name": "B"}])
    response = api(fake, "GET", "Customer.json", params={"count": "1"})
    assert response.json() == {"@attributes": {"count": "2"}}
    assert response.headers["X-LS-API-Request-Cost"] == "10"


def test_writes_validate_and_cost_more(fake: FakeServer) -> None:
    body = {"firstName": "Jane", "Contact": {"Emails": {"ContactEmail": [{"address": "j@example.com",
                                                                           "useType": "Primary"}]},
                                             "Phones": {"ContactPhone": [{"number": "1", "useType": "Home"}]}}}
    created = api(fake, "POST", "Customer.json", json=body)
    assert created.status_code == 200 and created.json()["@attributes"]["count"] == "1"
    assert created.headers["X-LS-API-Request-Cost"] == "2.5"  # 1 + 0.5 x (Contact, email, phone)
    assert api(fake, "POST", "Customer.json", json={"Customer": body}).status_code == 400  # no wrapper
    two_homes = {"Contact": {"Phones": {"ContactPhone": [{"number": "1", "useType": "Home"},
                                                         {"number": "2", "useType": "Home"}]}}}
    assert api(fake, "POST", "Customer.json", json=two_homes).status_code == 400
    assert api(fake, "POST", "Customer.json", json={"Contact": {"noEmail": "perhaps"}}).status_code == 400
    assert api(fake, "PUT", "Customer/999.json", json={"firstName": "x"}).status_code == 404


def test_headers_on_every_answer(fake: FakeServer) -> None:
    response = api(fake, "GET", "Customer.json", params={"load_relations": REL})
    assert response.headers["X-LS-API-Bucket-Level"] == "1.6/90"  # 1 + (0.1 + 0.2) x 2 on a list
    assert response.headers["X-LS-API-Drip-Rate"] == "1"
    assert response.headers["X-LS-API-Request-Cost"] == "1.6"
    assert response.headers["X-LS-Acct-Id"] == fake.account_id


def test_429_has_the_vendor_headers() -> None:
    with running(FakeServer(bucket_size=2.5, drip_rate=0.01)) as server:
        statuses = [api(server, "GET", "Customer.json") for _ in range(5)]
        # The request that overflows the bucket (level 2 -> 3) is still let in; the ones after it are not.
        assert [r.status_code for r in statuses] == [200, 200, 200, 429, 429]
        limited = statuses[3]
        assert limited.headers["X-LS-API-RateLimit-Type"] == "api-leaky-bucket"
        assert int(limited.headers["Retry-After"]) >= 1
        assert limited.headers["X-LS-API-Bucket-Level"].endswith("/2.5")


def test_auth_required_with_the_documented_401(fake: FakeServer) -> None:
    response = requests.get(f"{fake.url}/API/V3/Account/{fake.account_id}/Customer.json", timeout=5)
    assert response.status_code == 401
    assert response.json()["error"] == "access_denied" and "verified" in response.json()["hint"]
    other = requests.get(f"{fake.url}/API/V3/Account/999/Customer.json", headers=AUTH, timeout=5)
    assert other.status_code == 403


def test_control_api(fake: FakeServer) -> None:
    ids = requests.post(f"{fake.url}/_control/seed", json={"records": [{"first_name": "Via"}]}, timeout=5).json()["ids"]
    requests.post(f"{fake.url}/_control/archive", json={"id": ids[0]}, timeout=5)
    state = requests.get(f"{fake.url}/_control/state", timeout=5).json()
    assert state["customers"][0]["archived"] == "true"
    requests.post(f"{fake.url}/_control/expire-tokens", timeout=5)
    assert api(fake, "GET", "Customer.json").status_code == 401


def test_python_dash_m_serves_the_fake() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "possync.adapters.lightspeed_r.fake", "--port", "0"], cwd=ROOT,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "listening on http://127.0.0.1:" in line, process.stderr.read() if process.stderr else line
        url = line.rsplit(" ", 1)[-1].strip()
        response = requests.get(f"{url}/API/V3/Account.json", headers=AUTH, timeout=5)
        assert response.json()["Account"]["accountID"] == "12345"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_responses_are_dated_by_the_clock_that_stamps_records(fake: FakeServer) -> None:
    """Clients judge whether a `timeStamp` second is over by the vendor's `Date`, not their own clock."""
    fake.advance_clock(3600)
    (pos_id,) = fake.seed([{"first_name": "Now"}])
    response = api(fake, "GET", f"Customer/{pos_id}.json")
    stamp = datetime.fromisoformat(response.json()["Customer"]["timeStamp"])
    served = parsedate_to_datetime(response.headers["Date"])
    assert abs((served - stamp).total_seconds()) <= 1


def test_one_second_read_by_customer_id_after_a_given_id(fake: FakeServer) -> None:
    """The keyset a client resumes with: equality on a second, `customerID` above the last one read."""
    second = "2024-05-01T10:00:00+00:00"
    ids = fake.seed([{"first_name": f"N{i}", "time_stamp": second} for i in range(3)])
    fake.seed([{"first_name": "Later", "time_stamp": "2024-05-01T10:00:01+00:00"}])
    body = listing(fake, timeStamp=second, customerID=f">,{ids[0]}", sort="customerID")
    assert [c["customerID"] for c in body["Customer"]] == ids[1:]
