"""What the request journal costs a whole server, counted in instructions: `genmock serve` runs under valgrind's
callgrind, once with `--journal-size 0` and once with the default journal, and is sent the same requests over
HTTP; callgrind counts what the server process executed for them (uvicorn, the HTTP parser, the app, the journal).

An instruction count does not move with the load on the machine (the same run gives the same count to a few
parts in 10^4), so the ratio of the two is the journal's share of the server's work, which wrk's requests/s on a
shared 2-core machine cannot resolve (`bench/README.md`). It leaves out what a count cannot see: the cache misses
of keeping 1,000 records; `journal_cost.py` times those in-process.

    apt-get install -y valgrind                      # once, as root
    .venv/bin/python bench/journal_instructions.py   # ~3 min; writes bench/results/journal/instructions.md

Requests go one at a time on one keep-alive connection, so each is its own turn of the event loop (no batching
to share the journal's cost). Exits 0, or 1 when a request was not answered as expected (the run is then void).
"""

from __future__ import annotations

import argparse
import http.client
import json
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import REPO, Process, read_file_when_ready, wait_for

DEFAULT_SIZE = 1000  # the journal's default size (mockserver.journal.DEFAULT_SIZE)

MAX_BALANCE = 10**9


@dataclass(frozen=True)
class Route:
    api: str
    name: str
    method: str
    path: str
    body: Any
    status: int  # what every answer must be
    funded: bool = False  # sent with a tenant of MAX_BALANCE (a request that charges)

    def send(self, connection: http.client.HTTPConnection, headers: dict[str, str]) -> None:
        body = None if self.body is None else json.dumps(self.body)
        sent = {**headers, "content-type": "application/json"} if body is not None else headers
        connection.request(self.method, self.path, body=body, headers=sent)
        answer = connection.getresponse()
        answer.read()
        if answer.status != self.status:
            raise SystemExit(f"{self.api} {self.name}: answered {answer.status}, expected {self.status}")


IMAGE = {"kind": "image", "variant": "standard", "prompt": "Aiko on a rooftop", "characterId": "char_aiko"}
ROUTES = [
    Route("lovlychat", "GET /v1/pricing", "GET", "/v1/pricing", None, 200),
    Route("lovlychat", "GET /v1/generation/gallery?limit=20", "GET", "/v1/generation/gallery?limit=20", None, 200),
    Route("lovlychat", "POST /v1/generation/jobs (charged, queued: 202)", "POST", "/v1/generation/jobs", IMAGE, 202,
          funded=True),
    Route("lovlychat", "POST /v1/generation/jobs (invalid: 400)", "POST", "/v1/generation/jobs", {"type": "image"},
          400),
    Route("aliveai", "GET /members/me", "GET", "/members/me", None, 200),
    Route("lucydream", "POST generate (invalid trigger: 400)", "POST", "/wp-json/apiservices/v1/generate",
          {"prompt": "a", "tune_id": "1", "safetensors_path": "https://x/1.safetensors", "trigger_name": "robot",
           "api_mode": "spicy"}, 400),
]
AUTHORIZATION = {"lovlychat": ("authorization", "Bearer {}"), "aliveai": ("authorization", "Key {}"),
                 "lucydream": ("x-api-key", "{}")}


