"""A LovlyChat v1 server written from specs/lovlychat.yaml alone, with the standard library and PyAV: no genmock
code, no admin API. Jobs run in real time and finish within a second.

    python -m tests.foreign.lovlychat --port 0 --wallet KEY=BALANCE [--wallet ...] [--fail-every N]
        [--deviation NAME]

It prints `listening on http://127.0.0.1:PORT` once it serves. `--fail-every N` fails every Nth accepted job while
it runs (refunded, as the spec allows of any job); `--deviation` breaks one contract on purpose (DEVIATIONS), so
that a test can show what `genmock check` reports then.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import io
import json
import re
import secrets
import struct
import sys
import threading
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import av

PRICES = {"image": {"standard": 10, "hd": 25}, "video": {"standard": 60, "hd": 150}}
SIZES = {("image", "standard"): (832, 1216), ("image", "hd"): (1248, 1824),
         ("video", "standard"): (480, 832), ("video", "hd"): (720, 1280)}
RUN_SECONDS = {("image", "standard"): 0.1, ("image", "hd"): 0.15, ("video", "standard"): 0.2, ("video", "hd"): 0.25}
QUEUED_SECONDS = 0.05
FPS, FRAMES = 16, 81
DEVIATIONS = {
    "stale-image-price": "a standard image is debited (and its job's cost is) 12 LoveCoins while GET /v1/pricing "
                         "lists 10",
}
STALE_IMAGE_PRICE = 12
MIN_KEY_LENGTH = 24
MAX_BODY = 64 * 1024  # over twice the largest valid job request
LOOPBACK = ("127.0.0.1", "localhost", "::1")
ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
CHARACTER = re.compile(r"[A-Za-z0-9_-]{1,64}")
ASSET_ID = re.compile(r"ast_[0-9A-Za-z]{24}")
URI = re.compile(r"(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*")  # RFC 3986's characters
CURSOR = re.compile(r"[A-Za-z0-9_-]{1,512}")
IMAGE_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")  # PNG, JPEG (WebP: RIFF....WEBP, below)
FIELDS = {"image": {"kind", "variant", "prompt", "characterId"},
          "video": {"kind", "variant", "prompt", "characterId", "sourceAssetId", "sourceImageUrl"}}


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(ID_ALPHABET) for _ in range(24))


def detail(where: str, name: str, message: str) -> dict[str, str]:
    return {"in": where, "field": name, "message": message}


@dataclass
class Asset:
    id: str
    job_id: str
    key: str
    kind: str
    width: int
    height: int
    character: str
    created: str  # ISO time, as answered: the gallery orders by it, then by id

    def view(self, root: str) -> dict[str, Any]:
        extension = "png" if self.kind == "image" else "mp4"
        return {"id": self.id, "jobId": self.job_id, "kind": self.kind, "url": f"{root}/gen/{self.id}.{extension}",
                "thumbnailUrl": f"{root}/gen/{self.id}_thumb.png",
                "mimeType": "image/png" if self.kind == "image" else "video/mp4", "width": self.width,
                "height": self.height, "durationSeconds": FRAMES / FPS if self.kind == "video" else None,
                "characterId": self.character, "createdAt": self.created}


@dataclass
class Job:
    id: str
    key: str
    request: dict[str, Any]
    cost: int
    created: float
    status: str = "queued"
    started: float | None = None
    completed: float | None = None
    progress: float = 0.0
    error: dict[str, str] | None = None
    asset: Asset | None = None
    doomed: bool = False  # it fails while running (--fail-every)


@dataclass
class Store:
    """The wallets, jobs and assets; every change under one lock."""

    wallets: dict[str, int]
    root: str = ""
    deviation: str | None = None
    fail_every: int = 0
    jobs: dict[str, Job] = field(default_factory=dict)
    assets: dict[str, Asset] = field(default_factory=dict)
    queue: list[Job] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def create(self, key: str, request: dict[str, Any]) -> tuple[int, Any]:
        kind, variant = request["kind"], request["variant"]
        price = PRICES[kind][variant]
        if self.deviation == "stale-image-price" and (kind, variant) == ("image", "standard"):
            price = STALE_IMAGE_PRICE
        with self.lock:
            source = self.assets.get(request.get("sourceAssetId", ""))
            if "sourceAssetId" in request and (source is None or source.key != key or source.kind != "image"):
                message = "sourceAssetId is not a completed image asset of this wallet"
                return 400, error("invalid_request", message, [detail("body", "sourceAssetId", message)])
            if self.wallets[key] < price:
                return 402, {"prepaidRequired": True, "required": price, "wallet": self.wallets[key]}
            self.wallets[key] -= price
            job = Job(new_id("job_"), key, request, price, time.time())
            job.doomed = self.fail_every > 0 and (len(self.jobs) + 1) % self.fail_every == 0
            self.jobs[job.id] = job
            self.queue.append(job)
            accepted = {**self.view(job), "wallet": self.wallets[key]}
        threading.Thread(target=self.work, args=(job,), daemon=True).start()
        return 202, accepted

    def job(self, key: str, job_id: str) -> dict[str, Any] | None:
        with self.lock:
            job = self.jobs.get(job_id)
            return self.view(job) if job is not None and job.key == key else None

    def gallery(self, key: str, character: str | None, limit: int, after: tuple[str, str] | None) -> dict[str, Any]:
        with self.lock:
            assets = sorted((asset for asset in self.assets.values() if asset.key == key
                             and character in (None, asset.character)
                             and (after is None or (asset.created, asset.id) < after)),
                            key=lambda asset: (asset.created, asset.id), reverse=True)
        page = assets[:limit]
        cursor = encode_cursor(page[-1]) if len(assets) > limit else None
        return {"items": [asset.view(self.root) for asset in page], "nextCursor": cursor}

    def view(self, job: Job) -> dict[str, Any]:
        request, now = job.request, time.time()
        progress = running_progress(job, now) if job.status == "running" else job.progress
        return {"id": job.id, "kind": request["kind"], "variant": request["variant"], "status": job.status,
                "prompt": request["prompt"], "characterId": request["characterId"],
                "sourceAssetId": request.get("sourceAssetId"), "sourceImageUrl": request.get("sourceImageUrl"),
                "cost": job.cost,
                "refunded": job.cost if job.status == "failed" else 0, "createdAt": iso(job.created),
                "startedAt": iso(job.started) if job.started else None,
                "completedAt": iso(job.completed) if job.completed else None,
                "queuePosition": self.queue.index(job) + 1 if job.status == "queued" else None,
                "progress": progress, "assets": [job.asset.view(self.root)] if job.asset else [], "error": job.error}

    def work(self, job: Job) -> None:
        """queued → running → completed, or failed (and refunded) when the source image cannot be had or the job is
        doomed to."""
        time.sleep(QUEUED_SECONDS)
        with self.lock:
            self.queue.remove(job)
            job.status, job.started = "running", time.time()
        url = job.request.get("sourceImageUrl")
        problem = unavailable(url) if url else None
        if problem is not None:
            self.fail(job, "source_image_unavailable", problem)
            return
        kind, variant = job.request["kind"], job.request["variant"]
        time.sleep(RUN_SECONDS[kind, variant])
        if job.doomed:
            self.fail(job, "generation_failed", "The generation pipeline failed; the job was refunded.")
            return
        with self.lock:
            job.status, job.completed, job.progress = "completed", time.time(), 1
            width, height = SIZES[kind, variant]
            job.asset = Asset(new_id("ast_"), job.id, job.key, kind, width, height, job.request["characterId"],
                              iso(job.completed))
            self.assets[job.asset.id] = job.asset

    def fail(self, job: Job, code: str, message: str) -> None:
        with self.lock:
            job.status, job.completed = "failed", time.time()
            job.progress = running_progress(job, job.completed)  # it keeps the last value polls saw
            job.error = {"code": code, "message": message}
            self.wallets[job.key] += job.cost  # refunded in full


def running_progress(job: Job, now: float) -> float:
    started = job.started if job.started is not None else now
    return min(0.99, round((now - started) / RUN_SECONDS[job.request["kind"], job.request["variant"]], 2))


def unavailable(url: str) -> str | None:
    """Why the source image at `url` cannot be used (None: it is an image). Only loopback URLs are fetched: this
    server runs in tests, without the internet."""
    try:
        if urlsplit(url).hostname not in LOOPBACK:
            return "The source image could not be downloaded (host unreachable)."
        with urllib.request.urlopen(url, timeout=5) as response:
            data = response.read(1 << 20)
    except urllib.error.HTTPError as refusal:
        return f"The source image could not be downloaded (HTTP {refusal.code})."
    except (OSError, ValueError) as failure:
        return f"The source image could not be downloaded ({type(failure).__name__})."
    if data.startswith(IMAGE_SIGNATURES) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
        return None
    return "The source image could not be decoded."


def encode_cursor(asset: Asset) -> str:
    return base64.urlsafe_b64encode(f"{asset.created}|{asset.id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str] | None:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    created, _, asset_id = text.partition("|")
    try:
        datetime.strptime(created, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        return None
    return (created, asset_id) if ASSET_ID.fullmatch(asset_id) else None


def job_request_problems(body: Any) -> list[dict[str, str]]:
    """What is wrong with a job request, as the spec's schemas say (each an `error.details` entry)."""
    if not isinstance(body, dict):
        return [detail("body", "", "the body must be a JSON object")]
    kind = body.get("kind")
    if not isinstance(kind, str) or kind not in FIELDS:
        return [detail("body", "kind", "must be one of image, video")]
    problems = [detail("body", name, "is not a field of this kind of job") for name in body if name not in FIELDS[kind]]
    problems += [detail("body", name, "is required") for name in ("variant", "prompt", "characterId")
                 if name not in body]
    if "variant" in body and body["variant"] not in ("standard", "hd"):
        problems.append(detail("body", "variant", "must be one of standard, hd"))
    prompt = body.get("prompt")
    if "prompt" in body and not (isinstance(prompt, str) and 1 <= len(prompt) <= 2000 and re.search(r"\S", prompt)):
        problems.append(detail("body", "prompt", "must be 1 to 2000 characters, not only whitespace"))
    character = body.get("characterId")
    if "characterId" in body and not (isinstance(character, str) and CHARACTER.fullmatch(character)):
        problems.append(detail("body", "characterId", "must be 1 to 64 of A-Z a-z 0-9 _ -"))
    if kind == "video":
        sources = [name for name in ("sourceAssetId", "sourceImageUrl") if name in body]
        if len(sources) != 1:
            problems += [detail("body", name, "exactly one of sourceAssetId and sourceImageUrl is required")
                         for name in sources or ("sourceAssetId", "sourceImageUrl")]
        asset_id, url = body.get("sourceAssetId"), body.get("sourceImageUrl")
        if "sourceAssetId" in body and not (isinstance(asset_id, str) and ASSET_ID.fullmatch(asset_id)):
            problems.append(detail("body", "sourceAssetId", "must be an asset id (ast_ and 24 characters)"))
        if "sourceImageUrl" in body and not is_url(url):
            problems.append(detail("body", "sourceImageUrl", "must be an http(s) URL of at most 2048 characters"))
    return problems


