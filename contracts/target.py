"""What the suite judges (an API at a base URL, with credentials), and the admin client for genmock servers."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import yaml

import genmock_specs
from contracts.curl import Transcript
from contracts.guard import Guard

SPECS_DIR = genmock_specs.DIR
ADMIN_PREFIX = "/__genmock"


class Token(str):
    """A bearer token a login answered (AliveAI's JWT): passed wherever a key goes, it is sent as
    `Authorization: Bearer <token>` instead of in the API key's header."""


@dataclass(frozen=True)
class Target:
    api: str  # e.g. "lucydream": names the spec (specs/<api>.yaml) and the API's state machine
    base_url: str
    # an API key whose wallet the suite may spend (or a `contracts.client.Token` a login answered); None with an
    # admin token or a login: the session creates a tenant, or logs in
    key: str | None = None
    second_key: str | None = None  # a key of another tenant, for the isolation properties
    admin_token: str | None = None  # a genmock admin token: fresh tenants, a virtual clock, faults
    model_id: str | None = None  # a ready model of the tenant of `key`
    safetensors_path: str | None = None
    trigger_name: str = "woman"  # the `name` --model-id was trained with; its generations must use it
    price: float | None = None  # the price of one generation, when known and no admin token tells it
    spec: Path | None = None  # overrides specs/<api>.yaml
    timeout: float = 30.0
    job_timeout: float = 300.0  # without an admin token: how long to wait for a job to finish, in real time
    poll_interval: float = 1.0  # without an admin token: seconds between two polls of an unfinished job
    race_key: str | None = None  # a key whose wallet the concurrency property may spend (without an admin token)
    email: str | None = None  # a user's login (AliveAI: POST /members/login), for its Bearer token
    password: str | None = None
    read_only: bool = False  # send only what cannot create or charge (GET, HEAD, OPTIONS, a login)
    max_spend: float | None = None  # the most the run may spend, in the API's money (contracts.guard)
    rate: float | None = None  # requests per second at most; 429's Retry-After waited out
    deadline: float | None = None  # seconds the whole run may take; then the report of what was done
    prices: dict[str, float] | None = None  # stated prices, by the admin config's keys (contracts.pricing)

    @property
    def spec_path(self) -> Path:
        return self.spec or genmock_specs.path(f"{self.api}.yaml")

    def document(self) -> dict[str, Any]:
        """The spec, parsed once per run of the process (callers must not change it: copy what they change)."""
        return _parsed(self.spec_path)

    @property
    def root(self) -> str:
        return self.base_url.rstrip("/")

    def masks(self) -> dict[str, str]:
        """The secrets a reproduction must not print, and the shell variables shown instead."""
        masks: dict[str, str] = {}
        if self.key:
            masks[self.key] = "$TOKEN" if isinstance(self.key, Token) else "$KEY"
        if self.second_key:
            masks[self.second_key] = "$SECOND_KEY"
        if self.admin_token:
            masks[self.admin_token] = "$ADMIN_TOKEN"
        if self.race_key:
            masks[self.race_key] = "$RACE_KEY"
        if self.password:
            masks[self.password] = "$PASSWORD"
        return masks


@cache
def _parsed(path: Path) -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when PyYAML has it: much faster
    return yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # type: ignore[no-any-return]


class AdminError(Exception):
    """The admin API refused or failed a call the suite needs (the target is not a genmock server?)."""


class AdminClient:
    """The genmock admin API (`specs/admin.yaml`) of one API origin; only used when an admin token is given.

    It remembers the tenants it created (`created`), so that a run can remove them when it ends."""

    def __init__(self, target: Target, transcript: Transcript, guard: Guard | None = None) -> None:
        if not target.admin_token:
            raise ValueError("the admin client needs an admin token")
        self._http = httpx.Client(base_url=target.root + ADMIN_PREFIX, timeout=target.timeout,
                                  headers={"authorization": f"Bearer {target.admin_token}"},
                                  event_hooks=guard.event_hooks() if guard is not None else None)
        self._transcript = transcript
        self.created: list[str] = []  # ids of the tenants this client created, oldest first

    def close(self) -> None:
        self._http.close()

    def config(self) -> dict[str, Any]:
        return self._call("GET", "/config")

    def clock(self) -> dict[str, Any]:
        return self._call("GET", "/clock")

    def set_clock(self, mode: str | None = None, now: str | None = None,
                  advance_seconds: float | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if mode:
            body["mode"] = mode
        if now:
            body["now"] = now
        if advance_seconds:
            body["advanceSeconds"] = advance_seconds
        return self._call("POST", "/clock", body)

    def create_tenant(self, name: str, balance: float, credentials: list[str] | None = None,
                      email: str | None = None, password: str | None = None) -> dict[str, Any]:
        """A new tenant; without `credentials` the server issues a key of its own making (`credentials[0]` of
        the answer); an API with logins (AliveAI) answers its `account` {userId, email, password} too."""
        body: dict[str, Any] = {"name": name, "balance": balance, "credentials": credentials or []}
        body.update({name: value for name, value in (("email", email), ("password", password)) if value})
        tenant = self._call("POST", "/tenants", body)
        self.created.append(tenant["id"])
        return tenant

    def delete_tenant(self, tenant_id: str) -> None:
        """Remove a tenant with everything it owns (credentials, ledger, jobs, assets, faults)."""
        self._call("DELETE", f"/tenants/{quote(tenant_id, safe='')}")
        if tenant_id in self.created:
            self.created.remove(tenant_id)

    def ledger(self, tenant_id: str) -> dict[str, Any]:
        return self._call("GET", f"/tenants/{tenant_id}/ledger")

    def arm_fault(self, operation: str, tenant_id: str, count: int = 1) -> dict[str, Any]:
        return self._call("POST", "/faults", {"operation": operation, "count": count, "tenantId": tenant_id})

    def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, json=body) if body is not None else \
                self._http.request(method, path)
        except httpx.HTTPError as error:
            raise AdminError(f"{method} {ADMIN_PREFIX}{path}: {error}") from error
        self._transcript.record(response.request, response.status_code)
        if not response.is_success:
            raise AdminError(f"{method} {ADMIN_PREFIX}{path} answered {response.status_code}: {response.text[:300]}")
        return response.json() if response.content else {}
