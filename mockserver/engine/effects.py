"""What one request did to state, for the request journal: the journal opens a collector around each request it
records, and the engine notes into it the ledger entries it appends and the jobs it accepts.

A context variable, so the engine needs no reference to the request: a request runs in its own task, and every
write it makes, in its handler or while its answer streams, happens in that task. A request that is rolled back
made no change, so its notes are discarded with it (`discard`).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any


class Collector:
    """The tenant a request's credentials named and what it did, in order: (kind, value) pairs.

    Nothing is set until there is something to say (the class holds the defaults): most requests change nothing,
    and a collector is made for every request the journal records.
    """

    tenant_id: str | None = None
    effects: list[tuple[str, Any]] | tuple[()] = ()


_current: ContextVar[Collector | None] = ContextVar("genmock_effects", default=None)

current = _current.get
collect = _current.set  # make a collector receive this task's notes; returns the token `stop` takes
stop = _current.reset


def note(kind: str, value: Any) -> None:
    collector = _current.get()
    if collector is not None:
        if collector.effects:
            collector.effects.append((kind, value))  # type: ignore[union-attr]
        else:
            collector.effects = [(kind, value)]


def discard() -> None:
    """The request's writes were rolled back: it did nothing."""
    collector = _current.get()
    if collector is not None:
        collector.effects = ()
