"""LovlyChat v1: prepaid generation jobs, their polling, the price map and the gallery."""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

from starlette.responses import Response

from mockserver.dialects.lovlychat.errors import invalid_field, not_found, payment_required
from mockserver.engine import Engine
from mockserver.engine.assets import MP4, PNG, Asset
from mockserver.engine.clock import iso
from mockserver.engine.jobs import COMPLETED, FAILED, QUEUED, Job
from mockserver.engine.ledger import UNIT, InsufficientFunds
from mockserver.routing import Call, json_response

API = "lovlychat"
# output of each (kind, variant): SDXL portrait stills, WAN image-to-video clips (81 frames at 16 fps)
SIZES = {("image", "standard"): (832, 1216), ("image", "hd"): (1248, 1824),
         ("video", "standard"): (480, 832), ("video", "hd"): (720, 1280)}
VIDEO_FPS, VIDEO_FRAMES = 16, 81
FAILURES = {
    "generation_failed": "The generation pipeline failed; the job was refunded.",
    "source_image_unavailable": "The source image could not be fetched or decoded; the job was refunded.",
}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def coins(amount: int) -> int:
    """Engine thousandths -> whole LoveCoins."""
    return amount // UNIT


def price_of(call: Call, kind: str, variant: str) -> int:
    return int(call.context.config()["prices"][f"{kind}.{variant}"])


async def create_generation_job(call: Call) -> Response:
    engine: Engine = call.context.engine
    tenant = call.principal
    body = call.body
    kind, variant = body["kind"], body["variant"]
    fail_with = None
    if kind == "video":
        if "sourceAssetId" in body:
            source = engine.assets.get(body["sourceAssetId"])
            if source is None or source.tenant_id != tenant.id or source.media_type != PNG:
                return invalid_field("body", "sourceAssetId", "sourceAssetId is not a completed image of this wallet.")
        elif not body["sourceImageUrl"].lower().split("?")[0].endswith(IMAGE_SUFFIXES):
            fail_with = "source_image_unavailable"  # the pipeline cannot decode what is not an image
    width, height = SIZES[(kind, variant)]
    output: dict[str, Any] = {"media_type": PNG if kind == "image" else MP4, "width": width, "height": height,
                              "labels": {"characterId": body["characterId"]}, "id_prefix": "ast_"}
    if kind == "video":
        output.update(seconds=VIDEO_FRAMES / VIDEO_FPS, fps=VIDEO_FPS)
    params = {**body, "outputs": [output]}
    price = price_of(call, kind, variant)
    if engine.faults.take(API, "job", tenant.id):  # (a 402 below undoes this, as every write of a refusal)
        fail_with = fail_with or "generation_failed"
    try:
        job = engine.jobs.submit(API, tenant.id, "job_" + engine.ids.token(24), kind, params,
                                 duration=call.context.config()["durations"][f"{kind}.{variant}"],
                                 cost=price * UNIT, fail_with=fail_with)
    except InsufficientFunds as refusal:
        return payment_required(price, coins(refusal.balance))
    return json_response(202, {**job_view(call, job), "wallet": coins(engine.ledger.balance(tenant.id))})


async def get_generation_job(call: Call) -> Response:
    job = call.context.engine.jobs.get(API, call.principal.id, call.path["id"])
    return json_response(200, job_view(call, job)) if job else not_found("No such job.")


async def get_pricing(call: Call) -> Response:
    prices: dict[str, dict[str, int]] = {}
    for name, value in call.context.config()["prices"].items():
        kind, variant = name.split(".")
        prices.setdefault(kind, {})[variant] = int(value)
    return json_response(200, {"currency": "LoveCoin", "prices": prices,
                               "updatedAt": iso(call.context.config_changed_at())})


async def list_gallery(call: Call) -> Response:
    engine: Engine = call.context.engine
    engine.jobs.settle(API)
    before = None
    if "cursor" in call.query:
        before = decode_cursor(call.query["cursor"])
        if before is None:
            return invalid_field("query", "cursor", "cursor is not one this API issued.")
    character = call.query.get("characterId")
    limit = call.query["limit"]
    assets = engine.assets.newest(call.principal.id, limit + 1, before,
                                  ("characterId", character) if character is not None else None)
    page = assets[:limit]
    return json_response(200, {"items": [asset_view(call, asset) for asset in page],
                               "nextCursor": encode_cursor(page[-1]) if len(assets) > limit else None})


def job_view(call: Call, job: Job) -> dict[str, Any]:
    params = job.params
    failed = job.status == FAILED
    assets = call.context.engine.assets.of_job(job.tenant_id, job.id) if job.status == COMPLETED else []
    return {
        "id": job.id, "kind": job.kind, "variant": params["variant"], "status": job.status,
        "prompt": params["prompt"], "characterId": params["characterId"],
        "sourceAssetId": params.get("sourceAssetId"), "sourceImageUrl": params.get("sourceImageUrl"),
        "cost": coins(job.cost), "refunded": coins(job.cost) if failed else 0,
        "createdAt": iso(job.created_at), "startedAt": _iso_or_none(job.started_at),
        "completedAt": _iso_or_none(job.finished_at),
        "queuePosition": job.queue_position if job.status == QUEUED else None,
        "progress": round(job.progress, 4), "assets": [asset_view(call, asset) for asset in assets],
        "error": {"code": job.fail_with, "message": FAILURES[job.fail_with]} if failed and job.fail_with else None,
    }


def asset_view(call: Call, asset: Asset) -> dict[str, Any]:
    dialect = call.context.dialect
    return {
        "id": asset.id, "jobId": asset.job_id, "kind": "video" if asset.media_type == MP4 else "image",
        "url": dialect.asset_url(call.base_url, asset),
        "thumbnailUrl": dialect.asset_url(call.base_url, asset, thumbnail=True),
        "mimeType": asset.media_type, "width": asset.width, "height": asset.height,
        "durationSeconds": asset.seconds, "characterId": asset.labels["characterId"],
        "createdAt": iso(asset.created_at),
    }


def encode_cursor(asset: Asset) -> str:
    return base64.urlsafe_b64encode(f"{asset.created_at!r}|{asset.id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str] | None:
    try:
        created_at, _, asset_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition("|")
        moment = float(created_at)
        return (moment, asset_id) if math.isfinite(moment) and asset_id else None
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def _iso_or_none(timestamp: float | None) -> str | None:
    return None if timestamp is None else iso(timestamp)
