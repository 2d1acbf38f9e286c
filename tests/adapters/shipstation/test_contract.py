"""One contract, two sides: the same assertions about ShipStation V1 (reference §6.1) against the
adapter's client over HTTP and against the fake read with plain `requests` (the contract as written).

Both drivers talk to the fake; the raw driver encodes the reference itself (no adapter code), so the
fake is held to the contract and the client is held to the fake.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from possync.adapters.errors import AuthenticationError, FatalError, RateLimitedError
from possync.adapters.shipstation.client import ShipStationClient
from possync.adapters.shipstation.fake import FakeShipStation

KEY, SECRET = "contract-key", "contract-secret"


class RawDriver:
    """The reference read literally: Basic base64(key:secret); `{customers, total, page, pages}`."""

    def __init__(self, url: str, key: str = KEY, secret: str = SECRET) -> None:
        self.url = url
        self.auth = {"Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()}
        self.last: requests.Response | None = None

    def _get(self, path: str, **params: Any) -> Any:
        self.last = requests.get(self.url + path, params=params, headers=self.auth, timeout=10)
        if self.last.status_code == 429:
            raise RateLimitedError("429", retry_after=float(self.last.headers["X-Rate-Limit-Reset"]))
        if self.last.status_code == 401:
            raise AuthenticationError("401")
        if self.last.status_code >= 400:
            raise FatalError(str(self.last.status_code))
        return self.last.json()

    def page(self, number: int, size: int) -> tuple[list[str], list[str], int]:
        body = self._get("/customers", sortBy="ModifyDate", sortDir="DESC", page=number, pageSize=size)
        return ([str(c["customerId"]) for c in body["customers"]], [c["modifyDate"] for c in body["customers"]],
                body["pages"])

    def customer_email(self, customer_id: str) -> str | None:
        return self._get(f"/customers/{customer_id}")["email"]

    def tag_names(self) -> list[str]:
        return [t["name"] for t in self._get("/accounts/listtags")]

    def headers(self) -> dict[str, str]:
        assert self.last is not None
        return dict(self.last.headers)


class ClientDriver:
    def __init__(self, url: str, key: str = KEY, secret: str = SECRET) -> None:
        self.client = ShipStationClient(url, key, secret)

    def page(self, number: int, size: int) -> tuple[list[str], list[str], int]:
        result = self.client.list_customers(number, size)
        return ([c.customer_id for c in result.customers],
                [c.raw["modifyDate"] for c in result.customers], result.pages)

    def customer_email(self, customer_id: str) -> str | None:
        return self.client.get_customer(customer_id).values["email"]

    def tag_names(self) -> list[str]:
        return [t["name"] for t in self.client.list_tags()]

    def headers(self) -> dict[str, str]:
        info = self.client.stats.last_rate_limit
        assert info is not None
        return {"X-Rate-Limit-Limit": str(int(info.capacity or 0)),
                "X-Rate-Limit-Remaining": str(int((info.capacity or 0) - (info.level or 0)))}


DRIVERS = {"raw": RawDriver, "client": ClientDriver}


@pytest.fixture
def fake() -> Iterator[FakeShipStation]:
    server = FakeShipStation(KEY, SECRET, limit=5, window_seconds=3600)
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=sorted(DRIVERS))
def driver_kind(request) -> str:  # type: ignore[no-untyped-def]
    return str(request.param)


def _seed(fake: FakeShipStation, n: int) -> list[int]:
    return [fake.add_customer(name=f"N{i}", email=f"c{i}@example.com", tags=["VIP"] if i == 0 else [])
            for i in range(n)]


def test_pages_come_newest_first_and_cover_every_customer_once(fake: FakeShipStation, driver_kind: str) -> None:
    ids = _seed(fake, 7)
    fake.set_fields(ids[2], city="Madrid")  # modified last: first of the first page
    driver = DRIVERS[driver_kind](fake.url)
    first, stamps, pages = driver.page(1, 3)
    assert pages == 3 and first[0] == str(ids[2])
    assert stamps == sorted(stamps, reverse=True)
    seen = first + driver.page(2, 3)[0] + driver.page(3, 3)[0]
    assert sorted(seen) == sorted(str(i) for i in ids)


def test_one_customer_by_id_and_the_tags_list(fake: FakeShipStation, driver_kind: str) -> None:
    ids = _seed(fake, 2)
    driver = DRIVERS[driver_kind](fake.url)
    assert driver.customer_email(str(ids[1])) == "c1@example.com"
    assert driver.tag_names() == ["VIP"]
    with pytest.raises(FatalError):
        driver.customer_email("999")


def test_every_response_carries_the_window_headers(fake: FakeShipStation, driver_kind: str) -> None:
    _seed(fake, 1)
    driver = DRIVERS[driver_kind](fake.url)
    driver.page(1, 10)
    driver.page(1, 10)
    headers = driver.headers()
    assert headers["X-Rate-Limit-Limit"] == "5" and headers["X-Rate-Limit-Remaining"] == "3"


def test_a_spent_window_answers_429_with_the_seconds_to_its_reset(fake: FakeShipStation, driver_kind: str) -> None:
    driver = DRIVERS[driver_kind](fake.url)
    for _ in range(5):
        driver.page(1, 10)
    with pytest.raises(RateLimitedError) as caught:
        driver.page(1, 10)
    assert 3500 < caught.value.retry_after <= 3600
    assert fake.too_many == 1


def test_wrong_credentials_are_refused(fake: FakeShipStation, driver_kind: str) -> None:
    driver = DRIVERS[driver_kind](fake.url, KEY, "wrong")
    with pytest.raises(AuthenticationError):
        driver.page(1, 10)


def test_page_size_is_1_to_500(fake: FakeShipStation) -> None:
    raw = RawDriver(fake.url)
    with pytest.raises(FatalError):
        raw.page(1, 501)
    assert raw.page(1, 500)[2] == 1
