"""AliveAI's chat routes over real HTTP, on a virtual clock moved by the admin API: characters (soft delete, the
vision cards and their rate limit), personas (one default, the refusals), chats, replies streamed as NDJSON and
read line by line as the clock moves, candidates (regenerate, select, edit, delete from a message), what a
disconnect, an error and a cut connection leave, chat pictures on the prompt queue, and isolation between users.

Every answer is checked against the spec as it arrives (status, content type, body schema); stream lines are
checked against `ChatStreamEvent` one by one.
"""

from __future__ import annotations

import json
import queue
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import jsonschema
import pytest

from mockserver.engine import chat
from mockserver.spec import load_document, path_pattern, resolve, to_json_schema
from tests.inprocess import InProcessMock
from tests.servers import running_mock

NDJSON = "application/x-ndjson"
BIO = "A viking shieldmaiden from the northern fjords who guards the old mead hall. Proud, loyal and teasing."
CHARACTER = {"name": "Marcielle", "bio": BIO, "shortBio": "Viking shieldmaiden",
             "firstMessage": "Welcome back to the mead hall, traveller."}
PERSONA = {"name": "Erik", "bio": "A travelling merchant with a cart of spices", "isDefault": True}
FIRST, EACH = 0.3, 0.03  # the default pacing (seconds): first token, each next one
ALL = 600.0  # seconds that bring any reply to its end

# -- the spec, for checking every answer -----------------------------------------------------------------------
DOCUMENT = load_document("aliveai.yaml")
DEFINITIONS = {name: to_json_schema(schema) for name, schema in DOCUMENT["components"]["schemas"].items()}
ROUTES = sorted(((path_pattern(template), item) for template, item in DOCUMENT["paths"].items()),
                key=lambda route: "{" in route[0].pattern)  # exact paths before templated ones
EVENT = jsonschema.Draft4Validator({**to_json_schema({"$ref": "#/components/schemas/ChatStreamEvent"}),
                                    "definitions": DEFINITIONS})


def conforms(response: httpx.Response) -> None:
    """The answer is one the spec gives its operation: a declared status, its content type and body schema."""
    path = response.request.url.path
    item = next((item for pattern, item in ROUTES if pattern.match(path)), None)
    if item is None or path.startswith("/media/"):
        return
    operation = item[response.request.method.lower()]
    declared = resolve(DOCUMENT, operation["responses"].get(str(response.status_code)))
    assert declared is not None, f"{operation['operationId']} answered {response.status_code}: {response.text}"
    content = declared.get("content")
    if not content:
        assert response.read() == b"", f"{operation['operationId']} {response.status_code} has a body"
        return
    media = response.headers.get("content-type", "").split(";")[0]
    assert media in content, f"{operation['operationId']} {response.status_code} sent {media!r}"
    if media == NDJSON:
        return  # the lines are checked as they are read
    schema = {**to_json_schema(content[media]["schema"]), "definitions": DEFINITIONS}
    body = json.loads(response.read())
    errors = [error.message for error in jsonschema.Draft4Validator(schema).iter_errors(body)]
    assert not errors, f"{operation['operationId']} {response.status_code}: {errors} in {body}"


# -- the served mock and its users -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def served() -> Iterator[dict[str, Any]]:
    with running_mock("--api", "aliveai", "--seed", "8", "--clock", "virtual") as credentials:
        yield credentials["apis"]["aliveai"] | {"admin_token": credentials["admin_token"]}


def admin_client(served: dict[str, Any]) -> httpx.Client:
    return httpx.Client(base_url=served["admin_url"], headers={"authorization": f"Bearer {served['admin_token']}"},
                        timeout=30)


@pytest.fixture
def admin(served: dict[str, Any]) -> Iterator[httpx.Client]:
    with admin_client(served) as client:
        client.post("/reset").raise_for_status()
        client.post("/clock", json={"mode": "virtual"}).raise_for_status()
        yield client


def advance(admin: httpx.Client, seconds: float) -> None:
    admin.post("/clock", json={"advanceSeconds": seconds}).raise_for_status()


