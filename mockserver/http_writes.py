"""One system call per answer: the writes a connection makes in one turn of the event loop leave together.

uvicorn writes a response's status line and headers, then its body, each with its own `transport.write`, and
each write is a `send()` system call: a third of the cost of a small answer on a virtual machine. Wrapped in
`CoalescingTransport`, the writes of one turn are joined and sent at the end of it (`call_soon`), so a head and
its body go out in one segment; nothing is sent later than the turn that wrote it, and a close sends what is
pending first.
"""

from __future__ import annotations

import asyncio
from typing import Any


class CoalescingTransport:
    """A transport whose `write`s are joined until the end of the event loop's turn; the rest is the wrapped
    transport's own."""

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data)

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    @property
    def wrapped(self) -> asyncio.Transport:
        return self._transport

    def flush(self) -> None:
        if not self._pending:
            return
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending = []
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._pending = []
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._pending))

    def __getattr__(self, name: str) -> Any:  # everything else: reading, flow control, extra info
        return getattr(self._transport, name)
