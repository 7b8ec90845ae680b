"""The reference wallet: the balance equals the start minus the price of each successful generation.

Nothing else moves it: a rejected request (bad input, bad key, unknown model, model not ready, 402) or a
failed one (500) costs nothing, and neither does creating a model. The balance may be unknown at first (a
real server tells it only in a successful generation's answer) and so may the price (learnt from two
observations); checks start as soon as both are known.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

TOLERANCE = Decimal("0.000001")  # servers report money as JSON numbers; this absorbs float noise only


def money(value: float | int | str | Decimal) -> Decimal:
    """A JSON number as exact decimal money (0.1 stays 0.1)."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


@dataclass(frozen=True)
class Discrepancy:
    check: str  # "charge_per_generation" | "failure_is_free" | "creation_is_free" | "wallet_balance" | ...
    expected: Decimal | None
    actual: Decimal
    explanation: str


@dataclass
class Wallet:
    anchor: Decimal | None = None  # the balance when last known
    price: Decimal | None = None  # of one generation
    generations: int = 0  # successful generations since the anchor
    free: list[str] = field(default_factory=list)  # what else was asked since the anchor ("rejected 404", ...)

    def expected(self) -> Decimal | None:
        """What the balance must be now, if it can be told."""
        if self.anchor is None or (self.generations and self.price is None):
            return None
        return self.anchor - (self.price or 0) * self.generations

    def affordable(self) -> bool | None:
        """Whether the balance covers one more generation (None: cannot tell yet)."""
        balance = self.expected()
        if balance is None or self.price is None:
            return None
        return balance >= self.price

    def generated(self) -> None:
        self.generations += 1

    def free_request(self, what: str) -> None:
        self.free.append(what)

    def observe(self, actual: Decimal) -> Discrepancy | None:
        """The server says the balance is `actual` now: compare, learn what can be learnt, re-anchor."""
        try:
            if actual < 0:
                return Discrepancy("balance_non_negative", self.expected(), actual, "the balance went below zero")
            if self.anchor is not None and self.price is None and self.generations:
                learnt = (self.anchor - actual) / self.generations
                if learnt < 0:
                    return Discrepancy("charge_per_generation", self.anchor, actual,
                                       f"the balance rose from {self.anchor} over {self.generations} generation(s)")
                self.price = learnt
                return None
            expected = self.expected()
            if expected is None or abs(expected - actual) <= TOLERANCE:
                return None
            return Discrepancy(self._blame(), expected, actual, self._story(expected, actual))
        finally:
            self.anchor, self.generations, self.free = actual, 0, []

    def _blame(self) -> str:
        if not self.generations:
            rejected = [what for what in self.free if not what.startswith("create")]
            return "failure_is_free" if rejected else "creation_is_free"
        return "wallet_balance" if self.free else "charge_per_generation"

    def _story(self, expected: Decimal, actual: Decimal) -> str:
        since = [f"{self.generations} successful generation(s) at {self.price} each"] if self.generations else []
        since += self.free
        story = (f"balance {actual}, expected {expected}: {self.anchor} before "
                 f"{'; '.join(since) or 'nothing'}; difference {actual - expected:+}")
        if self.generations and self.free:
            story += " (either a generation was mischarged or a refused request was charged)"
        return story
