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
    """The tenant a request's credentials named and what it did, in order: (kind, value) pairs."""

    __slots__ = ("tenant_id", "effects")

    def __init__(self) -> None:
        self.tenant_id: str | None = None
        self.effects: list[tuple[str, Any]] = []


_current: ContextVar[Collector | None] = ContextVar("genmock_effects", default=None)


def current() -> Collector | None:
    return _current.get()


def collect(collector: Collector) -> object:
    """Make `collector` receive this task's notes; returns the token `stop` takes."""
    return _current.set(collector)


def stop(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]


def note(kind: str, value: Any) -> None:
    collector = _current.get()
    if collector is not None:
        collector.effects.append((kind, value))


def discard() -> None:
    """The request's writes were rolled back: it did nothing."""
    collector = _current.get()
    if collector is not None:
        collector.effects.clear()
