"""Real and virtual time. The engine reads time only from here, so tests can stop and advance it."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import lru_cache

VIRTUAL_EPOCH = datetime(2026, 1, 1, tzinfo=UTC).timestamp()


class Clock:
    """Wall-clock time until switched to virtual; virtual time moves only when advanced."""

    def __init__(self, mode: str = "real", start: float | None = None) -> None:
        self._virtual_now: float | None = None
        if mode == "virtual":
            self.use_virtual(VIRTUAL_EPOCH if start is None else start)  # a fixed epoch: reproducible runs

    @property
    def mode(self) -> str:
        return "real" if self._virtual_now is None else "virtual"

    def now(self) -> float:
        return time.time() if self._virtual_now is None else self._virtual_now

    def use_virtual(self, start: float | None = None) -> None:
        """Freeze time at `start` (default: where it is now, real or virtual)."""
        self._virtual_now = self.now() if start is None else start

    def use_real(self) -> None:
        self._virtual_now = None

    def advance(self, seconds: float) -> float:
        if self._virtual_now is None:
            raise ValueError("only a virtual clock can be advanced")
        if seconds < 0:
            raise ValueError("time does not go backwards")
        self._virtual_now += seconds
        return self._virtual_now


@lru_cache(maxsize=4096)  # the same moments are shown again and again (a job polled, a price list's date)
def iso(timestamp: float) -> str:
    """RFC 3339 in UTC with millisecond precision, e.g. 2026-01-01T00:00:00.000Z."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
