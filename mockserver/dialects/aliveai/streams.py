"""Chat answers that are sent over time, outside the request's transaction: the NDJSON stream of a reply, and
a chat image's answer held until its picture is made.

A `ReplyStream` sends `init` at once, then each token when the engine's clock makes it due (on a real clock it
sleeps until then; on a virtual clock it waits for the clock to be moved), one chunk per wake with every line
due by then, then exactly one terminal line: `complete`, or `error` when the reply was bound to fail (an armed
`chatError` fault: its reply is taken back first, committed before the line says so) or when its candidate was
deleted meanwhile. A reply bound to be cut (an armed `chatCut` fault) ends the connection mid-reply, without a
terminal line. What the reply leaves in the chat does not depend on the connection: it was stored whole at
acceptance, on the schedule this stream follows.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from mockserver.dialects.aliveai.held import HOLD_SECONDS
from mockserver.dialects.aliveai.lookups import API
from mockserver.engine import Engine
from mockserver.engine.chat import Schedule

NDJSON = "application/x-ndjson"
WAKE_MARGIN = 0.001  # seconds past a due time a real-clock wait ends (timers may fire a hair early)


class ConnectionCut(Exception):
    """Raised out of a response to make the server drop the connection (an armed fault)."""


class _QuietCut(logging.Filter):
    """uvicorn logs an exception that ends a response as an error; a cut on purpose is no error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ConnectionCut))


logging.getLogger("uvicorn.error").addFilter(_QuietCut())


async def until(engine: Engine, moment: float) -> None:
    """Wait until the clock reaches `moment`, or until state moves (the clock set, a job submitted): callers look
    again either way."""
    left = moment - engine.clock.now()
    if left > 0:
        await engine.events.wait(None if engine.clock.mode == "virtual" else left + WAKE_MARGIN)


def _lines(events: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
                    for event in events)


class ReplyStream(Response):
    def __init__(self, engine: Engine, init: dict[str, Any], pieces: list[str], schedule: Schedule, *,
                 fails_after: int | None = None, error: str = "", cut_after: int | None = None,
                 take_back: Callable[[], None] = lambda: None, stored: Callable[[], bool] = lambda: True) -> None:
        """`pieces`: the reply's tokens, due on `schedule`; `fails_after`: tokens sent before `error` (then
        `take_back` undoes the reply); `cut_after`: tokens sent before the connection is cut; `stored`: whether
        the reply's candidate still exists as the stream ends."""
        super().__init__(status_code=200, media_type=NDJSON, headers={"cache-control": "no-cache",
                                                                      "x-accel-buffering": "no"})
        self.raw_headers = [header for header in self.raw_headers if header[0] != b"content-length"]
        self.engine = engine
        self.init = init
        self.pieces = pieces
        self.schedule = schedule
        self.fails_after = fails_after
        self.error = error
        self.cut_after = cut_after
        self.take_back = take_back
        self.stored = stored

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        streaming = asyncio.create_task(self._stream(send))
        listening = asyncio.create_task(_disconnect(receive))
        try:
            await asyncio.wait({streaming, listening}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (streaming, listening):
                task.cancel()
            await asyncio.gather(streaming, listening, return_exceptions=True)
        if not streaming.cancelled() and streaming.exception() is not None:
            raise streaming.exception()  # type: ignore[misc]  # a cut (or a bug): the server drops the connection

    async def _stream(self, send: Send) -> None:
        await send(_body(_lines([self.init])))
        end = len(self.pieces) if self.fails_after is None else self.fails_after
        stop = end if self.cut_after is None else min(end, self.cut_after)
        sent = 0
        while sent < stop:
            due = self.schedule.due_by(self.engine.clock.now(), stop)
            if due > sent:
                await send(_body(_lines([{"type": "token", "delta": piece} for piece in self.pieces[sent:due]])))
                sent = due
            else:
                await until(self.engine, self.schedule.due(sent))
        if self.cut_after is not None:
            raise ConnectionCut
        await send(_body(_lines([await self._terminal()]), more=False))

    async def _terminal(self) -> dict[str, Any]:
        if self.fails_after is not None:
            failing_at = self.schedule.due(self.fails_after)
            while self.engine.clock.now() < failing_at:
                await until(self.engine, failing_at)
            with self.engine.store.transaction():
                self.take_back()
            await self.engine.store.durable()
            return {"type": "error", "message": self.error}
        if not self.stored():
            return {"type": "error", "message": "The message was deleted while its reply was generated"}
        return {"type": "complete", "message": "".join(self.pieces)}


class HeldImage(Response):
    """The answer of a chat image route, sent once its prompt is finished (HOLD_SECONDS at most, real time):
    `answer` builds it then, in its own transaction (it may settle what the prompt's end changed)."""

    def __init__(self, engine: Engine, tenant_id: str, prompt_id: str, answer: Callable[[], Response]) -> None:
        super().__init__(status_code=200, media_type="application/json")
        self.engine = engine
        self.tenant_id = tenant_id
        self.prompt_id = prompt_id
        self.answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        engine = self.engine
        deadline = time.monotonic() + HOLD_SECONDS
        while time.monotonic() < deadline:
            job = engine.jobs.get(API, self.tenant_id, self.prompt_id)
            if job is None or job.finished:
                break
            finish = engine.jobs.finish_estimate(API, self.prompt_id) if engine.clock.mode == "real" else None
            left = deadline - time.monotonic()
            await engine.events.wait(left if finish is None else min(left, finish - engine.clock.now() + WAKE_MARGIN))
        with engine.store.transaction():
            response = self.answer()
        await engine.store.durable()
        await response(scope, receive, send)


def _body(data: bytes, more: bool = True) -> Message:
    return {"type": "http.response.body", "body": data, "more_body": more}


async def _disconnect(receive: Receive) -> None:
    """Return once the client has gone (the request's body was read before the stream began)."""
    with contextlib.suppress(Exception):
        while (await receive())["type"] != "http.disconnect":
            pass
