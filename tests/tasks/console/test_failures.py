"""The failed list: filters, newest first, pages, error classes and advice."""

from __future__ import annotations

from sqlalchemy.orm import Session

from possync.tasks.console.failures import DEFAULT_ADVICE, Filters, advice, error_classes, failed_ids, failed_page
from tests.tasks.console.support import add_job


def test_filters_by_tenant_destination_and_error_class(db: Session, tenant_id: int, other_tenant_id: int) -> None:
    a = add_job(db, tenant_id, "1", status="failed", error_class="missing_fields")
    b = add_job(db, tenant_id, "p-2", status="failed", error_class="FatalError", direction="pos_to_shopify")
    c = add_job(db, other_tenant_id, "3", status="failed", error_class="missing_fields")
    add_job(db, tenant_id, "4")  # succeeded: never listed
    crm = add_job(db, tenant_id, "1", status="failed", error_class="FatalError", direction="shopify_to_crm")
    assert [j.id for j in failed_page(db, Filters(destination="crm"))] == [crm.id]  # `failed list --destination crm`
    assert failed_ids(db, Filters(destination="crm")) == [crm.id]
    crm.status = "succeeded"
    db.flush()
    assert [j.id for j in failed_page(db, Filters())] == [c.id, b.id, a.id]
    assert [j.id for j in failed_page(db, Filters(tenant_id=tenant_id))] == [b.id, a.id]
    assert [j.id for j in failed_page(db, Filters(destination="shopify"))] == [b.id]
    assert [j.id for j in failed_page(db, Filters(destination="pos"))] == [c.id, a.id]
    assert [j.id for j in failed_page(db, Filters(error_class="missing_fields"))] == [c.id, a.id]
    assert error_classes(db, Filters(tenant_id=tenant_id)) == {"FatalError": 1, "missing_fields": 1}
    assert failed_ids(db, Filters(error_class="missing_fields")) == [a.id, c.id]


def test_pages_go_back_in_time(db: Session, tenant_id: int) -> None:
    ids = [add_job(db, tenant_id, str(i), status="failed", error_class="x").id for i in range(5)]
    first = failed_page(db, Filters(), limit=2)
    assert [j.id for j in first] == ids[:-3:-1]
    assert [j.id for j in failed_page(db, Filters(before_id=first[-1].id), limit=2)] == [ids[2], ids[1]]


def test_advice_names_what_the_merchant_does() -> None:
    assert "Shopify" in advice("missing_fields")
    assert advice("SomethingNew") == DEFAULT_ADVICE == advice(None)
