"""POS -> Shopify (SPEC rule 2): only basic details and consent travel, nothing is blanked."""

from __future__ import annotations

from datetime import UTC, date, datetime

from possync.models.customer import Address, Consent, ConsentState, Customer
from possync.tasks.rules.consent import pos_flag_consent
from possync.tasks.rules.pos_to_shopify import shopify_changes_from_pos, shopify_tags_from_pos

T0 = datetime(2025, 1, 1, tzinfo=UTC)
LATER = datetime(2025, 6, 1, tzinfo=UTC)
SHOPIFY = Customer(first_name="Jane", last_name="Doe", email="jane@example.com", phone="+16135551212",
                   email_consent=Consent(ConsentState.NOT_SUBSCRIBED, T0))
POS = Customer(first_name="Jane", last_name="Doe", email="JANE@example.com ", phone="(613) 555-1212",
               birthday=date(1990, 1, 1), billing_address=Address("1 Main St"), tags=("VIP",),
               email_consent=pos_flag_consent(False, T0))


def test_rule_2_an_agreeing_customer_sends_nothing() -> None:
    assert shopify_changes_from_pos(POS, SHOPIFY) == {}


def test_rule_2_only_basic_details_travel() -> None:
    changed = POS.replace(last_name="Smith", phone="613-555-0000", birthday=date(2000, 1, 1), tags=("X",),
                          billing_address=Address("2 Other St"))
    assert shopify_changes_from_pos(changed, SHOPIFY) == {"last_name": "Smith", "phone": "613-555-0000"}


def test_rule_2_a_new_pos_customer_sends_every_basic_detail_it_has() -> None:
    new = Customer(first_name=" Al ", email="al@example.com", email_consent=pos_flag_consent(True, LATER),
                   sms_consent=pos_flag_consent(False, LATER))
    assert shopify_changes_from_pos(new, None) == {
        "first_name": "Al", "email": "al@example.com", "email_consent": Consent(ConsentState.SUBSCRIBED, LATER),
    }


def test_rule_2_consent_newest_wins() -> None:
    opted_in = POS.replace(email_consent=pos_flag_consent(True, LATER))
    assert shopify_changes_from_pos(opted_in, SHOPIFY) == {"email_consent": Consent(ConsentState.SUBSCRIBED, LATER)}
    old_opt_in = POS.replace(email_consent=pos_flag_consent(True, None))
    unsubscribed = SHOPIFY.replace(email_consent=Consent(ConsentState.UNSUBSCRIBED, T0))
    assert shopify_changes_from_pos(old_opt_in, unsubscribed) == {}


def test_rule_21_empty_pos_values_never_blank_shopify() -> None:
    assert shopify_changes_from_pos(Customer(first_name="", email=None), SHOPIFY) == {}


def test_rule_50_only_pos_tags_shopify_lacks_cause_a_tag_write() -> None:
    shopify = SHOPIFY.replace(tags=("VIP", "Online"))
    assert shopify_tags_from_pos(POS.replace(tags=("vip", "Shopify", "ACME")), shopify, account_name="acme") \
        == (None, [])
    tags, dropped = shopify_tags_from_pos(POS.replace(tags=("vip", "Gold")), shopify, account_name="acme")
    assert tags is not None and tuple(tags) == ("VIP", "Online", "Gold") and dropped == []


def test_rule_50_a_full_shopify_tag_list_drops_the_new_tags_and_says_so() -> None:
    full = SHOPIFY.replace(tags=tuple(f"t{i}" for i in range(250)))
    tags, dropped = shopify_tags_from_pos(POS.replace(tags=("Gold", "x" * 300)), full, account_name="acme")
    assert tags is None  # nothing Shopify could take: no write
    assert [d["reason"] for d in dropped] == ["more than 250 tags", "longer than 255 characters"]


def test_rule_2_phones_are_compared_in_the_tenants_region() -> None:
    """A London shop's `020 7946 0958` is Shopify's `+44 20 7946 0958`: nothing to send."""
    pos, shopify = Customer(phone="020 7946 0958"), Customer(phone="+44 20 7946 0958")
    assert shopify_changes_from_pos(pos, shopify, region="GB") == {}
    assert shopify_changes_from_pos(pos, shopify, region="US") == {"phone": "020 7946 0958"}
