"""How the admin API refuses: RFC 7807 problem objects."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mockserver.routing import json_response
from mockserver.spec import Violation


def problem(status: int, title: str, detail: str, **extra: Any) -> Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    response = json_response(status, body)
    response.headers["content-type"] = "application/problem+json"
    return response


class ProblemErrors:
    def no_route(self, request: Request) -> Response:
        return problem(404, "Not Found", f"no admin operation at {request.url.path}")

    def method_not_allowed(self, request: Request, allowed: list[str]) -> Response:
        response = problem(405, "Method Not Allowed", f"{request.method} is not allowed here")
        response.headers["allow"] = ", ".join(allowed)
        return response

    def malformed_json(self, request: Request) -> Response:
        return problem(400, "Bad Request", "the body is not valid JSON")

    def unauthorized(self, request: Request) -> Response:
        return problem(401, "Unauthorized", "send the admin token that `genmock serve` printed as a Bearer token")

    def invalid(self, request: Request, violations: list[Violation]) -> Response:
        return problem(400, "Bad Request", "; ".join(f"{v.field or v.location}: {v.message}" for v in violations),
                       violations=[{"field": v.field, "in": v.location, "message": v.message} for v in violations])

    def limit_exceeded(self, request: Request, status: int, message: str) -> Response:
        return problem(status, HTTPStatus(status).phrase, message)

    def internal(self, request: Request) -> Response:
        return problem(500, "Internal Server Error", "the admin operation failed; see the server log")


def bad_field(field: str, message: str) -> Response:
    """A 400 naming one field of the body, shaped as the router's own validation problems."""
    return problem(400, "Bad Request", f"{field}: {message}",
                   violations=[{"field": field, "in": "body", "message": message}])
