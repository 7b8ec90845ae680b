"""Limits on the request head that a production front server sets, added to uvicorn's httptools protocol.

uvicorn bounds neither the size of a request line and its headers nor the time they take to arrive, so one
client could fill memory with a header that never ends or hold a connection open with a byte every few
seconds. Bodies are bounded by the router (per operation: `mockserver.routing.read_body`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024  # request line and headers together (nginx: 4 x 8 KiB buffers; Node.js: 16 KiB)
HEAD_TIMEOUT = 10.0  # seconds from the first byte of a request to the end of its headers

_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # between requests and while a request's head arrives
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
            if self._head_timer is None:
                self._head_timer = self.loop.call_later(HEAD_TIMEOUT, self._refuse, 408)
        super().data_received(data)
        # still in the head after feeding: every byte counted so far belongs to it
        if self._in_head and self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
            self._refuse(431)

    def on_headers_complete(self) -> None:
        self._end_of_head()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._head_bytes = True, 0

    def connection_lost(self, exc: Exception | None) -> None:
        self._end_of_head()
        super().connection_lost(exc)

    def _end_of_head(self) -> None:
        self._in_head = False
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _refuse(self, status: int) -> None:
        self._end_of_head()
        if self.transport.is_closing():
            return
        reason = _REASONS[status]
        self.transport.write(b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
                             b"connection: close\r\n\r\n%s" % (status, reason, len(reason), reason))
        self.transport.close()
