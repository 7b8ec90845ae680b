"""Start `genmock serve` as a real process on 127.0.0.1 (any free port) and stop it by its PID."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def running_mock(*args: str, launcher: tuple[str, ...] = ("-m", "mockserver.cli"), program: list[str] | None = None,
                 cwd: Path | None = None, env: dict[str, str] | None = None,
                 timeout: float = 20.0) -> Iterator[dict[str, Any]]:
    """Yield the credentials JSON of a freshly started mock; `launcher` lets tests start a variant (run by this
    interpreter), `program` another `genmock` altogether (e.g. an installed one, run in `cwd` with `env`)."""
    with tempfile.TemporaryDirectory() as folder:
        credentials = Path(folder) / "credentials.json"
        command = [*(program or [sys.executable, *launcher]), "serve", "--port", "0", "--credentials-file",
                   str(credentials), *args]
        if "--db" not in args:
            command += ["--db", ":memory:"]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=cwd,
                                   env=env, stdin=subprocess.DEVNULL)
        try:
            data = _wait_until_serving(process, credentials, timeout)
            data["process"] = process
            yield data
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_serving(process: subprocess.Popen, credentials: Path, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"genmock serve exited with {process.returncode}: {process.stdout.read()}")
        if credentials.exists() and credentials.stat().st_size:
            data = json.loads(credentials.read_text())
            if all(_answers(api["base_url"]) for api in data["apis"].values()):
                return data
        time.sleep(0.05)
    raise TimeoutError("genmock serve did not start in time")


def _answers(base_url: str) -> bool:
    try:
        urllib.request.urlopen(f"{base_url}/__genmock/state", timeout=1)
    except urllib.error.HTTPError:
        return True  # 401 without the token: the server is up
    except OSError:
        return False
    return True
