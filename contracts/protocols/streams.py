"""AliveAI's NDJSON chat replies (`sendChatMessage`, `regenerateChatMessage`), judged against any server (stateful
layer).

The run's user gets a character, a persona and a chat of its own; a message is sent and its reply regenerated,
each stream read line by line as it arrives (on a virtual clock the admin API moves it, else in real time). With
an admin token a user of the run's own has a reply sent and one regenerated fail by an armed `chatError` fault.
Checks, each a finding when broken:

- `stream_content_type`: a 200 stream is `application/x-ndjson`.
- `stream_lines`: every line is one complete JSON object ending in a newline; the connection ends cleanly.
- `stream_event_schema`: every event validates against `ChatStreamEvent` of the spec.
- `stream_init_first`: the first event is `init`, and no other one is; its `chatId` is the chat's.
- `stream_one_terminal`: exactly one terminal event (`complete` or `error`), the last one.
- `stream_text_adds_up`: the `token` deltas concatenate to `complete.message`.
- `stream_stored_candidate`: `GET /chats/{chatId}` shows the candidate `init` named, selected, with the streamed
  text (and the user message `init` named, with the text sent).
- `stream_error_consistent`: a stream failed by the fault ends with `error`, and the chat is as it was before
  the request (no half message, the replaced candidate selected again).

Time to first token and total time are reported (`stream lines`, and a note).
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import jsonschema

from contracts.client import Reply
from contracts.machines.common import LAYER
from contracts.report import Finding
from contracts.session import Session
from contracts.target import ADMIN_PREFIX

NDJSON = "application/x-ndjson"
SEND, REGENERATE = "POST /chats/{chatId}/messages", "POST /chats/{chatId}/messages/{messageId}/regenerate"
TERMINAL = ("complete", "error")
CHARACTER = {"name": "Contract", "bio": "A lighthouse keeper on a northern cliff who tells stories of ships.",
             "shortBio": "Lighthouse keeper", "firstMessage": "The lamp is lit. Sit down, traveller."}
PERSONA = {"name": "Visitor", "bio": "A walker on the coast path", "isDefault": True}
SAID = "Tell me about the last ship you saw."
STEP_SECONDS = 0.25  # how far the driver moves a virtual clock at a time
DRIVE_PAUSE = 0.01  # wall seconds between two moves


@dataclass
class Stream:
    """One streamed answer as it arrived."""

    operation: str
    status: int
    content_type: str = ""
    lines: list[bytes] = field(default_factory=list)
    events: list[Any] = field(default_factory=list)  # the parsed lines (None where a line is no JSON)
    rest: bytes = b""  # bytes after the last newline
    broken: str | None = None  # how the connection failed, if it did
    first_token: float | None = None  # seconds from the request to the first `token` line
    total: float = 0.0
    reply: Reply | None = None  # a non-200 answer (validated against the spec as usual)

    def kinds(self) -> list[Any]:
        return [event.get("type") if isinstance(event, dict) else None for event in self.events]

    def init(self) -> dict[str, Any]:
        first = self.events[0] if self.events else None
        return first if isinstance(first, dict) and first.get("type") == "init" else {}

    def terminal(self) -> dict[str, Any] | None:
        last = self.events[-1] if self.events else None
        return last if isinstance(last, dict) and last.get("type") in TERMINAL else None

    def text(self) -> str:
        return "".join(str(event.get("delta", "")) for event in self.events
                       if isinstance(event, dict) and event.get("type") == "token")


Problems = list[tuple[str, str]]  # (check, message)
# what `grammar` judges of a 200 stream (only its content type, when that is wrong)
GRAMMAR = ("stream_content_type", "stream_lines", "stream_event_schema", "stream_init_first", "stream_one_terminal",
           "stream_text_adds_up")


# -- reading a stream ------------------------------------------------------------------------------------------
def read(session: Session, operation: str, path: str, key: str, body: Any = None) -> Stream:
    """POST `path` and read its answer line by line as it arrives."""
    client = session.client
    request = client.build("POST", path, key=key, body={} if body is None else body)
    start = time.monotonic()
    response = client.open_stream(request)
    stream = Stream(operation, response.status_code, response.headers.get("content-type", ""))
    try:
        if response.status_code != 200:
            response.read()
            stream.reply = client.receive(request, response)
            return stream
        client.transcript.record(request, 200)
        try:
            for chunk in response.iter_raw():
                stream.rest += chunk
                while b"\n" in stream.rest:
                    line, _, stream.rest = stream.rest.partition(b"\n")
                    take_line(stream, line, time.monotonic() - start)
        except httpx.HTTPError as error:
            stream.broken = f"{type(error).__name__}: {error}"
    finally:
        response.close()
        stream.total = time.monotonic() - start
    return stream


def take_line(stream: Stream, line: bytes, elapsed: float) -> None:
    stream.lines.append(line)
    try:
        event = json.loads(line)
    except ValueError:
        event = None
    stream.events.append(event)
    if stream.first_token is None and isinstance(event, dict) and event.get("type") == "token":
        stream.first_token = elapsed


# -- the grammar -------------------------------------------------------------------------------------------
_VALIDATORS: dict[str, jsonschema.Draft4Validator] = {}


def event_validator(session: Session) -> jsonschema.Draft4Validator:
    """A validator of `ChatStreamEvent` of the target's spec (its schema keywords are JSON Schema draft 4's)."""
    spec = str(session.target.spec_path)
    if spec not in _VALIDATORS:
        _VALIDATORS[spec] = jsonschema.Draft4Validator({"$ref": "#/components/schemas/ChatStreamEvent",
                                                        "components": session.target.document()["components"]})
    return _VALIDATORS[spec]


def check_content_type(stream: Stream) -> Problems:
    media = stream.content_type.split(";")[0].strip().lower()
    return [] if media == NDJSON else [("stream_content_type", f"a 200 stream answered Content-Type "
                                                               f"{stream.content_type or '(none)'}, not {NDJSON}")]


def check_lines(stream: Stream) -> Problems:
    problems: Problems = []
    for number, (line, event) in enumerate(zip(stream.lines, stream.events, strict=True), 1):
        if not isinstance(event, dict):
            problems.append(("stream_lines", f"line {number} is not one JSON object: {short(line)}"))
    if stream.rest.strip():
        problems.append(("stream_lines", f"the stream ends in a line without a newline: {short(stream.rest)}"))
    if stream.broken:
        problems.append(("stream_lines", f"the connection failed mid-stream ({stream.broken})"))
    return problems[:3]


def check_schema(stream: Stream, validator: jsonschema.Draft4Validator) -> Problems:
    for number, event in enumerate(stream.events, 1):
        errors = [f"{'/'.join(map(str, error.absolute_path)) or '(event)'}: {error.message[:200]}"
                  for error in validator.iter_errors(event)] if isinstance(event, dict) else []
        if errors:
            return [("stream_event_schema", f"line {number} breaks ChatStreamEvent: {'; '.join(errors[:3])}\n"
                                            f"line: {short(stream.lines[number - 1])}")]
    return []


def check_init(stream: Stream, chat_id: str) -> Problems:
    kinds = stream.kinds()
    if not kinds or kinds[0] != "init" or kinds.count("init") != 1:
        return [("stream_init_first", f"the events were {_kinds(kinds)}: not one `init`, first")]
    if stream.init().get("chatId") != chat_id:
        return [("stream_init_first", f"`init` names chat {stream.init().get('chatId')!r}, not {chat_id!r}")]
    return []


def check_terminal(stream: Stream) -> Problems:
    kinds = stream.kinds()
    terminals = [index for index, kind in enumerate(kinds) if kind in TERMINAL]
    if len(terminals) != 1 or terminals[0] != len(kinds) - 1:
        return [("stream_one_terminal", f"{len(terminals)} terminal event(s) among {_kinds(kinds)}; "
                                        f"the last one {'terminal' if stream.terminal() else 'not terminal'}")]
    return []


def check_adds_up(stream: Stream) -> Problems:
    terminal = stream.terminal()
    if terminal is None or terminal.get("type") != "complete" or terminal.get("message") == stream.text():
        return []
    return [("stream_text_adds_up", f"the deltas make {short(stream.text())}\nbut `complete.message` is "
                                    f"{short(terminal.get('message'))}")]


def grammar(stream: Stream, chat_id: str, validator: jsonschema.Draft4Validator) -> Problems:
    """Everything one 200 stream must keep by itself."""
    if check_content_type(stream):
        return check_content_type(stream)
    return [*check_lines(stream), *check_schema(stream, validator), *check_init(stream, chat_id),
            *check_terminal(stream), *check_adds_up(stream)]


# -- the chat behind it ------------------------------------------------------------------------------------
def messages(session: Session, chat_id: str, key: str) -> list[dict[str, Any]] | None:
    reply = session.client.send("GET", f"/chats/{chat_id}", key=key)
    found = reply.field("messages") if reply.status == 200 else None
    return found if isinstance(found, list) else None


def candidate_text(listed: list[dict[str, Any]], message_id: Any, candidate_id: Any) -> str | None:
    """The text of the candidate, when it is its message's selected one (else None)."""
    message = next((message for message in listed if message.get("messageId") == message_id), None)
    if message is None or message.get("selectedCandidateId") != candidate_id:
        return None
    return next((candidate.get("message") for candidate in message.get("candidates", [])
                 if candidate.get("candidateId") == candidate_id), None)