class User:
    def __init__(self, served: dict[str, Any], tenant: dict[str, Any]) -> None:
        self.served = served
        self.key = tenant["credentials"][0]
        self.http = self.client()

    def client(self) -> httpx.Client:
        """A client of this user whose every answer is checked against the spec."""
        return httpx.Client(base_url=self.served["base_url"], headers={"authorization": f"Key {self.key}"},
                            timeout=60, event_hooks={"response": [conforms]})

    def credits(self) -> int:
        return self.http.get("/members/me").json()["credits"]

    def character(self, **fields: Any) -> str:
        answer = self.http.post("/chat-characters", json={**CHARACTER, **fields})
        assert answer.status_code == 200, answer.text
        return answer.json()["chatCharacterId"]

    def persona(self, **fields: Any) -> dict[str, Any]:
        answer = self.http.post("/chat-personas", json={**PERSONA, **fields})
        assert answer.status_code == 200, answer.text
        return answer.json()

    def chat(self, character_id: str | None = None, persona_id: str | None = None, first: str = "") -> str:
        character_id = character_id or self.character()
        persona_id = self.persona()["id"] if persona_id is None else persona_id
        answer = self.http.post("/chats", json={"chatCharacterId": character_id, "firstMessage": first,
                                                "personaId": persona_id})
        assert answer.status_code == 200, answer.text
        return answer.json()["chatId"]

    def messages(self, chat_id: str) -> list[dict[str, Any]]:
        return self.http.get(f"/chats/{chat_id}").json()["messages"]


def new_user(served: dict[str, Any], admin: httpx.Client, balance: float = 100) -> User:
    response = admin.post("/tenants", json={"name": "user", "balance": balance})
    assert response.status_code == 201, response.text
    return User(served, response.json())


def selected_text(message: dict[str, Any]) -> str:
    return next(candidate["message"] for candidate in message["candidates"]
                if candidate["candidateId"] == message["selectedCandidateId"])


# -- reading a stream ------------------------------------------------------------------------------------------
class Reader:
    """A reply stream read on its own thread, line by line as the lines arrive; with `take`, the client leaves
    after that many lines."""

    def __init__(self, user: User, path: str, body: dict[str, Any] | None = None, take: int | None = None) -> None:
        self.lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.status = 0
        self.error: Exception | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(user, path, body, take), daemon=True)
        self._thread.start()
        assert self._started.wait(10), "no answer"

    def _read(self, user: User, path: str, body: dict[str, Any] | None, take: int | None) -> None:
        try:
            with user.client() as client, client.stream("POST", path, json=body) as response:
                self.status = response.status_code
                self._started.set()
                for count, line in enumerate(response.iter_lines(), 1):
                    self.lines.put(json.loads(line))
                    if count == take:
                        break
        except httpx.HTTPError as error:
            self.error = error
        finally:
            self._started.set()
            self.lines.put(None)

    def next(self, timeout: float = 10) -> dict[str, Any] | None:
        """The next line (checked against `ChatStreamEvent`), or None at the end of the stream."""
        line = self.lines.get(timeout=timeout)
        if line is not None:
            errors = [error.message for error in EVENT.iter_errors(line)]
            assert not errors, f"{line}: {errors}"
        return line

    def quiet(self, seconds: float = 0.3) -> bool:
        """Whether no line arrives for `seconds` (real time)."""
        try:
            line = self.lines.get(timeout=seconds)
        except queue.Empty:
            return True
        self.lines.queue.appendleft(line)
        return False

    def rest(self) -> list[dict[str, Any]]:
        lines = []
        while (line := self.next()) is not None:
            lines.append(line)
        self._thread.join(10)
        return lines


