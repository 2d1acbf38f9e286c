"""The closing report: one row per POS read back from the job rows and the sandboxes' request logs.

The numbers come from the database, exactly as `possync status --json` counts them (succeeded jobs
by outcome, failed jobs), split by direction; the request and 429 counts come from the POS fakes'
own logs, i.e. what the vendor would have seen. Nothing personal is printed: failure reasons pass
the same masker as the logs.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from possync.entry.demo.script import STORM_429S, Check, Day
from possync.models.db import session_scope
from possync.models.tables import JobStatus, SyncAttempt, SyncJob
from possync.models.tenants import get_tenant
from possync.worker.logging import mask_text

MAIN_OUTCOMES = ("created", "updated", "unchanged")


@dataclass
class PosRow:
    kind: str
    tenant: str
    to_pos: Counter[str] = field(default_factory=Counter)  # succeeded Shopify -> POS jobs by outcome
    to_shopify: Counter[str] = field(default_factory=Counter)  # succeeded POS -> Shopify jobs by outcome
    failed: list[tuple[int, str, str]] = field(default_factory=list)  # (job id, error class, reason)
    waits: int = 0  # rate-limit waits recorded on attempts (limiter or vendor 429)
    pos_requests: int = 0
    pos_429s: int = 0
    shopify_requests: int = 0

    @property
    def other(self) -> Counter[str]:
        return Counter({k: v for k, v in self.to_pos.items() if k not in MAIN_OUTCOMES})

    def to_json(self) -> dict[str, Any]:
        return {
            "pos_kind": self.kind,
            "tenant": self.tenant,
            "shopify_to_pos": dict(self.to_pos),
            "pos_to_shopify": dict(self.to_shopify),
            "failed": [{"job": j, "error_class": c, "reason": r} for j, c, r in self.failed],
            "rate_limit_waits": self.waits,
            "pos_requests": self.pos_requests,
            "pos_429s": self.pos_429s,
            "shopify_requests": self.shopify_requests,
        }


def collect(day: Day) -> list[PosRow]:
    rows = []
    with session_scope(day.database_url) as session:
        for shop_day in day.days:
            shop = shop_day.shop
            tenant = get_tenant(session, shop.name)
            assert tenant is not None
            row = PosRow(shop.kind, shop.name, pos_requests=shop.pos_requests(), pos_429s=shop.pos_429s(),
                         shopify_requests=shop.shopify_requests())
            for direction, outcome, count in session.execute(
                    select(SyncJob.direction, SyncJob.outcome, func.count())
                    .where(SyncJob.tenant_id == tenant.id, SyncJob.status == JobStatus.SUCCEEDED.value)
                    .group_by(SyncJob.direction, SyncJob.outcome)):
                target = row.to_pos if direction == "shopify_to_pos" else row.to_shopify
                target[str(outcome)] += count
            for job in session.scalars(select(SyncJob).where(SyncJob.tenant_id == tenant.id,
                                                             SyncJob.status == JobStatus.FAILED.value)
                                       .order_by(SyncJob.id)):
                row.failed.append((job.id, job.last_error_class or "", mask_text(job.last_error or "")))
            row.waits = session.scalar(select(func.count()).select_from(SyncAttempt).join(SyncJob).where(
                SyncJob.tenant_id == tenant.id, SyncAttempt.outcome == "rate_limited")) or 0
            rows.append(row)
    return rows


def crm_row(found: dict[str, Any], shop: Any) -> PosRow:
    """The CRM tenant's line in the same table: its jobs by result; its requests are the CRM's."""
    requests = shop.crm.vendor_requests()
    row = PosRow("crm (freshsales)", "demo-crm", pos_requests=len(requests),
                 pos_429s=sum(1 for r in requests if r.status == 429),
                 shopify_requests=len(shop.shopify.vendor_requests()), waits=found["waits"])
    row.to_pos.update({k: v for k, v in found["counts"].items() if k != "failed"})
    row.failed = [(job_id, error_class, mask_text(reason)) for job_id, error_class, reason in found["failed"]]
    return row


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counter.items())) or "-"


def render_table(rows: list[PosRow]) -> list[str]:
    header = ("POS", "created", "updated", "unchanged", "failed", "echo/skipped", "POS->Shopify", "POS requests",
              "429s", "waits")
    body = [(r.kind, str(r.to_pos["created"]), str(r.to_pos["updated"]), str(r.to_pos["unchanged"]),
             str(len(r.failed)), _counts(r.other), _counts(r.to_shopify), str(r.pos_requests), str(r.pos_429s),
             str(r.waits)) for r in rows]
    widths = [max(len(line[i]) for line in (header, *body)) for i in range(len(header))]

    def fmt(line: tuple[str, ...]) -> str:
        return "  ".join(cell.ljust(w) if i in (0, 5, 6) else cell.rjust(w)
                         for i, (cell, w) in enumerate(zip(line, widths, strict=True))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return [fmt(header), rule, *(fmt(line) for line in body)]


def render_failures(rows: list[PosRow]) -> list[str]:
    lines = []
    for row in rows:
        for job_id, error_class, reason in row.failed:
            lines.append(f"  {row.kind}: job {job_id} [{error_class}] {reason}")
    return lines


def render_checks(checks: list[Check]) -> list[str]:
    failed = [c for c in checks if not c.ok]
    lines = [f"Checks: {len(checks) - len(failed)}/{len(checks)} expectations held"]
    lines += [f"  NOT MET [{c.shop}] {c.what}" + (f" ({mask_text(c.detail)})" if c.detail else "") for c in failed]
    return lines


def _held(checks: list[Check], words: str) -> bool:
    chosen = [c for c in checks if words in c.what]
    return bool(chosen) and all(c.ok for c in chosen)


def render_story(day: Day, rows: list[PosRow]) -> list[str]:
    """The lines under the table: the scripted moments a reader wants to see explicitly."""
    checks = day.checks
    lines = [""]
    seen = sum(r["changed"] for d in day.days for r in d.poll_results)
    echoes = sum(r["echoes"] for d in day.days for r in d.poll_results)
    polls = sum(len(d.poll_results) for d in day.days)
    lines.append(f"POS change polls: {polls} polls saw {seen} changed POS customers, {echoes} of them possync's own "
                 f"writes (echoes: no job)")
    pushes = ", ".join(f"{r.kind} {r.to_shopify['updated']}" for r in rows)
    lines.append(f"POS -> Shopify: a staff edit in each POS updated the Shopify customer ({pushes}); "
                 f"Shopify's webhook about that write came back as an echo, nothing written "
                 f"[{'ok' if _held(checks, 'reached Shopify') and _held(checks, 'echo') else 'NOT MET'}]")
    for shop_day in day.days:
        if shop_day.kind != "heartland":
            continue
        first = day.job(shop_day, "walk-in sale 1")
        second = day.job(shop_day, "walk-in sale 2")
        pos_id = (first.context.get("pos_id") if first else None) or "?"
        done = {"created": "created", "default_customer": "reused", "updated": "updated", "unchanged": "reused"}
        first_did = done.get(first.outcome or "", "?") if first else "?"
        second_did = done.get(second.outcome or "", "?") if second else "?"
        lines.append(f"Heartland default customer: 2 walk-in sales without a customer booked to the default "
                     f"customer (POS #{pos_id}): the first {first_did} it, the second {second_did} it "
                     f"[{'ok' if _held(checks, 'walk-in') else 'NOT MET'}]")
    statuses = sorted({str(d.bad_signature_status) for d in day.days})
    lines.append(f"Bad signature: HTTP {'/'.join(statuses)} from the receiver, nothing stored "
                 f"[{'ok' if _held(checks, 'bad signature') else 'NOT MET'}]")
    answered = sum(r.pos_429s for r in rows)
    waits = sum(r.waits for r in rows)
    lines.append(f"429 storm: {STORM_429S} x 429 injected per POS, {answered} answered in all, {waits} waits, "
                 f"0 failures, no retry budget spent "
                 f"[{'ok' if _held(checks, '429') and _held(checks, 'waits are not failures') else 'NOT MET'}]")
    failures = render_failures(rows)
    if failures:
        lines.append("Failed (with reasons):")
        lines += failures
    return lines
