"""A `genmock serve` process started by another program: waiting until every origin it lists answers, and
stopping it by its PID. Shared by genmock in other programs' tests (`mockserver.testing`) and the genmock a
`--compare-with-mock` run starts (`contracts.reference`); it needs only the standard library and httpx, so that
the suite still never imports the mock.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

ADMIN_PREFIX = "/__genmock"


def wait_until_serving(process: subprocess.Popen[Any], credentials: Path, log: Path | None = None,
                       timeout: float = 30.0, error: type[Exception] = RuntimeError) -> dict[str, Any]:
    """The credentials file of a starting `genmock serve`, once every origin it lists answers; `error` (with what
    the process said) when it exits first or does not answer within `timeout` seconds (it is then stopped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            said = log.read_text(encoding="utf-8") if log else (process.stdout.read() if process.stdout else "")
            raise error(f"genmock serve exited with {process.returncode}: {said}")
        if credentials.exists() and credentials.stat().st_size:
            served: dict[str, Any] = json.loads(credentials.read_text(encoding="utf-8"))
            if all(_answers(api["base_url"]) for api in served["apis"].values()):
                return served
        time.sleep(0.05)
    stop(process)
    raise error(f"genmock serve did not answer within {timeout:g} s")


def _answers(base_url: str) -> bool:
    try:
        httpx.get(f"{base_url}{ADMIN_PREFIX}/state", timeout=1)  # 401 without the token: it is up
    except httpx.TransportError:
        return False
    return True


def stop(process: subprocess.Popen[Any]) -> None:
    """Stop a server by its PID: SIGTERM, then SIGKILL after 10 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
