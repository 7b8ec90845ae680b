"""The floor for `bench/run.py`: a bare Starlette app on the routes of the APIs, no validation, no state.

Each endpoint reads what a real one would (the JSON body, the path or query parameter) and answers a JSON
object of the shape and about the size of genmock's answer, built per request and encoded with Starlette's
`JSONResponse`. It checks no credentials and keeps nothing. Served by one uvicorn worker with the settings
`genmock serve` uses (default loop and HTTP implementation as installed, `log_level="warning"`, no access
log, no lifespan). It listens on a free 127.0.0.1 port and prints that port on its first line of output.

    python bench/bare.py [--port 0]

LovlyChat's `GET /v1/generation/jobs/{id}` knows two ids (`COMPLETED_JOB` and `QUEUED_JOB`, which
`bench/lovlychat.py` asks for) and answers 404 for any other.
"""

from __future__ import annotations

import argparse
import socket

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

# -- LucyDream ---------------------------------------------------------------------------------------------
LUCYDREAM_BASE = "http://127.0.0.1/generated/0123456789abcdefghijklmn"


async def lucydream_generate(request: Request) -> JSONResponse:
    body = await request.json()
    return JSONResponse({
        "image_url": f"{LUCYDREAM_BASE}.png", "thumbnail_url": f"{LUCYDREAM_BASE}-thumbnail.png",
        "user_prompt": body["prompt"], "w": 896, "h": 1152, "balance": 999999.9,
        "message": "Image generated successfully",
    })


# -- LovlyChat (the examples of specs/lovlychat.yaml) ------------------------------------------------------
COMPLETED_JOB = "job_kY9pF34Qy6nB3Wwd25rq4f5z"
QUEUED_JOB = "job_r3QA7YeEEBY3ABp3e2zS8iq9"
CDN = "http://127.0.0.1:8100/gen/"


def lovlychat_asset(asset_id: str, job_id: str) -> dict:
    return {"id": asset_id, "jobId": job_id, "kind": "image", "url": f"{CDN}{asset_id}.png",
            "thumbnailUrl": f"{CDN}{asset_id}-thumbnail.png", "mimeType": "image/png", "width": 832,
            "height": 1216, "durationSeconds": None, "characterId": "char_aiko",
            "createdAt": "2026-05-12T14:03:52.000Z"}


def lovlychat_job(job_id: str, status: str, body: dict) -> dict:
    completed = status == "completed"
    return {
        "id": job_id, "kind": body["kind"], "variant": body["variant"], "status": status, "prompt": body["prompt"],
        "characterId": body["characterId"], "sourceAssetId": None, "sourceImageUrl": None, "cost": 10,
        "refunded": 0, "createdAt": "2026-05-12T14:03:27.000Z",
        "startedAt": "2026-05-12T14:03:41.000Z" if completed else None,
        "completedAt": "2026-05-12T14:03:52.000Z" if completed else None,
        "queuePosition": None if completed else 3, "progress": 1 if completed else 0,
        "assets": [lovlychat_asset("ast_siC47wqaMl9Xvq2ZG4MzAOUQ", job_id)] if completed else [], "error": None,
    }


EXAMPLE_JOB = {"kind": "image", "variant": "standard", "characterId": "char_aiko",
               "prompt": "Aiko on a rooftop at dusk, city lights behind her, soft rim light, looking over her shoulder"}
STATUS = {COMPLETED_JOB: "completed", QUEUED_JOB: "queued"}


async def lovlychat_create_job(request: Request) -> JSONResponse:
    body = await request.json()
    return JSONResponse({**lovlychat_job(COMPLETED_JOB, "queued", body), "wallet": 490}, status_code=202)


async def lovlychat_get_job(request: Request) -> JSONResponse:
    job_id = request.path_params["id"]
    if job_id not in STATUS:
        return JSONResponse({"error": {"code": "not_found", "message": "No such job."}}, status_code=404)
    return JSONResponse(lovlychat_job(job_id, STATUS[job_id], EXAMPLE_JOB))


