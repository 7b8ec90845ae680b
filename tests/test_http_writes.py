"""The coalescing transport: the writes of one turn of the event loop leave in one `write` of the socket's
transport, in order, never later than that turn; a close sends what is pending first."""

from __future__ import annotations

import asyncio

from mockserver.http_limits import protocol_for
from mockserver.http_writes import CoalescingTransport


class Recording:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = self.aborted = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_extra_info(self, name: str, default: object = None) -> object:
        return ("127.0.0.1", 8100) if name in ("sockname", "peername") else default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def test_a_head_and_its_body_leave_in_one_write_at_the_end_of_the_turn() -> None:
    async def scenario() -> tuple[list[bytes], list[bytes]]:
        recording = Recording()
        transport = CoalescingTransport(recording, asyncio.get_running_loop())  # type: ignore[arg-type]
        transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
        transport.write(b"")
        transport.write(b"{}")
        during = list(recording.writes)
        await asyncio.sleep(0)
        return during, recording.writes

    during, after = asyncio.run(scenario())
    assert during == [] and after == [b"HTTP/1.1 200 OK\r\n\r\n{}"]


def test_a_close_sends_what_is_pending_first_and_an_abort_drops_it() -> None:
    async def scenario() -> tuple[Recording, Recording]:
        loop = asyncio.get_running_loop()
        closed, aborted = Recording(), Recording()
        for recording, end in ((closed, "close"), (aborted, "abort")):
            transport = CoalescingTransport(recording, loop)  # type: ignore[arg-type]
            transport.write(b"last words")
            getattr(transport, end)()
        await asyncio.sleep(0)  # the flush already scheduled finds nothing left, or a closed transport
        return closed, aborted

    closed, aborted = asyncio.run(scenario())
    assert (closed.writes, closed.closed) == ([b"last words"], True)
    assert (aborted.writes, aborted.aborted) == ([], True)


def test_every_api_connection_writes_through_it() -> None:
    async def scenario() -> object:
        protocol_class = protocol_for(lambda status, message, path: None)  # type: ignore[arg-type,return-value]
        from uvicorn.config import Config
        from uvicorn.server import ServerState

        config = Config(app=lambda scope, receive, send: None)
        config.load()
        protocol = protocol_class(config=config, server_state=ServerState(), app_state={})
        protocol.connection_made(Recording())  # type: ignore[arg-type]
        return protocol.transport

    assert isinstance(asyncio.run(scenario()), CoalescingTransport)
