"""The request journal: the last requests made to one API origin, what each was answered, the tenant it came
from and what it did to state (`GET /__genmock/requests`, like WireMock's request journal).

Recording is kept cheap because it happens on every request: a record keeps what the server already made (the
scope, the headers, the body chunks) without copying it; masking, decoding and filtering happen only when
someone reads the journal.
"""

from __future__ import annotations

import asyncio
import base64
import fnmatch
import itertools
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockserver.engine import effects
from mockserver.engine.clock import iso

DEFAULT_SIZE = 1000  # requests kept per origin
BODY_LIMIT = 16 * 1024  # bytes of each request and answer body kept
MASK_KEEP = 4  # characters of a credential shown
# always credentials, whatever the API's security schemes say
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"})
CREDENTIAL_QUERY = frozenset({"token", "access_token", "api_key", "apikey", "key"})
_LISTENER_BACKLOG = 1000  # records a slow follower may fall behind before it misses some
RECORD = "genmock.record"  # the scope key under which a recorded request's Record is found


class Record(effects.Collector):
    """One request as it was received and answered; its tenant and effects filled in while it runs.

    Made for every request, so it sets only what each request has (the class holds the other fields' defaults),
    and keeps what the server already made (the headers, the body chunks, the answer's header list) without
    copying it. An HTTP answer is noted from the response object as it is sent (`answered`), not message by
    message.
    """

    finished_at: float | None = None
    body = response_body = b""  # the first BODY_LIMIT bytes of each
    body_size = response_size = 0
    status: int | None = None
    response_headers: list[tuple[bytes, bytes]] = []  # noqa: RUF012  (never changed: replaced by the answer's)
    close_code: int | None = None
    _send: Send
    _watched = False

    def __init__(self, number: int, scope: Scope, receive: Receive) -> None:
        self.id = number
        self.scope = scope
        self.received_at = time.time()
        self._receive = receive

    @property
    def websocket(self) -> bool:
        return self.scope["type"] == "websocket"

    @property
    def method(self) -> str:
        return self.scope.get("method", "GET")  # (a websocket's opening request is a GET)

    @property
    def path(self) -> str:
        return self.scope["path"]

    @property
    def complete(self) -> bool:
        return self.finished_at is not None

    def finish(self) -> None:
        """The exchange is over: let go of the connection."""
        self.finished_at = time.time()
        self._receive = self._send = None  # type: ignore[assignment]
        del self.scope[RECORD]  # (no cycle between the two: the record goes with its last reference)

    async def receive(self) -> Message:
        """The server's receive, keeping the body on the way (called only by those who read it: never for a GET)."""
        message = await self._receive()
        if message["type"] == "http.request":
            self.received((message.get("body", b""),))
        return message

    @property
    def unrecorded_receive(self) -> Receive:
        """The server's own receive, for a reader that notes what it read itself (`received`)."""
        return self._receive

    def received(self, chunks: Iterable[bytes]) -> None:
        """Note body chunks read from the request."""
        for chunk in chunks:
            if chunk:
                self.body = _kept(self.body, chunk)
                self.body_size += len(chunk)

    def answered(self, response: Response, send: Send) -> Send:
        """Note `response`, about to be sent with `send`; returns the send to send it with. The status and the
        header list are the response's own (headers added on the way, CORS's, land in that list); the body of a
        plain Response (which sends just its `body`) is kept as is, any other's as it is sent."""
        if self._watched:
            return send
        self.status = response.status_code
        self.response_headers = response.raw_headers
        if type(response).__call__ is not _PLAIN_SEND:
            self._send = send
            return self.send
        body = response.body
        self.response_body = body if len(body) <= BODY_LIMIT else body[:BODY_LIMIT]
        self.response_size = len(body)
        return send

    def watch(self, send: Send) -> Send:
        """Note the answer message by message as it reaches `send`, rather than from the response object: for
        answers that middleware changes on their way out (CORS adds headers on a copy of the list)."""
        self._send = send
        self._watched = True
        return self.send

    def send(self, message: Message) -> Awaitable[None]:
        """The server's send, noting what goes through (a streamed body, a watched answer, a websocket's fate) on
        the way: a plain function returning the server's awaitable, no coroutine of its own per message."""
        kind = message["type"]
        if kind == "http.response.body":
            chunk = message.get("body", b"")
            if chunk:
                self.response_body = _kept(self.response_body, chunk)
                self.response_size += len(chunk)
        elif kind == "http.response.start":
            self.status = message["status"]
            self.response_headers = message.get("headers", [])
        elif kind == "websocket.accept":
            self.status = 101
        elif kind == "websocket.close":
            self.close_code = message.get("code", 1000)
            if self.status is None:
                self.status = 403  # closed before it was accepted: uvicorn answers the upgrade 403
        return self._send(message)


