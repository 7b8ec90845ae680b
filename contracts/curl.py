"""Requests as curl lines (secrets replaced by shell variables), and the transcript a reproduction quotes."""

from __future__ import annotations

import shlex
from collections.abc import Mapping

import httpx

# headers worth repeating in a reproduction; the rest (user agent, accept, length) are the client's own
_SHOWN_HEADERS = ("content-type", "authorization")


def curl(request: httpx.Request, masks: Mapping[str, str], auth_header: str | None = None) -> str:
    """`request` as one curl command; every secret in `masks` is shown as its variable (e.g. "$KEY")."""
    parts = ["curl", "-sS", "-X", request.method]
    shown = (*_SHOWN_HEADERS, auth_header.lower()) if auth_header else _SHOWN_HEADERS
    for name, value in request.headers.items():
        if name.lower() in shown:
            parts += ["-H", _masked(f"{name}: {value}", masks)]
    if request.headers.get("content-type", "").startswith("multipart/"):
        parts += ["--data-binary", f"<{len(request.content)} bytes of a multipart form>"]  # a file: not text
    elif request.content:
        parts += ["--data-binary", _masked(request.content.decode("utf-8", "replace"), masks)]
    parts.append(str(request.url))
    return " ".join(_quote(part) for part in parts)


def _masked(text: str, masks: Mapping[str, str]) -> str:
    for secret, variable in sorted(masks.items(), key=lambda item: -len(item[0])):
        if secret:
            text = text.replace(secret, "\0" + variable + "\0")
    return text


def _quote(part: str) -> str:
    """Shell-quote, but leave the masked variables expandable: 'X-API-Key: '"$KEY"."""
    if "\0" not in part:
        return shlex.quote(part)
    pieces = part.split("\0")
    return "".join(shlex.quote(piece) if index % 2 == 0 else f'"{piece}"'
                   for index, piece in enumerate(pieces) if piece or index % 2)


class Transcript:
    """The requests sent since the last `clear()`, as curl lines: what a failing sequence replays."""

    def __init__(self, masks: Mapping[str, str], auth_header: str | None = None) -> None:
        self.masks = dict(masks)
        self.auth_header = auth_header
        self.lines: list[str] = []

    def record(self, request: httpx.Request, status: int | None) -> str:
        line = curl(request, self.masks, self.auth_header)
        self.lines.append(f"{line}   # -> {status if status is not None else 'no response'}")
        return line

    def clear(self) -> None:
        self.lines.clear()

    def text(self) -> str:
        return "\n".join(self.lines)
