"""LovlyChat on the wire, shared by its tour, machine and concurrency property: routes, request bodies, the
price list, what the spec promises each variant's assets, waiting for jobs to finish, walking the gallery's
pages."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from contracts.client import Reply
from contracts.session import Session
from contracts.wire.common import Sender, Waiter, poll_until

JOBS = "/v1/generation/jobs"
PRICING = "/v1/pricing"
GALLERY = "/v1/generation/gallery"
CREATE = f"POST {JOBS}"
POLL = "GET /v1/generation/jobs/{id}"
PRICES = f"GET {PRICING}"
LIST = f"GET {GALLERY}"
KINDS = (("image", "standard"), ("image", "hd"), ("video", "standard"), ("video", "hd"))
TERMINAL = ("completed", "failed")
PROMPT = "Aiko on a rooftop at dusk, city lights behind her, soft rim light"
MOTION = "She turns toward the camera and smiles, hair moving in the wind"
# the spec's `Variant`: each (kind, variant)'s pixels, and a video's length (81 frames at 16 fps)
SIZES = {("image", "standard"): (832, 1216), ("image", "hd"): (1248, 1824), ("video", "standard"): (480, 832),
         ("video", "hd"): (720, 1280)}
VIDEO_SECONDS = 81 / 16


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


def variant_problem(asset: dict[str, Any], kind: str, variant: str) -> str | None:
    """How an asset's declared size and duration differ from what the spec's `Variant` gives its job's kind and
    variant (None: they do not)."""
    width, height = SIZES[kind, variant]
    seconds = VIDEO_SECONDS if kind == "video" else None
    declared = (asset.get("width"), asset.get("height"), asset.get("durationSeconds"))
    duration = declared[2]
    same_length = duration is seconds or (isinstance(duration, int | float) and seconds is not None
                                          and math.isclose(duration, seconds, abs_tol=1e-3))
    if declared[:2] == (width, height) and same_length:
        return None
    return (f"asset {asset.get('id')} of a {variant} {kind} job declares {declared[0]}x{declared[1]} "
            f"(durationSeconds {json.dumps(duration)}); the spec's {variant} {kind} is {width}x{height} "
            f"(durationSeconds {json.dumps(seconds)})")


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
    return poll_until(client, waiter, key, job_ids, job_path, lambda reply: reply.field("status") in TERMINAL)