def check_stored(stream: Stream, listed: list[dict[str, Any]] | None, said: str | None) -> Problems:
    init, terminal = stream.init(), stream.terminal()
    if terminal is None or terminal.get("type") != "complete" or not init:
        return []
    expected = [("reply", init.get("assistantMessageId"), init.get("assistantCandidateId"), terminal.get("message"))]
    if said is not None:
        expected.append(("user message", init.get("userMessageId"), init.get("userCandidateId"), said))
    problems: Problems = []
    for what, message_id, candidate_id, text in expected:
        stored = candidate_text(listed or [], message_id, candidate_id)
        if stored != text:
            shown = "it unselected or missing" if stored is None else short(stored)
            problems.append(("stream_stored_candidate", f"the {what} streamed as message {message_id} candidate "
                                                        f"{candidate_id}: {short(text)}\nGET /chats/{{chatId}} shows "
                                                        f"{shown}"))
    return problems


def snapshot(listed: list[dict[str, Any]] | None) -> Any:
    """What a failed reply must leave as it was: each message, its selection and its candidates' texts."""
    return [(message.get("messageId"), message.get("selectedCandidateId"),
             [(candidate.get("candidateId"), candidate.get("message")) for candidate in message.get("candidates", [])])
            for message in listed or []]


def check_failed(stream: Stream, before: Any, after: Any) -> Problems:
    terminal = stream.terminal()
    if terminal is None or terminal.get("type") != "error":
        return [("stream_error_consistent", f"a reply failed by an armed chatError fault ended with "
                                            f"{short(terminal) if terminal else 'no terminal event'}, not `error`")]
    if before != after:
        return [("stream_error_consistent", f"after an `error` stream the chat differs from before the request:\n"
                                            f"before: {short(before)}\nafter: {short(after)}")]
    return []


