"""The mock in this process, on a virtual clock, with a Starlette test client per API origin."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from mockserver import dialects
from mockserver.engine import Engine
from mockserver.engine.clock import Clock
from mockserver.server import ApiApp

ADMIN_TOKEN = "test-admin-token"


class InProcessMock:
    def __init__(self, seed: int = 1, database: str = ":memory:") -> None:
        self.engine = Engine.open(database, seed=seed, clock=Clock("virtual"))
        self.apps = {name: ApiApp(dialects.load(name), self.engine, ADMIN_TOKEN) for name in dialects.NAMES}
        self.demo = {name: app.context.demo_tenant() for name, app in self.apps.items()}

    def client(self, api: str, **headers: str) -> TestClient:
        port = 8100 + self.apps[api].dialect.default_port_offset
        return TestClient(self.apps[api], base_url=f"http://127.0.0.1:{port}", client=("127.0.0.1", 50000),
                          headers=headers, raise_server_exceptions=False)

    def admin(self, api: str) -> TestClient:
        return self.client(api, authorization=f"Bearer {ADMIN_TOKEN}")

    def new_tenant(self, api: str, balance: float, **fields: Any) -> dict[str, Any]:
        response = self.admin(api).post("/__genmock/tenants", json={"balance": balance, **fields})
        assert response.status_code == 201, response.text
        return response.json()

    def advance(self, seconds: float) -> None:
        self.engine.clock.advance(seconds)

    def balance(self, api: str, tenant_id: str) -> float:
        return self.admin(api).get(f"/__genmock/tenants/{tenant_id}/ledger").json()["balance"]
