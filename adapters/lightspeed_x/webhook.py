"""X-Series `customer.update` webhooks: only the customer id is taken from them.

Deliveries are form-encoded; the `payload` field holds a JSON string in the API **1.0** shape, whose
fields differ from 2.0. Rather than map a second shape, the pipeline re-fetches the customer from 2.0
by id. Deliveries are unsigned (an HMAC header is unverified) and not guaranteed, so the version poll
stays the backstop.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from possync.adapters.errors import BadResponseError
from possync.adapters.lightspeed_x.errors import VENDOR

WEBHOOK_TYPE = "customer.update"
ENDPOINT = "webhook customer.update"
# X-Series ids are UUID-formatted (any variant); anything else is junk, and would be unsafe in a URL path.
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


class WebhookPayloadError(BadResponseError, ValueError):
    """A delivery that is not a usable `customer.update`; catch as either base class."""


def _junk(reason: str) -> WebhookPayloadError:
    return WebhookPayloadError(reason, vendor=VENDOR, endpoint=ENDPOINT)


def parse_webhook(form: Mapping[str, str]) -> str:
    """The customer id of a `customer.update` delivery (`form` is the decoded form body)."""
    kind = form.get("type")
    if kind is not None and kind != WEBHOOK_TYPE:
        raise _junk(f"webhook type {str(kind)[:40]!r} is not {WEBHOOK_TYPE}")
    raw = form.get("payload")
    if not raw or not isinstance(raw, str):
        raise _junk("the form field 'payload' is missing or empty")
    try:
        payload = json.loads(raw)
    except ValueError:
        raise _junk("the form field 'payload' is not JSON") from None
    if not isinstance(payload, dict):
        raise _junk("the 'payload' JSON is not an object")
    customer_id = payload.get("id")
    if not isinstance(customer_id, str) or not customer_id.strip():
        raise _junk("field 'payload.id' is missing or not a string")
    customer_id = customer_id.strip()
    if not _UUID.match(customer_id):
        raise _junk("field 'payload.id' is not an X-Series id (UUID)")
    return customer_id
