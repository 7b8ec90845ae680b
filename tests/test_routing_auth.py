"""The router's credential rules, compiled from a spec: two schemes sharing `Authorization` (AliveAI's
`Bearer <JWT>` and `Key <api key>`), and an operation whose credentials are optional (`security: [{}, ...]`)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from mockserver.dialects.lovlychat.errors import LovlyChatErrors
from mockserver.engine.store import Store
from mockserver.routing import Call, SpecRouter, json_response
from mockserver.spec import compile_spec

KNOWN = {"eyJhbGciOiJIUzI1NiJ9.payload.sig": "jwt user", "0b6cf1e0-3c1b-4d0e-9f6a-2f1f3c5a7d11": "key user"}


@pytest.fixture(scope="module")
def client() -> TestClient:
    spec = compile_spec("aliveai.yaml")

    async def echo(call: Call) -> Any:
        return json_response(200, {"principal": call.principal})

    router = SpecRouter(spec, {operation.operation_id: echo for operation in spec.operations}, LovlyChatErrors(),
                        lambda secret, scheme: KNOWN.get(secret), context=None, store=Store())
    return TestClient(router, raise_server_exceptions=False)


@pytest.mark.parametrize(("authorization", "principal"), [
    ("Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "jwt user"),
    ("Key 0b6cf1e0-3c1b-4d0e-9f6a-2f1f3c5a7d11", "key user"),
])
def test_either_form_of_the_authorization_header_is_a_credential(client: TestClient, authorization: str,
                                                                 principal: str) -> None:
    response = client.get("/members/me", headers={"authorization": authorization})
    assert response.status_code == 200 and response.json()["principal"] == principal


@pytest.mark.parametrize("authorization", [None, "Bearer nope", "Key nope", "0b6cf1e0-3c1b-4d0e-9f6a-2f1f3c5a7d11",
                                           "Basic 0b6cf1e0-3c1b-4d0e-9f6a-2f1f3c5a7d11"])
def test_a_missing_or_unknown_credential_is_401(client: TestClient, authorization: str | None) -> None:
    headers = {"authorization": authorization} if authorization else {}
    assert client.get("/members/me", headers=headers).status_code == 401


def test_login_needs_no_credential_and_ignores_a_wrong_one(client: TestClient) -> None:
    body = {"email": "demo@example.com", "password": "demo-password"}
    assert client.post("/members/login", json=body).json() == {"principal": None}
    assert client.post("/members/login", json=body, headers={"authorization": "Key nope"}).status_code == 200
