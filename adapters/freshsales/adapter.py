"""The Freshsales adapter: the connect check (rule 39), upserting a contact, reading one back.

Canonical values in, canonical answers out; every response shape is checked, and a missing key is a
`BadResponseError` naming it (the failed list then says which field of the CRM's answer was wrong).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from possync.adapters.errors import FatalError
from possync.adapters.freshsales import contract
from possync.adapters.freshsales.client import FreshsalesClient, host_for
from possync.adapters.freshsales.mapping import (
    CUSTOM_FIELDS,
    LIFECYCLE_STAGE,
    SOURCE,
    STATUSES,
    CrmSchema,
    contact_payload,
    fingerprint,
    unique_identifier,
)
from possync.models.shopify_values import ShopifyCustomer

# Answers to a create that mean "this API cannot create it" rather than "this field is wrong".
_NOT_AVAILABLE = (403, 404, 405)
# Which field a refusal is about, from the CRM's message (the failed list names it).
_FIELD_IN_MESSAGE = (
    (re.compile(r"Unknown custom field: ([\w, ]+)"), None),
    (re.compile(r"Unknown attribute: ([\w, ]+)"), None),
    (re.compile(r"Invalid email"), "emails"),
    (re.compile(r"field '([\w.]+)'"), None),
    (re.compile(r"lifecycle stage|contact status", re.IGNORECASE), "contact_status_id"),
)


@dataclass(frozen=True)
class ConnectCheck:
    schema: CrmSchema
    missing: list[dict[str, str]] = field(default_factory=list)  # [{"what", "label", "type"}]
    created: list[str] = field(default_factory=list)  # labels created by this check


@dataclass(frozen=True)
class UpsertResult:
    contact_id: str
    created: bool | None  # 201 / 200 (UNVERIFIED reading); None when the status says neither


class FreshsalesAdapter:
    kind = "freshsales"

    def __init__(self, client: FreshsalesClient) -> None:
        self.client = client

    @property
    def stats(self) -> Any:
        return self.client.stats

    # --- reading the CRM's set-up ---------------------------------------------------------------------
    def _list(self, path: str, key: str) -> list[Mapping[str, Any]]:
        body = self.client.call("GET", path)
        items = body.get(key) if isinstance(body, Mapping) else None
        if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
            raise self.client.bad_field(f"GET {path}", key)
        return items

    def contact_fields(self) -> list[Mapping[str, Any]]:
        return self._list(contract.CONTACT_FIELDS, "fields")

    def create_contact_field(self, label: str, type_: str) -> str | None:
        """The new field's `cf_` API name, or None where the API cannot create fields."""
        if contract.CREATE_CONTACT_FIELD is None:
            return None
        try:
            body = self.client.call("POST", contract.CREATE_CONTACT_FIELD,
                                    json={"field": {"label": label, "type": type_}})
        except FatalError as exc:
            if exc.http_status in _NOT_AVAILABLE:
                return None
            raise
        created = body.get("field") if isinstance(body, Mapping) else None
        name = created.get("name") if isinstance(created, Mapping) else None
        if not isinstance(name, str) or not name.startswith("cf_"):
            raise self.client.bad_field(f"POST {contract.CREATE_CONTACT_FIELD}", "field.name")
        return name

    def connect_check(self) -> ConnectCheck:
        """Find (or create where the API allows) the custom fields, the stage "Customer" and its statuses.

        API names come from the CRM's field list, matched by label, never derived from a label.
        """
        by_label = {str(f.get("label", "")).strip().lower(): f for f in self.contact_fields()}
        names: dict[str, str] = {}
        missing: list[dict[str, str]] = []
        created: list[str] = []
        for custom in CUSTOM_FIELDS:
            found = by_label.get(custom.label.lower())
            name = found.get("name") if found else None
            if not name:
                name = self.create_contact_field(custom.label, custom.type)
                if name:
                    created.append(custom.label)
            if isinstance(name, str) and name:
                names[custom.key] = name
            else:
                missing.append({"what": "custom field", "label": custom.label, "type": custom.type})
        stages = {str(s.get("name", "")).lower(): s for s in self._list(contract.LIFECYCLE_STAGES, "lifecycle_stages")}
        stage = stages.get(LIFECYCLE_STAGE.lower())
        stage_id = stage.get("id") if stage else None
        status_ids: dict[str, int] = {}
        if stage_id is None:
            missing.append({"what": "lifecycle stage", "label": LIFECYCLE_STAGE, "type": "lifecycle stage"})
        else:
            statuses = [s for s in self._list(contract.CONTACT_STATUSES, "contact_statuses")
                        if s.get("lifecycle_stage_id") == stage_id]
            by_name = {str(s.get("name", "")).lower(): s.get("id") for s in statuses}
            for status in STATUSES:
                if (status_id := by_name.get(status.lower())) is not None:
                    status_ids[status] = status_id
                else:
                    missing.append({"what": "contact status", "label": f"{LIFECYCLE_STAGE}: {status}",
                                    "type": "contact status"})
        sources = {str(s.get("name", "")).lower(): s.get("id") for s in self._lead_sources()}
        schema = CrmSchema(field_names=names, lifecycle_stage_id=stage_id, status_ids=status_ids,
                           lead_source_id=sources.get(SOURCE.lower()))
        if schema.lead_source_id is None:
            missing.append({"what": "lead source", "label": SOURCE, "type": "lead source"})
        return ConnectCheck(schema, missing, created)

    def _lead_sources(self) -> list[Mapping[str, Any]]:
        try:
            return self._list(contract.LEAD_SOURCES, "lead_sources")
        except FatalError as exc:
            if exc.http_status in _NOT_AVAILABLE:
                return []
            raise

    # --- contacts -----------------------------------------------------------------------------------
    schema_from_json = staticmethod(CrmSchema.from_json)

    def contact_for(self, customer: ShopifyCustomer, schema: CrmSchema, **options: Any) -> dict[str, Any]:
        """The contact to upsert for this Shopify customer (mapping.contact_payload)."""
        return contact_payload(customer, schema, **options)

    def fingerprint(self, contact: Mapping[str, Any]) -> str:
        return fingerprint(contact)

    @staticmethod
    def failed_field(exc: Exception) -> str | None:
        """The contact field (or setting) a refusal names, for the failed list; None when it names none."""
        if getattr(exc, "http_status", None) == 401:
            return "crm.api_key"
        text = str(exc)
        for pattern, name in _FIELD_IN_MESSAGE:
            found = pattern.search(text)
            if found:
                return name or found.group(1).strip()
        return None

    def upsert_contact(self, contact: Mapping[str, Any]) -> UpsertResult:
        """One request: keyed by email, else by external id (rule 41)."""
        body = {"unique_identifier": unique_identifier(contact), "contact": dict(contact)}
        endpoint = f"POST {contract.UPSERT_CONTACT}"
        response = self.client.request("POST", contract.UPSERT_CONTACT, endpoint=endpoint, json=body)
        answer = self.client.json(response, endpoint)
        record = answer.get("contact") if isinstance(answer, Mapping) else None
        contact_id = record.get("id") if isinstance(record, Mapping) else None
        if not isinstance(contact_id, int | str) or contact_id == "":
            raise self.client.bad_field(endpoint, "contact.id")
        created = {201: True, 200: False}.get(response.status_code)
        return UpsertResult(str(contact_id), created)

    def get_contact(self, contact_id: str) -> Mapping[str, Any] | None:
        try:
            body = self.client.call("GET", contract.CONTACT.format(id=contact_id))
        except FatalError as exc:
            if exc.http_status == 404:
                return None
            raise
        record = body.get("contact") if isinstance(body, Mapping) else None
        if not isinstance(record, Mapping):
            raise self.client.bad_field(f"GET {contract.CONTACT}", "contact")
        return record


def make_adapter(config: Mapping[str, Any], secrets: Mapping[str, Any], **client_options: Any) -> FreshsalesAdapter:
    """Called by the registry with the tenant's `crm` block (secrets decrypted)."""
    return FreshsalesAdapter(FreshsalesClient(host_for(config), str(secrets.get("api_key") or ""), **client_options))
