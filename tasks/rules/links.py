"""Whether a linked POS customer can still be used (SPEC rule 12).

A stored link is only trusted after the POS customer it points at has been read: an archived
(R-Series, Heartland) or deleted (X-Series) customer, or one the POS no longer knows, drops the link
and the caller matches again, creating a new customer if nothing matches. The re-match goes through
the same index and status filter, so a customer unarchived in R-Series or Heartland is active again
and can be found; a deleted X-Series customer never is.
"""

from __future__ import annotations

import enum

from possync.adapters.base import Capabilities, PosCustomer
from possync.models.tables import PosStatus


class LinkVerdict(enum.StrEnum):
    USE = "use"  # the linked POS customer is active: update it
    DROP = "drop"  # drop the link (and mark the index row), then match again


def check_link(pos_customer: PosCustomer | None, capabilities: Capabilities) -> LinkVerdict:
    """USE for an active POS customer; DROP when it is archived, deleted or missing."""
    if pos_customer is None:
        return LinkVerdict.DROP
    return LinkVerdict.USE if PosStatus(pos_customer.status) is PosStatus.ACTIVE else LinkVerdict.DROP
