"""What a run sent its target and what the target answered, kept while a recording is on: `genmock check
--compare-with-mock` (contracts.differential) records two runs and compares them. With no recording on, noting
an exchange costs one look at a global.

The recording is a module global rather than a context variable: the concurrency properties send from threads
of their own, which would not see a context variable set by the run.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

SETUP = "setup"  # the layer of what a run sends before its first layer starts (e.g. a price list, a login)


@dataclass(frozen=True)
class Exchange:
    """One request and its answer."""

    layer: str
    operation: str  # "METHOD /path/{template}" of the spec (its own path if none)
    method: str
    path: str  # the URL's path
    query: str  # the URL's query string
    headers: dict[str, str]  # the request's, names lower-case
    body: bytes  # the request's
    status: int
    content_type: str
    answer: Any  # the response's body, parsed as JSON (None when it has none or it is not JSON)
    started: float = 0.0  # time.monotonic() as it was sent and answered (both 0: not timed)
    ended: float = 0.0
    together: bool = False  # sent at the same moment as others (a concurrency property's)

    @property
    def media_type(self) -> str:
        return self.content_type.split(";", 1)[0].strip().lower()


@dataclass
class Recording:
    """The exchanges of one run, in the order they were answered; `layer` is the layer that runs now."""

    layer: str = SETUP
    exchanges: list[Exchange] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, exchange: Exchange) -> None:
        with self._lock:
            self.exchanges.append(exchange)


_active: Recording | None = None


@contextmanager
def recording() -> Iterator[Recording]:
    """Record every exchange noted until the block ends (one recording at a time)."""
    global _active
    if _active is not None:
        raise RuntimeError("a recording is already on")
    _active = Recording()
    try:
        yield _active
    finally:
        _active = None


def note(request: httpx.Request, response: httpx.Response, operation: Callable[[httpx.Request], str]) -> None:
    """An exchange of the suite's own client, as it is received (`operation` names the spec's operation of a
    request)."""
    active = _active
    if active is None:
        return
    ended = time.monotonic()
    try:
        started = ended - response.elapsed.total_seconds()
    except RuntimeError:  # not sent by the client's own send: sent at once with others by a concurrency property
        started = ended = 0.0
    active.add(Exchange(active.layer, operation(request), request.method, request.url.path,
                        request.url.query.decode("ascii", "replace"),
                        {name.lower(): value for name, value in request.headers.items()}, request.content,
                        response.status_code, response.headers.get("content-type", ""), _parsed(response.content),
                        started, ended, together=not ended))


def note_scenario(recorder: Any) -> None:
    """The exchanges of one schemathesis scenario (its `ScenarioRecorder`), in the order they were recorded."""
    active = _active
    if active is None:
        return
    for case_id, interaction in recorder.interactions.items():
        response = interaction.response
        if response is None:  # a transport error: nothing answered
            continue
        request, case = interaction.request, recorder.cases.get(case_id)
        url = urlsplit(request.uri)
        operation = case.value.operation.label if case is not None else f"{request.method} {url.path}"
        content_type = next(iter(response.headers.get("content-type", [])), "")
        active.add(Exchange(active.layer, operation, request.method, url.path, url.query,
                            {name.lower(): values[0] if values else "" for name, values in request.headers.items()},
                            request.body or b"", response.status_code, content_type, _parsed(response.content)))


def _parsed(content: bytes) -> Any:
    try:
        return json.loads(content) if content else None
    except (ValueError, UnicodeDecodeError):
        return None
