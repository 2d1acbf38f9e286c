"""One contract, three POS: the same suite against each adapter and its fake over real HTTP.

Whatever a vendor's wire format, the pipeline sees the same behaviour: ids round-trip, searches find
what was written, updates write only the fields given, the change poll sees writes and deletions, and
a repeated poll with nothing new costs one request and returns nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import pytest

from possync.adapters.base import PosAdapter
from possync.adapters.fakes.server import FakeVendorServer
from possync.adapters.registry import vendor_package
from possync.models.customer import Address, Consent, ConsentState, Customer
from possync.models.tables import PosKind, PosStatus
from possync.models.tenants import TenantSettings

TOKEN = "contract-token"
CUSTOM_FIELDS = {"email_opt_in": "optin", "birthday": "dob", "tags": "labels"}
JANE = Customer(
    first_name="Jane", last_name="Doe", email="jane.contract@example.com", phone="+1 613-555-0142",
    birthday=date(1990, 5, 17),
    billing_address=Address(address1="150 Elgin St", city="Ottawa", province_code="ON", zip="K2P 1L4",
                            country_code="CA"),
    email_consent=Consent(ConsentState.SUBSCRIBED), tags=("Shopify", "acmestore"),
)


@dataclass
class Pos:
    kind: PosKind
    fake: FakeVendorServer
    adapter: PosAdapter

    def remove(self, pos_id: str) -> None:
        """Archive (R-Series, Heartland) or delete (X-Series) in the back office."""
        self.fake.archive(pos_id)


def _fake(kind: PosKind) -> FakeVendorServer:
    server = importlib.import_module(vendor_package(kind).__name__ + ".fake").FakeServer
    if kind is PosKind.LIGHTSPEED_R:
        return server(access_token=TOKEN, bucket_size=None)
    if kind is PosKind.LIGHTSPEED_X:
        return server(access_token=TOKEN, rate_limit=None)
    return server(api_token=TOKEN, requests_per_window=None)


@pytest.fixture(params=list(PosKind), ids=[k.value for k in PosKind])
def pos(request) -> Iterator[Pos]:  # type: ignore[no-untyped-def]
    kind = request.param
    fake = _fake(kind)
    fake.start()
    config = {"base_url": fake.url, "account_id": getattr(fake, "account_id", None),
              "domain_prefix": getattr(fake, "domain_prefix", None), "subdomain": "contract"}
    settings = TenantSettings(heartland_custom_fields=CUSTOM_FIELDS)
    adapter = vendor_package(kind).make_adapter(config, {"access_token": TOKEN}, settings, None)
    yield Pos(kind, fake, adapter)
    fake.stop()


def test_create_then_get_round_trips_what_the_pos_holds(pos: Pos) -> None:
    created = pos.adapter.create_customer(JANE)
    fetched = pos.adapter.get_customer(created.pos_id)
    assert fetched is not None and fetched.status is PosStatus.ACTIVE
    got = fetched.customer
    assert (got.first_name, got.last_name, got.email) == ("Jane", "Doe", JANE.email)
    assert got.billing_address is not None and got.billing_address.city == "Ottawa"
    assert got.phone and got.phone.replace(" ", "").replace("-", "").endswith("6135550142")


def test_the_fake_counts_writes_aimed_at_archived_customers(pos: Pos) -> None:
    """Instrumentation for benchmarks (SPEC rule 37), not vendor behaviour: a write at a customer
    archived (X-Series: deleted) at that moment is counted, whatever the fake answers."""
    from possync.adapters.errors import AdapterError

    active, archived = (pos.adapter.create_customer(JANE).pos_id,
                        pos.adapter.create_customer(dataclasses.replace(JANE, email="other@example.com")).pos_id)
    pos.remove(archived)
    pos.adapter.update_customer(active, {"last_name": "Changed"})
    assert pos.fake.writes_to_archived == []
    with contextlib.suppress(AdapterError):  # X-Series refuses it (404); the others take it
        pos.adapter.update_customer(archived, {"last_name": "Changed"})
    assert pos.fake.writes_to_archived and all(archived in w.path for w in pos.fake.writes_to_archived)
    pos.fake.reset()
    assert pos.fake.writes_to_archived == []


def test_searches_find_the_customer(pos: Pos) -> None:
    """Vendor searches compare stored text; possync's own index (rule 9) covers other spellings."""
    created = pos.adapter.create_customer(JANE)
    assert [c.pos_id for c in pos.adapter.search_by_email("Jane.Contract@Example.com".lower())] == [created.pos_id]
    assert created.pos_id in [c.pos_id for c in pos.adapter.search_by_phone(JANE.phone or "")]
    assert pos.adapter.search_by_email("nobody@example.com") == []


def test_update_writes_only_the_fields_given(pos: Pos) -> None:
    created = pos.adapter.create_customer(JANE)
    updated = pos.adapter.update_customer(created.pos_id, {"last_name": "Doe-Smith"})
    assert updated.customer.last_name == "Doe-Smith"
    again = pos.adapter.get_customer(created.pos_id)
    assert again is not None
    assert (again.customer.first_name, again.customer.email) == ("Jane", JANE.email)
    assert again.customer.billing_address == created.customer.billing_address


def test_unknown_id_is_none(pos: Pos) -> None:
    unknown = "999999" if pos.kind is not PosKind.LIGHTSPEED_X else "0aa00000-0000-4000-8000-000000000000"
    assert pos.adapter.get_customer(unknown) is None


def test_the_change_poll_sees_writes_and_removals_and_idles_at_one_request(pos: Pos) -> None:
    first = pos.adapter.changes_since(None)
    cursor = first.next_cursor
    created = pos.adapter.create_customer(JANE)
    page = pos.adapter.changes_since(cursor)
    assert created.pos_id in [c.pos_id for c in page.customers]
    cursor = page.next_cursor
    pos.remove(created.pos_id)
    removed = pos.adapter.changes_since(cursor)
    statuses = {c.pos_id: c.status for c in removed.customers}
    assert statuses.get(created.pos_id) in (PosStatus.ARCHIVED, PosStatus.DELETED)
    fetched = pos.adapter.get_customer(created.pos_id)
    assert fetched is not None and fetched.status is not PosStatus.ACTIVE
    before = pos.adapter.stats.requests
    idle = pos.adapter.changes_since(removed.next_cursor)
    idle = pos.adapter.changes_since(idle.next_cursor)
    assert pos.adapter.stats.requests - before <= 2
    assert [c for c in idle.customers if c.pos_id == created.pos_id and c.status is PosStatus.ACTIVE] == []


def test_a_vendor_429_is_a_rate_limited_error_with_a_wait(pos: Pos) -> None:
    from possync.adapters.errors import RateLimitedError

    pos.fake.inject(429, count=1, headers={"Retry-After": "3"})
    with pytest.raises(RateLimitedError) as caught:
        pos.adapter.search_by_email("jane@example.com")
    assert 0 < caught.value.retry_after <= 60
