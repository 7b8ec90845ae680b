"""Tenants own credentials and one wallet; every resource belongs to exactly one tenant."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mockserver.engine.clock import Clock
from mockserver.engine.ids import IdFactory
from mockserver.engine.ledger import Ledger
from mockserver.engine.lru import DEFAULT_CACHE_SIZE, LRU
from mockserver.engine.store import Store


@dataclass(frozen=True)
class Tenant:
    id: str
    api: str
    name: str
    created_at: float
    attributes: dict[str, Any] = field(default_factory=dict)


class DuplicateCredential(Exception):
    pass


class DuplicateLogin(Exception):
    """A login (e.g. an email) that another tenant of the API already has."""


class Tenants:
    def __init__(self, store: Store, clock: Clock, ids: IdFactory, ledger: Ledger,
                 cache_size: int = DEFAULT_CACHE_SIZE) -> None:
        self._store = store
        self._clock = clock
        self._ids = ids
        self._ledger = ledger
        self._by_credential: LRU[tuple[str, str], Tenant] = LRU(cache_size)  # hits only
        store.on_forget(self._by_credential.clear)

    def create(self, api: str, name: str, secrets: list[str], balance: int = 0,
               attributes: dict[str, Any] | None = None) -> Tenant:
        with self._store.transaction():
            for secret in secrets:
                if self._store.tenant_for_credential(api, secret) is not None:
                    raise DuplicateCredential(secret)
            tenant = Tenant(id="tn_" + self._ids.token(16), api=api, name=name, created_at=self._clock.now(),
                            attributes=attributes or {})
            self._store.insert_tenant(tenant.__dict__)
            for secret in secrets:
                self._store.insert_credential(api, secret, tenant.id)
            if balance:
                self._ledger.top_up(tenant.id, balance, "opening balance")
        return tenant

    def authenticate(self, api: str, secret: str | None) -> Tenant | None:
        if not secret:
            return None
        tenant = self._by_credential.get((api, secret))
        if tenant is None:
            tenant_id = self._store.tenant_for_credential(api, secret)
            tenant = self.get(api, tenant_id) if tenant_id else None
            if tenant is not None:
                self._by_credential[(api, secret)] = tenant
        return tenant

    def get(self, api: str, tenant_id: str) -> Tenant | None:
        """The tenant, if it exists and belongs to `api`."""
        row = self._store.get_tenant(tenant_id)
        return Tenant(**row) if row and row["api"] == api else None

    def all(self, api: str) -> list[Tenant]:
        return [Tenant(**row) for row in self._store.list_tenants(api)]

    def credentials(self, tenant: Tenant) -> list[str]:
        return self._store.credentials_of(tenant.id)
