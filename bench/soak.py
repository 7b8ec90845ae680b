"""Soak a real `genmock serve`: tens of thousands of requests, then kill -9, restart, and check what survived.

Starts `genmock serve --clock virtual` on 127.0.0.1 with a temporary SQLite file, creates its own tenants,
and sends `--requests` requests from `--connections` keep-alive connections (raw HTTP/1.1 over asyncio, so
any byte can be sent): valid requests that spend money, admin top-ups, clock advances and faults, invalid
requests, and garbage built from the fuzz test's inputs (tests/test_fuzz.py), on every operation of every
spec. Every answer is checked: no 5xx, errors in the API's own format. Every answer that moves money on the
soak's own tenants is counted, and at the end each of their ledgers must equal opening balance + top-ups -
debits + refunds, and every ledger (the demo tenants' too) must sum to its balance with each entry's
balanceAfter chaining on. Then a burst of paid requests, SIGKILL right after their answers, a restart on the
same file: every job, model and asset the soak was told about must still exist and every balance must be
what was acknowledged before the kill.

    .venv/bin/python bench/soak.py --requests 50000 --max-seconds 600

Prints a table; exits 1 if a property failed, 2 if the server could not be started.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.test_fuzz import (  # noqa: E402 - the repository's root is on the path only now
    ADMIN_PREFIX,
    ADMIN_SPEC,
    DEPTHS,
    HUGE_NUMBERS,
    NESTINGS,
    ODD_CREDENTIALS,
    ODD_HEADERS,
    ODD_STRINGS,
    RAW_QUERIES,
    RAW_SEGMENTS,
    WHOLE_BODIES,
    WRONG_TYPES,
    Op,
    Raw,
    bytes_expression,
    dispatched,
    dumps,
    format_problems,
    operations,
)

HOST = "127.0.0.1"  # the only address the soak talks to
SPECS = {"lovlychat": "lovlychat.yaml", "lucydream": "lucydream.yaml"}
LC_JOBS, LD_GENERATE = "/v1/generation/jobs", "/wp-json/apiservices/v1/generate"
REQUEST_TIMEOUT = 30.0
# headers that change how the body is framed: sent only on connections of their own (see `protocol_junk`)
FRAMING = {b"content-length", b"transfer-encoding", b"expect"}
UVICORN_INVALID = b"Invalid HTTP request received."


# -- the server --------------------------------------------------------------------------------------------
class Server:
    """`genmock serve` on 127.0.0.1, any free ports, the given SQLite file; stopped by its PID."""

    def __init__(self, python: str, database: Path, folder: Path, label: str, seed: int) -> None:
        self.credentials_file = folder / f"credentials-{label}.json"
        self.log = folder / f"genmock-{label}.log"
        command = [python, "-m", "mockserver.cli", "serve", "--host", HOST, "--port", "0", "--db", str(database),
                   "--clock", "virtual", "--seed", str(seed), "--credentials-file", str(self.credentials_file)]
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
        self.info = self._wait_until_serving()
        self.admin_token: str = self.info["admin_token"]
        self.ports = {api: int(data["base_url"].rsplit(":", 1)[1]) for api, data in self.info["apis"].items()}
        for data in self.info["apis"].values():
            if not data["base_url"].startswith(f"http://{HOST}:"):
                raise SystemExit(f"soak: the server listens on {data['base_url']}, not on {HOST}")

    def _wait_until_serving(self, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"genmock serve exited with {self.process.returncode}:\n{self.tail()}")
            try:
                data = json.loads(self.credentials_file.read_text())
            except (FileNotFoundError, ValueError):
                data = None
            if data and all(_listening(int(api["base_url"].rsplit(":", 1)[1])) for api in data["apis"].values()):
                return data
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"genmock serve did not start in {timeout:g} s:\n{self.tail()}")

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def _listening(port: int) -> bool:
    import socket

    try:
        socket.create_connection((HOST, port), timeout=1).close()
    except OSError:
        return False
    return True


# -- raw HTTP/1.1 ------------------------------------------------------------------------------------------
@dataclass
class Answer:
    status: int = 0
    headers: dict[bytes, bytes] = field(default_factory=dict)
    body: bytes = b""
    error: str | None = None  # no answer: timeout, connection closed

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


@dataclass
class Planned:
    """One request to send, and what the soak needs to know to account for its answer."""

    api: str
    method: bytes
    target: bytes  # as sent: normally percent-encoded ASCII
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    kind: str = "valid"  # valid | invalid | garbage | protocol | admin
    valid_http: bool = True  # False: deliberately not HTTP (uvicorn's own 400 is then the right answer)
    tenant: Tenant | None = None  # the soak tenant whose key it carries (alone), if any
    topped_up: Tenant | None = None  # the soak tenant an admin top-up is for
    one_shot: bool = False  # sent on a connection of its own, closed after

    def raw(self, port: int) -> bytes:
        lines = [self.method + b" " + self.target + b" HTTP/1.1", b"host: %s:%d" % (HOST.encode(), port)]
        lines += [name + b": " + value for name, value in self.headers]
        if not any(name == b"content-length" for name, _ in self.headers) and (
                self.body or self.method in (b"POST", b"PUT", b"PATCH")):
            lines.append(b"content-length: %d" % len(self.body))
        return b"\r\n".join(lines) + b"\r\n\r\n" + self.body

    @property
    def path(self) -> str:
        raw = self.target.split(b"?", 1)[0].decode("ascii", "replace")
        return unquote(raw) if "%" in raw else raw

    def describe(self) -> str:
        return (f"{self.method.decode('latin-1')} {_short(self.target.decode('latin-1'), 300)} on {self.api}\n"
                f"      headers: {[(name, value[:120]) for name, value in self.headers]}\n"
                f"      body ({len(self.body)} bytes): {_short(bytes_expression(self.body), 500)}")


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


class Connection:
    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def send(self, raw: bytes, head_only: bool = False, timeout: float = REQUEST_TIMEOUT) -> Answer:
        for attempt in range(2):
            reused = self.writer is not None
            try:
                async with asyncio.timeout(timeout):
                    if self.writer is None:
                        self.reader, self.writer = await asyncio.open_connection(HOST, self.port, limit=2**23)
                    self.writer.write(raw)
                    with contextlib.suppress(ConnectionError):  # the server may answer (413, 431) and close
                        await self.writer.drain()                # before it has read everything
                    answer = await self._read(head_only)
            except asyncio.IncompleteReadError as closed:
                self.close()
                if reused and not closed.partial and attempt == 0:
                    continue  # a keep-alive connection the server had closed: nothing was processed
                return Answer(error=f"connection closed after {len(closed.partial)} bytes of the answer")
            except (TimeoutError, ConnectionError, asyncio.LimitOverrunError, ValueError, IndexError) as failed:
                self.close()
                return Answer(error=f"{type(failed).__name__}: {failed}"[:200])
            if answer.headers.get(b"connection", b"").lower() == b"close":
                self.close()
            return answer
        return Answer(error="unreachable")

    async def _read(self, head_only: bool) -> Answer:
        assert self.reader is not None
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers: dict[bytes, bytes] = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name:
                headers[name.strip().lower()] = value.strip()
        if head_only or status in (204, 304) or status < 200:
            return Answer(status, headers)
        if b"content-length" in headers:
            return Answer(status, headers, await self.reader.readexactly(int(headers[b"content-length"])))
        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            body = b""
            while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                body += await self.reader.readexactly(size + 2)
                body = body[:-2]
            await self.reader.readuntil(b"\r\n")
            return Answer(status, headers, body)
        body = await self.reader.read()
        self.close()
        return Answer(status, headers, body)


class Pool:
    """Keep-alive connections to each origin; a request waits for a free one."""

    def __init__(self, ports: dict[str, int], size: int) -> None:
        self.ports = ports
        self.free: dict[str, asyncio.Queue[Connection]] = {}
        for api, port in ports.items():
            self.free[api] = asyncio.Queue()
            for _ in range(size):
                self.free[api].put_nowait(Connection(port))

    async def send(self, planned: Planned) -> Answer:
        port = self.ports[planned.api]
        raw = planned.raw(port)
        if planned.one_shot:
            connection = Connection(port)
            try:
                return await connection.send(raw, planned.method == b"HEAD", timeout=15)
            finally:
                connection.close()
        connection = await self.free[planned.api].get()
        try:
            return await connection.send(raw, planned.method == b"HEAD")
        finally:
            self.free[planned.api].put_nowait(connection)

    def close(self) -> None:
        for queue in self.free.values():
            while not queue.empty():
                queue.get_nowait().close()


# -- what the soak keeps track of --------------------------------------------------------------------------
@dataclass
class Tenant:
    """A tenant only the soak spends: every answer that moves its money is counted here (in thousandths)."""

    api: str
    id: str
    key: str
    opening: int
    top_ups: int = 0
    debits: int = 0
    acknowledged: int = 0  # answers that debited (202 jobs, 200 generations)
    top_up_count: int = 0
    uncertain: int = 0  # requests on a paying route that got no answer: their effect is unknown
    jobs: dict[str, int] = field(default_factory=dict)  # LovlyChat job id -> cost
    assets: list[str] = field(default_factory=list)  # completed image assets (LovlyChat video sources)
    models: dict[str, str] = field(default_factory=dict)  # LucyDream tune id -> safetensors path
    ready_model: tuple[str, str] | None = None

    def credentials(self) -> list[tuple[bytes, bytes]]:
        return [(b"x-api-key", self.key.encode())]


def units(api: str, value: float) -> int:
    """A wallet amount as the API shows it -> thousandths (the engine's own integer unit)."""
    return round(value * 1000)


@dataclass
class Stats:
    sent: int = 0
    by_status: collections.Counter[int] = field(default_factory=collections.Counter)
    by_kind: collections.Counter[str] = field(default_factory=collections.Counter)
    # (what, status, signature) -> [count, first request, first answer excerpt]
    failures: dict[tuple[str, int, str], list[Any]] = field(default_factory=dict)
    http_level: collections.Counter[str] = field(default_factory=collections.Counter)
    heads: collections.Counter[tuple[int, int]] = field(default_factory=collections.Counter)  # (padding, status)
    no_answer: int = 0

    def fail(self, what: str, status: int, signature: str, planned: Planned, detail: str) -> None:
        entry = self.failures.setdefault((what, status, signature), [0, planned, detail])
        entry[0] += 1


class Soak:
    def __init__(self, server: Server, connections: int, seed: int) -> None:
        self.server = server
        self.random = random.Random(seed)
        self.pool = Pool(server.ports, connections)
        self.connections = connections
        self.stats = Stats()
        self.tenants: list[Tenant] = []
        self.demo = {api: data for api, data in server.info["apis"].items()}
        self.assets: dict[str, list[str]] = {api: [] for api in SPECS}  # asset paths each origin told us about
        self.cursors: list[tuple[Tenant, str]] = []
        self.price: dict[str, int] = {}  # LucyDream generation price (thousandths)
        self.ops = {api: [*operations(SPECS[api]), *operations(ADMIN_SPEC)] for api in SPECS}

    # -- sending, checking, accounting -------------------------------------------------------------------
    async def send(self, planned: Planned, count: bool = True) -> Answer:
        answer = await self.pool.send(planned)
        if count:
            self.stats.sent += 1
            self.stats.by_kind[planned.kind] += 1
            self.check(planned, answer)
        self.account(planned, answer)
        return answer

    def check(self, planned: Planned, answer: Answer) -> None:
        stats = self.stats
        spec = ADMIN_SPEC if planned.path.startswith(ADMIN_PREFIX) else SPECS[planned.api]
        routed, op = dispatched(spec, planned.path, planned.method.decode("latin-1"))
        where = f"{spec.removesuffix('.yaml')}:{op.operation_id if op else 'no operation'}"
        if answer.error:
            stats.no_answer += 1
            if planned.valid_http:
                stats.fail("no answer", 0, f"{where} {answer.error.split(':')[0]}", planned, answer.error)
            return
        stats.by_status[answer.status] += 1
        padding = next((len(value) for name, value in planned.headers if name == b"x-padding"), 0)
        if padding:
            stats.heads[(padding, answer.status)] += 1
        if answer.status < 400:
            return
        if answer.body == UVICORN_INVALID:  # answered by uvicorn's HTTP parser, before genmock sees it
            stats.http_level["uvicorn's text/plain 400 for a request that is not HTTP"] += 1
            if planned.valid_http:
                stats.fail("valid HTTP refused as invalid", answer.status, where, planned, answer.body.decode())
            return
        if answer.status >= 500:
            stats.fail(f"{answer.status} answers", answer.status, where, planned, repr(answer.body[:300]))
        for problem in format_problems(spec, op, answer.status, answer.headers, answer.body):
            signature = problem.split(" b'", 1)[0].split(': b"', 1)[0][:100]
            if not planned.valid_http:
                stats.http_level[f"{answer.status} {signature}"] += 1
            else:
                stats.fail("error format", answer.status, f"{where}: {signature}", planned, problem)

    def account(self, planned: Planned, answer: Answer) -> None:
        tenant = planned.tenant
        if planned.topped_up is not None:
            body = answer.json()
            if answer.status == 201 and isinstance(body, dict) and body.get("kind") == "top-up":
                planned.topped_up.top_ups += units(planned.api, body["amount"])
                planned.topped_up.top_up_count += 1
            elif answer.error or answer.status >= 500:
                planned.topped_up.uncertain += 1
        if tenant is None or planned.method != b"POST":
            return
        path, body = planned.path, answer.json()
        paying = (planned.api, path) in (("lovlychat", LC_JOBS), ("lucydream", LD_GENERATE))
        if not paying:
            return
        if answer.error or answer.status >= 500:
            tenant.uncertain += 1
            return
        if not isinstance(body, dict) or answer.status >= 300:
            return
        if planned.api == "lovlychat" and answer.status == 202:
            tenant.jobs[body["id"]] = units("lovlychat", body["cost"])
            tenant.debits += units("lovlychat", body["cost"])
            tenant.acknowledged += 1
        elif planned.api == "lucydream" and "image_url" in body:
            tenant.debits += self.price["lucydream"]
            tenant.acknowledged += 1
            self.assets["lucydream"].append(_path_of(body["image_url"]))
        elif planned.api == "lucydream" and "tune_id" in body:
            tenant.models[body["tune_id"]] = body["safetensors_path"]

    async def admin(self, api: str, method: str, path: str, body: Any = None, kind: str = "admin",
                    count: bool = True, topped_up: Tenant | None = None) -> Answer:
        headers = [(b"authorization", f"Bearer {self.server.admin_token}".encode())]
        raw = b""
        if body is not None:
            headers.append((b"content-type", b"application/json"))
            raw = json.dumps(body).encode()
        return await self.send(Planned(api, method.encode(), f"/__genmock{path}".encode(), headers, raw, kind,
                                       topped_up=topped_up), count)

    # -- set-up ----------------------------------------------------------------------------------------------
    async def setup(self, per_api: int) -> None:
        for api, balance in (("lovlychat", 2000), ("lucydream", 20)):
            for index in range(per_api):
                answer = await self.admin(api, "POST", "/tenants", {"name": f"soak-{index}", "balance": balance},
                                          count=False)
                if answer.status != 201:
                    raise RuntimeError(f"creating a tenant: {answer.status} {answer.body[:200]!r}")
                data = answer.json()
                self.tenants.append(Tenant(api, data["id"], data["credentials"][0], units(api, balance)))
        config = (await self.admin("lucydream", "GET", "/config", count=False)).json()
        self.price["lucydream"] = units("lucydream", config["prices"]["generate"])
        for tenant in self.of("lucydream"):
            await self.send(self.create_model(tenant), count=False)
            tune, path = next(iter(tenant.models.items()))
            tenant.ready_model = (tune, path)
        await self.admin("lucydream", "POST", "/clock", {"advanceSeconds": 600}, count=False)

    def of(self, api: str) -> list[Tenant]:
        return [tenant for tenant in self.tenants if tenant.api == api]

    # -- the load ----------------------------------------------------------------------------------------------
    async def load(self, requests: int, deadline: float) -> float:
        started = time.monotonic()
        remaining = [requests]

        async def worker() -> None:
            while remaining[0] > 0 and time.monotonic() < deadline:
                remaining[0] -= 1
                maker = self.random.choices(self.scenarios, self.weights)[0]
                planned = maker()
                if isinstance(planned, Planned):
                    await self.send(planned)
                else:
                    await planned

        slow = asyncio.create_task(self.slow_requests())
        await asyncio.gather(*(worker() for _ in range(self.connections)))
        elapsed = time.monotonic() - started
        await slow
        return elapsed

    async def slow_requests(self) -> None:
        """On each origin, a body that stops arriving (408 after 30 s) and a head that does (408 after 10 s)."""
        probes = []
        for api in SPECS:
            tenant = self.pick(api)
            path = LC_JOBS if api == "lovlychat" else LD_GENERATE
            probes.append(Planned(api, b"POST", path.encode(), [*tenant.credentials(), _JSON,
                                                               (b"content-length", b"100")], b'{"prompt": "',
                                  "protocol", tenant=tenant, one_shot=True))
            probes.append(Planned(api, b"GET", b"/v1/pricing", tenant.credentials(), kind="protocol", one_shot=True))
        answers = await asyncio.gather(*(self._stall(planned, head=index % 2 == 1)
                                         for index, planned in enumerate(probes)))
        for planned, answer in zip(probes, answers, strict=True):
            self.stats.sent += 1
            self.stats.by_kind["slow"] += 1
            self.check(planned, answer)
            self.account(planned, answer)

    async def _stall(self, planned: Planned, head: bool) -> Answer:
        connection = Connection(self.server.ports[planned.api])
        try:
            connection.reader, connection.writer = await asyncio.open_connection(HOST, connection.port)
            raw = planned.raw(connection.port)
            connection.writer.write(raw[:raw.index(b"\r\n\r\n") - 3] if head else raw)
            async with asyncio.timeout(45):
                return await connection._read(False)
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError) as failed:
            return Answer(error=f"{type(failed).__name__}: {failed}"[:200])
        finally:
            connection.close()

    @property
    def scenarios(self) -> list[Callable[[], Planned | Awaitable[Any]]]:
        return [self.lc_job, self.lc_poll, self.lc_gallery, self.lc_pricing, self.ld_generate, self.create_model_any,
                self.asset, self.top_up, self.advance_clock, self.read_ledger, self.arm_fault, self.invalid,
                self.garbage, self.protocol_junk]

    @property
    def weights(self) -> list[float]:
        return [14, 6, 3, 2, 12, 1, 0.3, 3, 2, 2, 0.5, 14, 35, 1.5]  # an asset download renders it: ~50 ms

    def pick(self, api: str) -> Tenant:
        return self.random.choice(self.of(api))

    def lc_job(self) -> Planned:
        tenant = self.pick("lovlychat")
        body: dict[str, Any] = {"kind": self.random.choice(["image", "image", "video"]),
                                "variant": self.random.choice(["standard", "hd"]),
                                "prompt": self.random.choice(["Aiko on a rooftop", "é 😀 \u202e", "x" * 2000]),
                                "characterId": self.random.choice(["char_aiko", "char_b"])}
        if body["kind"] == "video":
            if tenant.assets and self.random.random() < 0.6:
                body["sourceAssetId"] = self.random.choice(tenant.assets)
            else:  # not an image: the job fails when it starts and is refunded
                body["sourceImageUrl"] = self.random.choice(["https://example.com/a.png", "https://example.com/a.txt"])
        return Planned("lovlychat", b"POST", LC_JOBS.encode(), [*tenant.credentials(), _JSON],
                       json.dumps(body).encode(), tenant=tenant)

    async def lc_poll(self) -> None:
        tenant = self.pick("lovlychat")
        if not tenant.jobs:
            await self.send(self.lc_pricing())
            return
        job = self.random.choice(list(tenant.jobs))
        answer = await self.send(Planned("lovlychat", b"GET", f"{LC_JOBS}/{job}".encode(), tenant.credentials(),
                                         tenant=tenant))
        self.learn_assets(tenant, answer.json())

    def learn_assets(self, tenant: Tenant, body: Any) -> None:
        items = body.get("assets") or body.get("items") or [] if isinstance(body, dict) else []
        for asset in items:
            if asset["id"] not in tenant.assets and asset["kind"] == "image":
                tenant.assets.append(asset["id"])
            path = _path_of(asset["url"])
            if path not in self.assets["lovlychat"]:
                self.assets["lovlychat"].append(path)

    async def lc_gallery(self) -> None:
        tenant = self.pick("lovlychat")
        query = f"?limit={self.random.randint(1, 100)}"
        mine = [cursor for owner, cursor in self.cursors if owner is tenant]
        if mine and self.random.random() < 0.5:
            query += f"&cursor={self.random.choice(mine)}"
        answer = await self.send(Planned("lovlychat", b"GET", f"/v1/generation/gallery{query}".encode(),
                                         tenant.credentials(), tenant=tenant))
        body = answer.json()
        if isinstance(body, dict) and body.get("nextCursor"):
            self.cursors = [*self.cursors[-200:], (tenant, body["nextCursor"])]
        self.learn_assets(tenant, body)

    def lc_pricing(self) -> Planned:
        return Planned("lovlychat", b"GET", b"/v1/pricing", self.pick("lovlychat").credentials())

    def ld_generate(self) -> Planned:
        tenant = self.pick("lucydream")
        tune, path = tenant.ready_model if tenant.ready_model and self.random.random() < 0.85 else \
            self.random.choice(list(tenant.models.items()))
        body = {"prompt": self.random.choice(["A beautiful blonde at sunset", "é 😀", "x" * 2000]), "tune_id": tune,
                "safetensors_path": path if self.random.random() < 0.9 else path.split("://", 1)[-1],
                "trigger_name": self.random.choice(["woman", "man"]),
                "api_mode": self.random.choice(["spicy", "xxx", "standard"])}
        return Planned("lucydream", b"POST", LD_GENERATE.encode(), [*tenant.credentials(), _JSON],
                       json.dumps(body).encode(), tenant=tenant)

    def create_model(self, tenant: Tenant) -> Planned:
        body = {"tune": {"title": "Soak", "name": "woman",
                         "image_urls": [f"https://example.com/soak/{index}.jpg" for index in range(5)]}}
        return Planned("lucydream", b"POST", LD_GENERATE.encode(), [*tenant.credentials(), _JSON],
                       json.dumps(body).encode(), tenant=tenant)

    def create_model_any(self) -> Planned:
        return self.create_model(self.pick("lucydream"))

    def asset(self) -> Planned:
        api = self.random.choice(list(SPECS))
        if not self.assets[api]:
            return self.lc_pricing()
        return Planned(api, b"GET", self.random.choice(self.assets[api]).encode())

    def top_up(self) -> Planned:
        tenant = self.random.choice(self.tenants)
        amount = self.random.randint(1, 200) if tenant.api == "lovlychat" else self.random.randint(1, 3)
        return Planned(tenant.api, b"POST", f"/__genmock/tenants/{tenant.id}/top-ups".encode(),
                       [(b"authorization", f"Bearer {self.server.admin_token}".encode()), _JSON],
                       json.dumps({"amount": amount, "reference": "soak"}).encode(), "admin", topped_up=tenant)

    async def advance_clock(self) -> None:
        await self.admin(self.random.choice(list(SPECS)), "POST", "/clock",
                         {"advanceSeconds": self.random.choice([0, 1, 5, 30, 60, 200])})

    async def read_ledger(self) -> None:
        """A ledger read under load: it must be consistent in itself (one transaction)."""
        api = self.random.choice(list(SPECS))
        tenants = (await self.admin(api, "GET", "/tenants")).json() or {"tenants": []}
        if tenants["tenants"]:
            tenant = self.random.choice(tenants["tenants"])
            ledger = (await self.admin(api, "GET", f"/tenants/{tenant['id']}/ledger")).json()
            for problem in chain_problems(ledger):
                self.stats.fail("ledger not conserved under load", 200, problem.split(":")[0], Planned(
                    api, b"GET", f"/__genmock/tenants/{tenant['id']}/ledger".encode()), problem)

    async def arm_fault(self) -> None:
        tenant = self.random.choice(self.tenants)
        operation = "job" if tenant.api == "lovlychat" else "train"  # never LucyDream's "generate" (a 500)
        await self.admin(tenant.api, "POST", "/faults", {"operation": operation, "tenantId": tenant.id})

    def invalid(self) -> Planned:
        """A well-formed request a correct server refuses, sent with a soak tenant's key."""
        planned = self.random.choice([self.lc_job, self.ld_generate])()
        body = json.loads(planned.body)
        spoil = self.random.randrange(6)
        if spoil == 0:
            body.pop(self.random.choice(list(body)))
        elif spoil == 1:
            body[self.random.choice(list(body))] = self.random.choice(WRONG_TYPES)
        elif spoil == 2:
            body["unknown"] = 1 if planned.api == "lovlychat" else {"tune": 1}
            if planned.api == "lucydream":
                body["tune"] = {"title": "x" * 50}
        elif spoil == 3:
            planned.headers = [(b"x-api-key", b"wrong-key-0123456789abcdef"), _JSON]
        elif spoil == 4:
            planned.method = self.random.choice([b"PUT", b"DELETE", b"PATCH", b"GET"])
        else:
            planned.target += b"/nope"
        planned.body, planned.kind = json.dumps(body).encode(), "invalid"
        return planned

    def garbage(self) -> Planned:
        """Any operation of either spec, with the fuzz test's junk in its path, query, headers or body."""
        api = self.random.choice(list(SPECS))
        op = self.random.choice(self.ops[api])
        rnd = self.random
        tenant = self.pick(api)
        admin = op.spec == ADMIN_SPEC
        path = op.template
        for name in _parameters(op.template):
            value = rnd.choice([tenant.id, rnd.choice(list(tenant.jobs) or ["job_x"]), rnd.choice(RAW_SEGMENTS),
                                quote(_utf8(rnd.choice(ODD_STRINGS)), safe="")])
            path = path.replace("{" + name + "}", value or "x")
        if rnd.random() < 0.1:
            path = rnd.choice([path + "/", path + "/x", path.upper(), "/" + path, path + "%ED%A0%80"])
        query = rnd.choice(RAW_QUERIES) if rnd.random() < 0.2 else ""
        headers: list[tuple[bytes, bytes]] = []
        planned_tenant = None
        if admin:
            # with the admin token only where the soak can account for an accepted answer: reads, and top-ups
            if op.method == "GET" or op.operation_id == "topUp":
                headers.append((b"authorization", f"Bearer {self.server.admin_token}".encode()))
            else:
                headers.append((b"authorization", b"Bearer " + rnd.choice(ODD_CREDENTIALS)))
        elif rnd.random() < 0.7:
            headers += tenant.credentials()
            planned_tenant = tenant
        else:
            headers.append(rnd.choice([(b"x-api-key", rnd.choice(ODD_CREDENTIALS)),
                                       (b"authorization", b"Bearer " + rnd.choice(ODD_CREDENTIALS))]))
        headers.append(_JSON)
        headers += [header for header in rnd.sample(ODD_HEADERS, rnd.randint(0, 2))
                    if header[0] not in FRAMING and b"\xff" not in header[0]]
        body = self.junk_body(api, op)
        topped = tenant if admin and op.operation_id == "topUp" and tenant.id in path else None
        method = op.method.encode()
        if rnd.random() < 0.03:  # a browser's CORS preflight, from an allowed origin or not
            method = b"OPTIONS"
            headers += [(b"origin", rnd.choice([b"http://localhost:5173", b"https://evil.example", b"null"])),
                        (b"access-control-request-method", rnd.choice([b"POST", b"GET", b"\xff"]))]
        return Planned(api, method, (path + ("?" + query if query else "")).encode("latin-1"), headers,
                       body, "garbage", tenant=planned_tenant, topped_up=topped)

    def junk_body(self, api: str, op: Op) -> bytes:
        rnd = self.random
        choice = rnd.randrange(5)
        if choice == 0:
            return rnd.choice([body for body in WHOLE_BODIES if len(body) < 100_000])
        if choice == 1:
            return rnd.choice(NESTINGS)(rnd.choice(DEPTHS)).encode()
        if choice == 2:
            return rnd.randbytes(rnd.randint(0, 200))
        base: dict[str, Any] = json.loads(self.lc_job().body if api == "lovlychat" else self.ld_generate().body) \
            if op.spec != ADMIN_SPEC else {"amount": 1}
        name = rnd.choice([*base, "x"])
        junk = rnd.choice([rnd.choice(ODD_STRINGS[:30]), Raw(rnd.choice(HUGE_NUMBERS)), rnd.choice(WRONG_TYPES),
                           Raw(rnd.choice(NESTINGS)(rnd.choice(DEPTHS)))])
        if choice == 3:
            base[name] = junk
        else:
            base[rnd.choice(ODD_STRINGS[:16])] = junk
        return _utf8(dumps(base, ascii_only=rnd.random() < 0.5))

    def protocol_junk(self) -> Planned:
        """What only a real socket can send: bytes no HTTP parser takes, framing lies, an oversized head."""
        rnd = self.random
        api = rnd.choice(list(SPECS))
        tenant = self.pick(api)
        target = rnd.choice([LC_JOBS, LD_GENERATE, "/__genmock/state", "/v1/pricing"]).encode()
        choice = rnd.randrange(6)
        planned = Planned(api, b"GET", target, tenant.credentials(), kind="protocol", valid_http=False, one_shot=True)
        if choice == 0:  # a byte outside ASCII in the request target
            planned.target += rnd.choice([b"\xff", "é".encode(), b"\xed\xa0\x80"])
        elif choice == 1:  # a header name no token allows, or a control character in a value
            planned.headers.append(rnd.choice([(b"x-\xff", b"1"), (b"x a", b"1"), (b"x", b"\x00"), (b"x", b"\x7f")]))
        elif choice == 2:  # a head over the 64 KiB limit: valid HTTP, refused 431
            planned.headers.append((b"x-padding", b"a" * rnd.choice([70_000, 140_000, 300_000])))
            planned.valid_http = True
        elif choice == 3:  # a declared body larger than the operation takes: valid HTTP, refused 413 unread
            planned.method, planned.headers = b"POST", [*tenant.credentials(), _JSON,
                                                        (b"content-length", b"%d" % (2**20 * 3))]
            planned.body, planned.valid_http = b'{"prompt": "', True
            planned.tenant = tenant if planned.path in (LC_JOBS, LD_GENERATE) else None
        elif choice == 4:
            planned.method = rnd.choice([b"G\xffT", b"", b"GET GET", b"\x00"])
        else:
            planned.headers.append(rnd.choice([(b"content-length", b"abc"), (b"content-length", b"-1"),
                                               (b"transfer-encoding", b"chunked, gzip")]))
            planned.method, planned.body = b"POST", b"{}"
        return planned

    # -- the end: settle, account, kill, restart ---------------------------------------------------------------
    async def settle(self) -> None:
        """Let every job finish (the clock jumps a month), and learn each LovlyChat job's refund."""
        for api in SPECS:
            await self.admin(api, "POST", "/clock", {"advanceSeconds": 30 * 86400}, count=False)

    async def ledgers(self) -> dict[str, dict[str, Any]]:
        found = {}
        for api in SPECS:
            for tenant in (await self.admin(api, "GET", "/tenants", count=False)).json()["tenants"]:
                found[tenant["id"]] = (await self.admin(api, "GET", f"/tenants/{tenant['id']}/ledger",
                                                        count=False)).json() | {"api": api}
        return found

    async def refunds(self, tenant: Tenant) -> tuple[int, int, list[str]]:
        """(refunded thousandths, failed jobs, jobs not final) from polling every job of the tenant."""
        refunded = failed = 0
        unfinished = []
        jobs = list(tenant.jobs)
        answers = await _all(self, [Planned("lovlychat", b"GET", f"{LC_JOBS}/{job}".encode(), tenant.credentials())
                                    for job in jobs])
        for job, answer in zip(jobs, answers, strict=True):
            body = answer.json() or {}
            if body.get("status") == "failed":
                refunded += units("lovlychat", body["refunded"])
                failed += 1
            elif body.get("status") != "completed":
                unfinished.append(f"{job}: {answer.status} {body.get('status')}")
            self.learn_assets(tenant, body)
        return refunded, failed, unfinished

    async def burst(self, size: int) -> None:
        """Paid requests at once; their answers are all the soak waits for before the kill. Image jobs only, with
        no fault armed: none can fail, so no refund can come between the answers and the restart."""
        for api in SPECS:
            await self.admin(api, "DELETE", "/faults", count=False)
        planned = []
        for index in range(size):
            item = self.lc_job() if index % 2 else self.ld_generate()
            if item.api == "lovlychat":
                item.body = json.dumps({**json.loads(item.body), "kind": "image"}).encode()
                item.body = json.dumps({key: value for key, value in json.loads(item.body).items()
                                        if not key.startswith("source")}).encode()
            item.kind = "burst"
            planned.append(item)
        await _all(self, planned)


