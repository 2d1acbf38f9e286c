from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from tests.entry.web.conftest import add_tenant


@pytest.fixture
def tenant_id(db_url: str, secret_key: str) -> int:
    return add_tenant(db_url, secret_key)


@pytest.fixture
def other_tenant_id(db_url: str, secret_key: str) -> int:
    return add_tenant(db_url, secret_key, shop="other.myshopify.com")


@pytest.fixture
def db(session: Session) -> Session:
    return session
