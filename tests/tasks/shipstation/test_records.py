"""ShipStation records' keys (SPEC rules 46, 49): the normalised address, the Shopify link."""

from __future__ import annotations

from possync.adapters.shipstation.mapping import customer_from_json
from possync.tasks.shipstation.records import address_key, linked_shopify_id


def test_one_address_typed_differently_is_one_key() -> None:
    a = {"street1": "150 Elgin Street", "city": "Ottawa", "state": "ON", "postalCode": "K2P 1L4", "countryCode": "CA"}
    b = {"street1": "150  ELGIN st.", "city": "ottawa", "state": "on", "postalCode": "k2p1l4", "countryCode": "ca"}
    assert address_key(a) == address_key(b) is not None
    assert address_key({**a, "street2": "Apt 3"}) != address_key(a)


def test_an_address_without_street_or_place_has_no_key() -> None:
    assert address_key({"city": "Ottawa", "postalCode": "K2P 1L4"}) is None
    assert address_key({"street1": "150 Elgin"}) is None


def test_the_shopify_link_is_the_store_username_or_an_exported_manual_one() -> None:
    store = customer_from_json({"customerId": 1, "marketplaceUsernames": [
        {"marketplaceId": 7, "marketplace": "Shopify", "username": "7208000000001"}]})
    exported = customer_from_json({"customerId": 2, "marketplaceUsernames": [
        {"marketplaceId": 0, "marketplace": "ShipStation", "username": "7208000000002"}]})
    by_email = customer_from_json({"customerId": 3, "marketplaceUsernames": [
        {"marketplaceId": 0, "marketplace": "ShipStation", "username": "ana@example.com"}]})
    assert [linked_shopify_id(c) for c in (store, exported, by_email)] == ["7208000000001", "7208000000002", None]