def streamed(user: User, admin: httpx.Client, path: str, body: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every line of a stream, the clock moved along from another thread until the stream ends."""
    stop = threading.Event()

    def tick() -> None:
        with admin_client(user.served) as ticker:
            while not stop.is_set():
                advance(ticker, EACH)
                stop.wait(0.002)

    ticking = threading.Thread(target=tick, daemon=True)
    reader = Reader(user, path, body)
    ticking.start()
    try:
        return reader.rest()
    finally:
        stop.set()
        ticking.join(10)


def grammar(events: list[dict[str, Any]]) -> str:
    """The reply of a well-formed stream: `init` first, tokens, exactly one terminal `complete` (returned)."""
    assert events[0]["type"] == "init"
    assert [event["type"] for event in events[1:-1]] == ["token"] * (len(events) - 2)
    assert events[-1]["type"] == "complete", events[-1]
    reply = "".join(event["delta"] for event in events[1:-1])
    assert reply == events[-1]["message"] and reply.strip()
    return reply


# -- the generator ---------------------------------------------------------------------------------------------
def test_replies_are_readable_deterministic_and_split_into_tokens_that_join_back() -> None:
    persona = chat.Persona("Erik", PERSONA["bio"])
    history = [chat.Line(False, CHARACTER["firstMessage"]), chat.Line(True, "I brought you a gift from the south.")]
    reply = chat.reply("Marcielle", BIO, persona, history, "cand_1")
    assert reply == chat.reply("Marcielle", BIO, persona, history, "cand_1")
    variants = {chat.reply("Marcielle", BIO, persona, history, f"cand_{n}") for n in range(8)}
    assert len(variants) > 4 and any("Erik" in text for text in variants)  # drawn from the persona too
    assert reply[0].isupper() and reply.endswith(("?", ".", "!")) and "gift" in " ".join(variants)
    assert reply.isascii() and all(len(word) < 20 for word in reply.split())
    for text in (reply, "  two  spaces\n", "é́ naïve — ok!", "", "a_b c'd 42"):
        assert "".join(chat.tokens(text)) == text
    assert chat.tokens("Hello, traveller.") == ["Hello", ",", " traveller", "."]


# -- characters ------------------------------------------------------------------------------------------------
def test_characters_are_created_listed_read_updated_and_soft_deleted(served: dict[str, Any],
                                                                      admin: httpx.Client) -> None:
    user = new_user(served, admin)
    character_id = user.character()
    shown = user.http.get(f"/chat-characters/{character_id}").json()
    assert (shown["characterName"], shown["characterBio"], shown["shortBio"]) == ("Marcielle", BIO,
                                                                                   "Viking shieldmaiden")
    first = shown["firstMessage"]
    assert first["messageType"] == "CHARACTER" and selected_text(first) == CHARACTER["firstMessage"]
    assert user.http.get("/chat-characters").json() == [shown]
    update = {**CHARACTER, "name": "Marci", "firstMessage": "You again!"}
    assert user.http.put(f"/chat-characters/{character_id}", json=update).status_code == 204
    updated = user.http.get(f"/chat-characters/{character_id}").json()
    assert updated["characterName"] == "Marci" and selected_text(updated["firstMessage"]) == "You again!"
    assert updated["firstMessage"]["messageId"] != first["messageId"]  # the first message is a new one
    chat_id = user.chat(character_id)
    assert selected_text(user.messages(chat_id)[0]) == "You again!"  # an empty firstMessage: the character's
    assert user.http.delete(f"/chat-characters/{character_id}").status_code == 204
    gone = user.http.get(f"/chat-characters/{character_id}")
    assert gone.status_code == 204 and gone.content == b""
    assert user.http.get("/chat-characters").json() == []
    assert user.http.delete(f"/chat-characters/{character_id}").status_code == 404
    assert user.http.put(f"/chat-characters/{character_id}", json=update).status_code == 404
    refused = user.http.post("/chats", json={"chatCharacterId": character_id, "firstMessage": "x", "personaId": ""})
    assert refused.status_code == 404
    events = streamed(user, admin, f"/chats/{chat_id}/messages", {"userMessage": "Still here?"})  # chats go on
    grammar(events)
    assert user.http.get("/chats").json()[0]["characterName"] == "Marci"
    assert user.http.get("/chat-characters/nothing").status_code == 204


def test_a_character_picture_must_be_an_image_of_the_user(served: dict[str, Any], admin: httpx.Client) -> None:
    owner, stranger = new_user(served, admin), new_user(served, admin)
    prompt_id = owner.http.post("/prompts", json={"name": "Ava", "appearance": "a woman in a green raincoat",
                                                  "detailLevel": "MEDIUM"}).json()["promptId"]
    advance(admin, 60)
    media = owner.http.get(f"/prompts/{prompt_id}").json()["medias"][0]
    character_id = owner.character(mediaId=media["id"], promptId=prompt_id)
    assert owner.http.get(f"/chat-characters/{character_id}").json()["characterImage"] == media
    for body in ({"mediaId": media["id"]}, {"mediaId": "nothing"}):
        refused = stranger.http.post("/chat-characters", json={**CHARACTER, **body})
        assert refused.status_code == 404 and refused.json()["title"] == "Not Found"
    foreign_prompt = owner.http.post("/chat-characters", json={**CHARACTER, "mediaId": media["id"],
                                                               "promptId": "0b7e2d6c-1a9f-4e3b-8c5d-2f0a7e9b4c61"})
    assert foreign_prompt.status_code == 404
    assert stranger.http.get("/chat-characters").json() == [] and len(owner.http.get("/chat-characters").json()) == 1


def test_the_vision_cards_are_deterministic_refined_and_rate_limited(served: dict[str, Any],
                                                                       admin: httpx.Client) -> None:
    admin.patch("/config", json={"limits": {"visionPerMinute": 3}}).raise_for_status()
    user = new_user(served, admin)
    prompt_id = user.http.post("/prompts", json={"name": "Ava", "appearance": "a woman in a green raincoat",
                                                 "detailLevel": "MEDIUM"}).json()["promptId"]
    advance(admin, 60)
    media = user.http.get(f"/prompts/{prompt_id}").json()["medias"][0]
    request = {"imageUrl": media["mediaUrl"], "characterName": "Ava"}
    card = user.http.post("/chat-characters/character-from-image", json=request).json()
    assert card["name"] == "Ava" and "green raincoat" in card["description"]  # what the user's media shows
    assert user.http.post("/chat-characters/character-from-image", json=request).json() == card
    shy = user.http.post("/chat-characters/update-character-from-image",
                         json={"chatCharacterFromImageResponse": card, "updatePrompt": "make her more shy"}).json()
    assert shy["personality"].endswith("more shy") and shy["scenario"] == card["scenario"]
    limited = user.http.post("/chat-characters/character-from-image", json=request)
    assert limited.status_code == 429 and limited.json()["status"] == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    advance(admin, int(limited.headers["retry-after"]))
    other = user.http.post("/chat-characters/character-from-image",
                           json={"imageUrl": "https://images.example.com/x.png", "characterName": "Bo"})
    assert other.status_code == 200 and other.json()["name"] == "Bo" and other.json() != card


# -- personas --------------------------------------------------------------------------------------------------
def test_personas_have_at_most_one_default_which_new_chats_use(served: dict[str, Any], admin: httpx.Client) -> None:
    user = new_user(served, admin)
    character_id = user.character()
    no_default = user.http.post("/chats", json={"chatCharacterId": character_id, "firstMessage": "Hi",
                                                "personaId": ""})
    assert no_default.status_code == 404 and "default" in no_default.json()["detail"]
    erik = user.persona()
    anna = user.persona(name="Anna", bio="A curious scholar", isDefault=True)
    assert [(persona["name"], persona["defaultPersona"]) for persona in user.http.get("/chat-personas").json()] \
        == [("Erik", False), ("Anna", True)]
    chat_id = user.chat(character_id, persona_id="", first="Hi")
    assert user.http.get(f"/chat-personas/for-chat/{chat_id}").json() == anna
    assert user.http.put(f"/chat-personas/{erik['id']}", json={"name": "Erik", "isDefault": True}).status_code == 204
    listed = {persona["name"]: persona for persona in user.http.get("/chat-personas").json()}
    assert listed["Erik"]["defaultPersona"] and not listed["Anna"]["defaultPersona"] and "bio" not in listed["Erik"]
    assert user.http.get(f"/chat-personas/for-chat/{user.chat(character_id, persona_id='')}").json()["id"] == erik["id"]


def test_a_persona_in_use_or_the_only_one_is_not_deleted(served: dict[str, Any], admin: httpx.Client) -> None:
    user = new_user(served, admin)
    used = user.persona()
    chat_id = user.chat(persona_id=used["id"])
    refused = user.http.delete(f"/chat-personas/{used['id']}")
    assert refused.status_code == 409 and "used in 1 chat" in refused.json()["detail"]
    assert user.http.delete(f"/chats/{chat_id}").status_code == 204
    only = user.http.delete(f"/chat-personas/{used['id']}")
    assert only.status_code == 409 and "only persona" in only.json()["detail"]
    spare = user.persona(name="Spare", isDefault=False)
    assert user.http.delete(f"/chat-personas/{used['id']}").status_code == 204
    assert [persona["id"] for persona in user.http.get("/chat-personas").json()] == [spare["id"]]
    assert user.http.delete(f"/chat-personas/{used['id']}").status_code == 404


# -- chats -----------------------------------------------------------------------------------------------------
def test_chats_open_with_their_first_message_and_list_by_latest_activity(served: dict[str, Any],
                                                                          admin: httpx.Client) -> None:
    user = new_user(served, admin)
    character_id, persona_id = user.character(), user.persona()["id"]
    created = user.http.post("/chats", json={"chatCharacterId": character_id, "firstMessage": "Sit, drink.",
                                             "personaId": persona_id}).json()
    assert created["chatCharacterId"] == character_id and len(created["messages"]) == 1
    assert selected_text(created["messages"][0]) == "Sit, drink." and created["messages"][0]["messageType"] == \
        "CHARACTER"
    assert user.http.get(f"/chats/{created['chatId']}").json() == created
    advance(admin, 5)
    later = user.chat(character_id, persona_id)
    assert [item["chatId"] for item in user.http.get("/chats").json()] == [later, created["chatId"]]
    advance(admin, 5)
    grammar(streamed(user, admin, f"/chats/{created['chatId']}/messages", {"userMessage": "Hello"}))
    listed = user.http.get("/chats").json()
    assert [item["chatId"] for item in listed] == [created["chatId"], later]  # the newest activity first
    assert listed[0]["messageCount"] == 3 and listed[1]["messageCount"] == 1
    assert listed[0]["characterId"] == character_id and listed[0]["lastMessageCreated"] > listed[0]["created"]
    assert user.http.delete(f"/chats/{later}").status_code == 204
    assert user.http.get(f"/chats/{later}").status_code == 404 and len(user.http.get("/chats").json()) == 1


def test_a_reply_streams_line_by_line_as_the_clock_moves(served: dict[str, Any], admin: httpx.Client) -> None:
    user = new_user(served, admin)
    chat_id = user.chat()
    reader = Reader(user, f"/chats/{chat_id}/messages", {"userMessage": "I brought you a gift."})
    assert reader.status == 200
    init = reader.next()
    assert init is not None and init["type"] == "init" and init["chatId"] == chat_id
    assert {"userMessageId", "userCandidateId", "assistantMessageId", "assistantCandidateId"} <= set(init)
    assert reader.quiet()  # the clock stands still: no token
    advance(admin, FIRST - 0.05)
    assert reader.quiet()
    advance(admin, 0.06)  # past the first token's time, before the second's
    first = reader.next()
    assert first is not None and first["type"] == "token" and reader.quiet()
    stored = user.messages(chat_id)[-1]
    assert stored["messageId"] == init["assistantMessageId"] and selected_text(stored) == first["delta"]
    advance(admin, EACH)
    second = reader.next()
    assert second is not None and second["type"] == "token" and reader.quiet()
    advance(admin, ALL)
    reply = grammar([init, first, second, *reader.rest()])
    messages = user.messages(chat_id)
    assert [message["messageType"] for message in messages] == ["CHARACTER", "USER", "CHARACTER"]
    assert [message["messageId"] for message in messages[1:]] == [init["userMessageId"], init["assistantMessageId"]]
    assert selected_text(messages[1]) == "I brought you a gift." and selected_text(messages[2]) == reply
    assert messages[2]["selectedCandidateId"] == init["assistantCandidateId"]


def test_a_reply_read_while_the_clock_ticks_equals_the_stored_candidate(served: dict[str, Any],
                                                                         admin: httpx.Client) -> None:
    user = new_user(served, admin)
    chat_id = user.chat()
    replies = []
    for said in ("Hello there.", "What is your favourite song?", "Tell me about the old mead hall."):
        events = streamed(user, admin, f"/chats/{chat_id}/messages", {"userMessage": said})
        replies.append(grammar(events))
        assert selected_text(user.messages(chat_id)[-1]) == replies[-1]
    assert len(set(replies)) == 3 and len(user.messages(chat_id)) == 7


def test_a_real_clock_paces_the_first_token_and_the_rest(served: dict[str, Any], admin: httpx.Client) -> None:
    admin.patch("/config", json={"durations": {"CHAT_FIRST_TOKEN": 0.4, "CHAT_TOKEN": 0.005}}).raise_for_status()
    user = new_user(served, admin)
    chat_id = user.chat()
    admin.post("/clock", json={"mode": "real"}).raise_for_status()
    started = time.monotonic()
    reader = Reader(user, f"/chats/{chat_id}/messages", {"userMessage": "Hello."})
    assert reader.next()["type"] == "init"  # type: ignore[index]
    first = reader.next()
    first_after = time.monotonic() - started
    events = [first, *reader.rest()]
    total = time.monotonic() - started
    assert first is not None and first["type"] == "token" and 0.35 <= first_after < 2
    assert events[-1]["type"] == "complete" and total >= 0.4 + 0.005 * (len(events) - 2) - 0.05 and total < 5


# -- candidates ------------------------------------------------------------------------------------------------
def test_only_the_latest_character_message_is_regenerated(served: dict[str, Any], admin: httpx.Client) -> None:
    user = new_user(served, admin)
    chat_id = user.chat()
    opening = user.messages(chat_id)[0]
    first = grammar(streamed(user, admin, f"/chats/{chat_id}/messages", {"userMessage": "Hi!"}))
    user_message, reply = user.messages(chat_id)[1:]
    for message_id in (opening["messageId"], user_message["messageId"]):
        refused = user.http.post(f"/chats/{chat_id}/messages/{message_id}/regenerate")
        assert refused.status_code == 409 and "most recent" in refused.json()["detail"]
    assert user.http.post(f"/chats/{chat_id}/messages/msg_nothing/regenerate").status_code == 404
    events = streamed(user, admin, f"/chats/{chat_id}/messages/{reply['messageId']}/regenerate")
    second = grammar(events)
    assert events[0]["assistantMessageId"] == reply["messageId"] and "userMessageId" not in events[0]
    regenerated = user.messages(chat_id)[2]
    assert [candidate["message"] for candidate in regenerated["candidates"]] == [first, second] and first != second
    assert regenerated["selectedCandidateId"] == events[0]["assistantCandidateId"]


def test_select_edit_and_delete_from_a_message(served: dict[str, Any], admin: httpx.Client) -> None:
    user = new_user(served, admin)
    chat_id = user.chat()
    grammar(streamed(user, admin, f"/chats/{chat_id}/messages", {"userMessage": "Hi!"}))
    reply = user.messages(chat_id)[2]
    path = f"/chats/{chat_id}/messages/{reply['messageId']}"
    grammar(streamed(user, admin, f"{path}/regenerate"))
    first, second = (candidate["candidateId"] for candidate in user.messages(chat_id)[2]["candidates"])
    assert user.http.put(path, params={"candidateId": first}).status_code == 204
    assert user.messages(chat_id)[2]["selectedCandidateId"] == first
    assert user.http.put(path, params={"candidateId": "cand_nothing"}).status_code == 404
    assert user.http.put(f"{path}/candidates/{second}", json={"message": "An edited reply."}).status_code == 204
    assert user.messages(chat_id)[2]["candidates"][1]["message"] == "An edited reply."
    reader = Reader(user, f"/chats/{chat_id}/messages", {"userMessage": "And now?"})
    init = reader.next()
    assert init is not None
    generating = f"/chats/{chat_id}/messages/{init['assistantMessageId']}/candidates/{init['assistantCandidateId']}"
    refused = user.http.put(generating, json={"message": "too early"})
    assert refused.status_code == 409 and "still being generated" in refused.json()["detail"]
    advance(admin, ALL)
    grammar([init, *reader.rest()])
    assert user.http.put(generating, json={"message": "in time"}).status_code == 204
    assert user.http.delete(f"/chats/{chat_id}/messages/{init['userMessageId']}").status_code == 204
    assert [message["messageId"] for message in user.messages(chat_id)][1:] == [user.messages(chat_id)[1]["messageId"],
                                                                              reply["messageId"]]
    assert len(user.messages(chat_id)) == 3
    assert user.http.delete(f"/chats/{chat_id}/messages/{init['userMessageId']}").status_code == 404


# -- what a stream that does not end well leaves ---------------------------------------------------------------
def test_a_client_that_leaves_mid_reply_finds_the_whole_reply_stored(served: dict[str, Any],
                                                                      admin: httpx.Client) -> None:
    user = new_user(served, admin)
    chat_id = user.chat()
    reader = Reader(user, f"/chats/{chat_id}/messages", {"userMessage": "Tell me a story."}, take=2)
    init = reader.next()
    advance(admin, FIRST + 0.01)
    first = reader.next()
    assert init is not None and first is not None and reader.next() is None  # the client left
    assert selected_text(user.messages(chat_id)[-1]) == first["delta"]  # what is generated so far
    advance(admin, ALL)
    reply = selected_text(user.messages(chat_id)[-1])
    assert reply.startswith(first["delta"]) and len(reply) > 40 and reply.endswith(("?", ".", "!"))
    grammar(streamed(user, admin, f"/chats/{chat_id}/messages", {"userMessage": "Go on."}))  # the chat goes on
    assert len(user.messages(chat_id)) == 5


def test_an_error_fault_ends_the_stream_and_takes_the_reply_back(served: dict[str, Any], admin: httpx.Client) -> None:
    user = new_user(served, admin)
    chat_id = user.chat()
    before = user.messages(chat_id)
    admin.post("/faults", json={"operation": "chatError", "message": "The model is overloaded"}).raise_for_status()
    events = streamed(user, admin, f"/chats/{chat_id}/messages", {"userMessage": "Hi!"})
    assert events[0]["type"] == "init" and events[-1] == {"type": "error", "message": "The model is overloaded"}
    assert {event["type"] for event in events[1:-1]} == {"token"} and len(events) > 3
    assert user.messages(chat_id) == before  # the failed send is gone, user message and all
    grammar(streamed(user, admin, f"/chats/{chat_id}/messages", {"userMessage": "Hi again!"}))
    reply = user.messages(chat_id)[-1]
    admin.post("/faults", json={"operation": "chatError"}).raise_for_status()
    events = streamed(user, admin, f"/chats/{chat_id}/messages/{reply['messageId']}/regenerate")
    assert events[-1]["type"] == "error" and events[-1]["message"]
    assert user.messages(chat_id)[-1] == reply  # the regenerated candidate is gone, the old one selected again
    admin.post("/faults", json={"operation": "chatError"}).raise_for_status()
    leaving = Reader(user, f"/chats/{chat_id}/messages", {"userMessage": "Bye."}, take=1)  # leaves after init
    assert leaving.next() is not None and leaving.next() is None
    assert len(user.messages(chat_id)) == 5  # still being generated
    advance(admin, ALL)
    assert len(user.messages(chat_id)) == 3  # taken back when its error was due, though nobody listened


def test_a_cut_fault_drops_the_connection_and_the_reply_is_still_stored(served: dict[str, Any],
                                                                         admin: httpx.Client) -> None:
    user = new_user(served, admin)
    chat_id = user.chat()
    admin.post("/faults", json={"operation": "chatCut"}).raise_for_status()
    reader = Reader(user, f"/chats/{chat_id}/messages", {"userMessage": "Hi!"})
    advance(admin, ALL)
    events = [line for line in iter(reader.next, None)]
    assert isinstance(reader.error, httpx.RemoteProtocolError)  # the body ended without its last chunk
    assert events[0]["type"] == "init" and {event["type"] for event in events[1:]} == {"token"}
    reply = selected_text(user.messages(chat_id)[-1])
    sent = "".join(event["delta"] for event in events[1:])
    assert reply.startswith(sent) and len(reply) > len(sent)
    assert user.http.get("/chats").json()[0]["messageCount"] == 3
    grammar(streamed(user, admin, f"/chats/{chat_id}/messages", {"userMessage": "Again."}))  # spent: streams again


# -- chat pictures ---------------------------------------------------------------------------------------------
def held(user: User, admin: httpx.Client, send: Callable[[httpx.Client], httpx.Response]) -> httpx.Response:
    """An answer held until its picture is made: sent from a thread while the clock moves on."""
    answers: list[httpx.Response] = []

    def post() -> None:
        with user.client() as client:
            answers.append(send(client))

    holder = threading.Thread(target=post, daemon=True)
    holder.start()
    deadline = time.monotonic() + 10
    while not user.http.get("/prompts/pending").json()["queue"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert holder.is_alive()  # held while the prompt is queued
    advance(admin, 60)
    holder.join(10)
    return answers[0]


def png_size(content: bytes) -> tuple[int, int]:
    assert content[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", content[16:24])


def test_chat_pictures_are_charged_queued_prompts(served: dict[str, Any], admin: httpx.Client) -> None:
    price = admin.get("/config").json()["prices"]["CHAT_IMAGE"]
    user = new_user(served, admin)
    chat_id = user.chat()
    made = held(user, admin, lambda client: client.post(f"/chats/{chat_id}/images"))
    assert made.status_code == 200 and user.credits() == 100 - price
    message = made.json()
    assert message["messageType"] == "MEDIA" and user.messages(chat_id)[-1] == message
    media = message["candidates"][0]["media"]
    assert message["candidates"][0]["message"] == "" and png_size(httpx.get(media["mediaUrl"]).content) == (832, 1216)
    prompt = user.http.get("/prompts", params={"page": 0}).json()["prompts"][0]
    assert prompt["medias"] == [media] and prompt["originalPrompt"]["name"] == "Marcielle"
    again = held(user, admin, lambda client: client.post(f"/chats/{chat_id}/images/{message['messageId']}/regenerate"))
    candidates = again.json()["candidates"]
    assert len(candidates) == 2 and again.json()["selectedCandidateId"] == candidates[1]["candidateId"]
    assert user.credits() == 100 - 2 * price
    opening = user.messages(chat_id)[0]["messageId"]
    assert user.http.post(f"/chats/{chat_id}/images/{opening}/regenerate").status_code == 409
    poor = new_user(served, admin, balance=price - 1)
    poor_chat = poor.chat()
    refused = poor.http.post(f"/chats/{poor_chat}/images")
    assert refused.status_code == 402 and poor.credits() == price - 1 and len(poor.messages(poor_chat)) == 1


def test_a_failed_picture_is_refunded_and_taken_back(served: dict[str, Any], admin: httpx.Client) -> None:
    user = new_user(served, admin)
    chat_id = user.chat()
    admin.post("/faults", json={"operation": "prompt"}).raise_for_status()
    with user.client() as client:
        failed = client.post(f"/chats/{chat_id}/images")  # fails as it starts: no clock needed
    assert failed.status_code == 500 and "refunded" in failed.json()["detail"]
    assert user.credits() == 100 and len(user.messages(chat_id)) == 1


# -- isolation and bad input -----------------------------------------------------------------------------------
def test_another_users_ids_name_nothing(served: dict[str, Any], admin: httpx.Client) -> None:
    owner, stranger = new_user(served, admin), new_user(served, admin)
    character_id, persona = owner.character(), owner.persona()
    chat_id = owner.chat(character_id, persona["id"])
    grammar(streamed(owner, admin, f"/chats/{chat_id}/messages", {"userMessage": "Hi!"}))
    before = owner.http.get(f"/chats/{chat_id}").json()
    reply = before["messages"][-1]
    message, candidate = reply["messageId"], reply["selectedCandidateId"]
    http = stranger.http
    assert http.get(f"/chat-characters/{character_id}").status_code == 204
    not_found = [
        http.put(f"/chat-characters/{character_id}", json=CHARACTER), http.delete(f"/chat-characters/{character_id}"),
        http.put(f"/chat-personas/{persona['id']}", json=PERSONA), http.delete(f"/chat-personas/{persona['id']}"),
        http.get(f"/chat-personas/for-chat/{chat_id}"), http.get(f"/chats/{chat_id}"),
        http.post(f"/chats/{chat_id}/messages", json={"userMessage": "mine?"}),
        http.post(f"/chats/{chat_id}/messages/{message}/regenerate"),
        http.put(f"/chats/{chat_id}/messages/{message}", params={"candidateId": candidate}),
        http.put(f"/chats/{chat_id}/messages/{message}/candidates/{candidate}", json={"message": "mine"}),
        http.delete(f"/chats/{chat_id}/messages/{message}"), http.post(f"/chats/{chat_id}/images"),
        http.post(f"/chats/{chat_id}/images/{message}/regenerate"), http.delete(f"/chats/{chat_id}"),
        http.post("/chats", json={"chatCharacterId": character_id, "firstMessage": "x", "personaId": ""}),
    ]
    assert [answer.status_code for answer in not_found] == [404] * len(not_found)
    own_chat = stranger.chat()
    assert http.put(f"/chats/{own_chat}/messages/{message}", params={"candidateId": candidate}).status_code == 404
    assert http.delete(f"/chats/{own_chat}/messages/{message}").status_code == 404
    own_message = stranger.messages(own_chat)[0]["messageId"]
    assert http.put(f"/chats/{own_chat}/messages/{own_message}", params={"candidateId": candidate}).status_code == 404
    assert http.post("/chats", json={"chatCharacterId": stranger.character(), "firstMessage": "x",
                                     "personaId": persona["id"]}).status_code == 404
    assert [item["chatId"] for item in http.get("/chats").json()] == [own_chat]
    assert owner.http.get(f"/chats/{chat_id}").json() == before and stranger.credits() == 100


def test_bad_input_is_a_400_problem_and_changes_nothing(served: dict[str, Any], admin: httpx.Client) -> None:
    user = new_user(served, admin)
    chat_id = user.chat()
    message = user.messages(chat_id)[0]
    refusals = [
        user.http.post("/chat-characters", json={**CHARACTER, "name": ""}),
        user.http.post("/chat-characters", json={"name": "No bio"}),
        user.http.post("/chat-personas", json={"name": "x" * 21, "isDefault": False}),
        user.http.put(f"/chat-personas/{user.http.get('/chat-personas').json()[0]['id']}", json={"name": "Erik"}),
        user.http.post(f"/chats/{chat_id}/messages", json={"userMessage": ""}),
        user.http.post(f"/chats/{chat_id}/messages", json={"userMessage": "x" * 4001}),
        user.http.post(f"/chats/{chat_id}/messages", content=b"{not json",
                       headers={"content-type": "application/json"}),
        user.http.put(f"/chats/{chat_id}/messages/{message['messageId']}"),
        user.http.put(f"/chats/{chat_id}/messages/{message['messageId']}/candidates/{message['selectedCandidateId']}",
                      json={"message": ""}),
        user.http.post("/chat-characters/character-from-image", json={"imageUrl": "https://x/y.png"}),
    ]
    assert [answer.status_code for answer in refusals] == [400] * len(refusals)
    assert all(answer.headers["content-type"] == "application/problem+json" for answer in refusals)
    assert len(user.http.get("/chat-characters").json()) == 1 and len(user.http.get("/chat-personas").json()) == 1
    assert user.messages(chat_id) == [message]


def test_resetting_and_deleting_a_user_remove_its_chats() -> None:
    mock = InProcessMock()
    admin = mock.admin("aliveai")
    tenants = [mock.new_tenant("aliveai", 10) for _ in range(2)]
    for tenant in tenants:
        client = mock.client("aliveai", authorization=f"Key {tenant['credentials'][0]}")
        character_id = client.post("/chat-characters", json=CHARACTER).json()["chatCharacterId"]
        persona_id = client.post("/chat-personas", json=PERSONA).json()["id"]
        assert client.post("/chats", json={"chatCharacterId": character_id, "firstMessage": "Hi",
                                           "personaId": persona_id}).status_code == 200
    store = mock.engine.store

    def rows() -> int:
        return sum(len(store._all(f"SELECT 1 FROM {table}")) for table in store.CHAT_TABLES)

    assert rows() == 10
    assert admin.delete(f"/__genmock/tenants/{tenants[0]['id']}").status_code == 204
    assert rows() == 5
    assert admin.post("/__genmock/reset").status_code == 200
    assert rows() == 0