def chain_problems(ledger: dict[str, Any]) -> list[str]:
    """The ledger's entries sum to its balance, and each entry's balanceAfter is the running sum."""
    running = 0
    problems = []
    for entry in ledger["entries"]:
        running += round(entry["amount"] * 1000)
        if round(entry["balanceAfter"] * 1000) != running:
            problems.append(f"{ledger['tenantId']}: entry {entry['seq']} balanceAfter {entry['balanceAfter']}, "
                            f"the entries sum to {running / 1000}")
            break
    if round(ledger["balance"] * 1000) != running:
        problems.append(f"{ledger['tenantId']}: balance {ledger['balance']}, the entries sum to {running / 1000}")
    return problems


def _parameters(template: str) -> list[str]:
    return [part.split("}")[0] for part in template.split("{")[1:]]


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _path_of(url: str) -> str:
    return "/" + url.split("://", 1)[-1].partition("/")[2]


_JSON = (b"content-type", b"application/json")


# -- the run -----------------------------------------------------------------------------------------------
def say(text: str) -> None:
    print(f"[soak] {text}", file=sys.stderr, flush=True)


@dataclass
class Check:
    name: str
    passed: bool | None  # None: information
    detail: str


async def run(args: argparse.Namespace, folder: Path) -> list[Check]:
    database = folder / "soak.sqlite3"
    server = Server(args.python, database, folder, "first", args.seed)
    checks: list[Check] = []
    soak = Soak(server, args.connections, args.seed)
    try:
        await soak.setup(args.tenants)
        origins = ", ".join(f"{api} {HOST}:{port}" for api, port in server.ports.items())
        print(f"genmock pid {server.process.pid}: {origins}; {len(soak.tenants)} soak tenants; sending "
              f"{args.requests:,} requests", flush=True)
        seconds = await soak.load(args.requests, time.monotonic() + args.max_seconds)
        say(f"load done: {soak.stats.sent:,} requests in {seconds:.1f} s; settling and accounting")
        stats = soak.stats
        checks.append(Check("requests", None, f"{stats.sent:,} in {seconds:.1f} s ({stats.sent / seconds:,.0f} "
                                              f"requests/s, {args.connections} connections per origin; the 4 slow "
                                              "probes, 30 s, aside)"))
        checks.append(Check("answers by status", None, ", ".join(f"{status}: {count:,}" for status, count in
                                                                  sorted(stats.by_status.items()))
                            + (f", no answer: {stats.no_answer}" if stats.no_answer else "")))
        checks.append(Check("requests by kind", None, ", ".join(f"{kind}: {count:,}" for kind, count in
                                                                 sorted(stats.by_kind.items()))))
        fives = sum(count for status, count in stats.by_status.items() if status >= 500)
        checks.append(Check("5xx answers", fives == 0, f"{fives}"))
        await soak.settle()
        checks += await accounting(soak)
        before = await soak.ledgers()
        say("accounted; a burst of paid requests, then kill -9")
        checks.append(conservation(before, "before the kill"))
        # durability: a burst of paid requests, kill -9 as soon as the last answer is in, restart on the file
        debits_before = {tenant.id: (tenant.debits, tenant.acknowledged) for tenant in soak.tenants}
        await soak.burst(2 * args.connections)
        soak.pool.close()
        server.kill()
        server = Server(args.python, database, folder, "restarted", args.seed)
        soak.server, soak.pool = server, Pool(server.ports, args.connections)
        say(f"killed genmock (SIGKILL) after the burst; restarted as pid {server.process.pid}")
        checks += await survived(soak, before, debits_before, args.asset_downloads)
    finally:
        soak.pool.close()
        server.stop()
    checks += failure_checks(soak.stats)
    return checks


