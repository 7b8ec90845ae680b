"""AliveAI's NDJSON chat replies under load: many replies streaming at once.

    python bench/streams.py [--streams 200] [--chats 20] [--ramp 1.0]

One `genmock serve --api aliveai` on the real clock (the default pacing: first token 0.3 s, each next one
0.03 s) and a fresh SQLite file; `--chats` chats of one user, then `--streams` messages spread over them, each
reply read line by line as it arrives, in two loads: a burst (all messages sent at the same instant) and a ramp
(message i sent at i/streams of `--ramp` seconds, so that all are open at once but do not arrive together).
Time to first byte is to the `init` line, time to first token to the first `token` line, total time to the end
of the stream; its lateness is the time to first token beyond the pacing's own first-token delay; lines per
second is every line of every stream over the wall time of the load; concurrency is how many streams were open
at the busiest moment.

Checks (the run is void if one fails): each stream is `application/x-ndjson`, `init` first, one `complete`
last, and its deltas add up to `complete.message`. Writes `bench/results/streams.md`. Exits 1 when a check
fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import uvloop
from harness import BenchError, percentile, running_genmock

BENCH_DIR = Path(__file__).resolve().parent
CHARACTER = {"name": "Bench", "bio": "A lighthouse keeper on a northern cliff who tells stories of ships.",
             "shortBio": "Lighthouse keeper", "firstMessage": "The lamp is lit. Sit down, traveller."}
PERSONA = {"name": "Visitor", "bio": "A walker on the coast path", "isDefault": True}
STREAM_TIMEOUT = 120.0
FIRST_TOKEN = 0.3  # seconds: the dialect's default pacing of the first token


@dataclass
class Reply:
    chat_id: str
    content_type: str = ""
    events: list[dict] = field(default_factory=list)
    first_byte: float | None = None
    first_token: float | None = None
    total: float = 0.0
    started: float = 0.0


async def stream(http: aiohttp.ClientSession, base_url: str, headers: dict, reply: Reply, index: int,
                 delay: float) -> None:
    await asyncio.sleep(delay)
    started = reply.started = time.monotonic()
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
        loads = {}
        for load, ramp in (("burst", 0.0), ("ramp", args.ramp)):
            replies = [Reply(chats[index % args.chats]) for index in range(args.streams)]
            started = time.monotonic()
            await asyncio.wait_for(asyncio.gather(*(stream(http, base_url, headers, reply, index,
                                                           ramp * index / args.streams)
                                                    for index, reply in enumerate(replies))), STREAM_TIMEOUT)
            loads[load] = {"replies": replies, "wall": time.monotonic() - started, "ramp": ramp}
    return loads


def concurrency(replies: list[Reply]) -> int:
    """The most streams open at one moment."""
    moments = sorted([(reply.started, 1) for reply in replies] + [(reply.started + reply.total, -1)
                                                                   for reply in replies])
    open_now = busiest = 0
    for _, change in moments:
        open_now += change
        busiest = max(busiest, open_now)
    return busiest


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


def row(name: str, values: list[float]) -> str:
    ms = [value * 1000 for value in values]
    return f"| {name} | {statistics.median(ms):.0f} ms | {percentile(ms, 0.99):.0f} ms | {max(ms):.0f} ms |"


def load_section(name: str, load: dict) -> list[str]:
    replies: list[Reply] = load["replies"]
    lines = sum(len(reply.events) for reply in replies)
    how = "all sent at the same instant" if not load["ramp"] else f"sent evenly over {load['ramp']:g} s"
    return [
        f"### {name}: {len(replies)} messages {how}; at most {concurrency(replies)} streams open at once", "",
        "| measure | p50 | p99 | max |", "|---|---|---|---|",
        row("time to first byte (`init`)", [reply.first_byte or 0.0 for reply in replies]),
        row("time to first token", [reply.first_token or 0.0 for reply in replies]),
        row("**lateness of the first token** (beyond the 0.3 s pacing)",
            [(reply.first_token or 0.0) - FIRST_TOKEN for reply in replies]),
        row("total time", [reply.total for reply in replies]), "",
        f"Wall time {load['wall']:.2f} s; {lines:,} lines, {lines / load['wall']:,.0f} lines/s over all streams.", "",
    ]


def report(args: argparse.Namespace, loads: dict, found: list[tuple[str, bool]], event_loop: str) -> str:
    text = [
        "# AliveAI NDJSON chat replies", "",
        f"`python bench/streams.py --streams {args.streams} --chats {args.chats} --ramp {args.ramp:g}` on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {args.streams} replies over {args.chats} chats of one "
        f"user, real clock, the default pacing (first token {FIRST_TOKEN:g} s, each next 0.03 s). Python "
        f"{sys.version.split()[0]}, {os.cpu_count()} CPUs, one genmock process on {event_loop}; the client (aiohttp "
        "on uvloop) runs on the same machine.", "",
        "The pacing alone makes a reply of n tokens last 0.3 + 0.03 (n - 1) s: the first token's lateness is the "
        "server's (and the client's) share. In the burst, the last of the messages sent together is accepted only "
        "after all the others: its lateness is the queue of acceptances, not the stream.", "",
        *load_section("Burst", loads["burst"]),
        *load_section("Ramp", loads["ramp"]),
        "## Checks", "",
        *[f"- {'ok' if passed else 'FAILED'}: {text}" for text, passed in found], "",
    ]
    return "\n".join(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--chats", type=int, default=20)
    parser.add_argument("--ramp", type=float, default=1.0, help="seconds over which the ramp's messages are sent")
    parser.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="genmock-streams-bench-") as tmp:
        try:
            with running_genmock(Path(tmp), "--api", "aliveai") as (served, _):
                api = served["apis"]["aliveai"]
                loads = uvloop.run(run(args, api["base_url"], api["credentials"][0]))
        except BenchError as error:
            print(f"bench broke: {error}", file=sys.stderr)
            return 1
    found = checks([reply for load in loads.values() for reply in load["replies"]])
    text = report(args, loads, found, served.get("event_loop", "an event loop it does not state"))
    print(text)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / "streams.md").write_text(text)
    return 0 if all(passed for _, passed in found) else 1


if __name__ == "__main__":
    sys.exit(main())
