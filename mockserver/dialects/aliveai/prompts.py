"""Prompts: the 21 create routes, the user's queue, the prompt manager. A prompt is an engine job whose
params keep the request it echoes; its medias are the job's assets."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from mockserver.dialects.aliveai import held
from mockserver.dialects.aliveai.catalogue import CUSTOM_CLOTHES
from mockserver.dialects.aliveai.errors import (
    bad_request,
    conflict,
    not_found,
    payment_required,
    too_many_pending,
)
from mockserver.dialects.aliveai.lookups import API, own_media, own_prompt
from mockserver.dialects.aliveai.outputs import filled_request, medias_for, stored
from mockserver.dialects.aliveai.views import container, queue_of
from mockserver.engine.assets import MP4, Asset
from mockserver.engine.jobs import COMPLETED, Job
from mockserver.engine.ledger import UNIT, InsufficientFunds
from mockserver.routing import Call, json_response
from mockserver.spec import load_document

MEDIA_ID_LENGTH = 6  # short base62 ids, as the real ones (`MMmgmr`)
SEED_DIGITS = 18
@dataclass(frozen=True)
class PromptRoute:
    """What the spec's `x-aliveai-prompt` says of one create route."""

    prompt_type: str
    container_field: str
    video: bool
    blocking: bool  # takes x-aliveai-request-blocking


def _routes() -> dict[str, PromptRoute]:
    routes = {}
    for item in load_document("aliveai.yaml")["paths"].values():
        operation = item.get("post", {})
        marks = operation.get("x-aliveai-prompt")
        if marks:
            blocking = any("RequestBlocking" in str(parameter) for parameter in operation.get("parameters", []))
            routes[operation["operationId"]] = PromptRoute(marks["promptType"], marks["containerField"],
                                                           marks["mediaType"] == "VIDEO", blocking)
    return routes


ROUTES = _routes()
FIELD_OF_TYPE = {route.prompt_type: route.container_field for route in ROUTES.values()}
# request fields that name a media of the user, and the kind of media each must be on video-editing routes
MEDIA_FIELDS = ("mediaId", "originalMediaId", "maskMediaId", "lastFrameMediaId")
VIDEO_SOURCES = {"EXTEND_VIDEO", "EDIT_VIDEO_INCREASE_FPS", "UPSCALE_VIDEO"}


async def create_prompt(call: Call) -> Response:
    """Every `POST /prompts…` create route: check, charge, queue; answer `{promptId, seed}`."""
    route = ROUTES[call.operation.operation_id]
    if call.query.get("serverId"):
        return not_found(call.request, "Server not found")
    source, refusal = _check_references(call, route)
    if refusal is not None:
        return refusal
    config = call.context.config()
    refusal = pending_refusal(call)
    if refusal is not None:
        return refusal
    seed = call.body.get("seed") or new_seed(call)
    schema = call.operation.body_schema
    request = filled_request(route.prompt_type, {**stored(schema, call.body, schema["definitions"]), "seed": seed})
    outputs = [{**media, "id_length": MEDIA_ID_LENGTH} for media in medias_for(route.prompt_type, request, source)]
    if route.prompt_type == "CREATE_CLOTHES":  # once finished, its picture is also a custom clothes item
        label = {CUSTOM_CLOTHES: {"clothesPrompt": f"the outfit of media {call.body['mediaId']}"}}
        outputs = [{**media, "labels": label} for media in outputs]
    length = 2 if request.get("videoLength") == "MEDIUM" else 1  # a 10 s video costs and takes twice a 5 s one
    price = int(config["prices"][route.prompt_type]) * length
    duration = float(config["durations"][route.prompt_type]) * length
    job = queue_prompt(call, route.prompt_type, {"field": route.container_field, "request": request,
                                                 "video": route.video, "outputs": outputs}, price, duration)
    if isinstance(job, Response):
        return job
    answer = {"promptId": job.id, "seed": seed}
    if route.blocking and call.headers.get("x-aliveai-request-blocking") in (True, "true"):
        return held.HeldAnswer(call, job.id, answer)
    return json_response(200, answer)


def pending_refusal(call: Call) -> Response | None:
    """The 429 of a user who already has the maximum of queued and running prompts, else None."""
    limit = int(call.context.config()["limits"]["maxPending"])
    if call.context.engine.jobs.count_active(API, call.principal.id) >= limit:
        return too_many_pending(call.request, limit)
    return None


def new_seed(call: Call) -> str:
    return str(int(call.context.engine.ids.token(SEED_DIGITS, "0123456789", purpose="seed")))


