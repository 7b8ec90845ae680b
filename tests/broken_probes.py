"""Deliberately broken mocks that only a near miss shows (LovlyChat `lc-...`, AliveAI `aa-...`, LucyDream `ld-...`):
each keeps the exact form of its contract (the other tenant's exact id is refused, a wrong key is refused) and
breaks an almost-equal one, which contracts/probes must catch.

Registered in tests/broken.py (`python -m tests.broken <variant> serve ...`). The helpers of tests/broken.py are
imported inside the functions (tests/broken.py imports this module).
"""

from __future__ import annotations

import dataclasses
import json
import posixpath
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mockserver.routing import Call

Handler = Callable[[Call], Awaitable[Response]]
LOOSE = "tests.loose"  # on a request's scope: its path was rewritten before routing


def _as(call: Call, api: str, tenant_id: str, **changes: Any) -> Call:
    """The call made by another tenant (and with other parts changed)."""
    tenant = call.context.engine.tenants.get(api, tenant_id)
    return dataclasses.replace(call, principal=tenant or call.principal, **changes)


def _route_loosely(api: str, rewrite: Callable[[str], str | None]) -> None:
    """`api`'s router serves a path `rewrite` changes (None: it does not) as the changed path, marking it LOOSE."""
    from mockserver.routing import SpecRouter

    original = SpecRouter.dispatch

    async def dispatch(self: SpecRouter, request: Request) -> Response:
        if self.context.dialect.name == api:
            rewritten = rewrite(request.scope["path"])
            if rewritten is not None:
                request.scope["path"] = rewritten
                request.scope[LOOSE] = True
        return await original(self, request)

    SpecRouter.dispatch = dispatch  # type: ignore[method-assign]


def _credential_also(found: Callable[[Request, Any], tuple[str, str] | None]) -> None:
    """The router also takes the credential `found` finds where the spec's schemes find none (or disagree)."""
    from mockserver import routing

    original = routing._credential

    def credential(request: Request, alternatives: Any) -> tuple[str | None, str | None]:
        secret, scheme = original(request, alternatives)
        return (secret, scheme) if secret is not None else found(request, alternatives) or (None, None)

    routing._credential = credential  # type: ignore[assignment]


def _schemes(alternatives: Any) -> set[str]:
    return {scheme.name for requirement in alternatives for scheme in requirement}


# --- LovlyChat ----------------------------------------------------------------------------------------------


def lc_job_case() -> None:
    """A job id in another letter case is looked up case-insensitively, in every wallet."""
    from tests.broken import _around

    async def get(call: Call, original: Handler) -> Response:
        response = await original(call)
        wanted = call.path["id"]
        if response.status_code != 404:
            return response
        engine = call.context.engine
        for tenant in engine.tenants.all("lovlychat"):
            for job in engine.jobs.of_tenant("lovlychat", tenant.id):
                if job.id != wanted and job.id.lower() == wanted.lower():
                    return await original(_as(call, "lovlychat", tenant.id, path={"id": job.id}))
        return response

    _around("lovlychat", "getGenerationJob", get)


def lc_gallery_foreign_cursor() -> None:
    """A gallery cursor is remembered with the wallet that was shown it, and serves that wallet's next page to
    whoever presents it."""
    from tests.broken import _around

    issued: dict[str, str] = {}

    async def gallery(call: Call, original: Handler) -> Response:
        cursor = call.query.get("cursor")
        if cursor in issued:
            call = _as(call, "lovlychat", issued[cursor])
        response = await original(call)
        if response.status_code == 200:
            following = json.loads(response.body).get("nextCursor")
            if following:
                issued[following] = call.principal.id
        return response

    _around("lovlychat", "listGallery", gallery)


def lc_key_in_query() -> None:
    """A key in the query parameter `api_key` is taken as if it came in a header."""
    _credential_also(lambda request, alternatives: (request.query_params["api_key"], "apiKeyHeader")
                     if "bearerKey" in _schemes(alternatives) and request.query_params.get("api_key") else None)


def lc_first_header_wins() -> None:
    """When the Bearer key and x-api-key disagree, the Bearer one wins (the spec refuses such a request)."""

    def bearer(request: Request, alternatives: Any) -> tuple[str, str] | None:
        kind, _, token = request.headers.get("authorization", "").partition(" ")
        wins = "bearerKey" in _schemes(alternatives) and kind.lower() == "bearer" and token.strip()
        return (token.strip(), "bearerKey") if wins else None

    _credential_also(bearer)


# --- AliveAI ------------------------------------------------------------------------------------------------


def aa_prompt_trailing_slash() -> None:
    """`GET /prompts/{promptId}/` (a trailing slash) is routed like the prompt's path, but answered without the
    owner check."""
    from tests.broken import _around

    _route_loosely("aliveai", lambda path: path.rstrip("/") if path.startswith("/prompts/") and path.endswith("/")
                   and path.count("/") == 3 else None)

    async def get(call: Call, original: Handler) -> Response:
        row = call.context.engine.store.get_job("aliveai", call.path["promptId"])
        if call.request.scope.get(LOOSE) and row is not None:
            call = _as(call, "aliveai", row["tenant_id"])
        return await original(call)

    _around("aliveai", "getPrompt", get)


