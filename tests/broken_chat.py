"""Deliberately broken AliveAI chat routes: each breaks one chat contract the suite must catch (the NDJSON stream
grammar, the chat machine's rules, isolation).

Registered in tests/broken.py (`python -m tests.broken <variant> serve ...`); the mock's modules are imported
inside the functions.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Callable
from typing import Any

from starlette.responses import Response

from mockserver.routing import Call

REGENERATING: contextvars.ContextVar[str | None] = contextvars.ContextVar("regenerating", default=None)


def _stream_module() -> Any:
    from mockserver.dialects.aliveai import streams

    return streams


def _rewrite_lines(change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> None:
    """Let `change` rewrite the events of every chunk a reply stream sends."""
    streams = _stream_module()
    original = streams._lines
    streams._lines = lambda events: original(change(list(events)))


def deltas_do_not_add_up() -> None:
    """Every `token` delta loses its last character; `complete.message` is still the whole reply."""
    _rewrite_lines(lambda events: [{**event, "delta": event["delta"][:-1]} if event["type"] == "token" and
                                   len(event["delta"]) > 1 else event for event in events])


def event_after_terminal() -> None:
    """One more `token` line follows the terminal event."""
    streams = _stream_module()
    original = streams._body

    def body(data: bytes, more: bool = True) -> Any:
        if not more:
            data += json.dumps({"type": "token", "delta": " And one more thing."}).encode() + b"\n"
        return original(data, more)

    streams._body = body


def no_init() -> None:
    """The stream starts with the first token: `init` is never sent."""
    _rewrite_lines(lambda events: [event for event in events if event["type"] != "init"])


def stored_differs() -> None:
    """`GET /chats/{chatId}` shows each character candidate with a word the stream did not send."""
    from mockserver.dialects.aliveai import chats

    original = chats.candidate_view

    def view(call: Call, candidate: dict[str, Any], now: float) -> dict[str, Any]:
        shown = original(call, candidate, now)
        message = call.context.engine.store.get_chat_message(candidate["message_id"])
        if message is not None and message["kind"] == "CHARACTER" and shown["message"]:
            shown["message"] += " Indeed."
        return shown

    chats.candidate_view = view


def error_keeps_user_message() -> None:
    """A send that ends with `error` takes back its reply but keeps its user message (half an exchange)."""
    from mockserver.dialects.aliveai import chats

    original = chats._take_back
    chats._take_back = lambda engine, candidate: original(engine, {**candidate, "user_message_id": None})


def regenerate_any() -> None:
    """Any character message can be regenerated, not only the latest one."""
    from mockserver.engine.store import Store
    from tests.broken import _around

    original = Store.last_chat_message

    def last(self: Store, chat_id: str, kind: str) -> dict[str, Any] | None:
        wanted = REGENERATING.get()
        return self.get_chat_message(wanted) if wanted else original(self, chat_id, kind)

    async def regenerate(call: Call, handler: Any) -> Response:
        token = REGENERATING.set(call.path["messageId"])
        try:
            return await handler(call)  # type: ignore[no-any-return]
        finally:
            REGENERATING.reset(token)

    Store.last_chat_message = last  # type: ignore[method-assign]
    _around("aliveai", "regenerateChatMessage", regenerate)


def delete_keeps_later() -> None:
    """Deleting a message deletes only that message: the later ones stay."""
    from mockserver.engine.store import Store

    def delete_from(self: Store, chat_id: str, seq: int) -> None:
        with self.transaction():
            self._run("DELETE FROM chat_candidates WHERE message_id IN"
                      " (SELECT id FROM chat_messages WHERE chat_id = ? AND seq = ?)", (chat_id, seq))
            self._run("DELETE FROM chat_messages WHERE chat_id = ? AND seq = ?", (chat_id, seq))

    Store.delete_chat_messages_from = delete_from  # type: ignore[method-assign]


def two_defaults() -> None:
    """A new default persona leaves the old default a default too."""
    from mockserver.engine.store import Store

    Store.unset_default_chat_persona = lambda self, tenant_id: None  # type: ignore[method-assign]


def foreign_chat() -> None:
    """Any user's chat (and its messages) answers to any user: the chat routes forget whose chat it is."""
    from mockserver.dialects.aliveai import chats
    from mockserver.dialects.aliveai.errors import not_found

    def target(call: Call) -> Any:
        engine = call.context.engine
        chat = engine.store.get_chat(call.path["chatId"])
        if chat is None:
            return not_found(call.request, "Chat not found")
        chats.settle(engine, chat["tenant_id"])
        message = engine.store.get_chat_message(call.path["messageId"]) if "messageId" in call.path else {}
        if message is None or (message and message["chat_id"] != chat["id"]):
            return not_found(call.request, "Message not found")
        return chats.Target(chat, message)

    chats._target = target


def json_content_type() -> None:
    """Reply streams are labelled `application/json`, not `application/x-ndjson`."""
    _stream_module().NDJSON = "application/json"


def delete_keeps_character() -> None:
    """Deleting a character answers 204 and does nothing: it stays listed."""
    from tests.broken import _around

    async def nothing(call: Call, original: Any) -> Response:
        return Response(status_code=204)

    _around("aliveai", "deleteChatCharacter", nothing)


def init_without_candidate() -> None:
    """The `init` event leaves out its required `assistantCandidateId`."""
    _rewrite_lines(lambda events: [{key: value for key, value in event.items() if key != "assistantCandidateId"}
                                   if event["type"] == "init" else event for event in events])


def broken_line() -> None:
    """The stream's first chunk carries a line that is not JSON."""
    streams = _stream_module()
    original = streams._body
    sent = {"first": True}

    def body(data: bytes, more: bool = True) -> Any:
        if sent["first"]:
            sent["first"] = False
            data = b'{"type": "token", "delta"\n' + data
        return original(data, more)

    streams._body = body


def messages_out_of_order() -> None:
    """`GET /chats/{chatId}` lists a chat's messages newest first."""
    from tests.broken import _rewritten, _wrap

    def after(call: Call, response: Response) -> Response:
        if response.status_code != 200:
            return response
        return _rewritten(response, lambda chat: chat["messages"].reverse())

    _wrap("aliveai", "getChat", after)


VARIANTS: dict[str, Callable[[], None]] = {
    "aa-chat-order": messages_out_of_order,
    "aa-chat-init-schema": init_without_candidate,
    "aa-chat-broken-line": broken_line,
    "aa-chat-content-type": json_content_type,
    "aa-chat-delete-keeps-character": delete_keeps_character,
    "aa-chat-deltas": deltas_do_not_add_up,
    "aa-chat-after-terminal": event_after_terminal,
    "aa-chat-no-init": no_init,
    "aa-chat-stored-differs": stored_differs,
    "aa-chat-error-keeps-user": error_keeps_user_message,
    "aa-chat-regenerate-any": regenerate_any,
    "aa-chat-delete-keeps-later": delete_keeps_later,
    "aa-chat-two-defaults": two_defaults,
    "aa-chat-foreign-chat": foreign_chat,
}
