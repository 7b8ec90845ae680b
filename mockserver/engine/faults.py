"""Faults armed through the admin API, consumed where they fire (e.g. "the next generation fails")."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mockserver.engine.store import Store


@dataclass(frozen=True)
class Fault:
    seq: int
    api: str
    operation: str
    tenant_id: str | None  # None: fires for any tenant
    remaining: int
    message: str | None


class Faults:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._none_armed: set[str] = set()  # APIs known to have no armed fault
        store.on_forget(self._none_armed.clear)

    def arm(self, api: str, operation: str, count: int = 1, tenant_id: str | None = None,
            message: str | None = None) -> Fault:
        if count < 1:
            raise ValueError("a fault fires at least once")
        fault = {"api": api, "operation": operation, "tenant_id": tenant_id, "remaining": count,
                 "message": message}
        self._none_armed.discard(api)
        return Fault(seq=self._store.insert_fault(fault), **fault)

    def take(self, api: str, operation: str, tenant_id: str,
             where: Callable[[Fault], bool] | None = None) -> Fault | None:
        """Consume and return the oldest fault armed for this operation and tenant (and, given `where`, that
        passes it), if any."""
        if api in self._none_armed:
            return None
        armed = self._store.faults(api)
        if not armed:
            self._none_armed.add(api)
        for row in armed:
            if row["operation"] == operation and row["tenant_id"] in (None, tenant_id):
                fault = Fault(**row)
                if where is None or where(fault):
                    self._store.spend_fault(row["seq"])
                    return fault
        return None

    def armed(self, api: str) -> list[Fault]:
        return [Fault(**row) for row in self._store.faults(api)]

    def clear(self, api: str) -> None:
        self._store.clear_faults(api)
        self._none_armed.add(api)