async def accounting(soak: Soak) -> list[Check]:
    """Each soak tenant's ledger against what the soak was told: opening + top-ups - debits + refunds."""
    mismatches, uncertain, unfinished_jobs = [], [], []
    for tenant in soak.tenants:
        refunded = failed = 0
        if tenant.api == "lovlychat":
            refunded, failed, unfinished = await soak.refunds(tenant)
            unfinished_jobs += unfinished
        ledger = (await soak.admin(tenant.api, "GET", f"/tenants/{tenant.id}/ledger", count=False)).json()
        expected = tenant.opening + tenant.top_ups - tenant.debits + refunded
        kinds = collections.Counter(entry["kind"] for entry in ledger["entries"])
        expected_kinds = {"top-up": 1 + tenant.top_up_count, "debit": tenant.acknowledged, "refund": failed}
        if tenant.uncertain:
            uncertain.append(f"{tenant.id} ({tenant.uncertain} unanswered paid requests)")
            continue
        if round(ledger["balance"] * 1000) != expected or {kind: kinds.get(kind, 0) for kind in expected_kinds} \
                != expected_kinds:
            mismatches.append(f"{tenant.api} {tenant.id}: ledger balance {ledger['balance']} with entries "
                              f"{dict(kinds)}, the soak counted {expected / 1000} = {tenant.opening / 1000} + "
                              f"{tenant.top_ups / 1000} top-ups - {tenant.debits / 1000} debits + {refunded / 1000} "
                              f"refunds, entries {expected_kinds}")
    counted = len(soak.tenants) - len(uncertain)
    detail = (f"{counted} soak tenants: ledger balance and entries = opening + top-ups - debits + refunds "
              f"as answered ({sum(t.acknowledged for t in soak.tenants):,} debits, "
              f"{sum(t.top_up_count for t in soak.tenants):,} top-ups)")
    checks = [Check("client-side accounting", not mismatches, "; ".join(mismatches) if mismatches else detail)]
    if uncertain:
        checks.append(Check("accounting skipped", None, ", ".join(uncertain)))
    checks.append(Check("every job final after the clock jumped", not unfinished_jobs,
                        f"{len(unfinished_jobs)} not final: {unfinished_jobs[:5]}" if unfinished_jobs else "yes"))
    return checks


