"""LucyDream's one route: image generation, or model creation when the body carries `tune`."""

from __future__ import annotations

from starlette.responses import Response

from mockserver.dialects.lucydream.errors import error
from mockserver.engine import Engine
from mockserver.engine.assets import PNG
from mockserver.engine.clock import iso
from mockserver.engine.jobs import ACTIVE, FAILED
from mockserver.engine.ledger import InsufficientFunds, from_amount, to_amount
from mockserver.routing import Call, json_response

API = "lucydream"
TRAIN = "train"
WIDTH, HEIGHT = 896, 1152
BUCKET_URL = "https://your-bucket-url"  # where trained models land (the docs' placeholder bucket)


async def generate(call: Call) -> Response:
    if "tune" in call.body:
        return create_model(call)
    return generate_image(call)


def create_model(call: Call) -> Response:
    engine: Engine = call.context.engine
    tenant = call.principal
    tune = call.body["tune"]
    config = call.context.config()
    tune_id = str(engine.ids.sequence("tune", 20001))
    safetensors_path = f"{BUCKET_URL}/{tune_id}.safetensors"
    fault = engine.faults.take(API, TRAIN, tenant.id)
    try:
        job = engine.jobs.submit(
            API, tenant.id, tune_id, TRAIN,
            {"title": tune["title"], "name": tune["name"], "image_urls": tune["image_urls"],
             "safetensors_path": safetensors_path},
            duration=config["durations"]["train"], cost=to_amount(config["prices"]["train"]),
            fail_with=fault.message or "training failed" if fault else None,
        )
    except InsufficientFunds:
        return error(402, "Insufficient balance")
    return json_response(200, {
        "tune_id": tune_id, "title": tune["title"], "name": tune["name"], "status": "training",
        "safetensors_path": safetensors_path,
        "ready_at": iso(engine.jobs.finish_estimate(API, job.id) or engine.clock.now()),
        "message": "Model creation started",
    })


def generate_image(call: Call) -> Response:
    engine: Engine = call.context.engine
    tenant = call.principal
    body = call.body
    model = engine.jobs.get(API, tenant.id, body["tune_id"])
    if model is None or model.kind != TRAIN or not same_file(body["safetensors_path"],
                                                             model.params["safetensors_path"]):
        return error(404, "Model not found")
    if model.status in ACTIVE:
        return error(409, "The model is still training")
    if model.status == FAILED:
        return error(409, "The model failed to train")
    if engine.faults.take(API, "generate", tenant.id):
        call.keep_writes()  # the fault is spent; nothing else was written
        return error(500, "Failed to generate image")
    price = to_amount(call.context.config()["prices"]["generate"])
    try:
        entry = engine.ledger.debit(tenant.id, price, "generation")
    except InsufficientFunds:
        return error(402, "Insufficient balance")
    asset = engine.assets.create(API, tenant.id, PNG, WIDTH, HEIGHT, job_id=model.id,
                                 labels={"prompt": body["prompt"], "mode": body["api_mode"]})
    dialect = call.context.dialect
    return json_response(200, {
        "image_url": dialect.asset_url(call.base_url, asset),
        "thumbnail_url": dialect.asset_url(call.base_url, asset, thumbnail=True), "user_prompt": body["prompt"],
        "w": asset.width, "h": asset.height, "balance": from_amount(entry.balance_after),
        "message": "Image generated successfully",
    })


def same_file(given: str, expected: str) -> bool:
    """Whether two references name the same file; the scheme is optional (the docs show both forms)."""
    return given.split("://", 1)[-1] == expected.split("://", 1)[-1]
