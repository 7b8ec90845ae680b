"""Limits on the request head that a production front server sets, added to uvicorn's httptools protocol.

uvicorn bounds neither the size of a request line and its headers nor the time they take to arrive, so one
client could fill memory with a header that never ends or hold a connection open with a byte every few
seconds. Bodies are bounded by the router (per operation: `mockserver.routing.read_body`). Refusals made
here, before any route is known, are rendered by the API's error format (`protocol_for`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from starlette.responses import PlainTextResponse, Response
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mockserver.http_writes import CoalescingTransport

MAX_HEAD_BYTES = 64 * 1024  # request line and headers together (nginx: 4 x 8 KiB buffers; Node.js: 16 KiB)
HEAD_TIMEOUT = 10.0  # seconds from the first byte of a request to the end of its headers

Render = Callable[[int, str, str], Response]  # (status, message, path so far) -> the API's error answer


def _plain(status: int, message: str, path: str) -> Response:
    return PlainTextResponse(message, status_code=status)


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    render: Render = staticmethod(_plain)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # between requests and while a request's head arrives
        self._head_bytes = 0
        self._head_start = b""  # the first bytes of the head: the request line's path tells whose format
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]

    def handle_websocket_upgrade(self) -> None:
        # a websocket's frames go out as they are sent: one fan-out sends a frame on each of a thousand
        # connections in one turn, and each would otherwise wait for its own flush at the end of it
        if isinstance(self.transport, CoalescingTransport):
            self.transport.flush()
            self.transport = self.transport.wrapped
        super().handle_websocket_upgrade()

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            if len(self._head_start) < 256:
                self._head_start += data[:256]
            end = data.find(b"\r\n\r\n")
            self._head_bytes += len(data) if end < 0 else end + 4  # not the body that may follow in `data`
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse(431, f"the request line and headers exceed {MAX_HEAD_BYTES} bytes")
                return
            if self._head_timer is None:
                self._head_timer = self.loop.call_later(HEAD_TIMEOUT, self._refuse, 408,
                                                        f"the request headers did not arrive within {HEAD_TIMEOUT:g} s")
        super().data_received(data)

    def send_400_response(self, msg: str) -> None:  # uvicorn's answer to what does not parse as HTTP
        self._refuse(400, "the request is not valid HTTP/1.1")

    def on_headers_complete(self) -> None:
        self._end_of_head()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._head_bytes, self._head_start = True, 0, b""

    def connection_lost(self, exc: Exception | None) -> None:
        self._end_of_head()
        super().connection_lost(exc)

    def _end_of_head(self) -> None:
        self._in_head = False
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _refuse(self, status: int, message: str) -> None:
        self._end_of_head()
        if self.transport.is_closing():
            return
        target = self._head_start.split(b" ", 2)[1:2]
        response = self.render(status, message, target[0].decode("latin-1") if target else "/")
        head = [b"HTTP/1.1 %d %s\r\n" % (status, HTTPStatus(status).phrase.encode())]
        head += [name + b": " + value + b"\r\n" for name, value in response.raw_headers if name != b"connection"]
        self.transport.write(b"".join([*head, b"connection: close\r\n\r\n", response.body]))
        self.transport.close()


def protocol_for(render: Render) -> type[LimitedHttpToolsProtocol]:
    """The protocol class for one API origin: its refusals in that API's error format."""
    return type("LimitedHttpToolsProtocol", (LimitedHttpToolsProtocol,), {"render": staticmethod(render)})
