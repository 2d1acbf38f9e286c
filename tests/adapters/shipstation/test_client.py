"""The V1 client's own parts: rate-limit headers as the shared reading, dates, record shapes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from possync.adapters.shipstation.client import base_url_for, parse_rate_limit_headers
from possync.adapters.shipstation.mapping import CustomerShapeError, customer_from_json, parse_date


def test_a_window_with_room_is_a_bucket_reading_without_a_wait() -> None:
    info = parse_rate_limit_headers({"X-Rate-Limit-Limit": "40", "X-Rate-Limit-Remaining": "12",
                                     "X-Rate-Limit-Reset": "31"}, 200)
    assert info is not None
    assert (info.capacity, info.remaining, info.retry_after) == (40, 12, None)
    assert info.drip_per_second == pytest.approx(40 / 60)


def test_a_spent_window_waits_until_its_reset_even_on_a_200() -> None:
    info = parse_rate_limit_headers({"x-rate-limit-limit": "40", "x-rate-limit-remaining": "0",
                                     "x-rate-limit-reset": "17"}, 200)
    assert info is not None and info.retry_after == 17


def test_a_429_always_waits_a_window_when_the_reset_is_missing() -> None:
    info = parse_rate_limit_headers({}, 429, window_seconds=6)
    assert info is not None and info.retry_after == 6
    assert parse_rate_limit_headers({}, 200) is None


def test_the_base_url_is_the_v1_host_unless_overridden() -> None:
    assert base_url_for({"base_url": None}) == "https://ssapi.shipstation.com"
    assert base_url_for({"base_url": "http://127.0.0.1:9/"}) == "http://127.0.0.1:9"


def test_modify_dates_have_seven_fraction_digits_and_no_zone() -> None:
    assert parse_date("2014-11-18T10:33:01.1900000") == datetime(2014, 11, 18, 10, 33, 1, 190000, tzinfo=UTC)
    assert parse_date("junk") is None and parse_date(None) is None


def test_which_records_the_csv_import_can_update() -> None:
    store = customer_from_json({"customerId": 1, "marketplaceUsernames": [
        {"marketplaceId": 7, "marketplace": "Shopify", "username": "7208000000001"}]})
    manual = customer_from_json({"customerId": 2, "marketplaceUsernames": [
        {"marketplaceId": 0, "marketplace": "ShipStation", "username": "ana@example.com"}], "tags": [{"name": "VIP"}]})
    assert store.store_imported and store.shopify_customer_id == "7208000000001" and store.manual_username is None
    assert not manual.store_imported and manual.manual_username == "ana@example.com" and manual.tags == ("VIP",)
    with pytest.raises(CustomerShapeError):
        customer_from_json({"name": "no id"})
