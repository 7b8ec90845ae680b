"""LovlyChat on the wire, shared by its tour, machine and concurrency property: routes, request bodies, the
price list, waiting for jobs to finish, walking the gallery's pages."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

from contracts.client import Reply
from contracts.session import Session

JOBS = "/v1/generation/jobs"
PRICING = "/v1/pricing"
GALLERY = "/v1/generation/gallery"
CREATE = f"POST {JOBS}"
POLL = "GET /v1/generation/jobs/{id}"
PRICES = f"GET {PRICING}"
LIST = f"GET {GALLERY}"
KINDS = (("image", "standard"), ("image", "hd"), ("video", "standard"), ("video", "hd"))
TERMINAL = ("completed", "failed")
FAR_SECONDS = 86400.0  # an advance this long drains any plausible queue
PROMPT = "Aiko on a rooftop at dusk, city lights behind her, soft rim light"
MOTION = "She turns toward the camera and smiles, hair moving in the wind"
MAGIC = {"image/png": (0, b"\x89PNG\r\n\x1a\n"), "video/mp4": (4, b"ftyp")}  # where each format's signature is


class Sender(Protocol):
    def send(self, method: str, path: str, *, key: str | None, body: Any = ..., raw: bytes | None = None,
             validate: bool = True, headers: dict[str, str] | None = None,
             params: dict[str, Any] | None = None) -> Reply: ...


def job_path(job_id: str) -> str:
    return f"{JOBS}/{quote(job_id, safe='')}"


def image_job(variant: str, character: str, prompt: str = PROMPT) -> dict[str, Any]:
    return {"kind": "image", "variant": variant, "prompt": prompt, "characterId": character}


def video_job(variant: str, character: str, *, asset_id: str | None = None, url: str | None = None,
              prompt: str = MOTION) -> dict[str, Any]:
    """An image-to-video job from an asset of the wallet, or from a URL."""
    source = {"sourceAssetId": asset_id} if asset_id is not None else {"sourceImageUrl": url}
    return {"kind": "video", "variant": variant, "prompt": prompt, "characterId": character, **source}


UNKNOWN_ASSET = "ast_" + "0" * 24
_CHARACTER = "char_aiko"
# what is wrong with a job request: its body, and the field error.details must name (None: any)
INVALID_JOBS: dict[str, tuple[Any, str | None]] = {
    "an unknown field": ({**image_job("standard", _CHARACTER), "seed": 7}, None),  # the spec leaves its field open
    "no prompt": ({key: value for key, value in image_job("standard", _CHARACTER).items() if key != "prompt"},
                  "prompt"),
    "a blank prompt": (image_job("standard", _CHARACTER, prompt="   "), "prompt"),
    "an unknown variant": ({**image_job("standard", _CHARACTER), "variant": "ultra"}, "variant"),
    "an unknown kind": ({**image_job("standard", _CHARACTER), "kind": "audio"}, None),
    "a video with both sources": ({**video_job("standard", _CHARACTER, asset_id=UNKNOWN_ASSET),
                                   "sourceImageUrl": "https://images.example.com/a.png"}, None),
    "a video without a source": (image_job("standard", _CHARACTER) | {"kind": "video"}, None),
    "an image with a source": ({**image_job("standard", _CHARACTER), "sourceAssetId": UNKNOWN_ASSET}, None),
    "a sourceAssetId that names no asset": (video_job("standard", _CHARACTER, asset_id=UNKNOWN_ASSET),
                                            "sourceAssetId"),
    "a body that is not an object": ([image_job("standard", _CHARACTER)], None),
}
MALFORMED = b'{"kind": "image",'  # a job request that is not JSON


def undecodable_url(session: Session) -> str:
    """A URL the server can fetch but not decode as an image: its own price list (JSON)."""
    return session.target.root + PRICING


def price_list(reply: Reply) -> dict[tuple[str, str], int] | None:
    """{(kind, variant): LoveCoins} from a `GET /v1/pricing` answer, or None when it does not say."""
    prices = reply.field("prices")
    try:
        listed = {(kind, variant): prices[kind][variant] for kind, variant in KINDS}
    except (KeyError, TypeError):
        return None
    if not all(isinstance(price, int) and not isinstance(price, bool) for price in listed.values()):
        return None
    return listed


def looks_like(content: bytes, mime_type: str) -> bool:
    """Whether `content` starts with the signature of `mime_type` (PNG, MP4)."""
    offset, signature = MAGIC.get(mime_type, (0, b"\0"))
    return content[offset:offset + len(signature)] == signature


@dataclass
class Walk:
    """Every page of a gallery, walked by `nextCursor`."""

    items: list[dict[str, Any]] = field(default_factory=list)
    pages: int = 0
    refusal: Reply | None = None  # a page that was not a 200 gallery page
    problem: str | None = None  # a walk that went wrong (a page over its limit, a cursor met again, no end)


def walk_gallery(client: Sender, key: str, character: str | None = None, limit: int | None = None,
                 max_pages: int = 60) -> Walk:
    base: dict[str, Any] = {"characterId": character} if character else {}
    if limit:
        base["limit"] = limit
    walk = Walk()
    cursors: set[str] = set()
    cursor = None
    while walk.pages < max_pages:
        reply = client.send("GET", GALLERY, key=key, params={**base, **({"cursor": cursor} if cursor else {})})
        walk.pages += 1
        items = reply.field("items")
        if reply.status != 200 or not isinstance(items, list):
            walk.refusal = reply
            return walk
        walk.items += [item for item in items if isinstance(item, dict)]
        if len(items) > (limit or 20):
            walk.problem = f"page {walk.pages} lists {len(items)} items, over its limit {limit or 20}"
            return walk
        cursor = reply.field("nextCursor")
        if not cursor:
            return walk
        if cursor in cursors:
            walk.problem = f"page {walk.pages} answers a nextCursor it answered before: the walk would not end"
            return walk
        cursors.add(cursor)
    walk.problem = f"more than {max_pages} pages"
    return walk


def finish(client: Sender, waiter: Waiter, key: str, job_ids: list[str]) -> tuple[dict[str, Reply], list[str]]:
    """Poll the jobs until each is final (or no longer answers 200): the last answer of each, and the ids of
    those still unfinished when the waiter's time ran out."""
    last: dict[str, Reply] = {}

    def done(job_id: str) -> bool:
        last[job_id] = client.send("GET", job_path(job_id), key=key)
        return last[job_id].status != 200 or last[job_id].field("status") in TERMINAL

    return last, waiter.wait(job_ids, done)


class Waiter:
    """Lets jobs' time pass: with an admin token the virtual clock is advanced (far: every queue drains);
    without one the suite sleeps between polls, up to --job-timeout in all."""

    def __init__(self, session: Session) -> None:
        self.admin = session.admin
        self.target = session.target

    def wait(self, job_ids: list[str], done: Callable[[str], bool]) -> list[str]:
        """Poll (`done(job_id)`: whether that job needs no more polling) until every job is done; return the
        ones still not done when time ran out."""
        deadline = time.monotonic() + self.target.job_timeout
        remaining = [job_id for job_id in job_ids if not done(job_id)]
        advances = 0
        while remaining:
            if self.admin is not None:
                if advances == 2:  # two days of virtual time: whatever is still unfinished never will be
                    break
                self.admin.set_clock(advance_seconds=FAR_SECONDS)
                advances += 1
            else:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                time.sleep(min(self.target.poll_interval, left))
            remaining = [job_id for job_id in remaining if not done(job_id)]
        return remaining

    def how_long(self) -> str:
        return "two days of virtual time" if self.admin is not None else f"{self.target.job_timeout:g} s"
