"""The Freshsales fake: contacts, field metadata, lifecycle selectors, the hourly and per-minute limits.

What the real API does that this copies (reference section 5.2):
- `Authorization: Token token=<key>`; a wrong or revoked key answers 401;
- `POST /crm/sales/api/contacts/upsert` keyed by `unique_identifier` (`emails`, or `external_id` once that
  field is unique); an unknown contact key or `cf_` key, or an invalid email, answers 400 naming it;
  201 for a new contact, 200 for an update that changes only the keys sent;
- account-wide limits: requests per hour by plan plus 400 per minute, answering 429 past either.
Custom-field creation through the API is not documented: `allow_field_create` chooses whether it works.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterable
from typing import Any

from flask import Flask, Response, jsonify, request

from possync.adapters.fakes.limits import WindowLimit
from possync.adapters.fakes.server import FakeVendorServer

PREFIX = "/crm/sales/api"
STANDARD_KEYS = frozenset({
    "emails", "first_name", "last_name", "job_title", "work_number", "mobile_number", "external_id", "address",
    "city", "state", "zipcode", "country", "sales_accounts", "territory_id", "lead_source_id", "owner_id",
    "subscription_status", "subscription_types", "sms_subscription_status", "whatsapp_subscription_status",
    "medium", "campaign_id", "keyword", "time_zone", "facebook", "twitter", "linkedin", "contact_status_id",
    "lifecycle_stage_id", "created_at", "updated_at", "custom_field",
})
STANDARD_FIELDS = [("first_name", "First name", "text"), ("last_name", "Last name", "text"),
                   ("emails", "Emails", "email"), ("mobile_number", "Mobile", "phone_number"),
                   ("external_id", "Shopify Customer ID", "text")]
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _error(status: int, message: str) -> Response:
    response = jsonify({"errors": {"code": status, "message": [message]}})
    response.status_code = status
    return response


class FakeFreshsales(FakeVendorServer):
    vendor = "freshsales"

    def __init__(self, api_key: str, *, requests_per_hour: int | None = None, per_minute: int | None = None,
                 hour_seconds: float = 3600.0, minute_seconds: float = 60.0, allow_field_create: bool = True,
                 with_setup: bool = False, external_id_unique: bool = True) -> None:
        """Limits are off unless given; `hour_seconds` scales the hour down (benchmarks).
        `with_setup`: the CRM already holds the e-commerce fields, stage and statuses (as after the
        vendor's own Shopify app), under API names that differ from their labels."""
        self.api_key = api_key
        self.hourly = WindowLimit(requests_per_hour, hour_seconds) if requests_per_hour else None
        self.minutely = WindowLimit(per_minute, minute_seconds) if per_minute else None
        self.allow_field_create = allow_field_create
        self.external_id_unique = external_id_unique
        self.rate_limited = 0  # 429s answered (the benchmark's count of requests sent in a spent window)
        self._ids = itertools.count(1001)
        self.fields: list[dict[str, Any]] = [
            {"id": next(self._ids), "name": n, "label": label, "type": t, "custom": False}
            for n, label, t in STANDARD_FIELDS]
        self.stages: list[dict[str, Any]] = [{"id": next(self._ids), "name": "Lead"}]
        self.statuses: list[dict[str, Any]] = [{"id": next(self._ids), "name": "New",
                                                "lifecycle_stage_id": self.stages[0]["id"]}]
        self.lead_sources: list[dict[str, Any]] = [{"id": next(self._ids), "name": "Web"}]
        self.contacts: dict[str, dict[str, Any]] = {}
        super().__init__()
        if with_setup:
            self.add_setup()

    # --- set-up for tests ------------------------------------------------------------------------
    def add_field(self, label: str, type_: str, name: str | None = None) -> str:
        with self.lock:
            name = name or "cf_" + re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")
            self.fields.append({"id": next(self._ids), "name": name, "label": label, "type": type_, "custom": True})
            return name

    def remove_field(self, label: str) -> None:
        with self.lock:
            self.fields = [f for f in self.fields if f["label"] != label]

    def add_stage(self, name: str, statuses: Iterable[str]) -> int:
        with self.lock:
            stage: dict[str, Any] = {"id": next(self._ids), "name": name}
            self.stages.append(stage)
            for status in statuses:
                self.statuses.append({"id": next(self._ids), "name": status, "lifecycle_stage_id": stage["id"]})
            return int(stage["id"])

    def add_setup(self) -> None:
        """What Freshworks' own Shopify app leaves behind (seed 002), with names the labels do not give."""
        self.add_field("Lifetime value", "text", "cf_ltv")
        self.add_field("Customer tax exempt", "radio", "cf_tax_exempt_customer")
        self.add_field("E-commerce store name", "text", "cf_ecommerce_shop_name")
        self.add_field("Total order count", "number", "cf_total_orders")
        self.add_stage("Customer", ["Invited", "Activated", "Paying", "Deactivated", "Declined"])
        with self.lock:
            self.lead_sources.append({"id": next(self._ids), "name": "Shopify"})

    def revoke(self) -> None:
        """The merchant revoked the key: every request now answers 401."""
        self.api_key = "revoked-" + self.api_key

    def contact_by_email(self, email: str) -> dict[str, Any] | None:
        with self.lock:
            return next((dict(c) for c in self.contacts.values() if (c.get("emails") or "").lower() == email.lower()),
                        None)

    def seed(self, records: Iterable[dict[str, Any]]) -> list[Any]:
        ids = []
        for record in records:
            with self.lock:
                contact_id = str(next(self._ids))
                self.contacts[contact_id] = {"id": int(contact_id), **record}
            ids.append(contact_id)
        return ids

    def state(self) -> Any:
        with self.lock:
            return {"contacts": list(self.contacts.values()), "fields": list(self.fields),
                    "rate_limited": self.rate_limited}

    # --- limits ----------------------------------------------------------------------------------
    def check_rate_limit(self) -> Response | None:
        for window in (self.hourly, self.minutely):
            if window is not None and not window.take().allowed:
                with self.lock:
                    self.rate_limited += 1
                response = jsonify({"message": "You have exceeded the limit of requests per hour"})
                response.status_code = 429
                return response
        return None

    # --- routes ----------------------------------------------------------------------------------
    def register_routes(self, app: Flask) -> None:
        @app.before_request
        def _auth() -> Response | None:
            if request.path.startswith("/_control/"):
                return None
            if request.headers.get("Authorization") != f"Token token={self.api_key}":
                response = jsonify({"login": "failed", "message": "Incorrect or expired API key"})
                response.status_code = 401
                return response
            return None

        @app.get(PREFIX + "/settings/contacts/fields")
        def _fields() -> Response:
            with self.lock:
                return jsonify({"fields": [{k: f[k] for k in ("id", "name", "label", "type")} for f in self.fields]})

        @app.post(PREFIX + "/settings/contacts/fields")
        def _create_field() -> Response:
            if not self.allow_field_create:
                return _error(404, "Not found")
            spec = (request.get_json(silent=True) or {}).get("field") or {}
            if not spec.get("label") or spec.get("type") not in ("text", "number", "radio", "dropdown"):
                return _error(400, "label and a valid type are required")
            name = self.add_field(str(spec["label"]), str(spec["type"]))
            return jsonify({"field": {"name": name, "label": spec["label"], "type": spec["type"]}})

        @app.get(PREFIX + "/selector/lifecycle_stages")
        def _stages() -> Response:
            with self.lock:
                return jsonify({"lifecycle_stages": list(self.stages)})

        @app.get(PREFIX + "/selector/contact_statuses")
        def _statuses() -> Response:
            with self.lock:
                return jsonify({"contact_statuses": list(self.statuses)})

        @app.get(PREFIX + "/selector/lead_sources")
        def _sources() -> Response:
            with self.lock:
                return jsonify({"lead_sources": list(self.lead_sources)})

        @app.get(PREFIX + "/contacts/<contact_id>")
        def _contact(contact_id: str) -> Response:
            with self.lock:
                contact = self.contacts.get(contact_id)
            return jsonify({"contact": contact}) if contact else _error(404, "Contact not found")

        @app.post(PREFIX + "/contacts/upsert")
        def _upsert() -> Response:
            body = request.get_json(silent=True)
            if not isinstance(body, dict):
                return _error(400, "Invalid JSON")
            return self._upsert(body)

    def _upsert(self, body: dict[str, Any]) -> Response:
        identifier, contact = body.get("unique_identifier"), body.get("contact")
        if not isinstance(identifier, dict) or len(identifier) != 1 or not isinstance(contact, dict):
            return _error(400, "unique_identifier and contact are required")
        key, value = next(iter(identifier.items()))
        if key not in ("emails", "external_id") or (key == "external_id" and not self.external_id_unique):
            return _error(400, f"{key} is not a unique field")
        unknown = sorted(set(contact) - STANDARD_KEYS)
        if unknown:
            return _error(400, f"Unknown attribute: {', '.join(unknown)}")
        customs = contact.get("custom_field") or {}
        with self.lock:
            known_custom = {f["name"] for f in self.fields if f["custom"]}
            stage_ids = {s["id"] for s in self.stages}
            status_ids = {s["id"] for s in self.statuses}
        unknown_cf = sorted(set(customs) - known_custom)
        if unknown_cf:
            return _error(400, f"Unknown custom field: {', '.join(unknown_cf)}")
        email = contact.get("emails")
        if email is not None and not (isinstance(email, str) and EMAIL.match(email)):
            return _error(400, "Invalid email")
        if contact.get("lifecycle_stage_id") not in (None, *stage_ids) or \
                contact.get("contact_status_id") not in (None, *status_ids):
            return _error(400, "Invalid lifecycle stage or contact status")
        with self.lock:
            found = next((c for c in self.contacts.values()
                          if str(c.get(key) or "").lower() == str(value).lower() and value), None)
            if found is None:
                contact_id = next(self._ids)
                found = {"id": contact_id, "created_by_upsert_at": time.time()}
                self.contacts[str(contact_id)] = found
                status = 201
            else:
                status = 200
            merged_custom = {**(found.get("custom_field") or {}), **customs}
            found.update({k: v for k, v in contact.items() if k != "custom_field"})
            if merged_custom:
                found["custom_field"] = merged_custom
            answer = dict(found)
        response = jsonify({"contact": answer})
        response.status_code = status
        return response
