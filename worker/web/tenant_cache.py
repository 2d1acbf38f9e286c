"""Each shop's webhook signing secrets, decrypted once and kept for a short time per process.

Every delivery needs the tenant's client secret; reading the tenant row and decrypting its Fernet
token on every request would double the receiver's database work. Entries live `ttl` seconds (30 by
default), so a rotated secret (`possync tenant apply` with a new `client_secret`) takes effect in
every receiver process within that time. During a rotation Shopify may sign with either secret for
up to an hour, which is why the previous secret is accepted too while the tenant file names it.

Only found shops are cached: a shop that is not (yet) a tenant is looked up again on its next
delivery, so a newly applied tenant is served at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from models.crypto import decrypt_json
from models.db import get_sessionmaker
from models.tenants import get_tenant_by_shop

DEFAULT_TTL_SECONDS = 30.0


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
    ) -> None:
        self._database_url = database_url
        self._secret_key = secret_key
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[str, tuple[float, ShopSecrets]] = {}
        self._lock = threading.Lock()

    def get(self, shop_domain: str) -> ShopSecrets | None:
        """The shop's secrets, or None for an unknown shop.

        Raises SQLAlchemy errors when the database is unreachable and `models.crypto.SecretsError`
        when POSSYNC_SECRET_KEY cannot decrypt the stored secrets; the caller maps both to a 503.
        """
        shop = shop_domain.strip().lower()
        now = self._clock()
        with self._lock:
            cached = self._entries.get(shop)
        if cached is not None and cached[0] > now:
            return cached[1]
        entry = self._load(shop)
        if entry is not None:
            with self._lock:
                self._entries[shop] = (now + self._ttl, entry)
        return entry

    def invalidate(self, shop_domain: str | None = None) -> None:
        with self._lock:
            if shop_domain is None:
                self._entries.clear()
            else:
                self._entries.pop(shop_domain.strip().lower(), None)

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
