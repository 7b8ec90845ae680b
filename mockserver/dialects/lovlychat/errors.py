"""LovlyChat's errors: `{error: {code, message, details?}}`, and the documented 402 body."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mockserver.routing import json_response
from mockserver.spec import Violation

LIMIT_CODES = {408: "request_timeout", 413: "payload_too_large", 431: "headers_too_large"}


def error(status: int, code: str, message: str, details: list[dict[str, Any]] | None = None,
          headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return json_response(status, {"error": body}, headers)


def invalid_field(location: str, field: str, message: str) -> Response:
    return error(400, "invalid_request", message, [{"in": location, "field": field, "message": message}])


def not_found(message: str = "No such resource.") -> Response:
    return error(404, "not_found", message)


def payment_required(required: int, wallet: int) -> Response:
    return json_response(402, {"prepaidRequired": True, "required": required, "wallet": wallet})


class LovlyChatErrors:
    def no_route(self, request: Request) -> Response:
        return not_found(f"No route {request.url.path}.")

    def method_not_allowed(self, request: Request, allowed: list[str]) -> Response:
        return error(405, "method_not_allowed", f"{request.method} is not allowed on {request.url.path}.",
                     headers={"allow": ", ".join(allowed)})

    def malformed_json(self, request: Request) -> Response:
        return invalid_field("body", "", "The request body is not valid JSON.")

    def unauthorized(self, request: Request) -> Response:
        return error(401, "unauthorized", "Missing or invalid API key.",
                     headers={"www-authenticate": 'Bearer realm="lovlychat"'})

    def invalid(self, request: Request, violations: list[Violation]) -> Response:
        details = [{"in": v.location, "field": v.field, "message": v.message} for v in violations]
        return error(400, "invalid_request", details[0]["message"] if len(details) == 1 else
                     f"{len(details)} problems with the request.", details)

    def limit_exceeded(self, request: Request, status: int, message: str) -> Response:
        return error(status, LIMIT_CODES.get(status, "invalid_request"), message)

    def internal(self, request: Request) -> Response:
        return error(500, "internal_error", "Something went wrong on our side.")
