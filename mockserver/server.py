"""One ASGI app per API origin: the API's own routes at the root, asset downloads, and `/__genmock/` admin."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import re
from functools import cache

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from mockserver import admin
from mockserver.context import ApiContext
from mockserver.dialects import Dialect
from mockserver.engine import Engine
from mockserver.engine.assets import PNG, render, render_still
from mockserver.journal import DEFAULT_SIZE, RECORD, Journal, send_answer
from mockserver.routing import SpecRouter
from mockserver.spec import CompiledSpec, compile_spec

ADMIN_PREFIX = "/__genmock/"
_ASSET_FILE = re.compile(r"^(?P<id>[A-Za-z0-9_]+?)(?P<thumbnail>-thumbnail)?\.(?P<ext>png|mp4|jpeg|webp)$")


@cache
def compiled(name: str) -> CompiledSpec:
    return compile_spec(name)


_IMMUTABLE = {"cache-control": "public, max-age=31536000, immutable"}
_NO_REQUEST: Scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""}
LOCAL_ORIGINS = r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?"  # CORS default: web apps in development


class ApiApp:
    def __init__(self, dialect: Dialect, engine: Engine, admin_token: str, admin_from_anywhere: bool = False,
                 public_url: str | None = None, cors_origins: list[str] | None = None,
                 journal_size: int = DEFAULT_SIZE) -> None:
        spec = compiled(dialect.spec)
        self.journal = Journal(journal_size, *_credential_names(spec))
        self.context = ApiContext(engine, dialect, public_url, self.journal)
        self.dialect = dialect
        self.api = SpecRouter(spec, dialect.handlers, dialect.errors, self.context.authenticate, self.context,
                              engine.store)
        expected = admin_token.encode()
        self.admin = SpecRouter(compiled("admin.yaml"), admin.HANDLERS, admin.ProblemErrors(),
                                lambda token, _: admin.ADMIN if hmac.compare_digest(_utf8(token), expected) else None,
                                self.context, engine.store)
        self.admin_from_anywhere = admin_from_anywhere
        self.websocket = dialect.websocket(self.context) if dialect.websocket else None
        # browsers may call the API from the allowed origins: preflights answered, CORS headers on answers
        self._app = _Cors(self._route, allow_methods=["*"], allow_headers=["*"], expose_headers=["*"],
                          allow_origins=cors_origins or (), allow_origin_regex=None if cors_origins else LOCAL_ORIGINS,
                          max_age=600)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] == "websocket":
            app = self.websocket or _refuse_websocket
        elif scope["path"].startswith(ADMIN_PREFIX):
            await self._app(scope, receive, send)
            if scope["method"] not in ("GET", "HEAD"):  # who follows state (the dashboard) looks again
                self.context.engine.events.notify()
            return
        else:
            app = self._app
        if self.journal.enabled:
            await self.journal.record(scope, receive, send, app)
        else:
            await app(scope, receive, send)

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if path.startswith(ADMIN_PREFIX):
            if not self.admin_from_anywhere and not _is_loopback(scope):
                response = admin.problem(403, "Forbidden", "the admin API answers loopback clients only")
                await send_answer(response, scope, receive, send)
                return
            await self.admin(scope, receive, send)
        elif path.startswith(self.dialect.asset_path) and scope["method"] in ("GET", "HEAD"):
            response = await self.asset(Request(scope, receive), path[len(self.dialect.asset_path):])
            await send_answer(response, scope, receive, send)
        else:
            await self.api(scope, receive, send)

    def refusal(self, status: int, message: str, path: str) -> Response:
        """A refusal made before the request is complete (its head too large, too slow, or not HTTP), in the
        format of the API, or of the admin API if the path so far is under its prefix."""
        errors = self.admin.errors if path.startswith(ADMIN_PREFIX) else self.dialect.errors
        return errors.limit_exceeded(Request(_NO_REQUEST), status, message)

    async def asset(self, request: Request, name: str) -> Response:
        """An asset's bytes: uploaded ones as stored, others rendered (a video takes seconds: in a thread, so
        the other requests go on)."""
        found = _ASSET_FILE.match(name)
        asset = self.context.engine.assets.get(found["id"]) if found else None
        if asset is None and found and self.dialect.catalogue_media and found["ext"] == "png":
            still = self.dialect.catalogue_media(found["id"])  # a catalogue's picture: the same for everyone
            if still is not None:
                return Response(render_still(*still), media_type=PNG, headers=_IMMUTABLE)
        if asset is None or asset.api != self.dialect.name:
            return self.dialect.errors.no_route(request)
        uploaded = None if found["thumbnail"] else self.context.engine.assets.content(asset)  # type: ignore[index]
        content, media_type = (uploaded, asset.media_type) if uploaded is not None else \
            await asyncio.to_thread(render, asset, bool(found["thumbnail"]))  # type: ignore[index]
        if media_type.split("/")[1] != found["ext"]:  # type: ignore[index]
            return self.dialect.errors.no_route(request)
        return Response(content, media_type=media_type, headers=_IMMUTABLE)


class _Cors(CORSMiddleware):
    """Starlette's CORS, except that a request without an Origin (not a browser's cross-origin call) costs no
    CORS work, and a preflight it refuses is answered by the API itself (in its own error format, without CORS
    headers, so the browser refuses the call), not with a plain-text 400."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not any(name == b"origin" for name, _ in scope["headers"]):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            headers = Headers(scope=scope)
            if "access-control-request-method" in headers:
                response = self.preflight_response(request_headers=headers)
                if response.status_code == 200:
                    await send_answer(response, scope, receive, send)
                else:
                    await self.app(scope, receive, send)
                return
        record = scope.get(RECORD)
        await super().__call__(scope, receive, send if record is None else record.watch(send))


async def _refuse_websocket(scope: Scope, receive: Receive, send: Send) -> None:
    """An API without websockets refuses the upgrade."""
    await send({"type": "websocket.close", "code": 1008})


def _credential_names(spec: CompiledSpec) -> tuple[set[str], set[str]]:
    """The headers and query parameters in which the spec's operations take credentials (the journal masks
    them)."""
    headers: set[str] = set()
    query: set[str] = set()
    for operation in spec.operations:
        for requirement in operation.security:
            for scheme in requirement:
                if scheme.kind == "header":
                    headers.add(scheme.key)
                elif scheme.kind == "query":
                    query.add(scheme.key)
    return headers, query


def _utf8(text: str) -> bytes:
    """Any str as bytes (header values can hold any latin-1 character, query values any code point)."""
    return text.encode("utf-8", "surrogatepass")


def _is_loopback(scope: Scope) -> bool:
    client = scope.get("client")
    if not client:
        return True  # in-process transports (tests) have no peer address
    try:
        return ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return False


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
