"""The GraphQL Admin client against the fake over real HTTP: each operation and each error channel."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from possync.adapters.errors import FatalError, RateLimitedError, RetryableError
from possync.adapters.ratelimit import RateLimitInfo
from possync.adapters.shopify.client import ShopifyClient, ShopifyUserError, throttle_wait
from possync.adapters.shopify.fake import FakeShopify
from possync.models.customer import Address, Consent, ConsentState, Customer

OTTAWA = {"address1": "150 Elgin St", "city": "Ottawa", "provinceCode": "ON", "zip": "K2P 1L4", "countryCode": "CA"}


def test_endpoint_and_auth_header(fake: FakeShopify, client: ShopifyClient) -> None:
    client.get_customer("1")
    [logged] = fake.vendor_requests()
    assert logged.method == "POST" and logged.path == "/admin/api/2026-07/graphql.json"
    assert ShopifyClient("acme.myshopify.com", "t").base_url == "https://acme.myshopify.com"
    assert ShopifyClient("acme.myshopify.com", "t", api_version="2026-10").path == "/admin/api/2026-10/graphql.json"


def test_get_customer_reads_everything_the_sync_needs(fake: FakeShopify, client: ShopifyClient) -> None:
    stamp = "2026-05-01T10:00:00+00:00"
    customer_id = fake.add_customer(
        "Ann", "Lee", "ann@example.com", "(613) 555-1212", address=OTTAWA, tags=["wholesale", "VIP"],
        email_consent="SUBSCRIBED", sms_consent="UNSUBSCRIBED", consent_updated_at=stamp, birthday="1990-02-03",
        orders_count=4, amount_spent="321.50",
    )

    found = client.get_customer(customer_id)

    assert found is not None and found.id == customer_id
    customer = found.customer
    assert (customer.first_name, customer.last_name, customer.email) == ("Ann", "Lee", "ann@example.com")
    assert customer.phone == "+16135551212"  # Shopify stores E.164
    assert customer.billing_address == Address("150 Elgin St", None, "Ottawa", "ON", "K2P 1L4", "CA")
    assert customer.email_consent == Consent(ConsentState.SUBSCRIBED, datetime(2026, 5, 1, 10, tzinfo=UTC))
    assert customer.sms_consent.state is ConsentState.UNSUBSCRIBED
    assert customer.birthday == date(1990, 2, 3)
    assert set(customer.tags) == {"wholesale", "VIP"}
    assert found.state == "enabled" and found.orders_count == 4 and found.amount_spent == "321.50"


def test_get_customer_accepts_a_gid_and_returns_none_when_unknown(fake: FakeShopify, client: ShopifyClient) -> None:
    customer_id = fake.add_customer("A", email="a@x.co")
    assert client.get_customer(f"gid://shopify/Customer/{customer_id}").id == customer_id
    assert client.get_customer("999999") is None


def test_birthday_metafield_is_configurable(fake: FakeShopify) -> None:
    customer_id = fake.add_customer("A", email="a@x.co")
    fake.set_metafield(customer_id, "custom", "date_of_birth", "1985-12-31")
    client = ShopifyClient("acme.myshopify.com", fake.access_token, base_url=fake.url,
                           birthday_metafield=("custom", "date_of_birth"))
    assert client.get_customer(customer_id).customer.birthday == date(1985, 12, 31)


def test_get_order_with_and_without_customer(fake: FakeShopify, client: ShopifyClient) -> None:
    customer_id = fake.add_customer("Ann", email="ann@example.com")
    order_id = fake.add_order(customer_id, source_name="pos", billing_address=OTTAWA,
                              shipping_address={**OTTAWA, "address1": "9 Bank St"})
    guest_order = fake.add_order(None, email="guest@example.com")

    order = client.get_order(order_id)
    assert order.customer.id == customer_id and order.is_pos_order
    assert order.billing_address.address1 == "150 Elgin St" and order.shipping_address.address1 == "9 Bank St"
    guest = client.get_order(guest_order)
    assert guest.customer is None and guest.email == "guest@example.com"
    assert client.get_order("123") is None


def test_search_customers_by_email_and_phone(fake: FakeShopify, client: ShopifyClient) -> None:
    ann = fake.add_customer("Ann", email="Ann@Example.com", phone="+1 613-555-1212")
    fake.add_customer("Bob", email="bob@example.com", phone="613-555-9999")

    assert [c.id for c in client.search_customers(email="ann@example.COM")] == [ann]
    assert [c.id for c in client.search_customers(phone="(613) 555-1212")] == [ann]
    assert client.search_customers(email="nobody@example.com") == []
    assert len(client.search_customers(email="ann@example.com", phone="613-555-9999")) == 2  # either matches
    assert client.search_customers() == []  # nothing asked, nothing sent
    assert client.search_customers(email='odd"quote@example.com') == []


def test_create_customer_writes_every_field(fake: FakeShopify, client: ShopifyClient) -> None:
    stamp = datetime(2026, 6, 1, 12, tzinfo=UTC)
    created = client.create_customer(Customer(
        first_name="Cy", last_name="Do", email="cy@example.com", phone="6135550000", birthday=date(2000, 1, 2),
        billing_address=Address("1 Main St", city="Ottawa", province_code="ON", zip="K1A 0A1", country_code="CA"),
        email_consent=Consent(ConsentState.SUBSCRIBED, stamp), sms_consent=Consent(ConsentState.NOT_SUBSCRIBED),
        tags=("Shopify", "acmestore"),
    ))

    stored = fake.customers[created.id]
    assert stored["email"] == "cy@example.com" and stored["phone"] == "+16135550000"
    assert stored["addresses"][0]["address1"] == "1 Main St"
    assert stored["metafields"][("facts", "birth_date")]["value"] == "2000-01-02"
    assert stored["email_consent"]["state"] == "SUBSCRIBED"
    assert stored["sms_consent"]["state"] == "UNSUBSCRIBED"  # NOT_SUBSCRIBED cannot be input; sent as UNSUBSCRIBED
    assert set(stored["tags"]) == {"Shopify", "acmestore"}
    assert created.customer.email_consent == Consent(ConsentState.SUBSCRIBED, stamp)
    assert created.customer.birthday == date(2000, 1, 2)


def test_user_errors_are_fatal_and_name_the_field(fake: FakeShopify, client: ShopifyClient) -> None:
    fake.add_customer("Ann", email="ann@example.com")
    with pytest.raises(ShopifyUserError) as taken:
        client.create_customer(Customer(first_name="Other", email="ANN@example.com"))
    assert isinstance(taken.value, FatalError)
    assert taken.value.fields == ["email"] and "email: Email has already been taken" in str(taken.value)

    with pytest.raises(FatalError, match="phone: Phone is invalid"):
        client.create_customer(Customer(first_name="X", phone="12"))


def test_update_customer_writes_basic_details_and_tags_only(fake: FakeShopify, client: ShopifyClient) -> None:
    customer_id = fake.add_customer("Ann", "Lee", "ann@example.com")
    updated = client.update_customer(customer_id, {"first_name": "Anne", "phone": "+16135551234", "email": None})
    assert updated.customer.first_name == "Anne" and updated.customer.phone == "+16135551234"
    assert fake.customers[customer_id]["email"] == "ann@example.com"  # None never blanks a value out
    with pytest.raises(ValueError, match="birthday"):
        client.update_customer(customer_id, {"birthday": None})
    # Rule 50: Shopify's limits are kept even when the caller did not (251 tags, a comma, one too long).
    client.update_customer(customer_id, {"tags": ["a,b", "x" * 256, *(f"t{i}" for i in range(250))]})
    stored = fake.customers[customer_id]["tags"]
    assert len(stored) == 250 and stored[0] == "a b" and all(len(t) <= 255 for t in stored)


def test_update_with_nothing_to_write_sends_no_mutation(fake: FakeShopify, client: ShopifyClient) -> None:
    customer_id = fake.add_customer("Ann", email="ann@example.com")
    assert client.update_customer(customer_id, {"email": None}).id == customer_id
    assert client.stats.requests == 1  # one read, no mutation


def test_update_unknown_customer_is_fatal(client: ShopifyClient) -> None:
    with pytest.raises(ShopifyUserError, match="id: Customer does not exist"):
        client.update_customer("424242", {"first_name": "X"})


def test_consent_updates(fake: FakeShopify, client: ShopifyClient) -> None:
    customer_id = fake.add_customer("Ann", email="ann@example.com", phone="6135551212", email_consent="SUBSCRIBED")
    now = datetime.now(UTC).replace(microsecond=0)

    email = client.update_email_consent(customer_id, Consent(ConsentState.UNSUBSCRIBED, now))
    sms = client.update_sms_consent(customer_id, Consent(ConsentState.SUBSCRIBED, now))

    assert email.customer.email_consent == Consent(ConsentState.UNSUBSCRIBED, now)
    assert sms.customer.sms_consent.state is ConsentState.SUBSCRIBED
    # Latest wins: an older change does not undo the newer one.
    older = client.update_email_consent(customer_id, Consent(ConsentState.SUBSCRIBED, now - timedelta(days=1)))
    assert older.customer.email_consent.state is ConsentState.UNSUBSCRIBED


def test_consent_states_shopify_owns_are_refused_before_sending(client: ShopifyClient) -> None:
    for state in (ConsentState.REDACTED, ConsentState.INVALID):
        with pytest.raises(FatalError, match="cannot be written"):
            client.update_email_consent("1", Consent(state))
    assert client.stats.requests == 0


def test_sms_consent_needs_a_phone(fake: FakeShopify, client: ShopifyClient) -> None:
    customer_id = fake.add_customer("Ann", email="ann@example.com")
    with pytest.raises(ShopifyUserError, match="customerId: Customer must have a phone number"):
        client.update_sms_consent(customer_id, Consent(ConsentState.SUBSCRIBED))


def test_list_customers_pages_through_every_customer_once(fake: FakeShopify) -> None:
    fake.bucket = None  # a page costs about 1000 points: the default bucket would throttle the second one
    client = ShopifyClient("acme.myshopify.com", fake.access_token, base_url=fake.url)
    ids = [fake.add_customer(f"C{i}", email=f"c{i}@example.com", phone=f"+1 613-230-{i:04d}", address=OTTAWA)
           for i in range(505)]
    seen, after, pages = [], None, 0
    while True:
        page = client.list_customers(after, with_address=True)
        seen += page.customers
        pages += 1
        if not page.has_next:
            break
        assert page.end_cursor
        after = page.end_cursor
    assert [c.id for c in seen] == ids and pages == 3  # 249 + 249 + 7: the address makes a node cost 4
    assert seen[7].customer.phone == "+16132300007" and seen[7].customer.billing_address is not None
    lean = client.list_customers(None, with_address=False)
    assert len(lean.customers) == 250 and lean.customers[0].customer.billing_address is None


def test_the_listing_cost_limit_is_shopify_s(fake: FakeShopify, client: ShopifyClient) -> None:
    from possync.adapters.shopify import queries

    fake.add_customer("Ann", email="ann@example.com")
    query = queries.list_customers(queries.list_fields(with_address=True))
    with pytest.raises(FatalError, match="MAX_COST_EXCEEDED"):  # 2 + 250 x 4 objects = 1002 points
        client.execute("ListCustomers", query, {"first": 250, "after": None})
    with pytest.raises(FatalError, match="Invalid cursor"):
        client.execute("ListCustomers", query, {"first": 10, "after": "not-a-cursor"})
    last = client.list_customers(with_address=False).end_cursor  # 752 points requested, 5 charged
    empty = client.list_customers(last, with_address=False)
    assert empty.customers == [] and empty.has_next is False and empty.end_cursor is None


# --- throttling and errors -----------------------------------------------------------------------------
def test_throttled_becomes_rate_limited_with_the_computed_wait(fake: FakeShopify) -> None:
    small = FakeShopify(fake.access_token, maximum_available=20, restore_rate=1)
    small.start()
    try:
        customer_id = small.add_customer("Ann", email="ann@example.com")
        client = ShopifyClient("acme.myshopify.com", fake.access_token, base_url=small.url)
        readings: list[RateLimitInfo] = []
        client.on_rate_limit = readings.append
        for _ in range(3):  # 6 points each, no refund: 20 -> 2 left
            client.get_customer(customer_id)
        with pytest.raises(RateLimitedError) as caught:
            client.get_customer(customer_id)
        # (requested 6 - about 2 available) / 1 point per second: about 4 s, never 0, never over 6.
        assert 3.0 <= caught.value.retry_after <= 6.0
        assert readings[0].capacity == 20 and readings[0].drip_per_second == 1
        assert readings[-1].retry_after == caught.value.retry_after
        assert small.count_requests("POST") == 4  # the client did not sleep and retry by itself
    finally:
        small.stop()


def test_refunded_cost_keeps_cheap_searches_unthrottled(fake: FakeShopify) -> None:
    small = FakeShopify(fake.access_token, maximum_available=100, restore_rate=1)
    small.start()
    try:
        client = ShopifyClient("acme.myshopify.com", fake.access_token, base_url=small.url)
        for _ in range(10):  # requested 62 each, but nothing found costs 2: the rest is refunded
            client.search_customers(email="nobody@example.com")
    finally:
        small.stop()


def test_throttle_wait_formula() -> None:
    assert throttle_wait(102, 2, 50) == 2.0
    assert throttle_wait(10, 500, 50) == 0.1  # already refilled: the minimum, never 0 or negative
    assert throttle_wait(None, 1, 50) == 1.0 and throttle_wait(10, 1, 0) == 1.0


def test_wrong_token_is_fatal(fake: FakeShopify) -> None:
    client = ShopifyClient("acme.myshopify.com", "shpat_wrong", base_url=fake.url)
    with pytest.raises(FatalError, match="access token") as caught:
        client.get_customer("1")
    assert caught.value.http_status == 401


def test_internal_server_error_is_retryable(fake: FakeShopify, client: ShopifyClient) -> None:
    fake.inject(200, body={"errors": [{"message": "Internal error. Looks like something went wrong on our end.",
                                       "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]})
    with pytest.raises(RetryableError):
        client.get_customer("1")
    fake.inject(503)
    with pytest.raises(RetryableError):
        client.get_customer("1")


def test_other_graphql_errors_are_fatal(fake: FakeShopify, client: ShopifyClient) -> None:
    fake.inject(200, body={"errors": [{"message": "Access denied for customers field.",
                                       "extensions": {"code": "ACCESS_DENIED"}}]})
    with pytest.raises(FatalError, match="ACCESS_DENIED"):
        client.get_customer("1")


def test_http_429_honours_retry_after(fake: FakeShopify, client: ShopifyClient) -> None:
    fake.inject(429, headers={"Retry-After": "2.0"}, body={"errors": "Exceeded 2 calls per second"})
    with pytest.raises(RateLimitedError) as caught:
        client.get_customer("1")
    assert caught.value.retry_after == 2.0


def test_invalid_id_is_fatal_without_a_request(client: ShopifyClient) -> None:
    with pytest.raises(FatalError, match="not a Shopify id"):
        client.get_customer("bob@example.com")
    assert client.stats.requests == 0


def test_stats_count_requests(fake: FakeShopify, client: ShopifyClient) -> None:
    client.get_customer("1")
    client.get_order("1")
    assert client.stats.requests == 2 and client.stats.by_status == {200: 2}
    assert client.stats.last_rate_limit.capacity == 2000
