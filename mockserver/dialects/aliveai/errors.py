"""AliveAI's errors: RFC 7807 problem objects (`application/problem+json`), `violations` on a 400."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mockserver.routing import json_response
from mockserver.spec import Violation

PROBLEM = "application/problem+json"


def problem(request: Request | None, status: int, detail: str | None = None, headers: dict[str, str] | None = None,
            **extra: Any) -> Response:
    """A problem body: title (the reason phrase), status, detail, and instance (the request path)."""
    body: dict[str, Any] = {"title": HTTPStatus(status).phrase, "status": status}
    if detail is not None:
        body["detail"] = detail
    if request is not None and request.scope.get("path"):
        body["instance"] = request.scope["path"]
    body.update(extra)
    response = json_response(status, body, headers)
    response.headers["content-type"] = PROBLEM
    return response


def not_found(request: Request, detail: str) -> Response:
    return problem(request, 404, detail)


def conflict(request: Request, detail: str) -> Response:
    return problem(request, 409, detail)


def bad_request(request: Request, field: str, message: str, location: str = "body") -> Response:
    """A 400 naming one field, as the validation layer names each one."""
    return problem(request, 400, violations=[{"field": field, "in": location, "message": message}])


def payment_required(request: Request, price: int, credits: int) -> Response:
    return problem(request, 402, f"Not enough credits: this request costs {price}, {credits} left")


def too_many_pending(request: Request, limit: int) -> Response:
    return problem(request, 429, f"Max pending creations reached ({limit})", headers={"retry-after": "5"})


def _violation(violation: Violation) -> dict[str, str]:
    return {"field": violation.field, "in": violation.location, "message": violation.message}


class AliveAIErrors:
    def no_route(self, request: Request) -> Response:
        return problem(request, 404, f"No resource at {request.url.path}")

    def method_not_allowed(self, request: Request, allowed: list[str]) -> Response:
        return problem(request, 405, f"Method {request.method} is not allowed on {request.url.path}",
                       headers={"allow": ", ".join(allowed)})

    def malformed_json(self, request: Request) -> Response:
        return problem(request, 400, "The request body is not valid JSON")

    def unauthorized(self, request: Request) -> Response:
        return problem(request, 401, "Missing or invalid credentials", headers={"www-authenticate": "Bearer"})

    def invalid(self, request: Request, violations: list[Violation]) -> Response:
        return problem(request, 400, violations=[_violation(violation) for violation in violations])

    def limit_exceeded(self, request: Request, status: int, message: str) -> Response:
        return problem(request, status, message[:1].upper() + message[1:])

    def internal(self, request: Request) -> Response:
        return problem(request, 500, "Internal error")
