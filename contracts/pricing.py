"""What a request may cost the target's wallet: the operations that can charge (those whose spec declares a 402)
and their prices, from the admin API's config, the target's published price list, or prices the user states.

The key of a price is the one genmock's admin config uses (`GET /__genmock/config` `prices`): LovlyChat
`kind.variant`, AliveAI the route's `PromptType` (`x-aliveai-prompt`; `CHAT_IMAGE` for a chat picture), LucyDream
`generate` and `train`. A MEDIUM-length AliveAI video costs twice its route's price.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from contracts.paths import template_pattern

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
CHAT_IMAGE = "CHAT_IMAGE"


class Unpriced(Exception):
    """A request that can charge, at a price nobody stated."""


@dataclass(frozen=True)
class Chargeable:
    """An operation whose spec declares a 402: what decides its price."""

    method: str
    pattern: re.Pattern[str]
    label: str  # "METHOD /path/{template}"
    key: Callable[[Any], str]  # the price key of a request, from its parsed JSON body (None: no JSON body)
    factor: Callable[[Any], int] = lambda body: 1


@dataclass(frozen=True)
class Pricing:
    """The prices a run assumes (`table`, and where they come from) for the operations that can charge.

    A price key the table lacks: with `unlisted_free` it costs nothing (true of the server's own config, which
    lists everything it charges for); with `complete` (a table that prices every value the spec admits, e.g.
    LovlyChat's price list) the request is outside the spec, to be refused, and is priced at the most any
    request costs; else it is `Unpriced`."""

    chargeable: tuple[Chargeable, ...]
    table: dict[str, float]
    source: str
    unlisted_free: bool = False
    complete: bool = False

    def price(self, request: httpx.Request) -> float:
        """The most `request` may cost: 0 for one that cannot charge. Unpriced when it can, at no known price."""
        operation = self.operation(request)
        if operation is None:
            return 0.0
        body = _json(request)
        key = operation.key(body)
        if key not in self.table:
            if self.unlisted_free:
                return 0.0
            if self.complete and self.table:
                return max(self.table.values()) * operation.factor(body)
            raise Unpriced(f"{operation.label} ({key}) has no price: state it with --prices")
        return self.table[key] * operation.factor(body)

    def operation(self, request: httpx.Request) -> Chargeable | None:
        method, path = request.method.upper(), request.url.path
        return next((operation for operation in self.chargeable
                     if operation.method == method and operation.pattern.match(path)), None)


def paying(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(METHOD, path, operation) of each operation that can charge: those whose spec declares a 402."""
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method in METHODS and "402" in operation.get("responses", {}):
                yield method.upper(), path, operation


def chargeable(api: str, document: dict[str, Any]) -> tuple[Chargeable, ...]:
    """The operations of the spec that can charge, each with how its price key is found."""
    return tuple(Chargeable(method, template_pattern(path), f"{method} {path}", *_keys(api, path, operation))
                 for method, path, operation in paying(document))


def _keys(api: str, path: str, operation: dict[str, Any]) -> tuple[Callable[[Any], str], Callable[[Any], int]]:
    if api == "lovlychat":
        return (lambda body: f"{_field(body, 'kind')}.{_field(body, 'variant')}"), (lambda body: 1)
    if api == "lucydream":
        return (lambda body: "train" if isinstance(body, dict) and "tune" in body else "generate"), (lambda body: 1)
    prompt_type = operation.get("x-aliveai-prompt", {}).get("promptType")
    if prompt_type:
        return (lambda body: prompt_type), (lambda body: 2 if _field(body, "videoLength") == "MEDIUM" else 1)
    name = CHAT_IMAGE if path.startswith("/chats/") and "/images" in path else str(operation.get("operationId"))
    return (lambda body: name), (lambda body: 1)


def _field(body: Any, name: str) -> Any:
    return body.get(name) if isinstance(body, dict) else None


def _json(request: httpx.Request) -> Any:
    try:
        return json.loads(request.content) if request.content else None
    except (ValueError, UnicodeDecodeError):
        return None