def conservation(ledgers: dict[str, dict[str, Any]], when: str) -> Check:
    problems = [problem for ledger in ledgers.values() for problem in chain_problems(ledger)]
    entries = sum(len(ledger["entries"]) for ledger in ledgers.values())
    return Check(f"ledgers conserved {when}", not problems,
                 "; ".join(problems[:5]) if problems else f"{len(ledgers)} tenants, {entries:,} entries: each sums "
                                                          "to its balance, every balanceAfter chains on")


async def survived(soak: Soak, before: dict[str, dict[str, Any]], debits_before: dict[str, tuple[int, int]],
                   asset_downloads: int) -> list[Check]:
    """After SIGKILL and a restart: every balance as acknowledged, every id the soak was told about exists."""
    after = await soak.ledgers()
    wrong = []
    for tenant_id, ledger in before.items():
        now = after.get(tenant_id)
        tenant = next((tenant for tenant in soak.tenants if tenant.id == tenant_id), None)
        debits, count = (0, 0) if tenant is None else \
            (tenant.debits - debits_before[tenant_id][0], tenant.acknowledged - debits_before[tenant_id][1])
        expected = (round(ledger["balance"] * 1000) - debits, len(ledger["entries"]) + count)
        if now is None or (round(now["balance"] * 1000), len(now["entries"])) != expected:
            wrong.append(f"{tenant_id}: {'gone' if now is None else (now['balance'], len(now['entries']))}, "
                         f"acknowledged {expected[0] / 1000, expected[1]}")
    checks = [Check("balances after kill -9 and restart", not wrong,
                    "; ".join(wrong[:5]) if wrong else f"{len(before)} tenants: balance and entries as acknowledged "
                                                       "(the burst before the kill included)"),
              conservation(after, "after the restart")]
    missing: list[str] = []
    jobs = [(tenant, job) for tenant in soak.of("lovlychat") for job in tenant.jobs]
    answers = await _all(soak, [Planned("lovlychat", b"GET", f"{LC_JOBS}/{job}".encode(), tenant.credentials())
                                for tenant, job in jobs])
    missing += [f"job {job}: {answer.status or answer.error}" for (_, job), answer in zip(jobs, answers, strict=True)
                if answer.status != 200]
    # LovlyChat's assets through each tenant's gallery; LucyDream's (no listing) downloaded, each rendered anew
    # by the server (~50 ms), so at most `asset_downloads` of them, a fixed sample
    listed: set[str] = set()
    for tenant in soak.of("lovlychat"):
        listed |= await gallery(soak, tenant)
    known = {path.rsplit("/", 1)[-1].split(".")[0]: path for path in soak.assets["lovlychat"]}
    missing += [f"asset {path}: not in its tenant's gallery" for asset_id, path in known.items()
                if asset_id not in listed]
    downloads = soak.assets["lucydream"]
    if len(downloads) > asset_downloads:
        downloads = random.Random(0).sample(downloads, asset_downloads)
    answers = await _all(soak, [Planned("lucydream", b"GET", path.encode()) for path in downloads])
    missing += [f"asset {path}: {answer.status or answer.error}" for path, answer in
                zip(downloads, answers, strict=True) if answer.status != 200 or not answer.body]
    # a model exists if generating with it is refused for its price (402) or its state (409), not 404: the price
    # is set out of every wallet's reach meanwhile, so that this spends nothing
    await soak.admin("lucydream", "PATCH", "/config", {"prices": {"generate": 10**9}}, count=False)
    models = [(tenant, tune, path) for tenant in soak.of("lucydream") for tune, path in tenant.models.items()]
    answers = await _all(soak, [Planned("lucydream", b"POST", LD_GENERATE.encode(), [*tenant.credentials(), _JSON],
                                        json.dumps({"prompt": "exists?", "tune_id": tune, "safetensors_path": path,
                                                    "trigger_name": "woman"}).encode())
                                for tenant, tune, path in models])
    missing += [f"model {tune}: {answer.status or answer.error} {answer.body[:80]!r}"
                for (_, tune, _), answer in zip(models, answers, strict=True) if answer.status not in (402, 409)]
    await soak.admin("lucydream", "PATCH", "/config", {"prices": {"generate": soak.price["lucydream"] / 1000}},
                     count=False)
    checks.append(Check("ids still there after kill -9 and restart", not missing,
                        f"{len(missing)} missing: {missing[:5]}" if missing else
                        f"{len(jobs):,} jobs, {len(models)} models, {len(known):,} LovlyChat assets (gallery), "
                        f"{len(downloads):,} of {len(soak.assets['lucydream']):,} LucyDream assets (downloaded)"))
    return checks


