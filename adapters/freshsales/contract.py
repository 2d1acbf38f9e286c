"""What possync assumes of the Freshsales API where the reference marks it unverified, in one place.

Each name below is one guess (reference section 5.2 says which are checked); a wrong one is a one-line
change here, and the fake follows the same contract from its own reading of the reference.
"""

from __future__ import annotations

REAL_HOST = "https://{domain}.myfreshworks.com"
API_PREFIX = "/crm/sales/api"

# Checked against several public clients (reference 5.2).
CONTACT_FIELDS = "/settings/contacts/fields"  # GET: {"fields": [{"id", "name", "label", "type"}]}
LIFECYCLE_STAGES = "/selector/lifecycle_stages"  # GET: {"lifecycle_stages": [{"id", "name"}]}
CONTACT_STATUSES = "/selector/contact_statuses"  # GET: {"contact_statuses": [{"id", "name", "lifecycle_stage_id"}]}
UPSERT_CONTACT = "/contacts/upsert"  # POST {"unique_identifier": {...}, "contact": {...}} -> 200/201 {"contact"}
CONTACT = "/contacts/{id}"  # GET -> {"contact": {...}}

# UNVERIFIED: creating a custom field through the API. No public client does it; an answer of 403, 404
# or 405 is read as "not available" and the field is reported missing (SPEC rule 39). None: never try.
CREATE_CONTACT_FIELD: str | None = "/settings/contacts/fields"  # POST {"field": {"label", "type"}}
# UNVERIFIED and not attempted: lifecycle stages and statuses are created by an admin in the CRM.
CREATE_LIFECYCLE_STAGE: str | None = None
# UNVERIFIED: the lead source list (source "Shopify" on contacts possync creates, SPEC rule 41).
LEAD_SOURCES = "/selector/lead_sources"  # GET: {"lead_sources": [{"id", "name"}]}

# UNVERIFIED: the unique identifier for a contact without an email (needs the field marked unique).
EXTERNAL_ID_KEY = "external_id"
# UNVERIFIED: the subscription status keys and values (Freshsales Suite marketing fields).
EMAIL_SUBSCRIPTION_KEY = "subscription_status"
SMS_SUBSCRIPTION_KEY = "sms_subscription_status"
WHATSAPP_SUBSCRIPTION_KEY = "whatsapp_subscription_status"
SUBSCRIBED, UNSUBSCRIBED, NOT_SUBSCRIBED = "subscribed", "unsubscribed", "not_subscribed"

# Freshsales sends no documented rate-limit headers; a 429 without `Retry-After` waits this long
# (the per-minute window) unless the caller gives a shorter one.
DEFAULT_429_WAIT_SECONDS = 60.0
PER_MINUTE_LIMIT = 400
