"""The contract suite: the adapter against the fake, each built from its own reading of reference section 5.

The fake imports nothing of the adapter, so a wrong path, key or header in either fails here.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from possync.adapters.errors import AuthenticationError, FatalError, RateLimitedError
from possync.adapters.freshsales import make_adapter
from possync.adapters.freshsales.adapter import FreshsalesAdapter
from possync.adapters.freshsales.fake import FakeFreshsales
from possync.adapters.freshsales.mapping import CrmSchema, contact_payload
from possync.models.customer import Address, Consent, ConsentState, Customer
from possync.models.shopify_values import ShopifyCustomer
from tests.adapters.freshsales.conftest import KEY


def shopper(email: str | None = "ana@example.com", **kwargs) -> ShopifyCustomer:  # type: ignore[no-untyped-def]
    person = Customer(first_name="Ana", last_name="Lima", email=email, phone="+1 613-555-1212",
                      billing_address=Address(address1="1 Main St", city="Ottawa", province_code="ON", zip="K1A0B1",
                                              country_code="CA"),
                      email_consent=Consent(ConsentState.SUBSCRIBED))
    values = {"state": "enabled", "orders_count": 0, "amount_spent": "0.00", "currency": "CAD", "tax_exempt": False,
              "created_at": datetime(2026, 1, 2, tzinfo=UTC)} | kwargs
    return ShopifyCustomer(id="7001", customer=person, **values)


def test_connect_check_reads_api_names_from_the_crm_never_from_labels(adapter: FreshsalesAdapter) -> None:
    check = adapter.connect_check()
    # The fake holds them under names the labels would not give (as a CRM set up by hand may).
    assert check.schema.field_names == {"lifetime_value": "cf_ltv", "tax_exempt": "cf_tax_exempt_customer",
                                        "store_name": "cf_ecommerce_shop_name", "order_count": "cf_total_orders"}
    assert set(check.schema.status_ids) == {"Invited", "Activated", "Paying", "Deactivated", "Declined"}
    assert check.schema.lead_source_id is not None and check.missing == [] and check.created == []


def test_connect_check_creates_missing_fields_where_the_api_allows() -> None:
    fake = FakeFreshsales(KEY, allow_field_create=True)
    fake.start()
    try:
        check = make_adapter({"base_url": fake.url}, {"api_key": KEY}).connect_check()
    finally:
        fake.stop()
    assert check.created == ["Lifetime value", "Customer tax exempt", "E-commerce store name", "Total order count"]
    assert set(check.schema.field_names) == {"lifetime_value", "tax_exempt", "store_name", "order_count"}
    # Stages and statuses cannot be created through the API: named with label and type.
    assert {"what": "lifecycle stage", "label": "Customer", "type": "lifecycle stage"} in check.missing


def test_connect_check_names_what_it_cannot_create() -> None:
    fake = FakeFreshsales(KEY, allow_field_create=False)
    fake.start()
    try:
        check = make_adapter({"base_url": fake.url}, {"api_key": KEY}).connect_check()
    finally:
        fake.stop()
    assert {"what": "custom field", "label": "E-commerce store name", "type": "text"} in check.missing
    assert {"what": "custom field", "label": "Customer tax exempt", "type": "radio"} in check.missing
    assert check.schema.field_names == {}


def test_upsert_creates_then_updates_one_contact_by_email(adapter: FreshsalesAdapter, fake: FakeFreshsales) -> None:
    schema = adapter.connect_check().schema
    contact = contact_payload(shopper(), schema, store_name="acme", first_write=True)
    first = adapter.upsert_contact(contact)
    second = adapter.upsert_contact(contact_payload(shopper(orders_count=2), schema, store_name="acme"))
    assert first.created is True and second.created is False and first.contact_id == second.contact_id
    stored = adapter.get_contact(first.contact_id)
    assert stored is not None and stored["custom_field"]["cf_total_orders"] == 2
    assert stored["mobile_number"] == "+16135551212" and stored["external_id"] == "7001"
    assert stored["contact_status_id"] == schema.status_ids["Paying"]
    assert len(fake.state()["contacts"]) == 1


def test_upsert_without_email_keys_on_the_external_id(adapter: FreshsalesAdapter, fake: FakeFreshsales) -> None:
    schema = adapter.connect_check().schema
    one = adapter.upsert_contact(contact_payload(shopper(email=None), schema, store_name="acme"))
    two = adapter.upsert_contact(contact_payload(shopper(email=None, orders_count=1), schema, store_name="acme"))
    assert one.contact_id == two.contact_id and len(fake.state()["contacts"]) == 1


def test_unknown_custom_field_is_refused_naming_it(adapter: FreshsalesAdapter, fake: FakeFreshsales) -> None:
    schema = adapter.connect_check().schema
    fake.remove_field("Total order count")  # an admin deleted it after the check
    with pytest.raises(FatalError) as caught:
        adapter.upsert_contact(contact_payload(shopper(orders_count=3), schema, store_name="acme"))
    assert "cf_total_orders" in str(caught.value) and adapter.failed_field(caught.value) == "cf_total_orders"


def test_unknown_contact_key_and_invalid_email_are_refused(adapter: FreshsalesAdapter) -> None:
    with pytest.raises(FatalError, match="Unknown attribute: shoe_size"):
        adapter.upsert_contact({"emails": "ana@example.com", "shoe_size": 9})
    with pytest.raises(FatalError) as caught:
        adapter.upsert_contact({"emails": "not-an-email", "external_id": "1"})
    assert adapter.failed_field(caught.value) == "emails" and "not-an-email" not in str(caught.value)


def test_a_revoked_key_is_an_authentication_error(adapter: FreshsalesAdapter, fake: FakeFreshsales) -> None:
    fake.revoke()
    with pytest.raises(AuthenticationError) as caught:
        adapter.connect_check()
    assert "API key was rejected" in str(caught.value) and adapter.failed_field(caught.value) == "crm.api_key"


def test_an_answer_that_does_not_parse_names_the_endpoint(adapter: FreshsalesAdapter, fake: FakeFreshsales) -> None:
    fake.inject(200, body=["not", "a", "contact"])
    with pytest.raises(FatalError, match=r"contact\.id"):
        adapter.upsert_contact({"emails": "ana@example.com"})


def test_hourly_and_per_minute_limits_answer_429() -> None:
    fake = FakeFreshsales(KEY, requests_per_hour=5, per_minute=3)
    fake.start()
    try:
        adapter = make_adapter({"base_url": fake.url}, {"api_key": KEY}, default_429_wait=7.0)
        for _ in range(3):
            adapter.contact_fields()
        with pytest.raises(RateLimitedError) as caught:
            adapter.contact_fields()  # the per-minute window is spent
    finally:
        fake.stop()
    assert caught.value.retry_after == 7.0 and fake.rate_limited == 1


def test_the_key_is_sent_as_token_token(fake: FakeFreshsales) -> None:
    wrong = make_adapter({"base_url": fake.url}, {"api_key": KEY + "x"})
    with pytest.raises(AuthenticationError):
        wrong.contact_fields()
    assert make_adapter({"base_url": fake.url}, {"api_key": KEY}).contact_fields()


def test_schema_survives_its_json_form() -> None:
    schema = CrmSchema({"order_count": "cf_n"}, 4, {"Paying": 9}, 2)
    assert CrmSchema.from_json(schema.to_json()) == schema
