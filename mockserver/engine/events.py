"""Change notification: whoever follows state as it moves (a websocket, a held answer) waits here and is
woken whenever state may have changed outside the clock's own steps: a job submitted or removed, the clock
set or advanced, state reset. (What the clock alone brings about, a follower computes from the clock.)"""

from __future__ import annotations

import asyncio
import contextlib


class Events:
    def __init__(self) -> None:
        self._changed: asyncio.Event | None = None
        self.version = 0  # counts notifications: a follower can tell whether anything happened since it looked

    def notify(self) -> None:
        self.version += 1
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    async def wait(self, timeout: float | None) -> None:
        """Until the next notification, or `timeout` seconds (None: no limit)."""
        if self._changed is None:
            self._changed = asyncio.Event()
        changed = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), timeout)
