"""Each shop's webhook signing secrets, decrypted once and kept for a short time per process.

Every delivery needs the tenant's client secret; reading the tenant row and decrypting its Fernet
token on every request would double the receiver's database work. Entries live `ttl` seconds (30 by
default), so a rotated secret (`possync tenant apply` with a new `client_secret`) takes effect in
every receiver process within that time. During a rotation Shopify may sign with either secret for
up to an hour, which is why the previous secret is accepted too while the tenant file names it.

Unknown shops cost no query per delivery: the set of every tenant's shop domain is read at most once
per `known_ttl` seconds (5 by default), and a delivery for a shop outside it is refused without going
to the database, so unsigned posts under made-up shop domains cannot drive the database at line rate.
A newly applied tenant is served within that time (Shopify retries a refused delivery), at once when it
was applied in this process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from possync.models.crypto import decrypt_json
from possync.models.db import get_sessionmaker
from possync.models.tables import Tenant
from possync.models.tenants import get_tenant_by_shop, on_tenant_applied

DEFAULT_TTL_SECONDS = 30.0
KNOWN_SHOPS_TTL_SECONDS = 5.0


@dataclass(frozen=True)
class ShopSecrets:
    tenant_id: int
    secrets: tuple[str | None, ...]  # current client secret, then the previous one (or None)


class TenantSecretsCache:
    def __init__(
        self,
        database_url: str,
        secret_key: str,
        ttl: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        known_ttl: float = KNOWN_SHOPS_TTL_SECONDS,
    ) -> None:
        self._database_url = database_url
        self._secret_key = secret_key
        self._ttl = ttl
        self._known_ttl = min(known_ttl, ttl)  # `ttl=0` (demo, tests): every tenant seen at once
        self._clock = clock
        self._entries: dict[str, tuple[float, ShopSecrets]] = {}
        self._known: frozenset[str] = frozenset()
        self._known_until = float("-inf")
        self._lock = threading.Lock()
        self._forget = self.invalidate  # held here: the registry keeps listeners weakly
        on_tenant_applied(self._forget)

    def get(self, shop_domain: str) -> ShopSecrets | None:
        """The shop's secrets, or None for an unknown shop.

        Raises SQLAlchemy errors when the database is unreachable and `possync.models.crypto.SecretsError`
        when POSSYNC_SECRET_KEY cannot decrypt the stored secrets; the caller maps both to a 503.
        """
        shop = shop_domain.strip().lower()
        now = self._clock()
        with self._lock:
            cached = self._entries.get(shop)
        if cached is not None and cached[0] > now:
            return cached[1]
        if shop not in self._known_shops(now):
            return None
        entry = self._load(shop)
        if entry is not None:
            with self._lock:
                self._entries[shop] = (now + self._ttl, entry)
        return entry

    def invalidate(self, shop_domain: str | None = None) -> None:
        with self._lock:
            self._known_until = float("-inf")
            if shop_domain is None:
                self._entries.clear()
            else:
                self._entries.pop(shop_domain.strip().lower(), None)

    def _known_shops(self, now: float) -> frozenset[str]:
        """Every tenant's shop domain, read again once `known_ttl` has passed (one small query)."""
        with self._lock:
            if self._known_until > now:
                return self._known
        session = get_sessionmaker(self._database_url)()
        try:
            known = frozenset(session.scalars(select(Tenant.shop_domain)))
        finally:
            session.close()
        with self._lock:
            self._known, self._known_until = known, now + self._known_ttl
        return known

    def _load(self, shop: str) -> ShopSecrets | None:
        session = get_sessionmaker(self._database_url)()
        try:
            tenant = get_tenant_by_shop(session, shop)
            if tenant is None:
                return None
            secrets = decrypt_json(tenant.shopify_secrets, self._secret_key)
            return ShopSecrets(tenant.id, (secrets.get("client_secret"), secrets.get("previous_client_secret")))
        finally:
            session.close()
