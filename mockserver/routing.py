"""Serve one compiled spec: match the route, check credentials, read the body within limits, parse and
validate it, call the handler in one transaction, and answer once that transaction is committed.

Every refusal is rendered by the dialect's `ErrorFormat`, so each API answers in its own error shape.
Handlers must not await inside their transaction (the request's): one that has to wait (for a job, a stream)
returns a response that waits as it is sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from mockserver.engine import effects
from mockserver.engine.store import Store
from mockserver.journal import RECORD, Record, send_answer
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

BODY_TIMEOUT = 30.0  # seconds for a whole request body to arrive (then 408)
MAX_DEPTH = 64  # JSON nesting (no request schema comes close)
# a JSON escape of a UTF-16 surrogate: only then can a lone one be in the text
_SURROGATE = re.compile(rb"\\u[dD][89abcdefABCDEF]")


class ErrorFormat(Protocol):
    """How one API words each refusal that happens before (or around) its handlers."""

    def no_route(self, request: Request) -> Response: ...
    def method_not_allowed(self, request: Request, allowed: list[str]) -> Response: ...
    def malformed_json(self, request: Request) -> Response: ...
    def unauthorized(self, request: Request) -> Response: ...
    def invalid(self, request: Request, violations: list[Violation]) -> Response: ...
    def limit_exceeded(self, request: Request, status: int, message: str) -> Response: ...  # 408, 413
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
    keeps_writes: bool = False  # commit what the handler wrote even if it answers an error

    def keep_writes(self) -> None:
        """Commit this call's writes although it answers an error: an armed fault that fired is spent."""
        self.keeps_writes = True

    @cached_property
    def base_url(self) -> str:
        """The origin asset URLs are built on: the configured public URL, else the address served (never the
        Host header, which any client can set)."""
        return getattr(self.context, "public_url", None) or served_url(self.request.scope)


def served_url(scope: Scope) -> str:
    """The address the request came in on, e.g. http://127.0.0.1:8102."""
    host, port = scope.get("server") or ("127.0.0.1", None)
    host = f"[{host}]" if ":" in host else host
    return f"{scope.get('scheme', 'http')}://{host}{'' if port is None else f':{port}'}{scope.get('root_path', '')}"


Handler = Callable[[Call], Awaitable[Response]]
Authenticator = Callable[[str, str | None], Any]  # (the secret, the name of the scheme it came in; None: any)


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
                 authenticate: Authenticator, context: Any, store: Store) -> None:
        self.store = store
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
        try:
            response = await self.dispatch(request)
        except Exception:  # a bug, in a handler or around it, still answers in the API's format
            log.exception("%s %s failed", request.method, scope["path"])
            response = self.errors.internal(request)
        # nothing leaves before what it acknowledges, or could have seen, is committed (a no-op when nothing
        # is pending; else the group commit of every request of this turn of the event loop)
        await self.store.durable()
        await send_answer(response, scope, receive, send)

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
        principal = None
        if operation.security:  # before the body is read: a stranger's body is not worth reading
            secret, scheme = _credential(request, operation.security)
            principal = self.authenticate(secret or "", scheme)
            if principal is None and () not in operation.security:
                return self.errors.unauthorized(request)
            observed = effects.current()  # the request journal's record of this request, if it keeps one
            if observed is not None and principal is not None:
                observed.tenant_id = getattr(principal, "id", None)
        try:
            # an operation without a request body ignores one (uvicorn drains it unread)
            if operation.form_body:
                body = await read_form(request, operation.max_body_bytes)
            else:
                body = parse_json(await read_body(request, operation.max_body_bytes)) \
                    if operation.body_validator is not None else None
        except BodyRefused as refusal:
            response = self.errors.limit_exceeded(request, refusal.status, refusal.message)
            response.headers["connection"] = "close"  # the rest of the body is not read
            return response
        except ValueError:
            return self.errors.malformed_json(request)
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
        return await self._handle(call, handler)

    async def _handle(self, call: Call, handler: Handler) -> Response:
        """Run the handler in one transaction: an answer of 400 or above, or anything raised (answered 500 by
        `__call__`), undoes every write it made (unless the handler says otherwise: an armed fault that fired
        stays spent)."""
        try:
            with self.store.transaction():
                response = await handler(call)
                if response.status_code >= 400 and not call.keeps_writes:
                    raise _Undo(response)
        except _Undo as undo:
            effects.discard()
            return undo.response
        except BaseException:
            effects.discard()
            raise
        return response


class _Undo(Exception):
    """Carries a refusal out of the request's transaction, which rolls it back."""

    def __init__(self, response: Response) -> None:
        self.response = response


class BodyRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def read_body(request: Request, limit: int, timeout: float = BODY_TIMEOUT) -> bytes:
    """The whole body, read in linear time; BodyRefused (413) past `limit` bytes, (408) past `timeout` s. A request
    the journal records gets what was read noted on its record at once (not message by message through the
    record's `receive`, a coroutine more per message on every request with a body)."""
    too_large = BodyRefused(413, f"the body is larger than this operation's limit of {limit} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    record: Record | None = request.scope.get(RECORD)
    receive = request.receive if record is None else record.unrecorded_receive
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            while True:
                message = await receive()
                chunk = message.get("body", b"")
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    raise too_large
                if not message.get("more_body"):
                    break
    except TimeoutError:
        raise BodyRefused(408, f"the body did not arrive within {timeout:g} seconds") from None
    finally:
        if record is not None:
            record.received(chunks)
    raw = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    request._body = raw  # what Starlette's request.body() returns from now on
    return raw


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart/form-data body."""

    filename: str
    content_type: str
    content: bytes


async def read_form(request: Request, limit: int) -> dict[str, str | UploadedFile]:
    """A multipart/form-data (or urlencoded) body as {field: text or file}, read within `limit` bytes before
    the request's transaction begins. ValueError when it does not parse (the last part of a repeated field
    counts)."""
    await read_body(request, limit)
    try:
        form = await request.form(max_files=8, max_fields=64)
    except Exception as error:  # Starlette raises HTTPException, python-multipart its own errors
        raise ValueError(f"not a form: {error}") from None
    fields: dict[str, str | UploadedFile] = {}
    for name, value in form.multi_items():
        if isinstance(value, str):
            fields[name] = value
        else:
            fields[name] = UploadedFile(value.filename or "", value.content_type or "", await value.read())
    await form.close()
    return fields


def parse_json(raw: bytes) -> Any:
    """The parsed JSON body, or None when there is none. ValueError when it is not JSON this API can take:
    malformed, not UTF-8, NaN or infinite numbers, nested deeper than MAX_DEPTH, or a lone surrogate (which no
    UTF-8 text, and so no stored string, can hold) in any string or field name."""
    if not raw.strip():
        return None
    try:
        value = _DECODER.decode(raw.decode("utf-8"))  # JSON is UTF-8 (RFC 8259); CESU-8 surrogates fail here
    except RecursionError:
        raise ValueError("nested too deeply") from None
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and _depth_exceeds(value, MAX_DEPTH):
        raise ValueError("nested too deeply")
    if _SURROGATE.search(raw) and _has_lone_surrogate(value):
        raise ValueError("a lone surrogate")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is out of range")
    return number


_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite)  # one: building it costs µs


def _depth_exceeds(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return False


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def _credential(request: Request,
                alternatives: tuple[tuple[SecurityScheme, ...], ...]) -> tuple[str | None, str | None]:
    """The credential the request offers and the scheme it came in; None when it offers none, or different
    ones in different places."""
    offered: dict[str, str] = {}
    for requirement in alternatives:
        for scheme in requirement:
            if scheme.kind == "bearer":
                kind, _, token = request.headers.get("authorization", "").partition(" ")
                value = token.strip() if kind.lower() == "bearer" else None
            elif scheme.kind == "header":
                value = request.headers.get(scheme.key)
                if scheme.prefix and value is not None:
                    value = value[len(scheme.prefix):].strip() if value.startswith(scheme.prefix) else None
            elif scheme.kind == "query":
                value = request.query_params.get(scheme.key)
            else:
                value = request.cookies.get(scheme.key)
            if value:
                offered.setdefault(value, scheme.name)
    return offered.popitem() if len(offered) == 1 else (None, None)


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
        if parameter.validator.is_valid(typed):
            values[parameter.name] = typed
            continue
        error = next(parameter.validator.iter_errors(typed))
        violations.append(Violation(location, parameter.name, error.kind.name,
                                    f"{parameter.name}: {_quote_short(error.message, typed)}", parameter.schema))
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
    if kind in ("integer", "number") and (not value.isascii() or "_" in value):
        return value  # Python's int() and float() also read "5_0" and non-ASCII digits; HTTP clients do not
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            number = float(value)
            return number if math.isfinite(number) else value
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
    return [Violation("body", ".".join(path), kind.name, _quote_short(message, error.instance),
                      {"value": getattr(kind, "value", None)})]


QUOTE_LIMIT = 64  # characters of an offending value an error message repeats


def _quote_short(message: str, value: Any) -> str:
    """The message with the offending value cut to a short prefix (a 50 MB prompt is not sent back)."""
    if len(message) <= 2 * QUOTE_LIMIT:
        return message
    quoted = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if len(quoted) <= QUOTE_LIMIT or quoted not in message:
        return message[:2 * QUOTE_LIMIT] + "…"
    return message.replace(quoted, quoted[:QUOTE_LIMIT] + "…" + (quoted[-1] if quoted[-1] in "\"]}" else ""))


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
