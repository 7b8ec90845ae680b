"""Members: log in for an access token, read the current user; and the two example websocket frames."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from mockserver.dialects.aliveai import accounts
from mockserver.dialects.aliveai.errors import problem
from mockserver.engine.clock import iso
from mockserver.engine.ledger import UNIT
from mockserver.routing import Call, json_response
from mockserver.spec import load_document


async def login(call: Call) -> Response:
    token = accounts.log_in(call.context.engine, call.body["email"], call.body["password"])
    if token is None:
        return problem(call.request, 401, "Invalid email or password")
    return json_response(200, {"accessToken": token})


async def get_current_user(call: Call) -> Response:
    engine = call.context.engine
    tenant = call.principal
    login = accounts.account(tenant)
    keys = engine.tenants.credentials(tenant)
    engine.jobs.settle(accounts.API)  # refunds due by now are in the credits
    user = {"id": login["userId"], "credits": engine.ledger.balance(tenant.id) // UNIT, "email": login["email"],
            "emailConfirmed": True, "hasPurchase": True, "approved": True, "created": iso(tenant.created_at)}
    if keys:
        user["apiKey"] = keys[0]
    return json_response(200, user)


def _example(schema: str) -> dict[str, Any]:
    """The spec's example of a frame schema (one source for the docs and these two routes)."""
    return dict(load_document("aliveai.yaml")["components"]["schemas"][schema]["example"])


async def websocket_example_prompt_event(call: Call) -> Response:
    return json_response(200, {**_example("PromptProgressResponse"), "created": iso(call.context.engine.clock.now())})


async def websocket_example_user_event(call: Call) -> Response:
    return json_response(200, _example("UserEvents"))


HANDLERS = {
    "login": login,
    "getCurrentUser": get_current_user,
    "getWebsocketExamplePromptEvent": websocket_example_prompt_event,
    "getWebsocketExampleUserEvent": websocket_example_user_event,
}
