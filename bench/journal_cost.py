"""What the request journal costs per request, measured in-process: the ASGI app of each API origin called
directly (no sockets, no HTTP parser, no load generator), with `--journal-size 0`, 1 and the default, on the
same engine and the same requests, in alternating rounds.

Under wrk on a shared 2-core machine the difference between the two is within the noise of a load (the
server's CPU per request moves by 10-20 % between identical runs); here what differs is only the recording,
so its cost can be read in microseconds. The report gives the fastest round of each (the least disturbed one)
and the cost as a share of what the same request costs the whole server under wrk (`bench/results/<api>.md`).
`journal_instructions.py` counts the same share in instructions of the whole server, which no load's noise moves.

    .venv/bin/python bench/journal_cost.py            # ~1 min; writes bench/results/journal/inprocess.md

Exits 0, or 1 when a request was not answered as expected (the run is then void).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import uvloop  # the event loop `genmock serve` runs on

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mockserver import dialects  # noqa: E402
from mockserver.engine import Engine  # noqa: E402
from mockserver.engine.clock import Clock  # noqa: E402
from mockserver.journal import DEFAULT_SIZE  # noqa: E402
from mockserver.server import ApiApp  # noqa: E402

ADMIN_TOKEN = "bench-admin-token"


@dataclass(frozen=True)
class Request:
    api: str
    name: str
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: Any
    status: int  # what every answer must be

    def scope(self) -> dict[str, Any]:
        """A scope as uvicorn makes it (a fresh one per request, as a server would)."""
        headers = [(b"host", b"127.0.0.1:8100"), (b"user-agent", b"wrk/4.2.0"), (b"accept", b"*/*"),
                   *((name.lower().encode(), value.encode()) for name, value in self.headers)]
        if self.body is not None:
            headers += [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(self.raw_body))]
        path, _, query = self.path.partition("?")
        return {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1",
                "server": ("127.0.0.1", 8100), "client": ("127.0.0.1", 50000), "scheme": "http",
                "method": self.method, "root_path": "", "path": path, "raw_path": path.encode(),
                "query_string": query.encode(), "headers": headers, "state": {}}

    @cached_property
    def raw_body(self) -> bytes:
        """The body as sent: encoded once, not in the timed loop."""
        return b"" if self.body is None else json.dumps(self.body).encode()


def requests() -> list[Request]:
    lovly = (("Authorization", "Bearer " + dialects.load("lovlychat").demo.credentials[0]),)
    alive = (("Authorization", "Key " + dialects.load("aliveai").demo.credentials[0]),)
    lucy = (("X-API-Key", dialects.load("lucydream").demo.credentials[0]),)
    return [
        Request("lovlychat", "GET /v1/pricing", "GET", "/v1/pricing", lovly, None, 200),
        Request("lovlychat", "GET /v1/generation/gallery?limit=20", "GET", "/v1/generation/gallery?limit=20", lovly,
                None, 200),
        Request("lovlychat", "POST /v1/generation/jobs (invalid: 400)", "POST", "/v1/generation/jobs", lovly,
                {"type": "image"}, 400),
        Request("aliveai", "GET /members/me", "GET", "/members/me", alive, None, 200),
        Request("lucydream", "POST generate (invalid trigger: 400)", "POST", "/wp-json/apiservices/v1/generate", lucy,
                {"prompt": "a", "tune_id": "1", "safetensors_path": "https://x/1.safetensors",
                 "trigger_name": "robot", "api_mode": "spicy"}, 400),
    ]


class Exchange:
    """Calls an ASGI app with one request and keeps the answer's status."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.status: int | None = None
        self.body = request.raw_body

    async def receive(self) -> dict[str, Any]:
        return {"type": "http.request", "body": self.body, "more_body": False}

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]

    async def run(self, app: ApiApp, count: int) -> float:
        """Seconds for `count` requests, each checked; each in a task of its own, as uvicorn runs them (a
        request's context variables are its task's: set in one long task, they cost what they would not)."""
        request = self.request
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        for _ in range(count):
            self.status = None
            await loop.create_task(app(request.scope(), self.receive, self.send))
            if self.status != request.status:
                raise SystemExit(f"{request.name}: answered {self.status}, expected {request.status}")
        return time.perf_counter() - started


