"""Start `genmock serve` as a real process on 127.0.0.1 (any free port) and stop it by its PID."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mockserver.testing import stop, wait_until_serving


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
            data = wait_until_serving(process, credentials, timeout=timeout)
            data["process"] = process
            yield data
        finally:
            stop(process)