# -- the scenario ----------------------------------------------------------------------------------------------
def make_chat(session: Session, key: str) -> tuple[str, str, str] | None:
    """A character, a persona and a chat of the user of `key`: their ids (None if the server refused one)."""
    client = session.client
    character = client.send("POST", "/chat-characters", key=key, body=CHARACTER).field("chatCharacterId")
    persona = client.send("POST", "/chat-personas", key=key, body=PERSONA).field("id")
    if not character or not persona:
        return None
    chat = client.send("POST", "/chats", key=key, body={"chatCharacterId": character, "personaId": persona,
                                                          "firstMessage": CHARACTER["firstMessage"]})
    chat_id = chat.field("chatId")
    return (character, persona, chat_id) if chat_id else None


class Scenario:
    def __init__(self, session: Session, drive: Callable[[], Any]) -> None:
        self.session = session
        self.drive = drive  # a context manager that moves a virtual clock while a stream is read
        self.validator = event_validator(session)
        self.findings: list[tuple[str, str, str]] = []  # (check, operation, message)
        self.streams: list[Stream] = []

    def add(self, operation: str, problems: Problems) -> None:
        self.findings.extend((check, operation, message) for check, message in problems)

    def stream(self, key: str, chat_id: str, message_id: str | None = None) -> Stream | None:
        """Send a message (or regenerate `message_id`) and judge the stream's grammar; None if it was refused."""
        if message_id is None:
            path, operation, body = f"/chats/{chat_id}/messages", SEND, {"userMessage": SAID}
        else:
            path, operation, body = f"/chats/{chat_id}/messages/{message_id}/regenerate", REGENERATE, None
        with self.drive():
            stream = read(self.session, operation, path, key, body)
        if stream.status != 200:
            return None
        self.streams.append(stream)
        self.session.report.ran(LAYER, *GRAMMAR[:1 if check_content_type(stream) else None])
        self.add(operation, grammar(stream, chat_id, self.validator))
        return stream

    def reply_and_regenerate(self, key: str, chat_id: str) -> None:
        sent = self.stream(key, chat_id)
        if sent is None:
            return
        self.add(SEND, check_stored(sent, messages(self.session, chat_id, key), SAID))
        self.session.report.ran(LAYER, "stream_stored_candidate")
        message_id = sent.init().get("assistantMessageId")
        if not message_id:
            return
        again = self.stream(key, chat_id, message_id)
        if again is not None:
            self.add(REGENERATE, check_stored(again, messages(self.session, chat_id, key), None))

    def failing(self, key: str, tenant_id: str, chat_id: str) -> None:
        """A reply sent and one regenerated, each failed by an armed `chatError` fault."""
        admin = self.session.admin
        assert admin is not None
        sent = self.stream(key, chat_id)  # a good reply first, to regenerate
        message_id = sent.init().get("assistantMessageId") if sent else None
        for regenerate in (None, message_id):
            before = snapshot(messages(self.session, chat_id, key))
            admin.arm_fault("chatError", tenant_id)
            failed = self.stream(key, chat_id, regenerate)
            if failed is not None:
                self.session.report.ran(LAYER, "stream_error_consistent")
                self.add(failed.operation, check_failed(failed, before, snapshot(messages(self.session, chat_id,
                                                                                          key))))
            if message_id is None:
                return


