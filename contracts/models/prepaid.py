"""The reference prepaid wallet (LovlyChat, AliveAI): the balance equals the start, minus the listed price of
every accepted job, plus the cost of every job that failed (its refund; on AliveAI also of every prompt removed
from the queue). Nothing else moves it: a 402, a 400 or a 401 changes nothing. Each API names what goes wrong
in its own words (`Vocabulary`).

The model cannot always tell the balance to the coin: a job it has not seen finish may have failed, and been
refunded, meanwhile. So it gives bounds, `[low, low + pending refunds]`, exact once every job that may fail
has been seen final. The start may be unknown at first (a real server tells the balance only in its answers
to job requests); it is learnt from the first balance seen while no refund is pending.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Discrepancy:
    check: str  # balance_non_negative | charge_per_job | refund_on_failure | refund_once | payment_required | ...
    explanation: str


@dataclass(frozen=True)
class Vocabulary:
    """The check each kind of discrepancy is reported as, in the API's words."""

    item: str = "job"  # what is paid for
    charge: str = "charge_per_job"  # an accepted item was charged other than its price
    # what refunds an item (the word the machine records it by), and the check when that refund is missing
    refunds: tuple[tuple[str, str], ...] = (("failed", "refund_on_failure"),)
    refund_once: str = "refund_once"  # more came back than the refunds
    refused: str = "payment_required"  # a refused request (402) moved the balance
    other: str = "wallet_balance"

    def refund_check(self, why: str) -> str:
        return dict(self.refunds).get(why, self.other)


@dataclass
class PrepaidWallet:
    start: int | None = None
    charged: int = 0  # the listed prices of the accepted jobs
    refunded: int = 0  # the costs of the jobs seen failed
    # what moved it since the balance last matched exactly (a match within the bounds may hide a difference)
    since: list[tuple[str, int]] = field(default_factory=list)
    refused_prices: list[int] = field(default_factory=list)  # the prices of the jobs answered 402
    words: Vocabulary = field(default_factory=Vocabulary)

    def low(self) -> int | None:
        """The balance if no job failed unseen (None: the start is not known yet)."""
        return None if self.start is None else self.start - self.charged + self.refunded

    def affordable(self, price: int, pending: int) -> bool | None:
        """Whether the balance covers `price` (None: cannot tell, given `pending` possible refunds)."""
        low = self.low()
        if low is None:
            return None
        if low >= price:
            return True
        return False if low + pending < price else None

    def accepted(self, cost: int) -> None:
        self.charged += cost
        self.since.append(("accepted", cost))

    def failed(self, cost: int) -> None:
        self.refund("failed", cost)

    def refund(self, why: str, cost: int) -> None:
        """An item's cost came back, for `why` (one of the vocabulary's refunds, e.g. "failed", "removed")."""
        self.refunded += cost
        self.since.append((why, cost))

    def refused(self, what: str, price: int = 0) -> None:
        """A request that must not move the balance (402, 400, 401...) was answered; `price`: of a 402's job."""
        self.since.append((what, 0))
        if price:
            self.refused_prices.append(price)

    def observe(self, actual: float, pending: int) -> Discrepancy | None:
        """The server says the balance is `actual`, while jobs that may have failed unseen cost `pending`."""
        try:
            if actual < 0:
                return Discrepancy("balance_non_negative", f"the balance is {actual}")
            low = self.low()
            if low is None:
                if not pending:
                    self.start = actual + self.charged - self.refunded
                return None
            if low <= actual <= low + pending:
                return None
            return self._blame(low, pending, actual)
        finally:
            if not pending:
                self.since = []

    def _blame(self, low: int, pending: int, actual: float) -> Discrepancy:
        """Name the property the difference most likely breaks: an amount that matches what happened since the
        balance last matched exactly points at it; otherwise whatever happened since."""
        expected = f"{low}" if not pending else f"between {low} and {low + pending}"
        item, words = self.words.item, self.words
        story = (f"balance {actual}, expected {expected}: started at {self.start}, {self.charged} charged for "
                 f"accepted {item}s, {self.refunded} refunded; since the balance last matched: "
                 f"{', '.join(f'{what} ({cost})' if cost else what for what, cost in self.since) or 'nothing'}")
        refund_kinds = dict(words.refunds)
        accepted = [cost for what, cost in self.since if what == "accepted"]
        refunds = {why: [cost for what, cost in self.since if what == why] for why in refund_kinds}
        returned = [cost for costs in refunds.values() for cost in costs]
        refused = [what for what, cost in self.since if not cost]
        # unseen refunds (up to `pending`) may hide part of the difference: amounts explain it within that much
        if actual > low + pending:
            if returned:
                return Discrepancy(words.refund_once, f"more came back than the refunds; {story}")
            if _fewest(actual - low, self.refused_prices, pending, surplus=True) is not None:
                return Discrepancy(words.refused, f"the price of a {item} refused with 402 came back, as if the "
                                                  f"{item} had been queued and refunded; {story}")
            if pending:
                return Discrepancy(words.refund_once, f"more came back than the refunds; {story}")
            return Discrepancy(words.other, story)
        short = low - actual
        # the explanation that needs the fewest events; on a tie the latest kind (a 202's balance blames its job)
        by_charges = _fewest(short, accepted, pending)
        by_refunds = {why: count for why, costs in refunds.items()
                      if (count := _fewest(short, costs, pending)) is not None}
        why = min(by_refunds, key=lambda kind: (by_refunds[kind], kind != self.since[-1][0]), default=None)
        if by_charges is not None and (why is None or by_charges < by_refunds[why] or
                                       (by_charges == by_refunds[why] and self.since[-1][0] == "accepted")):
            return Discrepancy(words.charge, f"an accepted {item} was charged more than its price; {story}")
        if why is not None:
            return Discrepancy(words.refund_check(why), f"a {item} that was {why} was not refunded; {story}")
        if refused:
            return Discrepancy(words.refused, f"a refused request moved the balance; {story}")
        kinds = [why for why, costs in refunds.items() if costs]
        if accepted and not kinds:
            return Discrepancy(words.charge, story)
        if len(kinds) == 1 and not accepted:
            return Discrepancy(words.refund_check(kinds[0]), story)
        return Discrepancy(words.other, story)


def _fewest(amount: float, costs: list[int], slack: int, surplus: bool = False) -> int | None:
    """The fewest of `costs` that add up to `amount` once unseen refunds (up to `slack`) are counted: to a
    shortfall they may have shrunk (`amount` <= sum <= `amount` + slack), or with `surplus` to a surplus they may
    have grown (sum <= `amount` <= sum + slack). None when no choice of them does."""
    fewest: dict[int, int] = {0: 0}  # reachable sum -> fewest costs reaching it
    for cost in costs:
        for total, count in list(fewest.items()):
            if fewest.get(total + cost, count + 2) > count + 1:
                fewest[total + cost] = count + 1
    fits = [count for total, count in fewest.items() if count and
            (total <= amount <= total + slack if surplus else amount <= total <= amount + slack)]
    return min(fits, default=None)
