"""Serve one compiled spec: match the route, check credentials, parse and validate, call the handler.

Every refusal is rendered by the dialect's `ErrorFormat`, so each API answers in its own error shape.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from mockserver.spec import (
    BodyBranch,
    CompiledSpec,
    Operation,
    Parameter,
    SecurityScheme,
    Violation,
    group_name,
    path_pattern,
)

log = logging.getLogger("genmock")


class ErrorFormat(Protocol):
    """How one API words each refusal that happens before (or around) its handlers."""

    def no_route(self, request: Request) -> Response: ...
    def method_not_allowed(self, request: Request, allowed: list[str]) -> Response: ...
    def malformed_json(self, request: Request) -> Response: ...
    def unauthorized(self, request: Request) -> Response: ...
    def invalid(self, request: Request, violations: list[Violation]) -> Response: ...
    def internal(self, request: Request) -> Response: ...


@dataclass
class Call:
    """What a handler gets: the validated request, who made it, and the engine to act on."""

    request: Request
    operation: Operation
    principal: Any  # the tenant (API dialects) or the admin marker; None where no credentials are needed
    path: dict[str, Any]
    query: dict[str, Any]
    body: Any
    context: Any  # the dialect's per-app context (engine, settings)
    headers: dict[str, str] = field(default_factory=dict)

    @cached_property
    def base_url(self) -> str:
        """The origin the client called, e.g. http://127.0.0.1:8102 (asset URLs are built on it)."""
        return base_url(self.request.scope)


def base_url(scope: Scope) -> str:
    """Like Starlette's `request.base_url`, without building URL objects on the hot path."""
    host = next((value.decode("latin-1") for key, value in scope["headers"] if key == b"host"), None)
    if host is None:
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}"


Handler = Callable[[Call], Awaitable[Response]]
Authenticator = Callable[[str], Any]


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(payload, status_code=status, media_type="application/json", headers=headers)


@dataclass(frozen=True)
class _Route:
    pattern: re.Pattern[str] | None  # None: the path has no parameters and is matched exactly
    template: str
    operations: dict[str, tuple[Operation, Handler]]


class SpecRouter:
    """An ASGI app serving the operations of one spec with the given handlers."""

    def __init__(self, spec: CompiledSpec, handlers: dict[str, Handler], errors: ErrorFormat,
                 authenticate: Authenticator, context: Any) -> None:
        self.errors = errors
        self.authenticate = authenticate
        self.context = context
        self._exact: dict[str, _Route] = {}
        self._templated: list[_Route] = []
        for operation in spec.operations:
            handler = handlers.get(operation.operation_id)
            if handler is None:
                raise LookupError(f"no handler for operationId {operation.operation_id!r}")
            route = self._route_for(operation.path)
            route.operations[operation.method] = (operation, handler)

    def _route_for(self, template: str) -> _Route:
        if "{" not in template:
            return self._exact.setdefault(template, _Route(None, template, {}))
        for route in self._templated:
            if route.template == template:
                return route
        route = _Route(path_pattern(template), template, {})
        self._templated.append(route)
        return route

    def match(self, path: str) -> tuple[_Route, dict[str, str]] | None:
        route = self._exact.get(path)
        if route is not None:
            return route, {}
        for route in self._templated:
            found = route.pattern.match(path)  # type: ignore[union-attr]
            if found:
                return route, found.groupdict()
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = await self.dispatch(request)
        await response(scope, receive, send)

    async def dispatch(self, request: Request) -> Response:
        matched = self.match(request.scope["path"])
        if matched is None:
            return self.errors.no_route(request)
        route, raw_path = matched
        method = request.method
        entry = route.operations.get(method) or (route.operations.get("GET") if method == "HEAD" else None)
        if entry is None:
            return self.errors.method_not_allowed(request, sorted(route.operations))
        operation, handler = entry
        try:
            body = await _read_json(request)
        except ValueError:
            return self.errors.malformed_json(request)
        principal = None
        if operation.security:
            principal = self.authenticate(_credential(request, operation.security) or "")
            if principal is None:
                return self.errors.unauthorized(request)
        violations: list[Violation] = []
        path_values = _parameters(operation.parameters, "path", {
            parameter.name: raw_path.get(group_name(parameter.name)) for parameter in operation.parameters
        }, violations)
        query_values = _parameters(operation.parameters, "query", _query(request), violations) \
            if operation.has_query else {}
        header_values = _parameters(operation.parameters, "header", request.headers, violations)
        body = _validate_body(operation, body, violations)
        if violations:
            return self.errors.invalid(request, violations)
        call = Call(request, operation, principal, path_values, query_values, body, self.context, header_values)
        try:
            return await handler(call)
        except Exception:
            log.exception("handler %s failed", operation.operation_id)
            return self.errors.internal(request)


async def _read_json(request: Request) -> Any:
    """The parsed JSON body, or None when there is none. ValueError when it is not JSON."""
    raw = b""
    while True:
        message = await request.receive()
        raw += message.get("body", b"")
        if not message.get("more_body"):
            break
    request._body = raw  # what Starlette's request.body() returns from now on
    if not raw.strip():
        return None
    return json.loads(raw)


