"""What every API's wire module shares: the client protocol, and waiting for work to finish (a virtual clock
advanced through the admin API, else real time)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from contracts.client import Reply
from contracts.session import Session

FAR_SECONDS = 86400.0  # an advance this long drains any plausible queue


class Sender(Protocol):
    def send(self, method: str, path: str, *, key: str | None, body: Any = ..., raw: bytes | None = None,
             validate: bool = True, headers: dict[str, str] | None = None, params: dict[str, Any] | None = None,
             files: dict[str, Any] | None = None) -> Reply: ...


def poll_until(client: Sender, waiter: Waiter, key: str, ids: list[str], path_of: Callable[[str], str],
               final: Callable[[Reply], bool]) -> tuple[dict[str, Reply], list[str]]:
    """Poll `GET path_of(id)` until each answer is `final` (or no longer a 200): the last answer of each, and the
    ids still not final when the waiter's time ran out."""
    last: dict[str, Reply] = {}

    def done(item: str) -> bool:
        last[item] = client.send("GET", path_of(item), key=key)
        return last[item].status != 200 or final(last[item])

    return last, waiter.wait(ids, done)


class Waiter:
    """Lets jobs' time pass: with an admin token the virtual clock is advanced (`far` seconds at a time: every
    queue drains); without one the suite sleeps between polls, up to --job-timeout in all."""

    def __init__(self, session: Session, far: float = FAR_SECONDS) -> None:
        self.admin = session.admin
        self.target = session.target
        self.far = far

    def wait(self, job_ids: list[str], done: Callable[[str], bool]) -> list[str]:
        """Poll (`done(job_id)`: whether that job needs no more polling) until every job is done; return the
        ones still not done when time ran out."""
        deadline = time.monotonic() + self.target.job_timeout
        remaining = [job_id for job_id in job_ids if not done(job_id)]
        advances = 0
        while remaining:
            if self.admin is not None:
                if advances == 2:  # twice the far advance: whatever is still unfinished never will be
                    break
                self.admin.set_clock(advance_seconds=self.far)
                advances += 1
            else:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                time.sleep(min(self.target.poll_interval, left))
            remaining = [job_id for job_id in remaining if not done(job_id)]
        return remaining

    def how_long(self) -> str:
        if self.admin is None:
            return f"{self.target.job_timeout:g} s"
        return "two days of virtual time" if self.far == FAR_SECONDS else f"{2 * self.far:g} s of virtual time"