def queue_prompt(call: Call, prompt_type: str, params: dict[str, Any], price: int, duration: float) -> Job | Response:
    """Charge `price` credits and queue a prompt of the user's (`params`: the container field, the request it
    echoes, whether it is a video, the outputs it makes); the 402 when the credits do not cover it. An armed
    `prompt` fault makes it fail as it starts."""
    engine = call.context.engine
    tenant = call.principal
    fault = engine.faults.take(API, "prompt", tenant.id)
    try:
        return engine.jobs.submit(API, tenant.id, engine.ids.uuid(), prompt_type, params, duration=duration,
                                  cost=price * UNIT, fail_with="UNKNOWN" if fault else None)
    except InsufficientFunds as refusal:
        return payment_required(call.request, price, refusal.balance // UNIT)


def _check_references(call: Call, route: PromptRoute) -> tuple[Asset | None, Response | None]:
    """The source media (the first media the request names), or the refusal of a reference that names
    nothing of the user's (404) or a media of the wrong kind (400)."""
    body = call.body
    source = None
    for field in MEDIA_FIELDS:
        if field in body:
            media = own_media(call, body[field])
            if media is None:
                return None, not_found(call.request, f"Media {body[field]} not found")
            wants_video = field == "mediaId" and route.prompt_type in VIDEO_SOURCES
            if (media.media_type == MP4) != wants_video:
                return None, bad_request(call.request, field, f"must be {'a video' if wants_video else 'an image'}")
            source = source or media
    for index, media_id in enumerate(body.get("faceSwap", {}).get("mediaIds", [])):
        if own_media(call, media_id) is None:
            return None, not_found(call.request, f"Media {media_id} not found (faceSwap.mediaIds[{index}])")
    if "createdFromPromptId" in body and own_prompt(call, body["createdFromPromptId"]) is None:
        return None, not_found(call.request, f"Prompt {body['createdFromPromptId']} not found")
    return source, None


# -- the queue -------------------------------------------------------------------------------------


def user_queue(call: Call, tenant_id: str) -> list[dict[str, Any]]:
    return queue_of(call.context.engine.jobs.active_of(API, tenant_id), tenant_id)


async def get_pending_prompts(call: Call) -> Response:
    return json_response(200, {"queue": user_queue(call, call.principal.id)})


async def remove_queued_prompt(call: Call) -> Response:
    call.context.engine.jobs.remove_queued(API, call.principal.id, call.query["promptId"], "REMOVED")
    return Response(status_code=204)


# -- the prompt manager ----------------------------------------------------------------------------


async def get_prompt(call: Call) -> Response:
    job = own_prompt(call, call.path["promptId"])
    return json_response(200, container(call, job)) if job else not_found(call.request, "Prompt not found")


async def delete_prompt(call: Call) -> Response:
    job = own_prompt(call, call.path["promptId"])
    if job is None:
        return not_found(call.request, "Prompt not found")
    if job.status != COMPLETED:
        return conflict(call.request, "The prompt is still queued or running; remove it with DELETE /prompts/queue")
    call.context.engine.jobs.delete(API, job.id)
    return Response(status_code=204)


async def list_prompts(call: Call) -> Response:
    types = tuple(call.query.get("promptType") or FIELD_OF_TYPE)
    query = (call.query.get("query") or "").lower()
    size, page = call.query["pageSize"], call.query["page"]
    jobs = call.context.engine.jobs
    if query:  # a search reads every finished prompt of the user
        found = [job for job in reversed(jobs.of_tenant(API, call.principal.id))
                 if job.status == COMPLETED and job.kind in types and query in _text(job.params["request"])]
        shown, total = found[page * size:(page + 1) * size], len(found)
    else:
        shown, total = jobs.finished_page(API, call.principal.id, types, page * size, size)
    return json_response(200, {"prompts": [container(call, job) for job in shown],
                               "hasNextPage": (page + 1) * size < total,
                               "totalPageCount": math.ceil(total / size)})


def _text(request: Any) -> str:
    """Every text of a request, lower-cased, for `query`."""
    if isinstance(request, str):
        return request.lower() + "\n"
    if isinstance(request, dict):
        return "".join(_text(value) for value in request.values())
    if isinstance(request, list):
        return "".join(_text(value) for value in request)
    return ""


HANDLERS = {
    **{operation_id: create_prompt for operation_id in ROUTES},
    "getPendingPrompts": get_pending_prompts,
    "removeQueuedPrompt": remove_queued_prompt,
    "getPrompt": get_prompt,
    "deletePrompt": delete_prompt,
    "listPrompts": list_prompts,
}
