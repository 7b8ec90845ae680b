"""Chat personas: who the user is in a chat (a name and an optional bio the replies draw on). At most one is
the user's default, which a new chat uses when it names none; a persona that a chat uses, or the user's only
one, is not deleted (409)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from mockserver.dialects.aliveai.characters import new_id
from mockserver.dialects.aliveai.errors import conflict, not_found
from mockserver.engine import chat
from mockserver.routing import Call, Handler, json_response


def own_persona(call: Call, persona_id: str) -> dict[str, Any] | None:
    row = call.context.engine.store.get_chat_persona(persona_id)
    return row if row is not None and row["tenant_id"] == call.principal.id else None


def persona_view(row: dict[str, Any]) -> dict[str, Any]:
    view = {"id": row["id"], "name": row["name"], "defaultPersona": bool(row["is_default"])}
    if row["bio"] is not None:
        view["bio"] = row["bio"]
    return view


def speaker(row: dict[str, Any] | None) -> chat.Persona | None:
    """The persona as the reply generator knows it."""
    return None if row is None else chat.Persona(row["name"], row["bio"] or "")


def _fields(call: Call) -> dict[str, Any]:
    """The stored fields of a create or update body; a new default unsets the old one first."""
    body = call.body
    if body["isDefault"]:
        call.context.engine.store.unset_default_chat_persona(call.principal.id)
    return {"name": body["name"], "bio": body.get("bio"), "is_default": int(body["isDefault"])}


async def list_personas(call: Call) -> Response:
    rows = call.context.engine.store.chat_personas_of(call.principal.id)
    return json_response(200, [persona_view(row) for row in rows])


async def create_persona(call: Call) -> Response:
    row = {"id": new_id(call, "per"), "tenant_id": call.principal.id, **_fields(call),
           "created_at": call.context.engine.clock.now()}
    call.context.engine.store.insert_chat_persona(row)
    return json_response(200, persona_view(row))


async def update_persona(call: Call) -> Response:
    if own_persona(call, call.path["id"]) is None:
        return not_found(call.request, "Persona not found")
    call.context.engine.store.update_chat_persona(call.path["id"], **_fields(call))
    return Response(status_code=204)


async def delete_persona(call: Call) -> Response:
    store = call.context.engine.store
    persona_id = call.path["id"]
    if own_persona(call, persona_id) is None:
        return not_found(call.request, "Persona not found")
    used = store.count_chats_with_persona(persona_id)
    if used:
        return conflict(call.request, f"The persona is used in {used} chat{'s' * (used > 1)}; delete "
                                      f"{'them' if used > 1 else 'it'} first")
    if len(store.chat_personas_of(call.principal.id)) == 1:
        return conflict(call.request, "A user's only persona cannot be deleted")
    store.delete_chat_persona(persona_id)
    return Response(status_code=204)


HANDLERS: dict[str, Handler] = {
    "listPersonas": list_personas,
    "createPersona": create_persona,
    "updatePersona": update_persona,
    "deletePersona": delete_persona,
}