def _credential(request: Request, alternatives: tuple[tuple[SecurityScheme, ...], ...]) -> str | None:
    """The credential the request offers; None when it offers none, or different ones in different places."""
    offered = set()
    for requirement in alternatives:
        for scheme in requirement:
            if scheme.kind == "bearer":
                kind, _, token = request.headers.get("authorization", "").partition(" ")
                value = token.strip() if kind.lower() == "bearer" else None
            elif scheme.kind == "header":
                value = request.headers.get(scheme.key)
            elif scheme.kind == "query":
                value = request.query_params.get(scheme.key)
            else:
                value = request.cookies.get(scheme.key)
            if value:
                offered.add(value)
    return offered.pop() if len(offered) == 1 else None


def _query(request: Request) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        values.setdefault(key, []).append(value)
    return values


def _parameters(parameters: tuple[Parameter, ...], location: str, raw: Any,
                violations: list[Violation]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for parameter in parameters:
        if parameter.location != location:
            continue
        key = parameter.name.lower() if location == "header" else parameter.name
        value = raw.get(key)
        if value is None or value == []:
            if parameter.required:
                violations.append(Violation(location, parameter.name, "required",
                                            f"{parameter.name} is required", parameter.schema))
            elif "default" in parameter.schema:
                values[parameter.name] = parameter.schema["default"]
            continue
        typed = _coerce(value, parameter.schema)
        errors = list(parameter.validator.iter_errors(typed))
        if errors:
            violations.append(Violation(location, parameter.name, errors[0].kind.name,
                                        f"{parameter.name}: {errors[0].message}", parameter.schema))
        else:
            values[parameter.name] = typed
    return values


def _coerce(value: Any, schema: dict[str, Any]) -> Any:
    """A parameter's text as the type its schema declares; left as text where it does not parse."""
    kind = schema.get("type")
    if kind == "array":
        items = value if isinstance(value, list) else [value]
        items = [part for item in items for part in item.split(",")] if len(items) == 1 else items
        return [_coerce(item, schema.get("items", {})) for item in items]
    if isinstance(value, list):
        value = value[-1]
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        return value
    if kind == "boolean" and value in ("true", "false"):
        return value == "true"
    return value


def _validate_body(operation: Operation, body: Any, violations: list[Violation]) -> Any:
    if operation.body_validator is None:
        return body
    if body is None:
        if operation.body_required:
            violations.append(Violation("body", "", "required", "a JSON request body is required"))
        return body
    if operation.body_validator.is_valid(body):
        if not isinstance(body, dict):
            return body
        defaults = operation.body_defaults
        for branch in operation.body_branches:
            if branch.validator.is_valid(body):
                defaults = branch.defaults
        return {**defaults, **body}
    validator, schema = operation.body_validator, operation.body_schema
    if operation.body_branches:
        branch = _likely_branch(operation, body)
        validator, schema = branch.validator, {**branch.schema, "definitions": operation.body_schema["definitions"]}
    for error in validator.iter_errors(body):
        violations.extend(_violations(error, schema))
    if not violations:  # valid against each branch alone, yet not exactly one of them
        violations.append(Violation("body", "", "oneOf", "the body matches more than one request shape"))
    return body


def _likely_branch(operation: Operation, body: Any) -> BodyBranch:
    """For a `oneOf` body: the alternative the client most likely meant, to explain what is wrong."""
    if isinstance(body, dict):
        for branch in operation.body_branches:
            value = body.get(branch.discriminator[0]) if branch.discriminator else None
            if isinstance(value, str) and value in branch.discriminator[1]:  # type: ignore[index]
                return branch  # (a non-string discriminator, e.g. {}, is unhashable: no branch selects it)
        # else the one whose own required fields are most completely present (ties: the first listed)
        return max(operation.body_branches, key=lambda branch: _presence(branch, body))
    return operation.body_branches[0]


def _presence(branch: BodyBranch, body: dict[str, Any]) -> float:
    keys = branch.unique_required
    return len(keys & body.keys()) / len(keys) if keys else 0.0


def _violations(error: Any, schema: dict[str, Any]) -> list[Violation]:
    """A JSON Schema error as violations, each naming the field it is about (unknown fields one by one)."""
    path = [str(part) for part in error.instance_path]
    kind = error.kind
    if kind.name == "additionalProperties":
        return [Violation("body", ".".join([*path, str(name)]), kind.name, f"unknown field {name}")
                for name in getattr(kind, "unexpected", None) or [""]]
    message = error.message
    if kind.name == "required":
        path.append(str(kind.property))
    elif kind.name.startswith("oneOf"):
        where = ".".join(path) or "the body"
        message = _one_of_message(schema, error.schema_path) or f"{where} matches none of its shapes"
    return [Violation("body", ".".join(path), kind.name, message, {"value": getattr(kind, "value", None)})]


def _one_of_message(schema: dict[str, Any], schema_path: list[Any]) -> str | None:
    """"exactly one of a, b is required" where a `oneOf` only picks which field must be present."""
    node: Any = schema
    for part in schema_path:
        node = node[part] if isinstance(node, dict) else node[int(part)]
        if isinstance(node, dict) and "$ref" in node:
            node = schema["definitions"][node["$ref"].split("/")[-1]]
    alternatives = node if isinstance(node, list) else node.get("oneOf", []) if isinstance(node, dict) else []
    fields = [alt["required"][0] for alt in alternatives if isinstance(alt, dict) and list(alt) == ["required"]
              and len(alt["required"]) == 1]
    if fields and len(fields) == len(alternatives):
        return f"exactly one of {', '.join(fields)} is required"
    return None
