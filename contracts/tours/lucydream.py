"""LucyDream's tour: provoke each documented answer once; `contracts.client` validates every response.

Besides the strict validation, each stop checks that the answer is the documented one (`documented_status`),
and the WordPress answers the spec cannot attach to an operation (`wordpress_error`): an unknown route and
an undeclared method answer 404 `rest_no_route`, malformed JSON answers 400 `rest_invalid_json`.

A successful generation needs a ready model: --model-id, else (with an admin token) one the tour trains
itself on a frozen clock it then advances.
"""

from __future__ import annotations

from typing import Any

from contracts.client import NO_BODY
from contracts.machines.common import freeze_clock
from contracts.session import Session
from contracts.tours.common import LAYER, Stops

ROUTE = "/wp-json/apiservices/v1/generate"
OPERATION = f"POST {ROUTE}"
UNKNOWN_MODEL = "987654321098"
TRAINED = 86400.0  # an advance this long drains any plausible training queue


def run(session: Session) -> None:
    client, target = session.client, session.target
    key = target.key
    stop = Stops(session, OPERATION, "wordpress_error", lambda reply: reply.field("code"), "a WordPress error")
    unknown = _generation(UNKNOWN_MODEL, f"https://your-bucket-url/{UNKNOWN_MODEL}.safetensors")
    stop("an invalid API key", client.send("POST", ROUTE, key="not-a-key-" + session.nonce, body=unknown), {403})
    stop("no API key", client.send("POST", ROUTE, key=None, body=unknown), {403})
    stop("a body without prompt", client.send("POST", ROUTE, key=key, body=_without(unknown, "prompt")), {400})
    stop("an invalid trigger_name", client.send("POST", ROUTE, key=key, body={**unknown, "trigger_name": "cat"}),
         {400})
    stop("malformed JSON", client.send("POST", ROUTE, key=key, body=NO_BODY, raw=b'{"prompt": '), {400},
         code="rest_invalid_json")
    stop("a model that does not exist", client.send("POST", ROUTE, key=key, body=unknown), {404})
    stop("an unknown route", client.send("POST", "/wp-json/apiservices/v1/no-such-route", key=key, body=unknown,
                                         validate=False), {404}, code="rest_no_route",
         operation="POST /wp-json/apiservices/v1/no-such-route")
    stop("GET on the generation route", client.send("GET", ROUTE, key=key, validate=False), {404},
         code="rest_no_route", operation=f"GET {ROUTE}")
    given = bool(target.model_id and target.safetensors_path)
    if given:
        ready = _generation(str(target.model_id), str(target.safetensors_path), target.trigger_name)
        # a real server may fail a generation (500, documented, free); the mock fails one only when told to
        outcomes = {200, 402} if session.admin is not None else {200, 402, 500}
        stop("the published example with --model-id", client.send("POST", ROUTE, key=key, body=ready), outcomes)
        bare = {**ready, "safetensors_path": str(target.safetensors_path).split("://", 1)[-1]}
        stop("safetensors_path without its scheme", client.send("POST", ROUTE, key=key, body=bare), outcomes)
    elif session.admin is None:
        session.report.cannot_verify(LAYER, "paid_generation", "no --model-id/--safetensors-path: the 200 of a "
                                                              "generation is not toured")
    if session.admin is not None:
        _tour_training(session, stop, generate=not given)
    else:
        session.report.cannot_verify(LAYER, "model_creation", "no --admin-token: creating models on a real "
                                                             "server costs GPU time")
    stop.summary()


def _tour_training(session: Session, stop: Stops, generate: bool) -> None:
    """A fresh tenant creates a model and generates with it at once: 200 ModelCreated, then 409; with
    `generate`, once the model is trained, a generation with it: 200."""
    admin, client = session.admin, session.client
    assert admin is not None
    key = f"contract-tour-{session.nonce}"
    config = admin.config()
    prices = config["prices"]
    admin.create_tenant("contract tour", 1.0 + prices.get("train", 0) + prices.get("generate", 0), [key])
    tune = {"title": "Tour", "name": "man", "image_urls": [f"https://example.com/tour/{n}.jpg" for n in range(5)]}
    created = client.send("POST", ROUTE, key=key, body={"tune": tune})
    stop("creating a model", created, {200})
    tune_id, path = created.field("tune_id"), created.field("safetensors_path")
    if created.status != 200 or not isinstance(tune_id, str) or not isinstance(path, str):
        return
    if config["durations"]["train"] > 0:
        stop("a model still training", client.send("POST", ROUTE, key=key, body=_generation(tune_id, path, "man")),
             {409})
    if generate:
        restore = freeze_clock(admin)[1]
        try:
            admin.set_clock(advance_seconds=TRAINED)
            stop("a generation with a trained model", client.send("POST", ROUTE, key=key,
                                                                  body=_generation(tune_id, path, "man")), {200})
        finally:
            restore()


def _generation(tune_id: str, path: str, trigger: str = "woman") -> dict[str, Any]:
    return {"prompt": "A beautiful blonde in lingerie at sunset", "tune_id": tune_id, "safetensors_path": path,
            "trigger_name": trigger, "api_mode": "spicy"}


def _without(body: dict[str, Any], name: str) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key != name}