def is_url(value: Any) -> bool:
    if not (isinstance(value, str) and len(value) <= 2048 and re.match(r"https?://", value) and URI.fullmatch(value)):
        return False
    try:
        urlsplit(value)
    except ValueError:
        return False
    return True


def gallery_query(query: dict[str, list[str]]) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """The problems of a gallery query, and its values (characterId, limit, after)."""
    problems, values = [], {"characterId": None, "limit": 20, "after": None}
    if "limit" in query:
        limit = query["limit"][0]
        if re.fullmatch(r"[0-9]{1,3}", limit) and 1 <= int(limit) <= 100:
            values["limit"] = int(limit)
        else:
            problems.append(detail("query", "limit", "must be an integer from 1 to 100"))
    if "characterId" in query:
        values["characterId"] = query["characterId"][0]
        if not CHARACTER.fullmatch(values["characterId"]):
            problems.append(detail("query", "characterId", "must be 1 to 64 of A-Z a-z 0-9 _ -"))
    if "cursor" in query:
        cursor = query["cursor"][0]
        values["after"] = decode_cursor(cursor) if CURSOR.fullmatch(cursor) else None
        if values["after"] is None:
            problems.append(detail("query", "cursor", "is not a cursor this API issued"))
    return problems, values


def error(code: str, message: str, details: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **({"details": details} if details else {})}}


