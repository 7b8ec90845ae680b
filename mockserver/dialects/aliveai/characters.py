"""Chat characters: who a user talks to (a name, a bio the replies draw on, a short bio, a first message and an
optional picture), and the two vision routes that write a character card from an image, rate limited per user.

A deleted character is hidden from its owner's lists and lookups; chats with it go on (they read its row).
"""

from __future__ import annotations

import math
import re
from typing import Any

from starlette.responses import Response

from mockserver.dialects.aliveai.errors import bad_request, not_found, problem
from mockserver.dialects.aliveai.lookups import own_media, own_prompt
from mockserver.dialects.aliveai.views import media_view
from mockserver.engine import chat
from mockserver.engine.assets import MP4, Asset
from mockserver.routing import Call, Handler, json_response

ID_LENGTH = 10  # base62 characters after the kind's prefix (`chr_`, `per_`, `cht_`, `msg_`, `cand_`)
VISION_WINDOW = 60.0  # seconds: limits.visionPerMinute counts the vision calls of the last minute
MEDIA_FILE = re.compile(r"/(?P<id>[A-Za-z0-9]+)\.(?:png|jpe?g|webp)$")


def new_id(call: Call, prefix: str) -> str:
    return f"{prefix}_{call.context.engine.ids.token(ID_LENGTH, purpose=prefix)}"


def own_character(call: Call, character_id: str) -> dict[str, Any] | None:
    """The user's character (a deleted one is gone)."""
    row = call.context.engine.store.get_chat_character(character_id)
    return row if row is not None and row["tenant_id"] == call.principal.id and not row["deleted"] else None


def character_view(call: Call, row: dict[str, Any]) -> dict[str, Any]:
    """The `ChatCharacterResponse`; its picture while the media exists."""
    first = {"messageId": row["first_message_id"], "selectedCandidateId": row["first_candidate_id"],
             "candidates": [{"candidateId": row["first_candidate_id"], "message": row["first_message"]}],
             "messageType": "CHARACTER"}
    view = {"chatCharacterId": row["id"], "characterName": row["name"], "characterBio": row["bio"],
            "shortBio": row["short_bio"], "firstMessage": first}
    media = own_media(call, row["media_id"]) if row["media_id"] else None
    if media is not None:
        view["characterImage"] = media_view(call, media)
    return view


def _fields(call: Call) -> tuple[dict[str, Any] | None, Response | None]:
    """The stored fields of a create or update body (a new first message each time), or its refusal: a media
    that is not an image of the user's (404, 400), a prompt that is not the user's (404)."""
    body = call.body
    fields: dict[str, Any] = {"name": body["name"], "bio": body["bio"], "short_bio": body["shortBio"],
                              "first_message": body["firstMessage"], "first_message_id": new_id(call, "msg"),
                              "first_candidate_id": new_id(call, "cand")}
    if "mediaId" in body:
        media = own_media(call, body["mediaId"])
        if media is None:
            return None, not_found(call.request, f"Media {body['mediaId']} not found")
        if media.media_type == MP4:
            return None, bad_request(call.request, "mediaId", "must be an image")
        if "promptId" in body and own_prompt(call, body["promptId"]) is None:
            return None, not_found(call.request, f"Prompt {body['promptId']} not found")
        fields.update(media_id=media.id, prompt_id=body.get("promptId"))
    return fields, None


async def list_chat_characters(call: Call) -> Response:
    rows = call.context.engine.store.chat_characters_of(call.principal.id)
    return json_response(200, [character_view(call, row) for row in rows])


async def create_chat_character(call: Call) -> Response:
    fields, refusal = _fields(call)
    if fields is None:
        return refusal  # type: ignore[return-value]
    character_id = new_id(call, "chr")
    call.context.engine.store.insert_chat_character({"id": character_id, "tenant_id": call.principal.id, **fields,
                                                     "created_at": call.context.engine.clock.now()})
    return json_response(200, {"chatCharacterId": character_id})


async def get_chat_character(call: Call) -> Response:
    row = own_character(call, call.path["id"])
    return json_response(200, character_view(call, row)) if row else Response(status_code=204)


async def update_chat_character(call: Call) -> Response:
    if own_character(call, call.path["id"]) is None:
        return not_found(call.request, "Character not found")
    fields, refusal = _fields(call)
    if fields is None:
        return refusal  # type: ignore[return-value]
    call.context.engine.store.update_chat_character(call.path["id"], **fields)
    return Response(status_code=204)


async def delete_chat_character(call: Call) -> Response:
    if own_character(call, call.path["id"]) is None:
        return not_found(call.request, "Character not found")
    call.context.engine.store.update_chat_character(call.path["id"], deleted=1)
    return Response(status_code=204)


# -- vision ------------------------------------------------------------------------------------------------


def _rate_limited(call: Call) -> Response | None:
    """The 429 of a user past `limits.visionPerMinute` calls in the last minute (with when to retry); else the
    call is counted."""
    engine = call.context.engine
    limit = int(call.context.config()["limits"]["visionPerMinute"])
    now = engine.clock.now()
    uses = engine.store.vision_uses_since(call.principal.id, now - VISION_WINDOW)
    if len(uses) >= limit:
        retry = max(1, math.ceil(uses[-limit] + VISION_WINDOW - now))
        return problem(call.request, 429, f"Rate limit reached: {limit} character cards per minute",
                       headers={"retry-after": str(retry)})
    engine.store.record_vision_use(call.principal.id, now)
    return None


def _seen(call: Call, image_url: str) -> str:
    """What the image shows: for a media of the user's (its URL), the words of the prompt that made it; for
    any other URL, a sight drawn from the URL."""
    found = MEDIA_FILE.search(image_url.split("?", 1)[0].split("#", 1)[0])
    media: Asset | None = own_media(call, found["id"]) if found else None
    job = own_prompt(call, media.job_id) if media is not None and media.job_id else None
    request = job.params.get("request", {}) if job else {}
    words = next((chat.clause(request[key]) for key in ("appearance", "prompt", "text")
                  if isinstance(request.get(key), str) and chat.clause(request[key])), "")
    return words or chat.sight(media.id if media is not None else image_url)


def card_view(card: chat.Card) -> dict[str, Any]:
    return {"name": card.name, "description": card.description, "personality": card.personality,
            "scenario": card.scenario, "first_mes": card.first_message, "tags": list(card.tags)}


async def generate_character_from_image(call: Call) -> Response:
    refusal = _rate_limited(call)
    if refusal is not None:
        return refusal
    body = call.body
    return json_response(200, card_view(chat.card(body["characterName"], _seen(call, body["imageUrl"]),
                                                  body["imageUrl"])))


async def update_character_from_image(call: Call) -> Response:
    refusal = _rate_limited(call)
    if refusal is not None:
        return refusal
    given = call.body["chatCharacterFromImageResponse"]
    current = chat.Card(name=given["name"], description=given["description"], personality=given["personality"],
                        scenario=given["scenario"], first_message=given["first_mes"],
                        tags=tuple(given.get("tags", ())))
    return json_response(200, card_view(chat.refine(current, call.body["updatePrompt"])))


HANDLERS: dict[str, Handler] = {
    "listChatCharacters": list_chat_characters,
    "createChatCharacter": create_chat_character,
    "getChatCharacter": get_chat_character,
    "updateChatCharacter": update_chat_character,
    "deleteChatCharacter": delete_chat_character,
    "generateCharacterFromImage": generate_character_from_image,
    "updateCharacterFromImage": update_character_from_image,
}
