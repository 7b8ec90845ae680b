"""Tenant isolation of AliveAI's chat routes, judged against any server (stateful layer).

The run's user makes a character, a persona and a chat with a reply (two candidates); then another user (with an
admin token one the run makes, else --second-key) sends every character, persona, chat, message and candidate
route with those ids. Check `chat_isolation`: each answers 404 (`GET /chat-characters/{id}` 204 with no body, as
the spec says), the other user's lists show none of them, and the owner's character, personas and chat are
unchanged afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from contracts.client import NO_BODY
from contracts.machines.common import LAYER
from contracts.protocols import streams
from contracts.report import Finding
from contracts.session import Session

CHECK = "chat_isolation"
NOT_YOURS = 404


@dataclass(frozen=True)
class Probe:
    method: str
    path: str  # with the owner's ids
    operation: str
    body: Any = None
    params: dict[str, str] | None = None
    expected: int = NOT_YOURS


def probes(character: str, persona: str, chat: str, message: str, candidate: str) -> list[Probe]:
    """Every chat route that names an id, with the owner's ids (the ones that change state last)."""
    in_chat = f"/chats/{chat}/messages/{message}"
    return [
        Probe("GET", f"/chat-characters/{character}", "GET /chat-characters/{id}", expected=204),
        Probe("GET", f"/chats/{chat}", "GET /chats/{chatId}"),
        Probe("GET", f"/chat-personas/for-chat/{chat}", "GET /chat-personas/for-chat/{chatId}"),
        Probe("POST", "/chats", "POST /chats", body={"chatCharacterId": character, "personaId": persona,
                                                     "firstMessage": "Hello."}),
        Probe("PUT", f"/chat-characters/{character}", "PUT /chat-characters/{id}", body=streams.CHARACTER | {
            "name": "Taken over"}),
        Probe("PUT", f"/chat-personas/{persona}", "PUT /chat-personas/{id}", body={"name": "Taken",
                                                                                   "isDefault": True}),
        Probe("PUT", in_chat, "PUT /chats/{chatId}/messages/{messageId}", params={"candidateId": candidate}),
        Probe("PUT", f"{in_chat}/candidates/{candidate}",
              "PUT /chats/{chatId}/messages/{messageId}/candidates/{candidateId}", body={"message": "Taken over"}),
        Probe("POST", f"/chats/{chat}/messages", streams.SEND, body={"userMessage": "Hello?"}),
        Probe("POST", f"{in_chat}/regenerate", streams.REGENERATE),
        Probe("POST", f"/chats/{chat}/images", "POST /chats/{chatId}/images"),
        Probe("DELETE", in_chat, "DELETE /chats/{chatId}/messages/{messageId}"),
        Probe("DELETE", f"/chat-personas/{persona}", "DELETE /chat-personas/{id}"),
        Probe("DELETE", f"/chats/{chat}", "DELETE /chats/{chatId}"),
        Probe("DELETE", f"/chat-characters/{character}", "DELETE /chat-characters/{id}"),
    ]


def owned(session: Session, key: str, chat: str) -> Any:
    """What the owner sees of their chat things (compared before and after the other user's requests)."""
    def get(path: str) -> Any:
        reply = session.client.send("GET", path, key=key)
        return reply.status, reply.body

    return [get("/chat-characters"), get("/chat-personas"), get(f"/chats/{chat}"), get("/chats")]


def answer(session: Session, probe: Probe, key: str, drive: Any) -> int:
    """The status `probe` gets with `key` (a stream read to its end; 0: no answer), the clock moving meanwhile
    (an image answer waits for its picture)."""
    with drive():
        try:
            if probe.operation in (streams.SEND, streams.REGENERATE):
                return streams.read(session, probe.operation, probe.path, key, probe.body).status
            body = NO_BODY if probe.body is None else probe.body
            return session.client.send(probe.method, probe.path, key=key, body=body, params=probe.params).status
        except httpx.HTTPError:
            return 0


def other_key(session: Session) -> str | None:
    if session.admin is not None:
        return str(session.admin.create_tenant("contract run, chat isolation", 100)["credentials"][0])
    return session.target.second_key


def run(session: Session) -> None:
    """The chat isolation property module of AliveAI's stateful layer."""
    report, key = session.report, session.target.key or ""
    foreign = other_key(session)
    if foreign is None:
        report.cannot_verify(LAYER, "chat_isolation", "no --second-key nor --admin-token")
        return
    session.transcript.clear()
    with streams.clock_driver(session) as drive:
        made = streams.make_chat(session, key)
        if made is None:
            report.cannot_verify(LAYER, "chat_isolation", "the server refused to make a character, persona or chat")
            return
        character, persona, chat = made
        with drive():
            sent = streams.read(session, streams.SEND, f"/chats/{chat}/messages", key, {"userMessage": streams.SAID})
        init = sent.init()
        message, candidate = init.get("assistantMessageId", "m"), init.get("assistantCandidateId", "c")
        before = owned(session, key, chat)
        problems: list[tuple[str, str]] = []
        for probe in probes(character, persona, chat, message, candidate):
            status = answer(session, probe, foreign, drive)
            if status != probe.expected:
                problems.append((probe.operation, f"another user's {probe.method} {probe.path} answered {status}, "
                                                  f"not {probe.expected}"))
        for listing in ("/chat-characters", "/chat-personas", "/chats"):
            shown = session.client.send("GET", listing, key=foreign).text
            leaked = [thing for thing in (character, persona, chat) if thing in shown]
            if leaked:
                problems.append((f"GET {listing}", f"another user's list shows the owner's {', '.join(leaked)}"))
        after = owned(session, key, chat)
        if after != before:
            problems.append(("GET /chats/{chatId}", f"after another user's requests the owner's characters, personas"
                                                     f" or chat changed:\nbefore: {streams.short(before)}\n"
                                                     f"after: {streams.short(after)}"))
    report.ran(LAYER, CHECK)
    report.count(LAYER, "chat isolation probes", len(probes("", "", "", "", "")))
    reproduction = session.transcript.text()
    for operation, message in problems:
        report.add(Finding(LAYER, CHECK, operation, message, reproduction))