def apps(api: str, sizes: list[int]) -> dict[int, ApiApp]:
    """The origin of `api` with a journal of each size, on one engine (so all see the same state)."""
    engine = Engine.open(":memory:", seed=1, clock=Clock("virtual"))
    dialect = dialects.load(api)
    made = {size: ApiApp(dialect, engine, ADMIN_TOKEN, journal_size=size) for size in sizes}
    next(iter(made.values())).context.demo_tenant()
    return made


async def measure(request: Request, sizes: list[int], rounds: int, count: int) -> dict[int, list[float]]:
    """µs per request of each journal size, one entry per round; the order alternates between rounds."""
    made = apps(request.api, sizes)
    exchange = Exchange(request)
    for app in made.values():  # warm-up: caches filled, the journal full (it then drops one per request)
        await exchange.run(app, max(count // 4, max(sizes) + 1))
    timings: dict[int, list[float]] = {size: [] for size in made}
    for number in range(rounds):
        order = list(made) if number % 2 == 0 else list(reversed(made))
        for name in order:
            timings[name].append(await exchange.run(made[name], count) / count * 1e6)
    return timings


def report(results: list[tuple[Request, dict[int, list[float]]]], sizes: list[int], rounds: int, count: int) -> str:
    on = [size for size in sizes if size]
    lines = [
        "# The request journal's cost, in-process",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- machine: {platform.machine()}, Python {platform.python_version()}, uvloop {uvloop.__version__}",
        f"- `bench/journal_cost.py --sizes {','.join(map(str, sizes))}`: each API origin's ASGI app called directly, "
        f"each request in a task of its own, {count:,} requests per round, {rounds} rounds, the journal sizes in "
        "alternating order; the fastest round of each (the least disturbed)",
        "",
        "| API | request | " + " | ".join(f"µs/request, {_label(size)}" for size in sizes) + " | "
        + " | ".join(f"{_label(size)} / off" for size in on) + " |",
        "| --- | --- | " + " | ".join("---:" for _ in sizes) + " | " + " | ".join("---:" for _ in on) + " |",
    ]
    for request, timings in results:
        best = {size: min(values) for size, values in timings.items()}
        lines.append(f"| {request.api} | {request.name} | " + " | ".join(f"{best[size]:.2f}" for size in sizes)
                     + " | " + " | ".join(f"**{best[size] / best[0]:.3f}**" for size in on) + " |")
    lines += [
        "",
        "A journal of 1 records every request as the default one does but keeps only the last: the difference "
        "between it and the default is what keeping the records costs, the difference between it and off what "
        "recording costs. These are the app's own microseconds: under wrk the whole server spends about 80-110 µs of "
        "CPU per request on these routes (uvicorn, the HTTP parser, the sockets; `bench/results/<api>.md`); "
        "`instructions.md` counts the journal's share of the whole server's work.",
        "",
    ]
    return "\n".join(lines)


def _label(size: int) -> str:
    return "journal off" if size == 0 else f"journal of {size:,}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=f"0,1,{DEFAULT_SIZE}",
                        help="journal sizes to compare, 0 (off) first (default: 0,1,%(default)s)")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--requests", type=int, default=10_000, help="requests per round")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "journal" / "inprocess.md")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    if sizes[0] != 0:
        parser.error("--sizes starts with 0: the ratios are against the journal off")
    results = []
    for request in requests():
        timings = uvloop.run(measure(request, sizes, args.rounds, args.requests))
        results.append((request, timings))
        print(f"{request.api} {request.name}: " + ", ".join(f"{_label(size)} {min(values):.2f} µs"
                                                          for size, values in timings.items()), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report(results, sizes, args.rounds, args.requests), encoding="utf-8")
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
