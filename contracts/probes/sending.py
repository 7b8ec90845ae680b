"""Sending a path exactly as written: HTTP clients (httpx, curl) resolve dot segments before they send, which would
turn a near miss back into the exact path."""

from __future__ import annotations

from typing import Any

from contracts.client import NO_BODY, Reply
from contracts.session import Session


def as_is(session: Session, method: str, path: str, *, key: str | None, body: Any = NO_BODY,
          params: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
          validate: bool = True) -> tuple[Reply, str]:
    """Send `path` byte for byte (httpx's `target` extension), through the run's guard; the reply (validated
    strictly with `validate`) and its curl line, which sends the path as is too."""
    client = session.client
    request = client.build(method, path, key=key, body=body, params=params, headers=headers)
    query = request.url.query
    request.extensions["target"] = path.encode() + (b"?" + query if query else b"")
    reply = client.receive(request, client.exchange(request), validate)
    sent = request.url.raw_path.partition(b"?")[0].decode()
    line = reply.curl
    if sent != path:  # the line shows the resolved path: show what was sent, and keep curl from resolving it
        head, _, tail = line.rpartition(sent)
        line = "curl --path-as-is" + (head + path + tail).removeprefix("curl")
    return reply, f"{line}   # -> {reply.status}"