def aa_character_dot_segment() -> None:
    """A character's path with dot segments (`/chat-characters/x/../{id}`) is resolved by the router, and the
    character answered without the owner check."""
    from tests.broken import _around

    def resolved(path: str) -> str | None:
        if "/./" not in path and "/../" not in path:
            return None
        normal = posixpath.normpath(path)
        return normal if normal.startswith("/chat-characters/") else None

    _route_loosely("aliveai", resolved)

    async def get(call: Call, original: Handler) -> Response:
        row = call.context.engine.store.get_chat_character(call.path["id"])
        if call.request.scope.get(LOOSE) and row is not None:
            call = _as(call, "aliveai", row["tenant_id"])
        return await original(call)

    _around("aliveai", "getChatCharacter", get)


def aa_owner_query() -> None:
    """`GET /chats/{chatId}?userId=...` acts as the user the query names (a support shortcut left in)."""
    from tests.broken import _around

    async def get(call: Call, original: Handler) -> Response:
        user = call.request.query_params.get("userId")
        row = call.context.engine.store.tenant_with_attribute("aliveai", "account.userId", user) if user else None
        return await original(_as(call, "aliveai", row["id"]) if row else call)

    _around("aliveai", "getChat", get)


def aa_jwt_unsigned() -> None:
    """An access token whose header says `alg: none` is taken without a signature."""
    from mockserver.dialects.aliveai import accounts

    original = accounts._verify

    def verify(engine: Any, token: str) -> dict[str, Any] | None:
        head, body, _ = token.split(".")
        try:
            header, claims = json.loads(accounts._unb64(head)), json.loads(accounts._unb64(body))
        except ValueError:
            return original(engine, token)
        if isinstance(header, dict) and header.get("alg") == "none" and isinstance(claims, dict):
            return claims
        return original(engine, token)

    accounts._verify = verify  # type: ignore[assignment]


# --- LucyDream ----------------------------------------------------------------------------------------------


def ld_key_prefix() -> None:
    """A key is recognised by its first 16 characters: any key sharing them with a valid one is let in."""
    from mockserver.dialects.lucydream import DIALECT

    def authenticate(engine: Any, secret: str, scheme: str | None = None) -> Any:
        tenant = engine.tenants.authenticate("lucydream", secret)
        if tenant is not None or len(secret) < 16:
            return tenant
        return next((each for each in engine.tenants.all("lucydream")
                     if any(key[:16] == secret[:16] for key in engine.tenants.credentials(each))), None)

    object.__setattr__(DIALECT, "authenticate", authenticate)  # the dialect is a frozen dataclass


def ld_bearer_header() -> None:
    """The key is also taken as `Authorization: Bearer <key>`, a header the spec does not declare for it."""

    def bearer(request: Request, alternatives: Any) -> tuple[str, str] | None:
        kind, _, token = request.headers.get("authorization", "").partition(" ")
        return (token.strip(), "apiKey") if "apiKey" in _schemes(alternatives) and kind.lower() == "bearer" \
            and token.strip() else None

    _credential_also(bearer)


def ld_model_leading_zero() -> None:
    """A `tune_id` with leading zeros is read as a number and looked up in every account."""
    from tests.broken import _around

    async def generate(call: Call, original: Handler) -> Response:
        tune_id = call.body.get("tune_id") if isinstance(call.body, dict) else None
        if isinstance(tune_id, str) and tune_id.startswith("0") and tune_id.isdigit():
            row = call.context.engine.store.get_job("lucydream", str(int(tune_id)))
            if row is not None:
                call = _as(call, "lucydream", row["tenant_id"], body={**call.body, "tune_id": str(int(tune_id))})
        return await original(call)

    _around("lucydream", "generate", generate)


def aa_route_unguarded() -> None:
    """One route, far down the spec (GET /chats), forgets its credential check: a request without any is served
    as the demo user."""
    from mockserver.dialects.aliveai import DIALECT

    demo = DIALECT.demo.credentials[0]
    _credential_also(lambda request, alternatives: (demo, "ApiKeyScheme") if request.url.path == "/chats"
                     and request.method == "GET" else None)


VARIANTS: dict[str, Callable[[], None]] = {
    "lc-job-case": lc_job_case,
    "lc-gallery-foreign-cursor": lc_gallery_foreign_cursor,
    "lc-key-in-query": lc_key_in_query,
    "lc-first-header-wins": lc_first_header_wins,
    "aa-prompt-trailing-slash": aa_prompt_trailing_slash,
    "aa-character-dot-segment": aa_character_dot_segment,
    "aa-owner-query": aa_owner_query,
    "aa-jwt-unsigned": aa_jwt_unsigned,
    "aa-route-unguarded": aa_route_unguarded,
    "ld-key-prefix": ld_key_prefix,
    "ld-bearer-header": ld_bearer_header,
    "ld-model-leading-zero": ld_model_leading_zero,
}
