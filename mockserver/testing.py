"""genmock in another program's tests: start `genmock serve` on free ports of 127.0.0.1, drive it through its
admin API (funded tenants, the clock, faults, the ledger, the request journal) and stop it by its PID.

The pytest plugin (`mockserver.pytest_plugin`) hands these objects to tests as fixtures; any other test runner
can use them directly:

    with Genmock.start() as genmock:
        tenant = genmock.lovlychat.new_tenant(balance=10)
        ...  # the client under test, on genmock.lovlychat.base_url with tenant.key
        assert genmock.lovlychat.balance(tenant) == 9
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from contracts import serving
from contracts.serving import stop

# mockserver.dialects.NAMES, repeated: importing the dialects (and the router with them) would add a quarter of
# a second to every pytest run of everyone who installs genmock (tests/test_examples.py keeps the two equal)
API_NAMES = ("lovlychat", "aliveai", "lucydream")
START_TIMEOUT = 30.0  # seconds for `genmock serve` to answer on every origin


class GenmockError(RuntimeError):
    """genmock did not start, or its admin API refused a call (the message says what it answered)."""


@dataclass(frozen=True)
class Tenant:
    """A tenant (wallet) of one API: its id, its credentials (API keys) and, for AliveAI, its login."""

    id: str
    name: str
    credentials: tuple[str, ...]
    email: str | None = None
    password: str | None = None
    user_id: str | None = None

    @property
    def key(self) -> str:
        """Its first API key: what a client sends."""
        return self.credentials[0]

    @classmethod
    def from_admin(cls, data: dict[str, Any]) -> Tenant:
        account = data.get("account") or {}
        return cls(data["id"], data["name"], tuple(data["credentials"]), account.get("email"),
                   account.get("password"), account.get("userId"))


@dataclass
class Api:
    """One API origin of a running genmock: where clients send requests, and its admin API."""

    name: str
    base_url: str
    admin: httpx.Client = field(repr=False)
    demo: Tenant

    def call(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        """An admin API call (`path` under /__genmock); its JSON answer, or GenmockError on a refusal."""
        answer = self.admin.request(method, f"{self.base_url}/__genmock{path}", json=body, params=params)
        if answer.status_code >= 400:
            raise GenmockError(f"{method} /__genmock{path} answered {answer.status_code}: {answer.text}")
        return answer.json() if answer.content else None

    def new_tenant(self, balance: float = 0, name: str | None = None, credentials: Sequence[str] | None = None,
                   email: str | None = None, password: str | None = None) -> Tenant:
        """A fresh tenant holding `balance` credits (its credentials made by genmock unless given)."""
        body: dict[str, Any] = {"balance": balance}
        for key, value in (("name", name), ("credentials", list(credentials) if credentials else None),
                           ("email", email), ("password", password)):
            if value is not None:
                body[key] = value
        return Tenant.from_admin(self.call("POST", "/tenants", body))

    def top_up(self, tenant: Tenant | str, amount: float, reference: str = "top-up") -> dict[str, Any]:
        """Credit a tenant's wallet; the ledger entry made."""
        return self.call("POST", f"/tenants/{_id(tenant)}/top-ups", {"amount": amount, "reference": reference})

    def ledger(self, tenant: Tenant | str) -> dict[str, Any]:
        """The tenant's balance and every ledger entry (top-ups, debits, refunds), oldest first."""
        return self.call("GET", f"/tenants/{_id(tenant)}/ledger")

    def balance(self, tenant: Tenant | str) -> float:
        return self.ledger(tenant)["balance"]

    def jobs(self, tenant: Tenant | str | None = None) -> list[dict[str, Any]]:
        """The jobs (generations, prompts) of this API, of one tenant if given."""
        return self.call("GET", "/jobs", params={"tenantId": _id(tenant)} if tenant else None)["jobs"]

    def arm_fault(self, operation: str, count: int = 1, tenant: Tenant | str | None = None,
                  message: str | None = None) -> dict[str, Any]:
        """Make the next `count` calls of `operation` fail (the operations: `faultOperations` in `state()`)."""
        body: dict[str, Any] = {"operation": operation, "count": count}
        if tenant is not None:
            body["tenantId"] = _id(tenant)
        if message is not None:
            body["message"] = message
        return self.call("POST", "/faults", body)

    def clear_faults(self) -> None:
        self.call("DELETE", "/faults")

    def requests(self, **filters: Any) -> list[dict[str, Any]]:
        """What clients sent this origin, oldest first (filters: tenantId, method, path, status, since, after,
        limit; a Tenant is taken for tenantId)."""
        if isinstance(filters.get("tenantId"), Tenant):
            filters["tenantId"] = filters["tenantId"].id
        return self.call("GET", "/requests", params=filters)["requests"]

    def clear_requests(self) -> None:
        self.call("DELETE", "/requests")

    def state(self) -> dict[str, Any]:
        return self.call("GET", "/state")

    def reset(self) -> Tenant:
        """Forget every tenant, job, asset, fault and tunable of this API; the re-made demo tenant."""
        self.demo = Tenant.from_admin(self.call("POST", "/reset"))
        return self.demo


