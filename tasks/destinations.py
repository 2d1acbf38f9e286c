"""Where one Shopify customer goes: the tenant's destinations (ARCHITECTURE principle 9, "Destinations").

Each destination names its job direction (which chain of steps its jobs run, `possync.tasks.jobs`), the Shopify
topics it acts on, whether a tenant has it, and its queue. Intake makes one job per destination the
tenant has, so a CRM failure never fails, delays or retries the POS job of the same event; replay,
the failed list and the sweeper work per job. A new destination is an entry here, its steps and its
adapter package (`possync.adapters.registry`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from possync.models.tables import PosKind, Tenant
from possync.models.tenants import TenantSettings

CONSENT_TOPICS = frozenset({"customers_email_marketing_consent/update", "customers_marketing_consent/update"})


@dataclass(frozen=True)
class Destination:
    name: str  # shown in `failed list` and `status`
    direction: str  # the job's chain (`possync.tasks.jobs.STEPS_BY_DIRECTION`)
    topics: frozenset[str]
    present: Callable[[Tenant], bool]
    shared_queue: Callable[[Tenant], str]  # the queue of its kind, when the tenant has no dedicated one

    def queue(self, tenant: Tenant) -> str:
        """`tenant.<name>` takes all of a dedicated tenant's jobs (principle 6); else the kind's queue."""
        dedicated = TenantSettings.from_json(tenant.settings).dedicated_queue
        return f"tenant.{tenant.name}" if dedicated else self.shared_queue(tenant)


POS = Destination(
    "pos", "shopify_to_pos",
    frozenset({"orders/create", "orders/updated", "refunds/create", "customers/create", "customers/update",
               *CONSENT_TOPICS}),
    present=lambda tenant: bool(tenant.pos_kind),
    shared_queue=lambda tenant: PosKind(cast(str, tenant.pos_kind)).queue,  # asked only when `present`
)
# Refunds and order edits change nothing the CRM holds (SPEC rule 40).
CRM = Destination(
    "crm", "shopify_to_crm",
    frozenset({"orders/create", "customers/create", "customers/update", *CONSENT_TOPICS}),
    present=lambda tenant: bool(tenant.crm_kind),
    shared_queue=lambda tenant: f"crm.{tenant.crm_kind}",
)
DESTINATIONS = (POS, CRM)
BY_DIRECTION = {d.direction: d for d in DESTINATIONS}
SYNC_TOPICS = frozenset().union(*(d.topics for d in DESTINATIONS))


def destinations_for(tenant: Tenant, topic: str) -> list[Destination]:
    """The destinations a Shopify event of `topic` makes a job for on this tenant."""
    return [d for d in DESTINATIONS if topic in d.topics and d.present(tenant)]


def destination_of(direction: str) -> str:
    """`pos`, `crm`, or `shopify` for the POS -> Shopify pushes."""
    found = BY_DIRECTION.get(direction)
    return found.name if found else "shopify"