async def lovlychat_pricing(request: Request) -> JSONResponse:
    return JSONResponse({"currency": "LoveCoin", "prices": {"image": {"standard": 10, "hd": 25},
                                                            "video": {"standard": 60, "hd": 150}},
                         "updatedAt": "2026-01-01T00:00:00.000Z"})


async def lovlychat_gallery(request: Request) -> JSONResponse:
    limit = int(request.query_params.get("limit", 20))
    items = [lovlychat_asset(f"ast_{n:024d}", f"job_{n:024d}") for n in range(limit)]
    return JSONResponse({"items": items, "nextCursor": "MTc2NzIyNTYwMC4wfGFzdF9zaUM0N3dxYU1sOVh2cTJaRzRN"})


# -- AliveAI (the examples of specs/aliveai.yaml) -----------------------------------------------------------
ALIVEAI_PROMPT = "3f1c9a52-7d4e-4b8a-9e21-6c0d5f7a8b13"
ALIVEAI_MEDIA = {"id": "MMmgmr", "mediaType": "IMAGE", "mediaUrl": "http://127.0.0.1/media/MMmgmr.png"}


def aliveai_container(prompt_id: str, request: dict) -> dict:
    stored = {"faceImproveEnabled": True, "faceModel": "REALISM", "faceImproveStrength": 5, "cfg": 5, **request,
              "seed": "482913375102938475"}
    return {"promptId": prompt_id, "originalPrompt": stored, "isFavorite": False, "medias": [ALIVEAI_MEDIA]}


async def aliveai_create_prompt(request: Request) -> JSONResponse:
    await request.json()
    return JSONResponse({"promptId": ALIVEAI_PROMPT, "seed": "482913375102938475"})


async def aliveai_get_prompt(request: Request) -> JSONResponse:
    return JSONResponse(aliveai_container(request.path_params["id"], {
        "name": "Marcielle Strongmaid", "detailLevel": "HIGH", "gender": "FEMALE", "model": "DEFAULT",
        "appearance": "a strong viking woman, blonde hair, hazel eyes, powerful face, wearing viking armour"}))


async def aliveai_pending(request: Request) -> JSONResponse:
    return JSONResponse({"queue": [{"promptId": f"{n:08d}-7d4e-4b8a-9e21-6c0d5f7a8b13", "queuePosition": n,
                                    "video": False, "progress": 0} for n in range(20)]})


async def aliveai_me(request: Request) -> JSONResponse:
    return JSONResponse({"id": "r9orK", "credits": 1_000_000_000, "email": "dev@example.com",
                         "emailConfirmed": True, "hasPurchase": True, "approved": True,
                         "created": "2026-01-03T09:12:44.000Z", "apiKey": "5b0e7a52-3c8d-4f19-b6a2-e41d9c07f3b8"})


app = Starlette(routes=[
    Route("/wp-json/apiservices/v1/generate", lucydream_generate, methods=["POST"]),
    Route("/v1/generation/jobs", lovlychat_create_job, methods=["POST"]),
    Route("/v1/generation/jobs/{id}", lovlychat_get_job, methods=["GET"]),
    Route("/v1/pricing", lovlychat_pricing, methods=["GET"]),
    Route("/v1/generation/gallery", lovlychat_gallery, methods=["GET"]),
    Route("/prompts", aliveai_create_prompt, methods=["POST"]),
    Route("/prompts/pending", aliveai_pending, methods=["GET"]),
    Route("/prompts/{id}", aliveai_get_prompt, methods=["GET"]),
    Route("/members/me", aliveai_me, methods=["GET"]),
])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default 0: any free port)")
    args = parser.parse_args()
    # IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and
    # without it every response written in two parts (head, then body) waits ~40 ms for a delayed ACK.
    # This is what uvicorn's own `host`/`port` binding (loop.create_server) gets.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(2048)  # the backlog genmock uses
    print(sock.getsockname()[1], flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