class CountedServer:
    """`genmock serve` for one API under callgrind, counting nothing until `counting()` is entered."""

    def __init__(self, tmp: Path, api: str, journal_size: int) -> None:
        self.api = api
        self.out = tmp / f"callgrind.{api}.{journal_size}"
        credentials = tmp / f"credentials.{api}.{journal_size}.json"
        credentials.unlink(missing_ok=True)  # an earlier route's: its server is gone
        command = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={self.out}",
                   sys.executable, "-m", "mockserver.cli", "serve", "--api", api, "--db", ":memory:", "--port", "0",
                   "--clock", "virtual", "--seed", "1", "--journal-size", str(journal_size),
                   "--credentials-file", str(credentials)]
        self.process = Process(f"genmock --journal-size {journal_size}", command, tmp / f"{api}.{journal_size}.log")
        served = wait_for("genmock under callgrind", self.process,
                          read_file_when_ready(credentials, json.loads), timeout=180)
        self.admin_token = served["admin_token"]
        self.origin = served["apis"][api]
        host, port = self.origin["base_url"].removeprefix("http://").rsplit(":", 1)
        self.connection = http.client.HTTPConnection(host, int(port), timeout=120)

    def headers(self, key: str) -> dict[str, str]:
        name, template = AUTHORIZATION[self.api]
        return {name: template.format(key)}

    def funded_key(self) -> str:
        self.connection.request("POST", "/__genmock/tenants", body=json.dumps({"name": "bench",
                                                                               "balance": MAX_BALANCE}),
                                headers={"authorization": f"Bearer {self.admin_token}",
                                         "content-type": "application/json"})
        answer = self.connection.getresponse()
        tenant = json.loads(answer.read())
        if answer.status != 201:
            raise SystemExit(f"{self.api}: the bench tenant was refused: {answer.status} {tenant}")
        return tenant["credentials"][0]

    def control(self, *options: str) -> None:
        subprocess.run(["callgrind_control", *options, str(self.process.pid)], check=True, capture_output=True,
                       timeout=120)

    def instructions(self) -> int:
        """Stop the server; what it executed while counting (callgrind writes it as the process ends)."""
        self.connection.close()
        self.process.popen.send_signal(signal.SIGTERM)
        self.process.popen.wait(timeout=300)
        for line in self.out.read_text().splitlines():
            if line.startswith("totals:"):
                return int(line.split()[1])
        raise SystemExit(f"{self.out}: no totals line")


def count(tmp: Path, route: Route, journal_size: int, warmup: int, requests: int) -> float:
    """Instructions the server executed per request of `route`, after `warmup` uncounted ones."""
    server = CountedServer(tmp, route.api, journal_size)
    try:
        key = server.funded_key() if route.funded else server.origin["credentials"][0]
        headers = server.headers(key)
        for _ in range(max(warmup, journal_size + 10)):  # caches filled, the journal full
            route.send(server.connection, headers)
        server.control("--instr=on")
        for _ in range(requests):
            route.send(server.connection, headers)
        server.control("--instr=off")
        return server.instructions() / requests
    finally:
        server.process.stop()


def report(rows: list[tuple[Route, float, float]], warmup: int, requests: int, journal_size: int) -> str:
    version = subprocess.run(["valgrind", "--version"], capture_output=True, text=True).stdout.strip()
    lines = [
        "# The request journal's cost, in instructions of the whole server",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- machine: {platform.machine()}, Python {platform.python_version()}, {version}",
        f"- `bench/journal_instructions.py`: `genmock serve --api API --db :memory: --clock virtual --seed 1` under "
        f"`valgrind --tool=callgrind`, with `--journal-size 0` and `--journal-size {journal_size}`, each sent "
        f"{max(warmup, journal_size + 10):,} requests uncounted (more than the journal's size: it is full and drops "
        f"one per request), then {requests:,} counted, one at a time on one keep-alive connection",
        "",
        "| API | request | instructions/request, journal off | with the journal | journal's cost | share of the "
        "server's work |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for route, off, on in rows:
        lines.append(f"| {route.api} | {route.name} | {off:,.0f} | {on:,.0f} | {on - off:,.0f} | "
                     f"**{(on - off) / off:.1%}** |")
    lines += [
        "",
        "Everything the server process executes counts: uvicorn, httptools, uvloop, SQLite, the app and the journal. "
        "Cache misses do not: what keeping the records costs in time is in `inprocess.md`.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="counted requests per route and server")
    parser.add_argument("--warmup", type=int, default=300, help="uncounted requests first (at least the journal's)")
    parser.add_argument("--journal-size", type=int, default=DEFAULT_SIZE)
    parser.add_argument("--route", default="", help="only the routes whose name contains this")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "journal" / "instructions.md")
    args = parser.parse_args()
    if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
        parser.exit(2, "valgrind (with callgrind_control) is needed: apt-get install -y valgrind\n")
    rows = []
    with tempfile.TemporaryDirectory(prefix="genmock-journal-") as tmp:
        for route in ROUTES:
            if args.route not in route.name:
                continue
            off = count(Path(tmp), route, 0, args.warmup, args.requests)
            on = count(Path(tmp), route, args.journal_size, args.warmup, args.requests)
            rows.append((route, off, on))
            print(f"{route.api} {route.name}: off {off:,.0f}, journal {on:,.0f} instructions/request "
                  f"({(on - off) / off:+.1%})", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report(rows, args.warmup, args.requests, args.journal_size), encoding="utf-8")
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
