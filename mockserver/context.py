"""What the handlers of one API origin share: the engine, the dialect, and its current tunables."""

from __future__ import annotations

from typing import Any

from mockserver.dialects import Dialect
from mockserver.engine import Engine
from mockserver.engine.ledger import to_amount
from mockserver.engine.tenants import Tenant
from mockserver.journal import Journal


class ApiContext:
    def __init__(self, engine: Engine, dialect: Dialect, public_url: str | None = None,
                 journal: Journal | None = None) -> None:
        self.engine = engine
        self.dialect = dialect
        self.public_url = public_url  # where clients reach this origin, when not at the address served
        self.journal = journal or Journal(0)  # the requests this origin recorded
        self._config: dict[str, Any] | None = None
        self._changed_at: float | None = None
        engine.store.on_forget(self._forget_config)  # a rolled-back change of the config must not linger here
        self._apply_config()

    def config(self) -> dict[str, Any]:
        """Prices, durations and slots in force (read once, then cached until changed)."""
        if self._config is None:
            self._config = self.engine.config(self.dialect.name, self.dialect.defaults)
        return self._config

    def update_config(self, changes: dict[str, Any]) -> None:
        self.engine.set_config(self.dialect.name, changes)
        self._apply_config()

    def config_changed_at(self) -> float:
        if self._changed_at is None:
            self._changed_at = self.engine.config_changed_at(self.dialect.name)
        return self._changed_at

    def reset(self) -> None:
        self.engine.reset(self.dialect.name)
        self._apply_config()

    def _apply_config(self) -> None:
        """Read the tunables afresh and put the slot count into effect."""
        self._forget_config()
        self.engine.jobs.set_slots(self.dialect.name, self.config()["slots"])

    def _forget_config(self) -> None:
        self._config = self._changed_at = None

    def authenticate(self, secret: str, scheme: str | None = None) -> Tenant | None:
        """The tenant a credential names (`scheme`: the security scheme it came in, None: any)."""
        if self.dialect.authenticate is not None:
            return self.dialect.authenticate(self.engine, secret, scheme)
        return self.engine.tenants.authenticate(self.dialect.name, secret)

    def create_tenant(self, name: str, credentials: list[str], balance: float,
                      login: dict[str, str] | None = None) -> Tenant:
        """A tenant of this API (a user that can log in, where the API has logins)."""
        if self.dialect.create_tenant is not None:
            return self.dialect.create_tenant(self.engine, name, credentials, balance, login or {})
        return self.engine.tenants.create(self.dialect.name, name, credentials, balance=to_amount(balance))

    def new_credential(self) -> str:
        return f"gm_{self.dialect.name}_" + self.engine.ids.token(32)

    def demo_tenant(self) -> Tenant:
        """The demo tenant, created (with its demo state) if it does not exist yet."""
        for tenant in self.engine.tenants.all(self.dialect.name):
            if tenant.name == self.dialect.demo.name:
                return tenant
        return self.create_demo_tenant()

    def create_demo_tenant(self) -> Tenant:
        demo = self.dialect.demo
        with self.engine.store.transaction():
            tenant = self.create_tenant(demo.name, list(demo.credentials), demo.balance, demo.login)
            if self.dialect.seed_demo:
                self.dialect.seed_demo(self.engine, tenant.id)
        return tenant
