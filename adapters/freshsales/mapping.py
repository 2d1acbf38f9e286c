"""A Shopify customer as a Freshsales contact (SPEC rules 41-43, 45), and what the CRM must hold (rule 39).

Pure functions: the caller passes the field API names and lifecycle ids the connect check read from the
CRM (`CrmSchema`); a field the CRM lacks is left out, so the rest of the contact still syncs. Empty
Shopify values are left out too: an upsert changes only the keys it sends, so nothing is blanked.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import phonenumbers

from possync.adapters.freshsales import contract
from possync.models import military
from possync.models.customer import Consent, ConsentState
from possync.models.shopify_values import ShopifyCustomer


@dataclass(frozen=True)
class CustomField:
    key: str  # possync's name for it
    label: str  # the label the CRM shows (the seed's, rule 39)
    type: str  # Freshsales field type


# The four e-commerce fields of rule 39. The store name is text: the seed's "number" cannot hold a name.
CUSTOM_FIELDS = (
    CustomField("lifetime_value", "Lifetime value", "text"),
    CustomField("tax_exempt", "Customer tax exempt", "radio"),
    CustomField("store_name", "E-commerce store name", "text"),
    CustomField("order_count", "Total order count", "number"),
)
LIFECYCLE_STAGE = "Customer"
# Shopify account state -> contact status (rule 42); Paying overrides Invited and Activated.
STATUS_BY_STATE = {"invited": "Invited", "enabled": "Activated", "disabled": "Deactivated", "declined": "Declined"}
PAYING = "Paying"
STATUSES = ("Invited", "Activated", PAYING, "Deactivated", "Declined")
SOURCE = "Shopify"
# Sent but not compared: Shopify moves `updated_at` for changes the CRM does not hold (a note, a tag).
UNCOMPARED = frozenset({"updated_at", "lead_source_id"})


@dataclass(frozen=True)
class CrmSchema:
    """What the connect check found in the CRM: `cf_` names by possync key, the stage and status ids."""

    field_names: Mapping[str, str] = field(default_factory=dict)
    lifecycle_stage_id: int | None = None
    status_ids: Mapping[str, int] = field(default_factory=dict)
    lead_source_id: int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CrmSchema:
        return cls(field_names=dict(data.get("field_names") or {}), lifecycle_stage_id=data.get("lifecycle_stage_id"),
                   status_ids=dict(data.get("status_ids") or {}), lead_source_id=data.get("lead_source_id"))

    def to_json(self) -> dict[str, Any]:
        return {"field_names": dict(self.field_names), "lifecycle_stage_id": self.lifecycle_stage_id,
                "status_ids": dict(self.status_ids), "lead_source_id": self.lead_source_id}


def e164(phone: str | None, region: str) -> str | None:
    """The mobile number in E.164 (rule 41); None when it does not parse as a possible number."""
    if not phone:
        return None
    try:
        parsed = phonenumbers.parse(phone, region or "US")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def contact_status(customer: ShopifyCustomer) -> str | None:
    """Rule 42: from the account state; at least one order makes Paying unless disabled or declined."""
    state = (customer.state or "").lower()
    if (customer.orders_count or 0) > 0 and state not in ("disabled", "declined"):
        return PAYING
    return STATUS_BY_STATE.get(state)


def subscription(consent: Consent | None) -> str | None:
    """Rule 43: a Shopify consent state as the CRM's subscription status; None leaves the CRM's value."""
    if consent is None:
        return None
    if consent.state is ConsentState.SUBSCRIBED:
        return contract.SUBSCRIBED
    if consent.state in (ConsentState.UNSUBSCRIBED, ConsentState.REDACTED, ConsentState.INVALID):
        return contract.UNSUBSCRIBED
    return contract.NOT_SUBSCRIBED  # not_subscribed, and pending (a double opt-in not yet confirmed)


def _lifetime_value(customer: ShopifyCustomer) -> str | None:
    if customer.amount_spent is None:
        return None
    return f"{customer.amount_spent} {customer.currency}" if customer.currency else customer.amount_spent


def contact_payload(customer: ShopifyCustomer, schema: CrmSchema, *, store_name: str, region: str = "US",
                    sms_subscribed_when_phone: bool = False, first_write: bool = False) -> dict[str, Any]:
    """The `contact` object of an upsert: only keys with a value, custom fields under `custom_field`."""
    person = customer.customer
    address = military.normalise(person.billing_address)  # rule 52: the military form, as every destination
    mobile = e164(person.phone, region)
    street = ", ".join(p for p in (address.address1, address.address2) if p) if address else None
    values: dict[str, Any] = {
        "first_name": person.first_name,
        "last_name": person.last_name,
        "emails": person.email,
        "mobile_number": mobile,
        "address": street or None,
        "city": address.city if address else None,
        "state": address.province_code if address else None,
        "country": address.country_code if address else None,
        "zipcode": address.zip if address else None,
        contract.EXTERNAL_ID_KEY: customer.id,
        "created_at": customer.created_at.isoformat() if customer.created_at else None,
        "updated_at": customer.updated_at.isoformat() if customer.updated_at else None,
        contract.EMAIL_SUBSCRIPTION_KEY: subscription(person.email_consent) if person.email else None,
    }
    sms = subscription(person.sms_consent) if mobile else None
    if mobile and sms_subscribed_when_phone and sms != contract.UNSUBSCRIBED:
        sms = contract.SUBSCRIBED  # the seed's behaviour, by tenant switch only: a phone is not consent
    values[contract.SMS_SUBSCRIPTION_KEY] = sms
    values[contract.WHATSAPP_SUBSCRIPTION_KEY] = sms
    status = contact_status(customer)
    if schema.lifecycle_stage_id is not None and status is not None and status in schema.status_ids:
        values["lifecycle_stage_id"] = schema.lifecycle_stage_id
        values["contact_status_id"] = schema.status_ids[status]
    if first_write and schema.lead_source_id is not None:
        values["lead_source_id"] = schema.lead_source_id
    customs = {
        "lifetime_value": _lifetime_value(customer),
        "tax_exempt": None if customer.tax_exempt is None else ("Yes" if customer.tax_exempt else "No"),
        "store_name": store_name or None,
        "order_count": customer.orders_count,
    }
    custom_field = {schema.field_names[k]: v for k, v in customs.items() if v is not None and k in schema.field_names}
    contact = {k: v for k, v in values.items() if v is not None and v != ""}
    if custom_field:
        contact["custom_field"] = custom_field
    return contact


def unique_identifier(contact: Mapping[str, Any]) -> dict[str, Any]:
    """Upsert by email, else by external id (rule 41)."""
    if contact.get("emails"):
        return {"emails": contact["emails"]}
    return {contract.EXTERNAL_ID_KEY: contact[contract.EXTERNAL_ID_KEY]}


def fingerprint(contact: Mapping[str, Any]) -> str:
    """What decides "unchanged" (rule 45): every sent key but the ones in `UNCOMPARED`."""
    compared = {k: v for k, v in contact.items() if k not in UNCOMPARED}
    return hashlib.sha256(json.dumps(compared, sort_keys=True, default=str).encode()).hexdigest()