_PLAIN_SEND = Response.__call__  # sends the status, the headers and `body`, nothing else


def send_answer(response: Response, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
    """Send `response`, the request's journal record (if it is recorded) noting it on the way: every answer of an
    API origin leaves through here. (A plain function returning the response's awaitable: no coroutine of its own
    on every request's path.)"""
    record: Record | None = scope.get(RECORD)
    if record is not None:
        send = record.answered(response, send)
    return response(scope, receive, send)


def _kept(kept: bytes, chunk: bytes) -> bytes:
    """What is kept of a body after `chunk`: its first BODY_LIMIT bytes (one chunk, most often: no copy)."""
    room = BODY_LIMIT - len(kept)
    if room <= 0:
        return kept
    if not kept and len(chunk) <= BODY_LIMIT:
        return chunk
    return kept + chunk[:room]


class Journal:
    """The last `size` requests of one origin (0: none recorded, at no cost)."""

    def __init__(self, size: int = DEFAULT_SIZE, credential_headers: Iterable[str] = (),
                 credential_query: Iterable[str] = ()) -> None:
        self.size = size
        self._records: deque[Record] = deque(maxlen=size or None)
        self._numbers = itertools.count(1)
        self._kept_from = 0  # the number of the last record cleared: those after it were kept or dropped
        self._masked_headers = CREDENTIAL_HEADERS | {name.lower() for name in credential_headers}
        self._masked_query = CREDENTIAL_QUERY | set(credential_query)
        self._listeners: set[asyncio.Queue[Record]] = set()

    @property
    def enabled(self) -> bool:
        return self.size > 0

    async def record(self, scope: Scope, receive: Receive, send: Send, app: ASGIApp) -> None:
        """Run `app` on the request, recording it: what was received, what was answered (noted by
        `send_answer`; a websocket's frames as they are sent), and what it did."""
        record = Record(next(self._numbers), scope, receive)
        self._records.append(record)
        scope[RECORD] = record
        if scope["type"] == "websocket":
            send = record.watch(send)
        token = effects.collect(record)
        try:
            await app(scope, record.receive, send)
        finally:
            effects.stop(token)
            record.finish()
            if self._listeners:
                self._publish(record)

    def _publish(self, record: Record) -> None:
        for queue in self._listeners:
            if queue.qsize() < _LISTENER_BACKLOG:
                queue.put_nowait(record)

    def follow(self) -> _Follower:
        """Each request once answered, as it happens (`async with journal.follow() as follow: await follow()`)."""
        return _Follower(self._listeners)

    @property
    def dropped(self) -> int:
        """Records forgotten to make room since the journal was last cleared."""
        records = self._records
        return records[-1].id - self._kept_from - len(records) if records else 0

    def clear(self) -> None:
        records = self._records
        if records:
            self._kept_from = records[-1].id
        records.clear()

    def records(self) -> Iterator[Record]:
        return iter(list(self._records))

    def matching(self, *, tenant_id: str | None = None, method: str | None = None, path: str | None = None,
                 status: str | None = None, since: float | None = None, after: int | None = None,
                 limit: int = DEFAULT_SIZE) -> list[Record]:
        """The records that pass every filter given, oldest first, the newest `limit` of them."""
        tests: list[Callable[[Record], bool]] = []
        if tenant_id is not None:
            tests.append(lambda record: record.tenant_id == tenant_id)
        if method is not None:
            tests.append(lambda record: record.method == method.upper())
        if path is not None:
            tests.append((lambda record: fnmatch.fnmatchcase(record.path, path)) if "*" in path else
                         (lambda record: record.path == path))
        if status is not None:
            tests.append(_status_test(status))
        if since is not None:
            tests.append(lambda record: record.received_at >= since)
        if after is not None:
            tests.append(lambda record: record.id > after)
        found = [record for record in self.records() if all(test(record) for test in tests)]
        return found[-limit:]

    def view(self, record: Record, bodies: bool = True) -> dict[str, Any]:
        """A record as the admin API shows it (`JournalEntry` in specs/admin.yaml), but for its effects."""
        finished = record.finished_at
        view: dict[str, Any] = {
            "id": record.id, "receivedAt": iso(record.received_at), "method": record.method, "path": record.path,
            "query": self._masked_query_text(record.scope.get("query_string", b"")),
            "headers": self._masked(record.scope["headers"]),
            "tenantId": record.tenant_id,
            "complete": finished is not None, "status": record.status,
            "durationMs": None if finished is None else round((finished - record.received_at) * 1000, 3),
        }
        if bodies:
            view.update(_body_view(record.body, record.body_size))
        if record.websocket:
            view["websocket"] = True
            view["closeCode"] = record.close_code
        if record.status is None or record.websocket:
            view["response"] = None
        else:
            response: dict[str, Any] = {"headers": self._masked(record.response_headers)}
            if bodies:
                response.update(_body_view(record.response_body, record.response_size))
            else:
                response.update(body=None, bodyTruncated=False)
            view["response"] = response
        if not bodies:
            view.update(body=None, bodyTruncated=False)
        return view

    def _masked(self, headers: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
        shown: dict[str, str] = {}
        for raw_name, raw_value in headers:
            name = raw_name.decode("latin-1").lower()
            value = raw_value.decode("latin-1")
            if name in self._masked_headers:
                value = mask(value)
            shown[name] = f"{shown[name]}, {value}" if name in shown else value
        return shown

    def _masked_query_text(self, query: bytes) -> str:
        text = query.decode("latin-1")
        if not text:
            return text
        parts = []
        for part in text.split("&"):
            name, equals, value = part.partition("=")
            parts.append(f"{name}={mask(value)}" if equals and name in self._masked_query else part)
        return "&".join(parts)


class _Follower:
    def __init__(self, listeners: set[asyncio.Queue[Record]]) -> None:
        self._listeners = listeners
        self.queue: asyncio.Queue[Record] = asyncio.Queue()

    async def __aenter__(self) -> asyncio.Queue[Record]:
        self._listeners.add(self.queue)
        return self.queue

    async def __aexit__(self, *exc: object) -> None:
        self._listeners.discard(self.queue)


def mask(value: str) -> str:
    """A credential cut to its first characters: enough to tell two apart, not to use one."""
    scheme, space, secret = value.partition(" ")
    if space and scheme.lower() in ("bearer", "basic", "key", "token"):
        return f"{scheme} {mask(secret)}"
    return value[:MASK_KEEP] + "…" if len(value) > MASK_KEEP else "…"


def _status_test(status: str) -> Callable[[Record], bool]:
    if status.endswith("xx"):
        first = int(status[0])
        return lambda record: record.status is not None and record.status // 100 == first
    code = int(status)
    return lambda record: record.status == code


def _body_view(raw: bytes, size: int) -> dict[str, Any]:
    view: dict[str, Any] = {"bodyTruncated": size > len(raw)}
    if not raw:
        view["body"] = None
        return view
    try:
        view["body"], view["bodyEncoding"] = raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as error:
        if view["bodyTruncated"] and error.start >= len(raw) - 3:  # the cap cut a character in two
            view["body"], view["bodyEncoding"] = raw[:error.start].decode("utf-8", "replace"), "utf-8"
        else:
            view["body"], view["bodyEncoding"] = base64.b64encode(raw).decode(), "base64"
    return view

