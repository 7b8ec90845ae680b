"""A real `genmock serve` on a database file: one server per file, nothing acknowledged lost to `kill -9`,
ids never reused, the admin token kept with the state, limits on the request head."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from mockserver.engine import Engine
from tests.servers import running_mock

JOB = {"kind": "image", "variant": "standard", "prompt": "Aiko", "characterId": "char_aiko"}


def call(method: str, url: str, body: Any = None, **headers: str) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"content-type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def test_a_second_server_on_the_same_database_is_refused_and_deletes_nothing(tmp_path: Path) -> None:
    database = str(tmp_path / "state.sqlite3")
    with running_mock("--db", database) as served:
        api = served["apis"]["lucydream"]
        admin = {"authorization": f"Bearer {served['admin_token']}"}
        for extra in ((), ("--fresh",)):
            second = subprocess.run([sys.executable, "-m", "mockserver.cli", "serve", "--port", "0", "--db", database,
                                     *extra], capture_output=True, text=True, timeout=30)
            assert second.returncode != 0
            assert database in second.stderr and str(served["process"].pid) in second.stderr, second.stderr
        assert Path(database).exists()
        status, tenants = call("GET", f"{api['admin_url']}/tenants", **admin)
        assert status == 200 and [tenant["name"] for tenant in tenants["tenants"]] == ["demo"]


def test_kill_9_loses_nothing_acknowledged_and_ids_are_never_reused(tmp_path: Path) -> None:
    database = str(tmp_path / "state.sqlite3")
    with running_mock("--db", database, "--clock", "virtual") as served:
        api = served["apis"]["lovlychat"]
        admin = {"authorization": f"Bearer {served['admin_token']}"}
        _, tenant = call("POST", f"{api['admin_url']}/tenants", {"name": "ci", "balance": 300}, **admin)
        key = {"x-api-key": tenant["credentials"][0]}
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda _: call("POST", f"{api['base_url']}/v1/generation/jobs", JOB, **key),
                                    range(30)))
        status, top_up = call("POST", f"{api['admin_url']}/tenants/{tenant['id']}/top-ups", {"amount": 7}, **admin)
        os.kill(served["process"].pid, signal.SIGKILL)  # at once, right after the last answer
        served["process"].wait(timeout=10)
    acknowledged = [job["id"] for status, job in answers if status == 202]
    assert len(acknowledged) == 30 and status == 201
    with running_mock("--db", database, "--clock", "virtual") as served:
        api = served["apis"]["lovlychat"]
        admin = {"authorization": f"Bearer {served['admin_token']}"}
        for job_id in acknowledged:
            assert call("GET", f"{api['base_url']}/v1/generation/jobs/{job_id}", **key)[0] == 200
        _, ledger = call("GET", f"{api['admin_url']}/tenants/{tenant['id']}/ledger", **admin)
        assert ledger["balance"] == 300 - 30 * 10 + 7
        _, other = call("POST", f"{api['admin_url']}/tenants", {"name": "other", "balance": 100}, **admin)
        status, job = call("POST", f"{api['base_url']}/v1/generation/jobs", JOB,
                           **{"x-api-key": other["credentials"][0]})
        assert status == 202 and job["id"] not in acknowledged
        assert other["id"] != tenant["id"]


def test_the_admin_token_is_kept_with_the_state_and_written_privately(tmp_path: Path) -> None:
    database = str(tmp_path / "state.sqlite3")
    with running_mock("--db", database) as first:
        pass
    with running_mock("--db", database) as second:
        pass
    assert first["admin_token"] == second["admin_token"]
    env = {**os.environ, "GENMOCK_ADMIN_TOKEN": "gm_admin_from_the_environment"}
    credentials = tmp_path / "credentials.json"
    credentials.write_text("{}")
    credentials.chmod(0o644)
    process = subprocess.Popen([sys.executable, "-m", "mockserver.cli", "serve", "--port", "0", "--db", database,
                                "--credentials-file", str(credentials)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        printed = process.stdout.readline()  # type: ignore[union-attr]
        while "admin token" not in printed:
            printed = process.stdout.readline()  # type: ignore[union-attr]
        assert "gm_admin_from_the_environment" in printed
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert json.loads(credentials.read_text())["admin_token"] == "gm_admin_from_the_environment"


def _exchange(base: str, chunks: list[bytes]) -> bytes:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        for chunk in chunks:
            try:
                connection.sendall(chunk)
            except OSError:
                break
        answer = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := connection.recv(65536):
                answer += chunk
    return answer


def test_heads_past_the_limit_and_non_http_are_refused_in_the_apis_format() -> None:
    with running_mock() as served:
        base = served["apis"]["lovlychat"]["base_url"]
        long_header = [b"GET /v1/pricing HTTP/1.1\r\nhost: x\r\nx-filler: ", *[b"a" * 10_000] * 7]
        long_target = [b"GET /v1/pricing?" + b"a" * 70_000 + b" HTTP/1.1\r\nhost: x\r\n\r\n"]
        for chunks, status, code in ((long_header, b"431", "headers_too_large"), (long_target, b"431",
                                     "headers_too_large"), ([b"\x00\x01 not http\r\n\r\n"], b"400", "invalid_request")):
            answer = _exchange(base, chunks)
            assert answer.startswith(b"HTTP/1.1 " + status), answer[:200]
            assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]["code"] == code
        admin = _exchange(base, [b"GET /__genmock/state HTTP/1.1\r\nx-filler: ", *[b"a" * 10_000] * 7])
        assert b"application/problem+json" in admin and json.loads(admin.split(b"\r\n\r\n", 1)[1])["status"] == 431
        lucydream = _exchange(served["apis"]["lucydream"]["base_url"], long_header)
        assert json.loads(lucydream.split(b"\r\n\r\n", 1)[1])["error"]
        status, _ = call("GET", f"{base}/v1/pricing", authorization="Bearer lc_demo_key_0123456789abcdef")
        assert status == 200


def test_a_read_waits_for_no_commit_and_a_write_for_exactly_one(tmp_path: Path) -> None:
    engine = Engine.open(str(tmp_path / "state.sqlite3"), seed=1)
    try:
        tenant = engine.tenants.create("test", "t", ["key-1"], balance=1_000).id
        engine.store.commit()
        with engine.store.transaction():
            engine.ledger.balance(tenant)
            engine.store.get_setting("seed")
        assert not engine.store.pending  # a read-only request is answered at once
        with engine.store.transaction():
            engine.ledger.debit(tenant, 100, "paid")
        assert engine.store.pending
        asyncio.run(engine.store.durable())
        assert not engine.store.pending
    finally:
        engine.store.close()