def _id(tenant: Tenant | str) -> str:
    return tenant.id if isinstance(tenant, Tenant) else tenant


class Genmock:
    """A `genmock serve` process: one origin per API (`genmock.lovlychat`, `genmock.api("aliveai")`), one
    clock for all of them."""

    def __init__(self, process: subprocess.Popen[str], served: dict[str, Any], log: Path) -> None:
        self.process = process
        self.admin_token: str = served["admin_token"]
        self.log = log
        self._admin = httpx.Client(headers={"authorization": f"Bearer {self.admin_token}"}, timeout=30)
        self.apis = {name: Api(name, api["base_url"], self._admin, _demo(api))
                     for name, api in served["apis"].items()}

    @classmethod
    @contextmanager
    def start(cls, apis: Sequence[str] = (), clock: str = "virtual", seed: int | None = None,
              options: Sequence[str] = (), program: Sequence[str] | None = None) -> Iterator[Genmock]:
        """Run `genmock serve` (this interpreter's, unless `program`) on free ports with its state in memory,
        until the block ends; `clock` "virtual" stands still until advanced."""
        with tempfile.TemporaryDirectory(prefix="genmock-") as folder:
            credentials, log = Path(folder) / "credentials.json", Path(folder) / "serve.log"
            command = [*(program or (sys.executable, "-m", "mockserver.cli")), "serve", "--port", "0",
                       "--db", ":memory:", "--clock", clock, "--credentials-file", str(credentials),
                       *(f"--api={name}" for name in apis), *(("--seed", str(seed)) if seed is not None else ()),
                       *options]
            with log.open("w", encoding="utf-8") as output:
                process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, text=True,
                                           stdin=subprocess.DEVNULL)
            genmock = None
            try:
                genmock = cls(process, wait_until_serving(process, credentials, log), log)
                yield genmock
            finally:
                if genmock is not None:
                    genmock._admin.close()
                stop(process)

    def api(self, name: str) -> Api:
        try:
            return self.apis[name]
        except KeyError:
            raise GenmockError(f"this genmock serves {', '.join(self.apis)}, not {name}") from None

    def __getattr__(self, name: str) -> Api:
        if name in API_NAMES:
            return self.api(name)
        raise AttributeError(name)

    @property
    def _any(self) -> Api:
        return next(iter(self.apis.values()))

    def clock(self) -> dict[str, Any]:
        """The shared clock: its mode ("real" or "virtual") and now."""
        return self._any.call("GET", "/clock")

    def freeze(self) -> dict[str, Any]:
        """Stop time (a virtual clock): jobs progress only when `advance` says so."""
        return self._any.call("POST", "/clock", {"mode": "virtual"})

    def advance(self, seconds: float) -> dict[str, Any]:
        """Move the virtual clock on: jobs due meanwhile finish, in order."""
        return self._any.call("POST", "/clock", {"advanceSeconds": seconds})

    def real_time(self) -> dict[str, Any]:
        return self._any.call("POST", "/clock", {"mode": "real"})

    def reset(self, clock: str = "virtual") -> None:
        """Every API back to its first state (only the demo tenants), the clock in `clock` mode."""
        for api in self.apis.values():
            api.reset()
        if clock == "virtual":
            self.freeze()


def _demo(api: dict[str, Any]) -> Tenant:
    """The demo tenant as the credentials file of `genmock serve` lists it."""
    return Tenant.from_admin({"id": api["tenant_id"], "name": "demo", **api})


def wait_until_serving(process: subprocess.Popen[str], credentials: Path, log: Path | None = None,
                       timeout: float = START_TIMEOUT) -> dict[str, Any]:
    """The credentials file of a starting `genmock serve`, once every origin it lists answers (GenmockError when
    it exits first or does not answer in time)."""
    return serving.wait_until_serving(process, credentials, log, timeout, GenmockError)
