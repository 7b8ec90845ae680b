"""AliveAI: users who log in (JWT) or use a key (`Authorization: Key <uuid>`), prepaid credits, prompts on a
GPU queue followed over websockets, uploads, catalogues, LLM helpers, and chats with characters (replies
streamed as NDJSON)."""

from __future__ import annotations

import re
from typing import Any

from mockserver.dialects import DemoTenant, Dialect
from mockserver.dialects.aliveai import accounts, catalogue, characters, chats, llm, members, personas, prompts, uploads
from mockserver.dialects.aliveai.delays import DELAY_SECONDS, delayable
from mockserver.dialects.aliveai.errors import AliveAIErrors
from mockserver.dialects.aliveai.websockets import Hub
from mockserver.engine import Engine
from mockserver.engine.tenants import Tenant
from mockserver.routing import Handler

UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# credits per prompt (a MEDIUM-length video costs twice its route's price and takes twice as long)
PRICES = {
    "IMAGE_DEFAULT": 2, "CHARACTER_IMAGE": 2, "CREATE_FACE": 2, "CREATE_CLOTHES": 2, "AFTER_FACE_SWAP": 1,
    "FACE_IMPROVE": 1, "EDIT_IMPROVE_FACE": 1, "IMPROVE_EYES": 1, "EDIT_BREASTS": 1, "EDIT_VAGINA": 1,
    "EDIT_IMAGE": 2, "EDIT_ENHANCE": 1, "INPAINT": 1, "GOOGLE_INPAINT": 3, "EDIT_UPSCALE_IMAGE": 2,
    "CHARACTER_TRAINING_DATA": 8, "IMAGE_TO_VIDEO": 10, "VIDEO_EXPRESSION": 8, "EXTEND_VIDEO": 10,
    "EDIT_VIDEO_INCREASE_FPS": 4, "UPSCALE_VIDEO": 6,
}
# seconds on a GPU: an image well inside the 40 s blocking window, a short video under a minute
DURATIONS = {
    **{prompt_type: 6.0 for prompt_type in PRICES},
    "AFTER_FACE_SWAP": 4.0, "FACE_IMPROVE": 4.0, "EDIT_IMPROVE_FACE": 4.0, "IMPROVE_EYES": 4.0,
    "EDIT_UPSCALE_IMAGE": 8.0, "CHARACTER_TRAINING_DATA": 20.0, "IMAGE_TO_VIDEO": 45.0,
    "VIDEO_EXPRESSION": 30.0, "EXTEND_VIDEO": 45.0, "EDIT_VIDEO_INCREASE_FPS": 20.0, "UPSCALE_VIDEO": 30.0,
}
# chat: a picture's price and GPU time; a reply's first token and each next one come these seconds apart
CHAT_PRICES = {"CHAT_IMAGE": 2}
CHAT_DURATIONS = {"CHAT_IMAGE": 6.0, "CHAT_FIRST_TOKEN": 0.3, "CHAT_TOKEN": 0.03}
LIMITS = {"maxPending": 5, "visionPerMinute": 10}


def create_tenant(engine: Engine, name: str, keys: list[str], balance: float, login: dict[str, str]) -> Tenant:
    tenant = accounts.create_user(engine, name, keys, balance, login)
    catalogue.seed_custom_items(engine, tenant.id)
    return tenant


def account(tenant: Tenant) -> dict[str, Any]:
    login = accounts.account(tenant)
    return {"userId": login["userId"], "email": login["email"], "password": login["password"]}


HANDLERS: dict[str, Handler] = {operation_id: delayable(operation_id, handler) for operation_id, handler in {
    **prompts.HANDLERS, **members.HANDLERS, **uploads.HANDLERS, **catalogue.HANDLERS, **llm.HANDLERS,
    **characters.HANDLERS, **personas.HANDLERS, **chats.HANDLERS,
}.items()}

DIALECT = Dialect(
    name="aliveai",
    title="AliveAI",
    spec="aliveai.yaml",
    default_port_offset=1,
    handlers=HANDLERS,
    errors=AliveAIErrors(),
    defaults={"prices": {**PRICES, **CHAT_PRICES}, "durations": {**DURATIONS, **CHAT_DURATIONS}, "slots": 4,
              "limits": LIMITS},
    fault_operations={
        "prompt": "the next accepted prompt fails as it starts (isError on its websocket) and is refunded",
        "websocket": "the next prompt-channel connection is cut (close 1011) after its first frame",
        "delay": f"the next answer of the route whose operationId is the fault's message (no message: any route) "
                 f"is sent {DELAY_SECONDS:g} s late",
        "chatError": "the next chat reply (sent or regenerated) ends with an error event halfway (the fault's message,"
                     " if any) and is taken back",
        "chatCut": "the connection of the next chat reply (sent or regenerated) is cut halfway; the reply is still "
                   "stored whole",
    },
    asset_path="/media/",
    demo=DemoTenant(name="demo", credentials=["5b0e7a52-3c8d-4f19-b6a2-e41d9c07f3b8"], balance=1000,
                    login={"email": "dev@example.com", "password": "genmock-demo"}),
    credential_rule=lambda secret: None if UUID.match(secret) else "AliveAI API keys are UUIDs",
    catalogue_media=catalogue.catalogue_media,
    create_tenant=create_tenant,
    account=account,
    authenticate=accounts.authenticate,
    websocket=Hub,
)
