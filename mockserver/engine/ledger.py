"""The wallet as an append-only ledger: top-ups, debits and refunds; the balance is derived from them.

Amounts are integers in thousandths of the wallet's unit (a LoveCoin, a credit, a dollar), so money never
suffers float rounding. Each entry records the balance after it, so the current balance is the last entry's.
"""

from __future__ import annotations

from dataclasses import dataclass

from mockserver.engine import effects
from mockserver.engine.clock import Clock
from mockserver.engine.lru import DEFAULT_CACHE_SIZE, LRU
from mockserver.engine.store import Store

UNIT = 1000


def to_amount(value: float) -> int:
    """A wallet value as the API shows it (e.g. 3.8) -> integer thousandths."""
    return round(value * UNIT)


def from_amount(amount: int) -> float:
    return amount / UNIT


class InsufficientFunds(Exception):
    def __init__(self, required: int, balance: int) -> None:
        super().__init__(f"balance {balance} does not cover {required}")
        self.required = required
        self.balance = balance


@dataclass(frozen=True)
class Entry:
    seq: int
    tenant_id: str
    kind: str  # "top-up" | "debit" | "refund"
    amount: int  # signed: debits are negative
    balance_after: int
    reference: str
    at: float


class Ledger:
    def __init__(self, store: Store, clock: Clock, cache_size: int = DEFAULT_CACHE_SIZE) -> None:
        self._store = store
        self._clock = clock
        # the last balance_after per tenant: only this class appends entries, so it is always current
        self._balances: LRU[str, int] = LRU(cache_size)
        store.on_forget(self._balances.clear)

    def balance(self, tenant_id: str) -> int:
        balance = self._balances.get(tenant_id)
        if balance is None:
            last = self._store.last_ledger_entry(tenant_id)
            balance = self._balances[tenant_id] = last["balance_after"] if last else 0
        return balance

    def top_up(self, tenant_id: str, amount: int, reference: str = "top-up") -> Entry:
        if amount <= 0:
            raise ValueError("a top-up must be positive")
        return self._append(tenant_id, "top-up", amount, reference)

    def debit(self, tenant_id: str, amount: int, reference: str) -> Entry:
        """Take `amount` or nothing: raises InsufficientFunds rather than going below zero."""
        if amount < 0:
            raise ValueError("a debit cannot be negative")
        with self._store.transaction():
            balance = self.balance(tenant_id)
            if amount > balance:
                raise InsufficientFunds(amount, balance)
            return self._append(tenant_id, "debit", -amount, reference, balance=balance)

    def refund(self, tenant_id: str, amount: int, reference: str, at: float | None = None) -> Entry:
        if amount < 0:
            raise ValueError("a refund cannot be negative")
        return self._append(tenant_id, "refund", amount, reference, at)

    def entries(self, tenant_id: str) -> list[Entry]:
        return [Entry(**row) for row in self._store.ledger_entries(tenant_id)]

    def _append(self, tenant_id: str, kind: str, amount: int, reference: str, at: float | None = None,
                balance: int | None = None) -> Entry:
        with self._store.transaction():
            balance_after = (self.balance(tenant_id) if balance is None else balance) + amount
            entry = {"tenant_id": tenant_id, "kind": kind, "amount": amount, "balance_after": balance_after,
                     "reference": reference, "at": self._clock.now() if at is None else at}
            seq = self._store.append_ledger_entry(entry)
            self._balances[tenant_id] = balance_after
        appended = Entry(seq=seq, **entry)
        effects.note("ledger", appended)
        return appended
