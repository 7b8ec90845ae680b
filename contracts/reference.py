"""The genmock a `--compare-with-mock` run is compared with: `genmock serve` of one API, started as a process of
this interpreter on a free port of 127.0.0.1 with its state in memory, driven through its admin API over HTTP
(the suite never imports the mock), and stopped by its PID.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from contracts.serving import stop, wait_until_serving
from contracts.target import ADMIN_PREFIX, AdminError

START_TIMEOUT = 30.0  # seconds for `genmock serve` to answer


@dataclass
class Reference:
    """A running genmock of one API: where it answers, its admin token, the tenants made to mirror the target's."""

    base_url: str
    admin_token: str
    admin: httpx.Client = field(repr=False)
    mirrored: dict[str, str] = field(default_factory=dict)  # what mirrors a credential of the target -> tenant id

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """An admin API call; its JSON answer, AdminError on a refusal."""
        try:
            answer = self.admin.request(method, ADMIN_PREFIX + path, json=body)
        except httpx.HTTPError as error:
            raise AdminError(f"the reference genmock: {method} {ADMIN_PREFIX}{path}: {error}") from error
        if answer.status_code >= 400:
            raise AdminError(f"the reference genmock refused {method} {ADMIN_PREFIX}{path} ({answer.status_code}): "
                             f"{answer.text[:300]}")
        return answer.json() if answer.content else None

    def mirror(self, label: str, credential: str | None, email: str | None = None,
               password: str | None = None) -> None:
        """A tenant holding `credential` (none: one of genmock's making) and, on an API with logins, the login
        given; nothing in its wallet until `fund`."""
        body: dict[str, Any] = {"name": f"mirrors {label}", "balance": 0,
                                "credentials": [credential] if credential else []}
        body.update({name: value for name, value in (("email", email), ("password", password)) if value})
        self.mirrored[label] = self.call("POST", "/tenants", body)["id"]

    def fund(self, label: str, balance: float) -> None:
        if balance > 0:
            self.call("POST", f"/tenants/{self.mirrored[label]}/top-ups",
                      {"amount": balance, "reference": "the target's balance"})

    def configure(self, change: dict[str, Any]) -> dict[str, Any]:
        """Change prices, durations or slots (`PATCH /config`); the configuration after the change."""
        return dict(self.call("PATCH", "/config", change))


@contextmanager
def started(api: str, timeout: float = START_TIMEOUT) -> Iterator[Reference]:
    """A fresh genmock of `api` (its demo tenant removed, so that any credential can be mirrored), until the block
    ends."""
    with tempfile.TemporaryDirectory(prefix="genmock-reference-") as folder:
        credentials, log = Path(folder) / "credentials.json", Path(folder) / "serve.log"
        command = [sys.executable, "-m", "mockserver.cli", "serve", "--port", "0", "--db", ":memory:",
                   "--clock", "real", "--credentials-file", str(credentials), f"--api={api}"]
        with log.open("w", encoding="utf-8") as output:
            process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            listed = wait_until_serving(process, credentials, log, timeout, AdminError)
            served, token = listed["apis"][api], listed["admin_token"]
            with httpx.Client(base_url=served["base_url"], timeout=30,
                              headers={"authorization": f"Bearer {token}"}) as admin:
                reference = Reference(served["base_url"], token, admin)
                reference.call("DELETE", f"/tenants/{served['tenant_id']}")
                yield reference
        finally:
            stop(process)
