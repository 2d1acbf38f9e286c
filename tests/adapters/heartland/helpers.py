"""Shared values for the Heartland tests: the tenant's token and custom-field mapping, sample customers."""

from __future__ import annotations

from possync.models.customer import Address, Consent, ConsentState, Customer

TOKEN = "hl-test-token"
CUSTOM_FIELDS = {"email_opt_in": "email_opt_in", "birthday": "dob", "tags": "shopify_tags"}

AUSTIN = Address(address1="1 Main St", city="Austin", province_code="TX", zip="78701", country_code="US")
DALLAS = Address(
    address1="9 Elm St", address2="Unit 4", city="Dallas", province_code="TX", zip="75201", country_code="US"
)


def jane(**changes: object) -> Customer:
    base = Customer(
        first_name="Jane",
        last_name="Doe",
        email="jane@example.com",
        phone="5125550100",
        billing_address=AUSTIN,
        shipping_address=AUSTIN,
        email_consent=Consent(ConsentState.SUBSCRIBED),
        tags=("Shopify", "acme"),
    )
    return base.replace(**changes)
