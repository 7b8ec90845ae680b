"""Concurrency properties of the stateful layer: requests sent at the same moment, judged together."""

from __future__ import annotations

import socket
import ssl
import time
from http.client import HTTPResponse
from typing import Any

import httpx

from contracts.client import Reply
from contracts.session import Session

HOLD_SECONDS = 0.05  # how long every request waits for its last byte: the server has read all the rest by then


def at_once(session: Session, requests: list[dict[str, Any]]) -> list[Reply]:
    """Send the requests (each the keyword arguments of `ContractClient.build`) so that they reach the server
    at the same moment: each on a connection of its own, all of each request but its last byte first, then the
    last bytes back to back (the server cannot act on a request before it is whole). The replies come in the
    same order, each validated strictly."""
    client = session.client
    built = [client.build(**request) for request in requests]
    for request in built:  # the guard admits each (or stops the race) before any is sent
        client.guard.admit(request)
    origin = httpx.URL(session.target.root)
    connections = [_connect(origin, session.target.timeout) for _ in built]
    try:
        payloads = [_raw(request) for request in built]
        for connection, payload in zip(connections, payloads, strict=True):
            connection.sendall(payload[:-1])
        time.sleep(HOLD_SECONDS)
        for connection, payload in zip(connections, payloads, strict=True):
            connection.sendall(payload[-1:])
        responses = [_response(connection, request) for connection, request in zip(connections, built, strict=True)]
    finally:
        for connection in connections:
            connection.close()
    for request, response in zip(built, responses, strict=True):
        client.guard.answered(request, response.status_code, response.headers.get("retry-after"))
    return [client.receive(request, response) for request, response in zip(built, responses, strict=True)]


def _connect(origin: httpx.URL, timeout: float) -> socket.socket:
    port = origin.port or (443 if origin.scheme == "https" else 80)
    connection = socket.create_connection((origin.host, port), timeout=timeout)
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if origin.scheme == "https":
        return ssl.create_default_context().wrap_socket(connection, server_hostname=origin.host)
    return connection


def _raw(request: httpx.Request) -> bytes:
    """The request as HTTP/1.1 bytes (without content coding, so that the answer needs no decoding)."""
    lines = [f"{request.method} {request.url.raw_path.decode('ascii')} HTTP/1.1"]
    lines += [f"{name}: {value}" for name, value in request.headers.items() if name.lower() != "accept-encoding"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + request.content


def _response(connection: socket.socket, request: httpx.Request) -> httpx.Response:
    answer = HTTPResponse(connection, method=request.method)
    answer.begin()
    return httpx.Response(answer.status, headers=answer.getheaders(), content=answer.read(), request=request)
