"""What a run created on the target with the keys it was given, deleted at its end where the API allows.

With an admin token the run's tenants are removed with all they own (`contracts.session.remove_tenants`);
without one the run used someone's wallet, and leaves behind only what the API offers no way to delete. Which
answers create something deletable is read off the spec: a 2xx answer to a `POST` on a collection `C` (or under
it, as AliveAI's `/prompts/...` routes) carrying the id that a `DELETE C/{id}` of the spec takes. The id is the
field named like the path parameter, else like the collection (`/chats` → `chatId`, `/chat-characters` →
`chatCharacterId`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

CREDENTIAL_HEADERS = ("authorization", "x-api-key")


@dataclass(frozen=True)
class Deletable:
    """What a `DELETE` of the spec removes, and how a creating answer names it."""

    collection: str  # e.g. "/prompts"
    delete: str  # e.g. "/prompts/{promptId}"
    fields: tuple[str, ...]  # the answer's field that holds the id, in order of preference

    def created(self, method: str, path: str, body: Any) -> str | None:
        """The id a 2xx answer to `method path` created, if it is one of these."""
        if method != "POST" or not (path == self.collection or path.startswith(self.collection + "/")):
            return None
        if not isinstance(body, dict):
            return None
        value = next((body[name] for name in self.fields if name in body), None)
        return value if isinstance(value, str) and value else None

    def path_of(self, identifier: str) -> str:
        return re.sub(r"\{[^/]+\}", identifier, self.delete)


def deletables(document: dict[str, Any]) -> tuple[Deletable, ...]:
    """Every `DELETE C/{id}` of the spec (one path parameter, at the end) and the fields that name its id."""
    found = []
    for path in document.get("paths", {}):
        matched = re.fullmatch(r"(/[^{}]+)/\{([^/{}]+)\}", path)
        if matched and "delete" in document["paths"][path]:
            collection, parameter = matched[1], matched[2]
            found.append(Deletable(collection, path, tuple(dict.fromkeys((parameter, _named_like(collection))))))
    # the longest collection first: /chats/{chatId}/messages/{messageId} before /chats/{chatId}
    return tuple(sorted(found, key=lambda deletable: -len(deletable.collection)))


def _named_like(collection: str) -> str:
    """The id field a collection's answers carry: /chat-characters → chatCharacterId, /prompts → promptId."""
    words = collection.rsplit("/", 1)[-1].split("-")
    words[-1] = words[-1].removesuffix("s")
    return words[0] + "".join(word.capitalize() for word in words[1:]) + "Id"


@dataclass
class Created:
    """What the run's requests created that the API lets it delete: (delete path, the creator's credentials)."""

    kinds: tuple[Deletable, ...]
    items: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, request: httpx.Request, template: str, status: int, body: Any) -> None:
        """Note what a request to `template` (its operation's path, as the spec writes it) created."""
        if not 200 <= status < 300 or "{" in template:
            return
        for kind in self.kinds:
            identifier = kind.created(request.method, template, body)
            if identifier is not None:
                credentials = {name: request.headers[name] for name in CREDENTIAL_HEADERS if name in request.headers}
                with self._lock:
                    self.items.append((kind.path_of(identifier), credentials))
                return

    def remove(self, delete: Callable[[str, dict[str, str]], int]) -> tuple[int, list[str]]:
        """Delete everything noted, newest first (a chat before its character) with `delete(path, credentials)`
        (its status); how many were deleted (or were gone already: 404), and what could not be, with its answer."""
        deleted, left = 0, []
        for path, credentials in reversed(self.items):
            try:
                status = delete(path, credentials)
            except httpx.HTTPError as error:
                left.append(f"DELETE {path}: {type(error).__name__}")
                continue
            if 200 <= status < 300 or status == 404:
                deleted += 1
            else:
                left.append(f"DELETE {path}: {status}")
        self.items.clear()
        return deleted, left