async def gallery(soak: Soak, tenant: Tenant) -> set[str]:
    """Every asset id in the tenant's gallery, page after page."""
    found: set[str] = set()
    cursor = ""
    while True:
        answer = await soak.send(Planned("lovlychat", b"GET", f"/v1/generation/gallery?limit=100{cursor}".encode(),
                                         tenant.credentials()), count=False)
        body = answer.json() or {}
        found |= {item["id"] for item in body.get("items", [])}
        if not body.get("nextCursor"):
            return found
        cursor = f"&cursor={body['nextCursor']}"


async def _all(soak: Soak, planned: list[Planned]) -> list[Answer]:
    return list(await asyncio.gather(*(soak.send(item, count=False) for item in planned)))


def failure_checks(stats: Stats) -> list[Check]:
    checks = []
    by_what: dict[str, list[str]] = collections.defaultdict(list)
    for (what, status, signature), (count, planned, detail) in sorted(stats.failures.items(),
                                                                      key=lambda item: -item[1][0]):
        by_what[what].append(f"\n    {count:,} x {status or ''} {signature}\n      {_short(detail, 300)}\n"
                             f"      first: {planned.describe()}")
    for what in ("error format", "no answer", "valid HTTP refused as invalid"):
        lines = by_what.pop(what, [])
        checks.append(Check(what if what != "error format" else "errors in the API's own format", not lines,
                            "".join(lines) if lines else "every one"))
    for what, lines in by_what.items():
        checks.append(Check(what, False, "".join(lines)))
    if stats.heads:
        refused = all(status == 431 for _, status in stats.heads)
        checks.append(Check("heads over 64 KiB refused 431", refused, ", ".join(
            f"{size:,} bytes of header: {status} x {count}" for (size, status), count in sorted(stats.heads.items()))))
    if stats.http_level:
        checks.append(Check("answered by the HTTP layer (requests that are not HTTP)", None,
                            ", ".join(f"{reason}: {count:,}" for reason, count in stats.http_level.items())))
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=50_000, help="requests to send (default 50000)")
    parser.add_argument("--max-seconds", type=float, default=600, help="stop sending after this long (default 600)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent requests (default 16)")
    parser.add_argument("--tenants", type=int, default=4, help="soak tenants per API (default 4)")
    parser.add_argument("--seed", type=int, default=1, help="the server's seed and the soak's (default 1)")
    parser.add_argument("--asset-downloads", type=int, default=400,
                        help="LucyDream assets downloaded after the restart, a fixed sample (default 400)")
    parser.add_argument("--python", default=sys.executable, help="the interpreter that runs genmock serve")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="genmock-soak-") as folder:
        try:
            checks = asyncio.run(run(args, Path(folder)))
        except RuntimeError as broken:
            print(f"soak: {broken}", file=sys.stderr)
            return 2
    width = max(len(check.name) for check in checks)
    for check in checks:
        mark = {True: "ok", False: "FAILED", None: ""}[check.passed]
        print(f"{check.name:<{width}}  {mark:<6}  {check.detail}")
    failed = [check.name for check in checks if check.passed is False]
    print(f"\n{'FAILED: ' + ', '.join(failed) if failed else 'all properties hold'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
