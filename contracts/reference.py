"""The genmock a `--compare-with-mock` run is compared with: `genmock serve` of one API, started as a process of
this interpreter on a free port of 127.0.0.1 with its state in memory, driven through its admin API over HTTP
(the suite never imports the mock), and stopped by its PID.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

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
            served = _served(process, credentials, log, timeout)["apis"][api]
            token = json.loads(credentials.read_text(encoding="utf-8"))["admin_token"]
            with httpx.Client(base_url=served["base_url"], timeout=30,
                              headers={"authorization": f"Bearer {token}"}) as admin:
                reference = Reference(served["base_url"], token, admin)
                reference.call("DELETE", f"/tenants/{served['tenant_id']}")
                yield reference
        finally:
            _stop(process)


def _served(process: subprocess.Popen[bytes], credentials: Path, log: Path, timeout: float) -> dict[str, Any]:
    """The credentials file `genmock serve` writes, once its origins answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AdminError(f"the reference genmock exited with {process.returncode}: "
                             f"{log.read_text(encoding='utf-8')[-2000:]}")
        if credentials.exists() and credentials.stat().st_size:
            served = json.loads(credentials.read_text(encoding="utf-8"))
            if all(_answers(api["base_url"]) for api in served["apis"].values()):
                return dict(served)
        time.sleep(0.05)
    raise AdminError(f"the reference genmock did not answer within {timeout:g} s")


def _answers(base_url: str) -> bool:
    try:
        httpx.get(f"{base_url}{ADMIN_PREFIX}/state", timeout=1)  # 401 without the token: it is up
    except httpx.TransportError:
        return False
    return True


def _stop(process: subprocess.Popen[bytes]) -> None:
    """By its PID: SIGTERM, then SIGKILL after 10 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