def virtual_clock(session: Session) -> bool:
    """Whether the server's clock is virtual (known only with an admin token): replies then wait for it."""
    return session.admin is not None and session.admin.clock()["mode"] == "virtual"


@contextmanager
def clock_driver(session: Session) -> Iterator[Callable[[], Any]]:
    """A context manager factory that moves a virtual clock (admin token) while a stream is read; on a real
    clock, or without an admin token, one that does nothing."""
    admin_token = session.target.admin_token
    if not virtual_clock(session) or not admin_token:
        yield _idle
        return
    http = httpx.Client(base_url=session.target.root + ADMIN_PREFIX, timeout=session.target.timeout,
                        headers={"authorization": f"Bearer {admin_token}"})

    @contextmanager
    def driving() -> Iterator[None]:
        done = threading.Event()

        def move() -> None:
            while not done.is_set():
                http.post("/clock", json={"advanceSeconds": STEP_SECONDS})
                done.wait(DRIVE_PAUSE)

        mover = threading.Thread(target=move, daemon=True)
        mover.start()
        try:
            yield
        finally:
            done.set()
            mover.join()

    try:
        yield driving
    finally:
        http.close()


@contextmanager
def _idle() -> Iterator[None]:
    yield


def run(session: Session) -> None:
    """The NDJSON stream property module of AliveAI's stateful layer."""
    report, admin, key = session.report, session.admin, session.target.key or ""
    session.transcript.clear()
    with clock_driver(session) as drive:
        scenario = Scenario(session, drive)
        made = make_chat(session, key)
        if made is None:
            report.cannot_verify(LAYER, "chat_streams", "the server refused to make a character, persona or chat")
            return
        scenario.reply_and_regenerate(key, made[2])
        if admin is None:
            report.cannot_verify(LAYER, "stream_error_consistent", "no --admin-token to arm the chatError fault")
        else:
            tenant = admin.create_tenant("contract run, streams", 100)
            fault_key = str(tenant["credentials"][0])
            fault_chat = make_chat(session, fault_key)
            if fault_chat is not None:
                scenario.failing(fault_key, tenant["id"], fault_chat[2])
    timing(session, scenario.streams)
    reproduction = session.transcript.text()
    for check, operation, message in scenario.findings:
        report.add(Finding(LAYER, check, operation, message, reproduction))


def timing(session: Session, streams: list[Stream]) -> None:
    report = session.report
    report.count(LAYER, "streams", len(streams))
    report.count(LAYER, "stream lines", sum(len(stream.lines) for stream in streams))
    firsts = [stream.first_token for stream in streams if stream.first_token is not None]
    if firsts:
        clock = "virtual clock moved by the admin API" if virtual_clock(session) else "real time"
        report.note(LAYER, f"streams: {len(streams)} read; time to first token median "
                           f"{statistics.median(firsts) * 1000:.0f} ms, max {max(firsts) * 1000:.0f} ms; total "
                           f"median {statistics.median(stream.total for stream in streams) * 1000:.0f} ms ({clock})")


def _kinds(kinds: list[Any]) -> str:
    shown = kinds if len(kinds) <= 8 else [*kinds[:5], "…", *kinds[-2:]]
    return "[" + ", ".join(map(str, shown)) + "]"


def short(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 300 else text[:300] + "…"
