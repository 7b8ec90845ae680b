"""What the owner of AliveAI's isolation probes makes: an upload, a prompt (left queued on a virtual clock, else
finished), a character, a persona and a chat (whose first message has a candidate); its custom clothes and poses,
if any, are read. The intruder names them in every path that takes their ids, and in the fields of a chat, a
create and a queue removal."""

from __future__ import annotations

from typing import Any

from contracts.probes.owned import Owned, Reference
from contracts.probes.tenants import Pair
from contracts.protocols import streams
from contracts.session import Session
from contracts.target import Target
from contracts.wire.aliveai import (
    FAR_SECONDS,
    MEDIA_FIELDS,
    QUEUE,
    REMOVE,
    Route,
    body_for,
    finish,
    png,
    prompt_path,
    routes,
    upload,
)
from contracts.wire.aliveai import References as Named
from contracts.wire.common import Waiter

REFERENCE_FIELDS = (*MEDIA_FIELDS, "createdFromPromptId", "mediaIds")
CHATS = "POST /chats"


def make(session: Session, tenants: Pair) -> Owned:
    client, owner = session.client, tenants.owner.key
    marker = f"Near miss {session.nonce}"
    owned = Owned(marks={marker})
    media = upload(client, owner, png()).field("mediaId")
    plain, referring = _routes(session.target)
    prompt = client.send("POST", plain.path, key=owner, body=body_for(plain, Named())).field("promptId") \
        if plain is not None else None
    if isinstance(prompt, str) and session.admin is None:  # on a real clock its answers change until it ends
        finish(client, Waiter(session, FAR_SECONDS), owner, [prompt])
    character = client.send("POST", "/chat-characters", key=owner,
                            body=streams.CHARACTER | {"name": marker}).field("chatCharacterId")
    persona = client.send("POST", "/chat-personas", key=owner, body={"name": marker, "bio": marker,
                                                                     "isDefault": True}).field("id")
    chat = client.send("POST", "/chats", key=owner, body={"chatCharacterId": character, "personaId": persona,
                                                         "firstMessage": marker}) if character and persona else None
    messages = chat.field("messages") if chat is not None else None
    first = messages[0] if isinstance(messages, list) and messages and isinstance(messages[0], dict) else {}
    made = {"media": media, "prompt": prompt, "chat-character": character, "chat-persona": persona,
            "chat": chat.field("chatId") if chat is not None else None, "message": first.get("messageId"),
            "candidate": first.get("selectedCandidateId"),
            "clothes": _first(client.send("GET", "/clothes/custom", key=owner).body, "clothesId"),
            "pose": _first(client.send("GET", "/poses/custom", key=owner).body, "id")}
    owned.ids = {kind: value for kind, value in made.items() if isinstance(value, str) and value}
    owned.notes += [f"the owner has no {kind}" for kind, value in made.items() if kind not in owned.ids]
    owned.marks |= set(owned.ids.values())
    owned.reads = [path for kind, path in _reads(owned.ids).items() if kind in owned.ids] + ["/members/me"]
    owned.references = _references(session, tenants, owned.ids, referring)
    return owned


def _reads(ids: dict[str, str]) -> dict[str, str]:
    """How the owner reads each kind of its things (besides `/members/me`: no near miss may spend its credits)."""
    return {"prompt": prompt_path(ids.get("prompt", "")), "chat-persona": "/chat-personas",
            "chat-character": f"/chat-characters/{ids.get('chat-character')}", "chat": f"/chats/{ids.get('chat')}",
            "clothes": "/clothes/custom", "pose": "/poses/custom"}


def _references(session: Session, tenants: Pair, ids: dict[str, str], referring: Route | None) -> list[Reference]:
    """The owner's character and persona in a new chat of the intruder's (with its own persona and character),
    its upload in a create, its prompt in a queue removal."""
    client, intruder = session.client, tenants.intruder.key
    found = []
    if "prompt" in ids:
        found.append(Reference(REMOVE, "promptId", ids["prompt"], lambda value: {
            "method": "DELETE", "path": QUEUE, "params": {"promptId": value}}))
    if "media" in ids and referring is not None:
        found.append(Reference(referring.operation, "mediaId", ids["media"], lambda value: {
            "method": "POST", "path": referring.path, "body": body_for(referring, Named(image=value))},
            creates=True, paid=True))
    own_character = client.send("POST", "/chat-characters", key=intruder, body=streams.CHARACTER).field(
        "chatCharacterId")
    own_persona = client.send("POST", "/chat-personas", key=intruder, body=streams.PERSONA).field("id")
    if "chat-character" in ids and own_persona:
        found.append(Reference(CHATS, "chatCharacterId", ids["chat-character"], lambda value: {
            "method": "POST", "path": "/chats", "body": {"chatCharacterId": value, "personaId": own_persona,
                                                         "firstMessage": "Hello."}}, creates=True))
    if "chat-persona" in ids and own_character:
        found.append(Reference(CHATS, "personaId", ids["chat-persona"], lambda value: {
            "method": "POST", "path": "/chats", "body": {"chatCharacterId": own_character, "personaId": value,
                                                         "firstMessage": "Hello."}}, creates=True))
    return found


def _routes(target: Target) -> tuple[Route | None, Route | None]:
    """The first create route that names nothing of the user's, and the first whose `mediaId` is an image and
    the only reference it needs."""
    every = list(routes(target).values())
    plain = next((route for route in every if not any(route.needs(name) for name in REFERENCE_FIELDS)), None)
    referring = next((route for route in every if route.source == "IMAGE" and route.needs("mediaId")
                      and not any(route.needs(name) for name in REFERENCE_FIELDS if name != "mediaId")), None)
    return plain, referring


def _first(listed: Any, name: str) -> str | None:
    item = listed[0] if isinstance(listed, list) and listed and isinstance(listed[0], dict) else {}
    value = item.get(name)
    return value if isinstance(value, str) else None
