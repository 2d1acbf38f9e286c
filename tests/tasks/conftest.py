"""Fixtures of the onboarding tests (import, preview): real PostgreSQL and Redis, a tenant over its fakes."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy.orm import Session

from tests.tasks.onboarding_support import Shop, make_shop


@pytest.fixture
def onboarding_env(db_url: str, redis_server_url: str, redis_prefix: str, activate_env) -> str:  # type: ignore[no-untyped-def]
    """This process on the test's database and Redis prefix (limiter, locks, broker); returns the database URL."""
    activate_env(POSSYNC_DATABASE_URL=db_url, POSSYNC_REDIS_URL=redis_server_url,
                 POSSYNC_REDIS_KEY_PREFIX=redis_prefix, POSSYNC_RETRY_BACKOFF_MAX_SECONDS="1")
    return db_url


@pytest.fixture
def shops(onboarding_env: str, session: Session, secret_key: str) -> Iterator[Callable[..., Shop]]:
    """Factory: `shops(kind, customers=N, settings=...)`, a tenant marked for import; fakes stopped after."""
    made: list[Shop] = []

    def factory(kind: str, **options) -> Shop:  # type: ignore[no-untyped-def]
        shop = make_shop(session, secret_key, kind, **options)
        made.append(shop)
        return shop

    yield factory
    for shop in made:
        shop.pos.stop()
        shop.shopify.stop()
