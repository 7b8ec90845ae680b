"""AliveAI's prompt channel under fan-out: many subscribers on prompts that progress on the clock.

    python bench/fanout.py [--subscribers 1000] [--prompts 50] [--steps 10]

One `genmock serve --api aliveai` on a virtual clock and a fresh SQLite file; `--prompts` prompts run at once
(as many GPU slots), each taking `--steps` seconds; `--subscribers` websocket connections spread over them.
The bench then moves the clock one second at a time through the admin API: each step changes every prompt's
progress, so every subscriber is owed one frame. The lag of a frame is the time from the admin call that moved
the clock (the state change) to the frame's arrival; it includes the admin call's own round trip.

Checks (the run is void if one fails): every subscriber got every frame of its prompt (the same sequence as
every other subscriber of that prompt), progress never went down, and each channel ended with exactly one
final frame and close 1000. Writes `bench/results/websockets.md`. Exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import uvloop
from harness import BenchError, Process, percentile, running_genmock

BENCH_DIR = Path(__file__).resolve().parent
PROMPT = {"name": "Bench", "appearance": "a lighthouse on a cliff at dusk", "detailLevel": "MEDIUM"}
STEP_TIMEOUT = 30.0


@dataclass
class Subscriber:
    prompt_id: str
    frames: list[dict] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    close_code: int | None = None
    connected: asyncio.Event = field(default_factory=asyncio.Event)


async def subscribe(http: aiohttp.ClientSession, ws_url: str, subscriber: Subscriber) -> None:
    async with http.ws_connect(f"{ws_url}/ws/prompts/{subscriber.prompt_id}", max_msg_size=0) as websocket:
        async for message in websocket:
            subscriber.arrivals.append(time.monotonic())
            subscriber.frames.append(json.loads(message.data))
            subscriber.connected.set()
        subscriber.close_code = websocket.close_code


async def run(args: argparse.Namespace, base_url: str, admin_token: str, key: str, server: Process) -> dict:
    admin_headers = {"authorization": f"Bearer {admin_token}"}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        async def admin(method: str, path: str, body: dict) -> None:
            async with http.request(method, f"{base_url}/__genmock{path}", json=body, headers=admin_headers) as reply:
                reply.raise_for_status()

        await admin("PATCH", "/config", {"slots": args.prompts, "durations": {"IMAGE_DEFAULT": args.steps},
                                         "limits": {"maxPending": args.prompts}})
        prompt_ids = []
        for _ in range(args.prompts):
            async with http.post(f"{base_url}/prompts", json=PROMPT, headers={"authorization": f"Key {key}"}) as reply:
                prompt_ids.append((await reply.json())["promptId"])
        idle = server.rss_kib() or 0
        subscribers = [Subscriber(prompt_ids[index % args.prompts]) for index in range(args.subscribers)]
        ws_url = base_url.replace("http", "ws", 1)
        started = time.monotonic()
        tasks = [asyncio.create_task(subscribe(http, ws_url, subscriber)) for subscriber in subscribers]
        await asyncio.wait_for(asyncio.gather(*(s.connected.wait() for s in subscribers)), STEP_TIMEOUT)
        connect_seconds = time.monotonic() - started
        connected = server.rss_kib() or 0
        lags: list[float] = []
        steps: list[list[float]] = []
        client_cpu = time.process_time()
        for step in range(1, args.steps + 1):
            owed = [len(subscriber.frames) + 1 for subscriber in subscribers]
            moved = time.monotonic()
            await admin("POST", "/clock", {"advanceSeconds": 1})
            deadline = moved + STEP_TIMEOUT
            while any(len(s.frames) < n for s, n in zip(subscribers, owed, strict=True)):
                if time.monotonic() > deadline:
                    late = sum(len(s.frames) < n for s, n in zip(subscribers, owed, strict=True))
                    raise RuntimeError(f"step {step}: {late} subscribers got no frame")
                await asyncio.sleep(0.02)  # (arrival times are taken as frames come, not when this looks)
            steps.append([subscriber.arrivals[n - 1] - moved for subscriber, n in zip(subscribers, owed, strict=True)])
            lags += steps[-1]
        await asyncio.wait_for(asyncio.gather(*tasks), STEP_TIMEOUT)
        client_cpu = time.process_time() - client_cpu
    return {"subscribers": subscribers, "lags": lags, "steps": steps, "idle_kib": idle, "connected_kib": connected,
            "connect_seconds": connect_seconds, "client_cpu": client_cpu}


def checks(subscribers: list[Subscriber]) -> list[tuple[str, bool]]:
    by_prompt: dict[str, list[list[dict]]] = {}
    for subscriber in subscribers:
        by_prompt.setdefault(subscriber.prompt_id, []).append(
            [{k: v for k, v in frame.items() if k != "created"} for frame in subscriber.frames])
    same = all(all(seq == sequences[0] for seq in sequences) for sequences in by_prompt.values())
    monotonic = all(all(a["progress"] <= b["progress"] for a, b in zip(s.frames, s.frames[1:], strict=False))
                    for s in subscribers)
    final = all(sum(bool(f.get("isComplete") or f.get("isError")) for f in s.frames) == 1
                and s.frames[-1].get("isComplete") and s.close_code == 1000 for s in subscribers)
    return [("every subscriber of a prompt got the same frames", same),
            ("progress never went down", monotonic),
            ("each channel ended with one final frame (isComplete) and close 1000", final)]


def lag_row(name: str, lags: list[float]) -> str:
    ms = [lag * 1000 for lag in lags]
    return f"| {name} | {statistics.median(ms):.1f} ms | {percentile(ms, 0.99):.1f} ms | {max(ms):.1f} ms |"


def report(args: argparse.Namespace, result: dict, found: list[tuple[str, bool]], event_loop: str) -> str:
    per_subscriber = (result["connected_kib"] - result["idle_kib"]) / args.subscribers
    frames = sum(len(s.frames) for s in result["subscribers"])
    progress = [lag for step in result["steps"][:-1] for lag in step]
    lines = [
        "# AliveAI websocket fan-out", "",
        f"`python bench/fanout.py --subscribers {args.subscribers} --prompts {args.prompts} --steps "
        f"{args.steps}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {args.subscribers} subscribers on "
        f"{args.prompts} prompts, {args.steps} clock steps, {frames:,} frames. Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs, one genmock process on {event_loop}; the client (aiohttp on uvloop, one process) "
        f"runs on the same machine and used {result['client_cpu']:.2f} s of CPU.", "",
        "| lag, state change to frame | p50 | p99 | max |", "|---|---|---|---|",
        lag_row("**every frame**", result["lags"]),
        lag_row("progress frames (every step but the last)", progress),
        lag_row("final frames (the last step: every prompt ends)", result["steps"][-1]), "",
        "| measure | value |", "|---|---|",
        f"| connecting all subscribers | {result['connect_seconds']:.2f} s |",
        f"| server RSS before / with the subscribers | {result['idle_kib'] / 1024:.1f} / "
        f"{result['connected_kib'] / 1024:.1f} MiB |",
        f"| memory per subscriber | {per_subscriber:.1f} KiB |", "",
        "The lag includes the admin call that moves the clock (its round trip and the settling it causes), and the "
        "client's own time to read a thousand frames that arrive together.", "",
        "## Checks", "",
        *[f"- {'ok' if passed else 'FAILED'}: {text}" for text, passed in found], "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--prompts", type=int, default=50)
    parser.add_argument("--steps", type=int, default=10, help="seconds each prompt takes, one frame per second")
    parser.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    args = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * args.subscribers + 256)), hard))
    with tempfile.TemporaryDirectory(prefix="genmock-ws-bench-") as tmp:
        try:
            with running_genmock(Path(tmp), "--api", "aliveai", "--clock", "virtual") as (served, server):
                api = served["apis"]["aliveai"]
                result = uvloop.run(run(args, api["base_url"], served["admin_token"], api["credentials"][0], server))
        except BenchError as error:
            print(f"bench broke: {error}", file=sys.stderr)
            return 1
    found = checks(result["subscribers"])
    text = report(args, result, found, served.get("event_loop", "an event loop it does not state"))
    print(text)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / "fanout.md").write_text(text)
    return 0 if all(passed for _, passed in found) else 1


if __name__ == "__main__":
    sys.exit(main())
