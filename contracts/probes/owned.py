"""What the owner of the isolation probes made (each API's module in this package makes it): its things' ids,
how it reads them, what only its answers carry, and the requests that name one of its ids in a field."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Reference:
    """A request of the intruder's that names one of the owner's ids in a body field or query parameter."""

    operation: str  # "METHOD /template"
    field: str
    value: str  # the owner's id
    request: Callable[[str], dict[str, Any]]  # the keyword arguments of `ContractClient.send` for a value
    creates: bool = False  # accepting it makes something (2xx), or only the wallet stops it (402): a leak
    paid: bool = False  # a broken server could charge it: sent only by an intruder without credits


@dataclass
class Owned:
    ids: dict[str, str] = field(default_factory=dict)  # the owner's things by kind ("job", "chat-persona", ...)
    reads: list[str] = field(default_factory=list)  # paths the owner reads its things by
    marks: set[str] = field(default_factory=set)  # what only the owner's things carry (ids, a text of the run's)
    references: list[Reference] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the owner could not make


def kind_of(template: str, parameter: str) -> str:
    """The kind of thing a path parameter names: `chatId` a chat; a bare `id` what the segment before it lists
    (`/chat-personas/{id}`: a chat-persona)."""
    if parameter.endswith("Id") and len(parameter) > 2:
        return _plain(parameter[:-2])
    segment = template.partition("{" + parameter + "}")[0].rstrip("/").rpartition("/")[2]
    return _plain(segment[:-1] if segment.endswith("s") else segment)


def lookup(ids: dict[str, str], kind: str) -> str | None:
    """The owner's id of a kind: the same kind, else the one kind whose name ends with it (`persona`: a
    chat-persona)."""
    plain = {_plain(name): value for name, value in ids.items()}
    if not kind:
        return None
    if kind in plain:
        return plain[kind]
    ending = [value for name, value in plain.items() if name.endswith(kind)]
    return ending[0] if len(ending) == 1 else None


def _plain(name: str) -> str:
    return name.replace("-", "").replace("_", "").lower()
