"""What the suite may still ask of its target: every request it sends is admitted by the run's `Guard` first.

The guard refuses what the user ruled out, before it is sent: a request that could create or charge under
`--read-only`, one whose price could take the run's spending past `--max-spend`, anything once the run's
`--deadline` has passed; and it paces requests to `--rate` per second, after a 429 waiting out its
`Retry-After` before that credential asks again. A refusal raises `Stop`, which ends the layer (or the property)
that asked: what it did not get to is reported as not verified, never as held.

Spending is counted from the prices of the paid requests the target accepted (`contracts.pricing`): a refusal
(4xx) costs nothing by contract, a request whose answer never came counts as paid.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from contracts.pricing import Pricing, Unpriced

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PRICE = "genmock.price"  # the request extension holding what it was counted at when admitted
MAX_RETRY_AFTER = 60.0  # seconds: a longer Retry-After is waited out only this long


class Stop(BaseException):  # noqa: N818 - not an error: the run goes no further down this path
    """The guard refused a request. A BaseException, so that no layer's `except Exception` (nor Hypothesis, which
    re-raises it at once) mistakes it for a broken contract.

    `gap` names the limit (contracts.report.UNVERIFIABLE: read_only, max_spend, deadline)."""

    def __init__(self, gap: str, reason: str) -> None:
        super().__init__(reason)
        self.gap = gap
        self.reason = reason


@dataclass
class Guard:
    read_only: bool = False
    max_spend: float | None = None
    rate: float | None = None  # requests per second
    deadline: float | None = None  # time.monotonic() after which nothing more is sent
    pricing: Pricing | None = None
    # writes that create and charge nothing, allowed under read_only (a login): (METHOD, path)
    allowed_writes: frozenset[tuple[str, str]] = frozenset()
    closing: bool = False  # the run's own clean-up (removing its tenants): no deadline stops it
    spent: float = 0.0  # the prices of the paid requests the target accepted (or left unanswered)
    sent: int = 0
    refused: dict[str, int] = field(default_factory=dict)  # per gap, the requests not sent
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _step_cap: float | None = None  # what the current step may take `spent` to (its share of --max-spend)
    _next_slot: float = 0.0
    _not_before: dict[str, float] = field(default_factory=dict)  # per credential, after a 429's Retry-After
    _lock: threading.Lock = field(default_factory=threading.Lock)  # the races send from several threads

    def admit(self, request: httpx.Request) -> None:
        """Let `request` go (after waiting for its turn), or raise Stop. Its price is held until `answered`."""
        if self.deadline is not None and not self.closing and self.clock() >= self.deadline:
            self._refuse("deadline", "the run's --deadline passed")
        method = request.method.upper()
        if self.read_only and method not in SAFE_METHODS and (method, request.url.path) not in self.allowed_writes:
            self._refuse("read_only", f"--read-only: {method} {request.url.path} was not sent")
        price = self._price(request)
        with self._lock:
            cap = self.max_spend if self._step_cap is None else self._step_cap
            if cap is not None and price and self.spent + price > cap + 1e-9:
                share = "" if cap == self.max_spend else f" (this part's share: up to {cap:g})"
                self._refuse("max_spend", f"--max-spend {self.max_spend:g}{share}: {method} {request.url.path} (up "
                                          f"to {price:g}) was not sent after {self.spent:g} spent")
            self.spent += price
            request.extensions[PRICE] = price  # what `answered` gives back if it is refused
            self.sent += 1
            wait = self._turn(_credential(request))
        if wait > 0:
            self.sleep(wait)

    def share(self, parts_left: int) -> None:
        """Let the next part of the run (a tour, a state machine, a property) spend an equal share of what
        --max-spend leaves, so that no part spends it all before the others start."""
        if self.max_spend is not None:
            self._step_cap = self.spent + (self.max_spend - self.spent) / max(parts_left, 1)

    def answered(self, request: httpx.Request, status: int, retry_after: str | None = None) -> None:
        """The target answered `request`: a refusal gives its price back; a 429's Retry-After is waited out by
        the next request with the same credential (under --rate)."""
        if status >= 400:
            with self._lock:
                self.spent -= request.extensions.get(PRICE, 0.0)
        if status == 429 and retry_after is not None and self.rate is not None:
            seconds = _seconds(retry_after)
            if seconds:
                with self._lock:
                    self._not_before[_credential(request)] = self.clock() + min(seconds, MAX_RETRY_AFTER)

    def event_hooks(self) -> dict[str, list[Callable[..., None]]]:
        """httpx's event hooks that put a client's every request through this guard."""
        return {"request": [self.admit], "response": [self._response]}

    def _response(self, response: httpx.Response) -> None:
        self.answered(response.request, response.status_code, response.headers.get("retry-after"))

    def _price(self, request: httpx.Request) -> float:
        if self.pricing is None:
            return 0.0
        try:
            return self.pricing.price(request)
        except Unpriced as unpriced:
            if self.max_spend is not None:
                self._refuse("max_spend", f"--max-spend: {unpriced}")
            return 0.0

    def _turn(self, credential: str) -> float:
        """Seconds to wait before sending (called under the lock): the rate's next slot, a 429's Retry-After."""
        now = self.clock()
        start = max(now, self._not_before.get(credential, 0.0))
        if self.rate:
            start = max(start, self._next_slot)
            self._next_slot = start + 1 / self.rate
        if self.deadline is not None and not self.closing and start >= self.deadline:
            self._refuse("deadline", "the run's --deadline passes before this request's turn")
        return start - now

    def _refuse(self, gap: str, reason: str) -> None:
        self.refused[gap] = self.refused.get(gap, 0) + 1
        raise Stop(gap, reason)


def _credential(request: httpx.Request) -> str:
    headers = request.headers
    return headers.get("authorization") or headers.get("x-api-key") or ""


def _seconds(retry_after: str) -> float | None:
    try:
        return max(0.0, float(retry_after))
    except ValueError:
        return None  # an HTTP date: rare from APIs; not waited out