@cache
def png(width: int, height: int) -> bytes:
    """A PNG of one colour: a palette of one entry, one bit per pixel."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = (b"\x00" + bytes((width + 7) // 8)) * height
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 3, 0, 0, 0))
            + chunk(b"PLTE", bytes((232, 160, 180))) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


@cache
def mp4(width: int, height: int) -> bytes:
    """An H.264 MP4 of one colour, FRAMES frames at FPS."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        frame = av.VideoFrame(width, height, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes([128]) * plane.buffer_size)
        for number in range(FRAMES):
            frame.pts = number
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return buffer.getvalue()


def thumbnail(width: int, height: int) -> bytes:
    scale = 256 / max(width, height)
    return png(max(1, round(width * scale)), max(1, round(height * scale)))


ROUTES = (("/v1/generation/jobs", "POST", "create"), ("/v1/generation/jobs/{id}", "GET", "poll"),
          ("/v1/pricing", "GET", "pricing"), ("/v1/generation/gallery", "GET", "gallery"))
JOB_PATH = re.compile(r"/v1/generation/jobs/([^/]+)")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        try:
            self.dispatch()
        except Exception:  # noqa: BLE001 - a bug still answers in the API's format
            self.answer(500, error("internal_error", "Internal error."))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):  # every method (QUERY too): an undeclared one is answered 405, not 501
            return self.do_GET
        raise AttributeError(name)

    def dispatch(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY:
            self.close_connection = True
            self.answer(413, error("payload_too_large", f"the body is larger than {MAX_BODY} bytes"))
            return
        raw = self.rfile.read(length) if length else b""
        if url.path.startswith("/gen/") and self.command == "GET":
            self.asset_file(url.path.removeprefix("/gen/"))
            return
        job = JOB_PATH.fullmatch(url.path)
        template = "/v1/generation/jobs/{id}" if job else url.path
        allowed = [method for path, method, _ in ROUTES if path == template]
        if not allowed:
            self.answer(404, error("not_found", f"No route {url.path}."))
            return
        if self.command not in allowed:
            self.answer(405, error("method_not_allowed", f"{self.command} is not allowed on {url.path}."),
                        {"allow": ", ".join(allowed)})
            return
        key = self.key()
        if key is None:
            self.answer(401, error("unauthorized", "Missing or invalid API key."),
                        {"www-authenticate": 'Bearer realm="lovlychat"'})
            return
        store = self.server.store
        if template == "/v1/pricing":
            self.answer(200, {"currency": "LoveCoin", "prices": PRICES, "updatedAt": "2026-05-01T00:00:00Z"})
        elif job:
            view = store.job(key, job[1])
            if view is None:
                self.answer(404, error("not_found", "No such job."))
            else:
                self.answer(200, view)
        elif template == "/v1/generation/gallery":
            problems, values = gallery_query(parse_qs(url.query, keep_blank_values=True))
            if problems:
                self.answer(400, error("invalid_request", problems[0]["message"], problems))
            else:
                self.answer(200, store.gallery(key, values["characterId"], values["limit"], values["after"]))
        else:
            self.create(key, raw)

    def create(self, key: str, raw: bytes) -> None:
        if self.headers.get_content_type() != "application/json":
            self.invalid([detail("header", "content-type", "the body must be application/json")])
            return
        try:
            body = json.loads(raw, parse_constant=_not_json)
        except ValueError:
            self.invalid([detail("body", "", "the body is not valid JSON")])
            return
        problems = job_request_problems(body)
        if problems:
            self.invalid(problems)
            return
        self.answer(*self.server.store.create(key, body))

    def key(self) -> str | None:
        """The key of a known wallet in `Authorization: Bearer` or `x-api-key` (the same in both if both)."""
        presented = []
        if "authorization" in self.headers:
            scheme, _, token = self.headers["authorization"].partition(" ")
            if scheme.lower() != "bearer":
                return None
            presented.append(token.strip())
        if "x-api-key" in self.headers:
            presented.append(self.headers["x-api-key"].strip())
        if not presented or len(set(presented)) > 1:
            return None
        key = presented[0]
        return key if len(key) >= MIN_KEY_LENGTH and key in self.server.store.wallets else None

    def invalid(self, problems: list[dict[str, str]]) -> None:
        self.answer(400, error("invalid_request", problems[0]["message"], problems))

    def asset_file(self, name: str) -> None:
        asset_id, _, extension = name.partition(".")
        asset = self.server.store.assets.get(asset_id.removesuffix("_thumb"))
        if asset is None or extension != ("png" if asset.kind == "image" or asset_id.endswith("_thumb") else "mp4"):
            self.answer(404, error("not_found", "No such file."))
        elif asset_id.endswith("_thumb"):
            self.send_bytes(thumbnail(asset.width, asset.height), "image/png")
        elif asset.kind == "image":
            self.send_bytes(png(asset.width, asset.height), "image/png")
        else:
            self.send_bytes(mp4(asset.width, asset.height), "video/mp4")

    def answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.send_bytes(json.dumps(body).encode(), "application/json", status, headers)

    def send_bytes(self, data: bytes, content_type: str, status: int = 200,
                   headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # the concurrency property opens a dozen connections at once

    def __init__(self, port: int, store: Store) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.store = store
        store.root = f"http://127.0.0.1:{self.server_address[1]}"


def wallet(text: str) -> tuple[str, int]:
    key, _, balance = text.partition("=")
    if len(key) < MIN_KEY_LENGTH or not balance.isdigit():
        raise argparse.ArgumentTypeError(f"KEY=BALANCE with a key of at least {MIN_KEY_LENGTH} characters: {text!r}")
    return key, int(balance)


def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.foreign.lovlychat", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0, help="on 127.0.0.1 (default 0: any free port)")
    parser.add_argument("--wallet", type=wallet, action="append", default=[], metavar="KEY=BALANCE",
                        help="a key and the LoveCoins of its wallet (repeatable)")
    parser.add_argument("--fail-every", type=int, default=0, metavar="N",
                        help="fail every Nth accepted job while it runs, refunded (default 0: none)")
    parser.add_argument("--deviation", choices=sorted(DEVIATIONS),
                        help="break one contract: " + "; ".join(f"{name}: {what}" for name, what in DEVIATIONS.items()))
    args = parser.parse_args(argv)
    server = Server(args.port, Store(dict(args.wallet), deviation=args.deviation, fail_every=args.fail_every))
    print(f"listening on {server.store.root}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
