"""Using a linked POS customer (SPEC rule 12): active -> use; archived, deleted or missing -> drop."""

from __future__ import annotations

import pytest

from possync.adapters.base import PosCustomer
from possync.models.customer import Customer
from possync.models.tables import PosStatus
from possync.tasks.rules.links import LinkVerdict, check_link
from tests.tasks.rules.support import HEARTLAND, R_SERIES, X_SERIES


def pc(status: PosStatus) -> PosCustomer:
    return PosCustomer("1", status, Customer(email="a@example.com"))


@pytest.mark.parametrize("caps", [R_SERIES, X_SERIES, HEARTLAND])
def test_rule_12_active_is_used(caps) -> None:  # type: ignore[no-untyped-def]
    assert check_link(pc(PosStatus.ACTIVE), caps) is LinkVerdict.USE


@pytest.mark.parametrize(("caps", "status"), [(R_SERIES, PosStatus.ARCHIVED), (HEARTLAND, PosStatus.ARCHIVED),
                                              (X_SERIES, PosStatus.DELETED)])
def test_rule_12_archived_or_deleted_drops_the_link(caps, status: PosStatus) -> None:  # type: ignore[no-untyped-def]
    assert check_link(pc(status), caps) is LinkVerdict.DROP


def test_rule_12_a_customer_the_pos_no_longer_knows_drops_the_link() -> None:
    assert check_link(None, R_SERIES) is LinkVerdict.DROP
