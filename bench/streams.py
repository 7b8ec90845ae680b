"""AliveAI's NDJSON chat replies under load: many replies streaming at once.

    python bench/streams.py [--streams 200] [--chats 20]

One `genmock serve --api aliveai` on the real clock (the default pacing: first token 0.3 s, each next one
0.03 s) and a fresh SQLite file; `--chats` chats of one user, then `--streams` messages sent at once, spread over
them, each reply read line by line as it arrives. Time to first byte is to the `init` line, time to first token
to the first `token` line, total time to the end of the stream; lines per second is every line of every stream
over the wall time of the burst.

Checks (the run is void if one fails): each stream is `application/x-ndjson`, `init` first, one `complete`
last, and its deltas add up to `complete.message`. Writes `bench/results/streams.md`. Exits 1 when a check
fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

BENCH_DIR = Path(__file__).resolve().parent
CHARACTER = {"name": "Bench", "bio": "A lighthouse keeper on a northern cliff who tells stories of ships.",
             "shortBio": "Lighthouse keeper", "firstMessage": "The lamp is lit. Sit down, traveller."}
PERSONA = {"name": "Visitor", "bio": "A walker on the coast path", "isDefault": True}
STREAM_TIMEOUT = 120.0


@dataclass
class Reply:
    chat_id: str
    content_type: str = ""
    events: list[dict] = field(default_factory=list)
    first_byte: float | None = None
    first_token: float | None = None
    total: float = 0.0


async def stream(http: aiohttp.ClientSession, base_url: str, headers: dict, reply: Reply, index: int) -> None:
    started = time.monotonic()
    async with http.post(f"{base_url}/chats/{reply.chat_id}/messages", headers=headers,
                         json={"userMessage": f"Tell me about ship number {index}."}) as response:
        reply.content_type = response.headers.get("content-type", "")
        async for line in response.content:
            now = time.monotonic() - started
            event = json.loads(line)
            reply.events.append(event)
            if reply.first_byte is None:
                reply.first_byte = now
            if reply.first_token is None and event.get("type") == "token":
                reply.first_token = now
    reply.total = time.monotonic() - started


async def run(args: argparse.Namespace, base_url: str, key: str) -> dict:
    headers = {"authorization": f"Key {key}"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        async def post(path: str, body: dict) -> dict:
            async with http.post(f"{base_url}{path}", json=body, headers=headers) as answer:
                answer.raise_for_status()
                return await answer.json()

        character = (await post("/chat-characters", CHARACTER))["chatCharacterId"]
        persona = (await post("/chat-personas", PERSONA))["id"]
        chats = [(await post("/chats", {"chatCharacterId": character, "personaId": persona,
                                        "firstMessage": CHARACTER["firstMessage"]}))["chatId"]
                 for _ in range(args.chats)]
        replies = [Reply(chats[index % args.chats]) for index in range(args.streams)]
        started = time.monotonic()
        await asyncio.wait_for(asyncio.gather(*(stream(http, base_url, headers, reply, index)
                                                for index, reply in enumerate(replies))), STREAM_TIMEOUT)
        wall = time.monotonic() - started
    return {"replies": replies, "wall": wall}


def checks(replies: list[Reply]) -> list[tuple[str, bool]]:
    ndjson = all(reply.content_type.startswith("application/x-ndjson") for reply in replies)
    grammar = all(reply.events and reply.events[0].get("type") == "init" and reply.events[-1].get("type") ==
                  "complete" and sum(event.get("type") in ("complete", "error") for event in reply.events) == 1
                  for reply in replies)
    adds_up = all("".join(event.get("delta", "") for event in reply.events if event.get("type") == "token") ==
                  reply.events[-1].get("message") for reply in replies if reply.events)
    return [("every stream is application/x-ndjson", ndjson),
            ("every stream is init, tokens, one complete", grammar),
            ("every stream's deltas add up to complete.message", adds_up)]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def row(name: str, values: list[float]) -> str:
    ms = [value * 1000 for value in values]
    return f"| {name} | {statistics.median(ms):.0f} ms | {percentile(ms, 0.99):.0f} ms | {max(ms):.0f} ms |"


def report(args: argparse.Namespace, result: dict, found: list[tuple[str, bool]]) -> str:
    replies: list[Reply] = result["replies"]
    lines = sum(len(reply.events) for reply in replies)
    tokens = sum(1 for reply in replies for event in reply.events if event.get("type") == "token")
    text = [
        "# AliveAI NDJSON chat replies", "",
        f"`python bench/streams.py --streams {args.streams} --chats {args.chats}`: {args.streams} replies streamed "
        f"at once over {args.chats} chats of one user, real clock, the default pacing (first token 0.3 s, each "
        f"next 0.03 s); {lines:,} lines ({tokens:,} tokens). Python {sys.version.split()[0]}, one genmock process.",
        "",
        "| measure | p50 | p99 | max |", "|---|---|---|---|",
        row("time to first byte (`init`)", [reply.first_byte or 0.0 for reply in replies]),
        row("time to first token", [reply.first_token or 0.0 for reply in replies]),
        row("total time", [reply.total for reply in replies]), "",
        f"Wall time of the burst {result['wall']:.2f} s; {lines / result['wall']:,.0f} lines/s over all streams. "
        f"The pacing alone makes a reply of n tokens last 0.3 + 0.03 (n - 1) s: the time to first token's excess "
        f"over 0.3 s is the server's.", "",
        "## Checks", "",
        *[f"- {'ok' if passed else 'FAILED'}: {text}" for text, passed in found], "",
    ]
    return "\n".join(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--chats", type=int, default=20)
    parser.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="genmock-streams-bench-") as tmp:
        credentials = Path(tmp) / "credentials.json"
        server = subprocess.Popen([sys.executable, "-m", "mockserver.cli", "serve", "--api", "aliveai", "--port", "0",
                                   "--db", str(Path(tmp) / "bench.sqlite3"), "--credentials-file", str(credentials)],
                                  stdout=subprocess.DEVNULL, cwd=BENCH_DIR.parent)
        try:
            deadline = time.monotonic() + 30
            while not (credentials.exists() and credentials.stat().st_size):
                if time.monotonic() > deadline or server.poll() is not None:
                    print("genmock did not start", file=sys.stderr)
                    return 1
                time.sleep(0.05)
            time.sleep(0.3)
            api = json.loads(credentials.read_text())["apis"]["aliveai"]
            result = asyncio.run(run(args, api["base_url"], api["credentials"][0]))
        finally:
            server.terminate()
            server.wait(10)
    found = checks(result["replies"])
    text = report(args, result, found)
    print(text)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / "streams.md").write_text(text)
    return 0 if all(passed for _, passed in found) else 1


if __name__ == "__main__":
    sys.exit(main())
