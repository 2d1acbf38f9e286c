"""Shopify's customer merge (reference §4.1): preview, the asynchronous merge job, and its status.

A merge is irreversible and refused outright for some customers (`customerMergeErrors`: subscriptions,
B2B contact, saved payment methods, store credit, gift cards, Multipass, deleted, redacted, a merge or
data request in progress); a merged note over 5,000 characters or more than 250 merged tags blocks it
until edited (`blockingFields`). possync only previews and merges; links move on `customers/merge`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from possync.adapters.errors import BadResponseError
from possync.adapters.shopify.client import ShopifyClient, ShopifyUserError
from possync.adapters.shopify.mapping import gid
from possync.models.shopify_payloads import shopify_id

_OVERRIDE = "$customerOneId: ID!, $customerTwoId: ID!, $overrideFields: CustomerMergeOverrideFields"
_ARGS = "customerOneId: $customerOneId, customerTwoId: $customerTwoId, overrideFields: $overrideFields"
PREVIEW = (
    f"query CustomerMergePreview({_OVERRIDE}) {{ customerMergePreview({_ARGS}) {{ resultingCustomerId "
    "customerMergeErrors { errorFields message } blockingFields { note tags } } }"
)
MERGE = (
    f"mutation CustomerMerge({_OVERRIDE}) {{ customerMerge({_ARGS}) {{ job {{ id done }} resultingCustomerId "
    "userErrors { code field message } } }"
)
JOB_STATUS = (
    "query CustomerMergeJobStatus($jobId: ID!) { customerMergeJobStatus(jobId: $jobId) "
    "{ jobId status resultingCustomerId customerMergeErrors { errorFields message } } }"
)
FINAL_STATES = ("COMPLETED", "FAILED")
NOTE_LIMIT, TAG_LIMIT = 5000, 250


@dataclass(frozen=True)
class MergePreview:
    """What Shopify says of merging two customers: who would remain, what refuses it, which limits bind."""

    resulting_id: str | None
    blockers: list[str]  # `CustomerMergeErrorFieldType` values, e.g. SUBSCRIPTIONS, GIFT_CARDS
    limits: list[str]  # "note over 5000 characters", "more than 250 tags"


@dataclass(frozen=True)
class MergeJob:
    job_id: str
    status: str  # REQUESTED, IN_PROGRESS, COMPLETED, FAILED
    resulting_id: str | None


def _variables(merged_away: str, kept: str, keep_email_of: str | None) -> dict[str, Any]:
    override = {"customerIdOfEmailToKeep": gid("Customer", keep_email_of)} if keep_email_of else None
    return {"customerOneId": gid("Customer", merged_away), "customerTwoId": gid("Customer", kept),
            "overrideFields": override}


def _id_or_none(value: Any) -> str | None:
    try:
        return shopify_id(value)
    except ValueError:
        return None


def preview(client: ShopifyClient, merged_away: str, kept: str, *, keep_email_of: str | None = None) -> MergePreview:
    data = client.execute("CustomerMergePreview", PREVIEW, _variables(merged_away, kept, keep_email_of))
    node = data.get("customerMergePreview")
    if not isinstance(node, dict):
        raise client.bad_field("graphql CustomerMergePreview", "customerMergePreview")
    blockers = sorted({str(field) for error in node.get("customerMergeErrors") or []
                       for field in (error or {}).get("errorFields") or []})
    blocking = node.get("blockingFields") or {}
    limits = []
    if blocking.get("note") is not None:
        limits.append(f"merged note over {NOTE_LIMIT} characters")
    if blocking.get("tags") is not None:
        limits.append(f"more than {TAG_LIMIT} merged tags")
    return MergePreview(_id_or_none(node.get("resultingCustomerId")), blockers, limits)


def start(client: ShopifyClient, merged_away: str, kept: str, *, keep_email_of: str | None = None) -> MergeJob:
    """Ask Shopify to merge; the answer is a job to follow, not the merged customer."""
    endpoint = "graphql CustomerMerge"
    data = client.execute("CustomerMerge", MERGE, _variables(merged_away, kept, keep_email_of))
    node = data.get("customerMerge")
    if not isinstance(node, dict):
        raise client.bad_field(endpoint, "customerMerge")
    if errors := node.get("userErrors"):
        raise ShopifyUserError([(str(e.get("code") or e.get("field") or ""), str(e.get("message", ""))[:200])
                                for e in errors], vendor=client.vendor, endpoint=endpoint, http_status=200)
    job = node.get("job") or {}
    job_id = str(job.get("id") or "").rsplit("/", 1)[-1]
    if not job_id:
        raise BadResponseError("customerMerge answered without a job", vendor=client.vendor, endpoint=endpoint)
    return MergeJob(job_id, "REQUESTED", _id_or_none(node.get("resultingCustomerId")))


def status(client: ShopifyClient, job_id: str) -> MergeJob:
    data = client.execute("CustomerMergeJobStatus", JOB_STATUS, {"jobId": f"gid://shopify/Job/{job_id}"})
    node = data.get("customerMergeJobStatus")
    if not isinstance(node, dict):
        raise client.bad_field("graphql CustomerMergeJobStatus", "customerMergeJobStatus")
    return MergeJob(job_id, str(node.get("status") or ""), _id_or_none(node.get("resultingCustomerId")))
