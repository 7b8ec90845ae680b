"""Change notification: whoever follows state as it moves (a websocket, a held answer, a streamed reply) waits
here and is woken whenever state may have changed outside the clock's own steps: a job submitted or removed,
the clock set or advanced, state reset. (What the clock alone brings about, a follower computes from the clock.)

A wait is a bare future and a timer, not a task: hundreds of streams each waiting for their next token wake
this way many times a second.
"""

from __future__ import annotations

import asyncio


class Events:
    def __init__(self) -> None:
        self._waiters: set[asyncio.Future[None]] = set()
        self.version = 0  # counts notifications: a follower can tell whether anything happened since it looked

    def notify(self) -> None:
        self.version += 1
        waiters, self._waiters = self._waiters, set()
        for waiter in waiters:
            _wake(waiter)

    async def wait(self, timeout: float | None) -> None:
        """Until the next notification, or `timeout` seconds (None: no limit)."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.add(waiter)
        timer = None if timeout is None else loop.call_later(max(0.0, timeout), _wake, waiter)
        try:
            await waiter
        finally:
            self._waiters.discard(waiter)
            if timer is not None:
                timer.cancel()


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
