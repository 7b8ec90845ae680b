"""LucyDream's errors: the plugin's `{error}` bodies, and WordPress's own around the route."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from mockserver.routing import json_response
from mockserver.spec import Violation


def error(status: int, message: str) -> Response:
    return json_response(status, {"error": message})


def wordpress_error(status: int, code: str, message: str) -> Response:
    return json_response(status, {"code": code, "message": message, "data": {"status": status}})


def describe(violation: Violation) -> str:
    """A violation in the plugin's words, e.g. "The trigger_name parameter must be either 'woman' or 'man'."."""
    name = violation.field or "body"
    if violation.keyword == "required":
        if not violation.field:
            return "Missing parameters: the body must be a JSON object."
        return f"The {name} parameter is required."
    if violation.keyword == "enum":
        if name == "trigger_name":  # the documented wording
            return "The trigger_name parameter must be either 'woman' or 'man'."
        allowed = ", ".join(f"'{value}'" for value in violation.schema.get("value") or [])
        return f"The {name} parameter must be one of {allowed}."
    if violation.keyword == "not" and not violation.field:
        return "Do not include a tune object when generating an image."
    if violation.keyword in ("minItems", "maxItems") and name == "tune.image_urls":
        return "The tune.image_urls parameter must contain exactly 5 image URLs."
    return f"The {name} parameter is invalid: {violation.message}."


class LucyDreamErrors:
    def no_route(self, request: Request) -> Response:
        return wordpress_error(404, "rest_no_route", "No route was found matching the URL and request method.")

    def method_not_allowed(self, request: Request, allowed: list[str]) -> Response:
        # WordPress answers a known route with an unregistered method exactly like an unknown route
        return self.no_route(request)

    def malformed_json(self, request: Request) -> Response:
        return wordpress_error(400, "rest_invalid_json", "Invalid JSON body passed.")

    def unauthorized(self, request: Request) -> Response:
        return error(403, "Invalid API key")

    def invalid(self, request: Request, violations: list[Violation]) -> Response:
        return error(400, describe(violations[0]))

    def limit_exceeded(self, request: Request, status: int, message: str) -> Response:
        return error(status, message[:1].upper() + message[1:] + ".")

    def internal(self, request: Request) -> Response:
        return error(500, "Failed to generate image")
