"""No input gets a 5xx, every refusal is in the API's own error format, and a refusal changes nothing.

A bounded Hypothesis fuzz of every operation of every spec (each API's, and the admin API on each origin),
read from the spec documents, so that a new operation is fuzzed without touching this file: raw bytes,
truncated JSON, invalid UTF-8, lone surrogates, deep nesting, huge numbers, wrong types per declared field,
one-field mutations of valid bodies, odd paths, queries and headers, with and without valid credentials.

One in-process mock per test function, never reset between examples: the properties must hold however
state accumulated (money spent, tenants created, faults armed, the clock moved). Requests go straight to
the ASGI app with the scope uvicorn would build, so header and path bytes arrive exactly as sent. Every
distinct failure is collected (not only the first) and reported with the request that produced it, shrunk
to a simplest request that still shows it on a fresh mock. `GENMOCK_FUZZ_EXAMPLES=N` fuzzes N examples per
origin instead of the CI budget (e.g. 30000 for a deeper local run).
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any
from urllib.parse import quote, unquote

import jsonschema
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from mockserver import dialects
from mockserver.dialects.aliveai import accounts
from mockserver.spec import load_document, resolve
from tests.inprocess import ADMIN_TOKEN, InProcessMock

ADMIN_SPEC = "admin.yaml"
ADMIN_PREFIX = "/__genmock/"
# each API's error bodies for statuses the router answers on any route (404, 405, 408, 413, ...)
GENERIC_ERRORS = {ADMIN_SPEC: ("Problem",), "lovlychat.yaml": ("Error",), "lucydream.yaml": ("Error", "WordPressError"),
                  "aliveai.yaml": ("HttpProblem", "HttpValidationProblem")}
GENERIC_MEDIA_TYPE = {ADMIN_SPEC: "application/problem+json", "aliveai.yaml": "application/problem+json"}
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
EXAMPLES_PER_ORIGIN = int(os.environ.get("GENMOCK_FUZZ_EXAMPLES", "2000"))  # CI: ~10 s per origin on 2 cores
EXAMPLES_PER_OPERATION = EXAMPLES_PER_ORIGIN // 80  # an origin with many operations gets more examples
ANSWER_TIMEOUT = 20.0  # seconds; no in-process answer comes close
LOOPBACK = ("127.0.0.1", 50000)
ID_PREFIXES = {"tn_": "tenant", "job_": "job", "ast_": "asset", "": "model"}  # model: LucyDream's numeric ids


# -- the specs -------------------------------------------------------------------------------------------
@cache
def document(name: str) -> dict[str, Any]:
    return load_document(name)


def deref(doc: dict[str, Any], node: Any, seen: frozenset[str] = frozenset()) -> Any:
    """`node` with every local $ref replaced by its target (a cycle ends in {})."""
    if isinstance(node, dict):
        if "$ref" in node:
            ref = node["$ref"]
            return {} if ref in seen else deref(doc, resolve(doc, node), seen | {ref})
        return {key: deref(doc, value, seen) for key, value in node.items()}
    if isinstance(node, list):
        return [deref(doc, item, seen) for item in node]
    return node


def json_schema(node: Any) -> Any:
    """A dereferenced OpenAPI 3.0 schema as JSON Schema draft 4 (`nullable` as a null type)."""
    if isinstance(node, list):
        return [json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    result: dict[str, Any] = {}
    for key, value in node.items():
        if key.startswith("x-") or key in ("nullable", "example", "examples", "discriminator"):
            continue
        if key == "properties":
            result[key] = {name: json_schema(sub) for name, sub in value.items()}
        elif key in ("enum", "required", "default"):
            result[key] = value
        else:
            result[key] = json_schema(value)
    if node.get("nullable"):
        if "type" in result:
            result["type"] = [result["type"], "null"]
        if "enum" in result and None not in result["enum"]:
            result["enum"] = [*result["enum"], None]
    return result


@dataclass(frozen=True)
class Op:
    spec: str
    operation_id: str
    method: str
    template: str
    parameters: tuple[dict[str, Any], ...]
    body: dict[str, Any] | None  # the request body object, dereferenced
    responses: dict[str, Any]
    security: tuple[tuple[dict[str, Any], ...], ...]  # alternatives, each the schemes it needs together

    @property
    def pattern(self) -> re.Pattern[str]:
        parts = re.split(r"\{[^}]+\}", self.template)
        return re.compile("^" + "[^/]+".join(re.escape(part) for part in parts) + "$")

    @property
    def body_schema(self) -> dict[str, Any] | None:
        media = (self.body or {}).get("content", {}).get("application/json")
        return media.get("schema") if media else None

    def examples(self) -> list[Any]:
        media = (self.body or {}).get("content", {}).get("application/json") or {}
        found = [example["value"] for example in media.get("examples", {}).values() if "value" in example]
        if "example" in media:
            found.append(media["example"])
        if isinstance(self.body_schema, dict) and "example" in self.body_schema:
            found.append(self.body_schema["example"])
        return found


@cache
def operations(spec: str) -> tuple[Op, ...]:
    doc = document(spec)
    schemes = deref(doc, doc.get("components", {}).get("securitySchemes", {}))
    found = []
    for template, item in doc["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            raw = item[method]
            parameters = {}
            for parameter in [*item.get("parameters", []), *raw.get("parameters", [])]:
                parameter = deref(doc, parameter)
                parameters[(parameter["in"], parameter["name"])] = parameter
            requirements = raw.get("security", doc.get("security", []))
            found.append(Op(spec, raw["operationId"], method.upper(), template, tuple(parameters.values()),
                            deref(doc, raw["requestBody"]) if "requestBody" in raw else None,
                            deref(doc, raw.get("responses", {})),
                            tuple(tuple(schemes[name] for name in requirement) for requirement in requirements)))
    return tuple(found)


def dispatched(spec: str, path: str, method: str) -> tuple[bool, Op | None]:
    """What the router does with the path: (whether a route matches, the operation it runs, if any)."""
    ops = operations(spec)
    route = [op for op in ops if "{" not in op.template and op.template == path]
    if not route:
        for op in ops:
            if "{" in op.template and op.pattern.match(path):
                route = [other for other in ops if other.template == op.template]
                break
    by_method = {op.method: op for op in route}
    return bool(route), by_method.get(method) or (by_method.get("GET") if method == "HEAD" else None)


def field_paths(schema: Any, prefix: tuple[str, ...] = (), depth: int = 0) -> list[tuple[str, ...]]:
    """Every property a request schema declares (nested objects too), as paths into the body."""
    if not isinstance(schema, dict) or depth > 4:
        return []
    paths: list[tuple[str, ...]] = []
    for combinator in ("oneOf", "anyOf", "allOf"):
        for branch in schema.get(combinator, []):
            paths += field_paths(branch, prefix, depth + 1)
    for name, sub in schema.get("properties", {}).items():
        paths.append((*prefix, name))
        paths += field_paths(sub, (*prefix, name), depth + 1)
    return list(dict.fromkeys(paths))


# -- what each answer must be ----------------------------------------------------------------------------
@cache
def _validator(spec: str, key: str, schema_json: str) -> jsonschema.Draft4Validator:
    return jsonschema.Draft4Validator(json.loads(schema_json))


def expected_content(spec: str, op: Op | None, status: int) -> dict[str, Any]:
    """The media types and schemas the spec allows for this error: the operation's own response for the
    status, else the API's generic error body."""
    declared = op.responses.get(str(status)) or op.responses.get(f"{str(status)[0]}XX") if op else None
    if declared and declared.get("content"):
        return declared["content"]
    schemas = document(spec).get("components", {}).get("schemas", {})
    names = GENERIC_ERRORS.get(spec, ("Error",))
    generic = {"anyOf": [deref(document(spec), schemas[name]) for name in names if name in schemas]}
    return {GENERIC_MEDIA_TYPE.get(spec, "application/json"): {"schema": generic}}


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def format_problems(spec: str, op: Op | None, status: int, headers: dict[bytes, bytes], body: bytes) -> list[str]:
    content = expected_content(spec, op, status)
    media = headers.get(b"content-type", b"").split(b";")[0].strip().decode("latin-1").lower()
    if media not in content:
        return [f"content-type {media or 'missing'!r}, the spec says {' or '.join(content)}; body {body[:120]!r}"]
    try:
        value = json.loads(body, parse_constant=_no_constant)
    except ValueError:
        return [f"the body is not JSON: {body[:120]!r}"]
    schema = json_schema(content[media].get("schema", {}))
    where = f"{op.operation_id} {status}" if op else f"generic {status}"
    errors = sorted(_validator(spec, where, json.dumps(schema, sort_keys=True)).iter_errors(value),
                    key=lambda error: list(error.absolute_path))
    if errors:
        error = errors[0]
        return [f"not the spec's {status} body ({error.validator} at /{'/'.join(map(str, error.absolute_path))}): "
                f"{body[:200]!r}"]
    if isinstance(value, dict):  # the status inside a problem (RFC 7807) or a WordPress error is the answer's
        inner = value.get("status") if "title" in value else (value.get("data") or {}).get("status") \
            if isinstance(value.get("data"), dict) else None
        if isinstance(inner, int) and inner != status:
            return [f"the body says status {inner}, the answer is {status}: {body[:120]!r}"]
    return []


@dataclass(frozen=True)
class State:
    """What a refusal must leave as it was: every tenant's ledger, the tenants, the armed faults."""

    ledgers: dict[str, tuple[int, int]]  # tenant id -> (entries, balance)
    faults: tuple[tuple[str, int, int], ...]  # (api, seq, remaining)

    @classmethod
    def of(cls, mock: InProcessMock) -> State:
        engine = mock.engine
        ledgers = {}
        for api in dialects.NAMES:
            for tenant in engine.tenants.all(api):
                ledgers[tenant.id] = (len(engine.ledger.entries(tenant.id)), engine.ledger.balance(tenant.id))
        faults = tuple((api, fault.seq, fault.remaining)
                       for api in dialects.NAMES for fault in engine.faults.armed(api))
        return cls(ledgers, faults)

    def fault_fired(self, after: State) -> bool:
        return sum(remaining for *_, remaining in after.faults) < sum(remaining for *_, remaining in self.faults)

    def differences(self, after: State) -> list[str]:
        found = []
        for tenant in sorted(self.ledgers.keys() | after.ledgers.keys()):
            if self.ledgers.get(tenant) != after.ledgers.get(tenant):
                found.append(f"tenant {tenant}: (ledger entries, balance) {self.ledgers.get(tenant)} -> "
                             f"{after.ledgers.get(tenant)}")
        if self.faults != after.faults:
            found.append(f"armed faults {self.faults} -> {after.faults}")
        return found


def conservation_problems(mock: InProcessMock) -> list[str]:
    """Each tenant's balance is the sum of its entries, and every entry's balance_after chains on."""
    engine = mock.engine
    found = []
    for api in dialects.NAMES:
        for tenant in engine.tenants.all(api):
            running = 0
            for entry in engine.ledger.entries(tenant.id):
                running += entry.amount
                if entry.balance_after != running:
                    found.append(f"{api} tenant {tenant.id}: entry {entry.seq} balance_after {entry.balance_after}, "
                                 f"the entries sum to {running}")
                    break
            if engine.ledger.balance(tenant.id) != running:
                found.append(f"{api} tenant {tenant.id}: balance {engine.ledger.balance(tenant.id)}, "
                             f"the entries sum to {running}")
    return found


# -- requests, straight to the ASGI app ------------------------------------------------------------------
def bytes_expression(data: bytes) -> str:
    """A Python expression that rebuilds `data`, with long runs written as repetitions."""
    parts: list[str] = []
    literal = bytearray()
    index = 0
    while index < len(data):
        best = (1, 1)  # (unit length, repetitions)
        for unit in range(1, 7):
            chunk = data[index:index + unit]
            if len(chunk) < unit:
                break
            count = 1
            while data[index + count * unit:index + (count + 1) * unit] == chunk:
                count += 1
            if count * unit > best[0] * best[1]:
                best = (unit, count)
        unit, count = best
        if count * unit >= 24 and count > 2:
            if literal:
                parts.append(repr(bytes(literal)))
                literal.clear()
            parts.append(f"{bytes(data[index:index + unit])!r} * {count}")
            index += unit * count
        else:
            literal.append(data[index])
            index += 1
    if literal:
        parts.append(repr(bytes(literal)))
    return " + ".join(parts) or "b''"


@dataclass(frozen=True)
class Request:
    api: str  # the origin: its API's routes and the admin API
    method: str
    target: str  # the request target as sent: percent-encoded path and query, ASCII
    headers: tuple[tuple[bytes, bytes], ...] = ()
    body: bytes = b""
    chunks: int = 1  # the body arrives in this many ASGI messages
    client: tuple[str, int] | None = LOOPBACK

    @property
    def raw_path(self) -> bytes:
        return self.target.split("?", 1)[0].encode("ascii")

    @property
    def path(self) -> str:
        """The path as uvicorn hands it on: percent-decoded as UTF-8, undecodable bytes replaced."""
        raw = self.raw_path.decode("ascii")
        return unquote(raw) if "%" in raw else raw

    def describe(self) -> str:
        body = bytes_expression(self.body)
        return (f"{self.method} {_short(self.target, 300)} on the {self.api} origin (client {self.client})\n"
                f"      headers: {[(name, _short_bytes(value)) for name, value in self.headers]}\n"
                f"      body ({len(self.body)} bytes{f', in {self.chunks} chunks' if self.chunks > 1 else ''}): "
                f"{_short(body, 600)}")


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _short_bytes(value: bytes) -> Any:
    return value if len(value) <= 120 else f"{value[:100]!r}... ({len(value)} bytes)"


@dataclass
class Answer:
    status: int = 0
    headers: dict[bytes, bytes] = field(default_factory=dict)
    body: bytes = b""
    error: str | None = None  # the app raised, or answered nothing in time


async def _exchange(app: Any, request: Request, port: int) -> Answer:
    path = request.path
    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "method": request.method, "scheme": "http", "path": path, "raw_path": request.raw_path,
        "root_path": "", "query_string": request.target.partition("?")[2].encode("ascii"),
        "headers": [[name, value] for name, value in request.headers], "client": request.client,
        "server": ("127.0.0.1", port), "state": {},
    }
    size = max(1, -(-len(request.body) // request.chunks))
    pending = [request.body[start:start + size] for start in range(0, len(request.body), size)] or [b""]
    answered = asyncio.Event()
    answer = Answer()

    async def receive() -> dict[str, Any]:
        if pending:
            chunk = pending.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(pending)}
        await answered.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
            answer.headers = {bytes(name).lower(): bytes(value) for name, value in message.get("headers", [])}
        elif message["type"] == "http.response.body":
            answer.body += message.get("body", b"")
            # an event stream never ends by itself: like any client of one, leave once it has begun
            streaming = answer.headers.get(b"content-type", b"").startswith(b"text/event-stream")
            if not message.get("more_body") or (streaming and answer.body):
                answered.set()

    await app(scope, receive, send)
    answered.set()
    return answer


class Origin:
    """One API origin of a fresh in-process mock: its operations (the API's and the admin API's), the
    strategies that fuzz them, and the checks every answer must pass."""

    def __init__(self, api: str) -> None:
        self.api = api
        self.mock = InProcessMock()
        self.dialect = dialects.load(api)
        self.app = self.mock.apps[api]
        self.port = 8100 + self.dialect.default_port_offset
        self.loop = asyncio.new_event_loop()
        self.ops = [*operations(self.dialect.spec), *operations(ADMIN_SPEC)]
        # strings the fuzz learnt from answers (by kind), to aim at real tenants, jobs, assets, models and keys
        self.pool: dict[str, list[str]] = {kind: [] for kind in ID_PREFIXES.values()}
        self.pool["name"] = [*self.dialect.fault_operations, *self.dialect.defaults["prices"],
                             *self.dialect.defaults["durations"]]
        self.keys = {self.dialect.spec: list(self.mock.engine.tenants.credentials(self.mock.demo[api])),
                     ADMIN_SPEC: [ADMIN_TOKEN]}
        if self.dialect.demo.login:  # and a logged-in user's access token
            self.keys[self.dialect.spec].append(accounts.log_in(self.mock.engine, **self.dialect.demo.login))
        self._strategies: dict[str, st.SearchStrategy[Request]] = {}

    def close(self) -> None:
        self.loop.close()

    # -- sending and checking ----------------------------------------------------------------------------
    def send(self, request: Request) -> Answer:
        try:
            return self.loop.run_until_complete(
                asyncio.wait_for(_exchange(self.app, request, self.port), ANSWER_TIMEOUT))
        except TimeoutError:
            return Answer(error=f"no answer within {ANSWER_TIMEOUT:g} s")
        except Exception as raised:  # under uvicorn: a 500 without a body in the API's format
            return Answer(error=f"the app raised {raised!r:.300} (under uvicorn: a plain-text 500)")

    def where(self, request: Request) -> tuple[str, Op | None, str]:
        """(the spec serving the path, the operation the router runs if any, a label for reports)."""
        spec = ADMIN_SPEC if request.path.startswith(ADMIN_PREFIX) else self.dialect.spec
        routed, op = dispatched(spec, request.path, request.method)
        label = op.operation_id if op else f"{request.method} on a {'known' if routed else 'unknown'} path"
        return spec, op, f"{spec.removesuffix('.yaml')}:{label}"

    def check(self, request: Request) -> tuple[Answer, list[tuple[str, str]]]:
        """Send the request; the answer and every property it broke, as (kind, detail)."""
        before = State.of(self.mock)
        answer = self.send(request)
        after = State.of(self.mock)
        spec, op, _ = self.where(request)
        problems: list[tuple[str, str]] = []
        if answer.error:
            problems.append(("raised" if answer.error.startswith("the app raised") else "no answer", answer.error))
        elif answer.status >= 400:
            armed_fault = answer.status == 500 and spec != ADMIN_SPEC and before.fault_fired(after)
            if answer.status >= 500 and not armed_fault:
                problems.append((f"{answer.status}", f"{answer.body[:300]!r}"))
            if request.method != "HEAD" or answer.body:  # a HEAD answer's body is left out on the wire
                problems += [("error format", problem) for problem in
                             format_problems(spec, op, answer.status, answer.headers, answer.body)]
            if armed_fault:  # the fault that fired is spent (kept on purpose); nothing else may change
                before = State(before.ledgers, after.faults)
            problems += [("refusal changed state", change) for change in before.differences(after)]
        problems += [("ledger not conserved", problem) for problem in conservation_problems(self.mock)]
        if 200 <= answer.status < 300:
            self.learn(spec, answer.body)
        return answer, problems

    def learn(self, spec: str, body: bytes) -> None:
        try:
            value = json.loads(body)
        except ValueError:
            return
        stack = [value]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                for key, item in node.items():
                    if key == "credentials" and spec == ADMIN_SPEC and isinstance(item, list):
                        self._remember(self.keys[self.dialect.spec],
                                       *[secret for secret in item if isinstance(secret, str)], keep=1)
                    elif isinstance(item, str) and (key in ("id", "tenantId", "jobId", "tune_id", "sourceAssetId")):
                        kind = next(kind for prefix, kind in ID_PREFIXES.items() if item.startswith(prefix))
                        self._remember(self.pool[kind], item)
                    elif isinstance(item, str) and key == "nextCursor":
                        self._remember(self.pool.setdefault("cursor", []), item)
                    elif isinstance(item, str) and key in ("url", "image_url", "safetensors_path"):
                        self._remember(self.pool.setdefault("url", []), item)
                    else:
                        stack.append(item)
            elif isinstance(node, list):
                stack.extend(node)

    @staticmethod
    def _remember(pool: list[str], *items: str, keep: int = 0) -> None:
        """Add to a pool of at most 32, dropping the oldest (but never its first `keep`: the demo key)."""
        for item in items:
            if item not in pool:
                pool.append(item)
        if len(pool) > 32:
            del pool[keep:len(pool) - 32 + keep]

    # -- strategies ------------------------------------------------------------------------------------------
    def known(self, *kinds: str) -> st.SearchStrategy[str]:
        """A string the mock told us about, of one of these kinds (default: any), or one of its configuration
        names; the tenants are the live ones (and those the mock told us about, maybe deleted since)."""
        def pick(index: int) -> str:
            live = [tenant.id for tenant in self.mock.engine.tenants.all(self.api)]
            pools = {**self.pool, "tenant": live + self.pool["tenant"] if index % 4 else self.pool["tenant"] or live}
            chosen = [pools[kind] for kind in kinds or pools if pools.get(kind)] or [pools["name"]]
            pool = chosen[index % len(chosen)]
            return pool[(index // len(chosen)) % len(pool)]

        return st.integers(0, 2**16).map(pick)

    def credential(self, spec: str) -> st.SearchStrategy[str]:
        keys = self.keys[spec]
        return st.integers(0, 2**16).map(lambda index: keys[index % len(keys)])

    def requests(self, op: Op) -> st.SearchStrategy[Request]:
        if op.operation_id not in self._strategies:
            self._strategies[op.operation_id] = self._requests(op)
        return self._strategies[op.operation_id]

    def _requests(self, op: Op) -> st.SearchStrategy[Request]:
        path = self.paths(op)
        query = self.queries(op)
        credentials = self.credentials(op)
        body = self.bodies(op)
        methods = st.sampled_from(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "PROPFIND"])

        @st.composite
        def build(draw: st.DrawFn) -> Request:
            method = op.method if chance(draw, 85) else draw(methods)
            cred_headers, cred_query = draw(credentials)
            target = draw(path)
            parts = [part for part in (draw(query), cred_query) if part]
            if parts:
                target += "?" + "&".join(parts)
            content = draw(body)
            headers = list(cred_headers)
            content_type = b"application/json" if chance(draw, 80) else draw(st.sampled_from(CONTENT_TYPES))
            if content_type is not None and (content or chance(draw, 30)):
                headers.append((b"content-type", content_type))
            chunks = 1 if chance(draw, 70) else draw(st.integers(2, 4))
            if chance(draw, 85):
                declared = len(content) if chance(draw, 95) else draw(st.sampled_from(LYING_LENGTHS))
                headers.append((b"content-length", str(declared).encode()))
            elif chunks > 1:
                headers.append((b"transfer-encoding", b"chunked"))
            if chance(draw, 25):
                headers += draw(st.lists(st.sampled_from(ODD_HEADERS), min_size=1, max_size=3))
            if chance(draw, 5):  # a browser's CORS preflight, from an allowed origin or not
                method = "OPTIONS"
                headers += [(b"origin", draw(st.sampled_from(ORIGINS))),
                            (b"access-control-request-method", draw(st.sampled_from([op.method.encode(), b"\xff"]))),
                            *([(b"access-control-request-headers", draw(st.sampled_from(REQUEST_HEADERS)))]
                              if chance(draw, 50) else [])]
            client = LOOPBACK if chance(draw, 92) else draw(st.sampled_from([("203.0.113.7", 4321), None]))
            return Request(self.api, method, target, tuple(headers), content, chunks, client)

        return build()

    def paths(self, op: Op) -> st.SearchStrategy[str]:
        names = re.findall(r"\{([^}]+)\}", op.template)
        schemas = {parameter["name"]: parameter.get("schema", {}) for parameter in op.parameters
                   if parameter["in"] == "path"}
        segment = st.one_of(
            self.known().map(_encode),
            st.sampled_from(ODD_STRINGS).map(_encode),
            st.sampled_from(RAW_SEGMENTS),
            st.text(max_size=30).map(_encode),
        )
        twists = st.sampled_from([*PATH_TWISTS,
                                  lambda path: self.dialect.asset_path + path.rsplit("/", 1)[-1] + ".png",
                                  lambda path: self.dialect.asset_path + "x" * 40 + "-thumbnail.mp4"])
        asset_urls = self.known("url").map(lambda url: "/" + url.split("://", 1)[-1].partition("/")[2])
        ids = {name: self.known(*(["tenant"] if "tenant" in name.lower() else ID_PREFIXES.values())) for name in names}

        @st.composite
        def build(draw: st.DrawFn) -> str:
            path = op.template
            for name in names:
                valid = st.one_of(ids[name], values(schemas.get(name, {}), self.known()))
                value = draw(valid.map(lambda value: _encode(str(value)))) if chance(draw, 70) else draw(segment)
                path = path.replace("{" + name + "}", value or "x", 1)
            if chance(draw, 88):
                return path
            if chance(draw, 30):  # an asset this origin serves (or a file of a model, which it does not)
                return draw(asset_urls.map(lambda url: url if chance(draw, 50) else url + draw(st.sampled_from(
                    ["x", "-thumbnail.png", ".mp4", "%00", "/"]))))
            return draw(twists)(path)

        return build()

    def queries(self, op: Op) -> st.SearchStrategy[str]:
        declared = [parameter for parameter in op.parameters if parameter["in"] == "query"]
        junk_value = st.one_of(st.sampled_from(ODD_STRINGS), st.sampled_from(HUGE_NUMBERS), st.text(max_size=20),
                               self.known()).map(_encode)
        pairs = [st.tuples(st.just(parameter["name"]),
                           st.one_of(values(parameter.get("schema", {}), self.known()).map(
                               lambda value: _encode(_query_text(value))), junk_value, st.sampled_from(RAW_SEGMENTS)))
                 for parameter in declared]
        extra = st.tuples(st.one_of(st.sampled_from(ODD_STRINGS).map(_encode), st.just("x")), junk_value)

        @st.composite
        def build(draw: st.DrawFn) -> str:
            chosen = [draw(pair) for pair in pairs if chance(draw, 50)]
            if chance(draw, 15):
                chosen.append(draw(extra))
            text = "&".join(f"{name}={value}" for name, value in chosen)
            if chance(draw, 12):
                text = "&".join(filter(None, [text, draw(st.sampled_from(RAW_QUERIES))]))
            return text

        return build()

    def credentials(self, op: Op) -> st.SearchStrategy[tuple[list[tuple[bytes, bytes]], str]]:
        schemes = list(dict.fromkeys(json.dumps(scheme, sort_keys=True) for requirement in op.security
                                     for scheme in requirement))
        all_schemes = [json.loads(scheme) for scheme in schemes] or [{"type": "http", "scheme": "bearer"}]
        other = ADMIN_SPEC if op.spec != ADMIN_SPEC else self.dialect.spec
        good = self.credential(op.spec).map(str.encode)
        bad = st.one_of(
            st.sampled_from(ODD_CREDENTIALS),
            good.map(lambda key: key + b"\xff"), good.map(lambda key: key + "é".encode()),
            good.map(lambda key: key[:-1]), good.map(lambda key: key.upper()), good.map(lambda key: b" " + key + b" "),
            self.credential(other).map(str.encode),
        )

        @st.composite
        def build(draw: st.DrawFn) -> tuple[list[tuple[bytes, bytes]], str]:
            mode = "valid" if chance(draw, 60) else draw(st.sampled_from(["none", "bad", "both", "bearer-variant"]))
            if mode == "none":
                return [], ""
            if mode == "both":  # every scheme at once, with the same key or with different ones
                chosen = [(scheme, draw(st.one_of(good, bad))) for scheme in all_schemes]
            else:
                chosen = [(draw(st.sampled_from(all_schemes)), draw(good if mode != "bad" else bad))]
            headers, query = [], []
            for scheme, value in chosen:
                if scheme.get("type") == "http":
                    prefix = b"Bearer " if mode != "bearer-variant" else draw(st.sampled_from(BEARER_PREFIXES))
                    headers.append((b"authorization", prefix + value))
                elif scheme.get("in") == "query":
                    query.append(f"{quote(scheme['name'])}={quote(value)}")
                elif scheme.get("in") == "cookie":
                    headers.append((b"cookie", scheme["name"].encode() + b"=" + value))
                else:
                    prefix = scheme.get("x-genmock-credential-prefix", "").encode()  # AliveAI's `Key `
                    headers.append((scheme["name"].lower().encode(), prefix + value))
            return headers, "&".join(query)

        return build()

    def bodies(self, op: Op) -> st.SearchStrategy[bytes]:
        junk = st.one_of(st.binary(max_size=256), st.sampled_from(WHOLE_BODIES), nestings().map(_utf8))
        if op.body_schema is None:
            return st.integers(0, 99).flatmap(lambda roll: st.just(b"") if roll < 80 else junk)
        schema = op.body_schema
        examples = op.examples()
        valid = st.one_of(values(schema, self.known()), *([st.sampled_from(examples)] if examples else []))
        paths = field_paths(schema)
        return st.one_of(
            valid.map(encode), valid.map(lambda value: encode(value, ascii_only=False)), junk,
            mutations(valid, paths), mutations(valid, paths),
            st.tuples(valid.map(encode), st.integers(0, 10**6)).map(_truncated),
            bad_bytes(valid, paths),
        )


# -- what the fuzz sends ---------------------------------------------------------------------------------
class Raw(str):
    """JSON text to put in a body as it is (a number JSON cannot hold, a nesting too deep for recursion)."""


def dumps(value: Any, ascii_only: bool = True) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        pairs = (f"{dumps(key, ascii_only)}:{dumps(item, ascii_only)}" for key, item in value.items())
        return "{" + ",".join(pairs) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dumps(item, ascii_only) for item in value) + "]"
    return json.dumps(value, ensure_ascii=ascii_only)


def _utf8(text: str) -> bytes:
    """As UTF-8, a lone surrogate as the three bytes CESU-8 would use (which no UTF-8 decoder takes)."""
    return text.encode("utf-8", "surrogatepass")


def encode(value: Any, ascii_only: bool = True) -> bytes:
    return _utf8(dumps(value, ascii_only))


def _encode(text: str) -> str:
    return quote(_utf8(text), safe="")


def _truncated(pair: tuple[bytes, int]) -> bytes:
    raw, cut = pair
    return raw[:cut % max(1, len(raw))]


def _query_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


ODD_STRINGS = [
    "\ud800", "\udfff", "a\ud800b", "\udbff", "\ude00\ud83d", "\ud83d\ude00", "\x00", "nul\x00byte", "\u202eevil",
    "\u200f", "\u061c", "\ufeff", "\uffff", "\U0010ffff", "é", "ÿ", "😀", "", " ", "\t\r\n", "\\", '"', "null", "0",
    "-1", "1e400", "NaN", "%ED%A0%80", "../../etc/passwd", "'; DROP TABLE tenants; --", "\x00" * 64, "x" * 3000,
    "x" * 100_000, "é" * 20_000, "\ud800" * 1000, "\u202e" * 500,
]
HUGE_NUMBERS = [
    "1e400", "-1e400", "1" + "0" * 4000, "-" + "9" * 4000, "NaN", "Infinity", "-Infinity", "-0", "-0.0", "0e0",
    "9223372036854775807", "9223372036854775808", "18446744073709551616", "-9223372036854775809", "1e308",
    "1.7976931348623157e308", "4.9e-324", "1e-400", "123456789012345678901234567890", "1E2", "0.1e1", "1e999999999",
    "0." + "0" * 4000 + "1",
]
DATE_TIMES = [
    "2026-01-01T00:00:00Z", "2030-06-01T12:00:00.5+02:00", "1970-01-01T00:00:00Z", "8999-12-31T23:59:59Z",
    "2016-12-31T23:59:60Z", "9999-12-31T23:59:60Z", "0000-01-01T00:00:00Z", "0001-01-01T00:00:00+14:00",
    "1969-12-31T23:59:59-23:59", "2026-01-01T00:00:00.1234567891Z", "2026-02-30T00:00:00Z", "2026-01-01T24:00:00Z",
    "2026-01-01t00:00:00z", "2026-01-01T00:00:00+24:00", "8999-12-31T23:59:60-00:01", "1970-01-01T00:00:00+00:01",
]
WRONG_TYPES: list[Any] = [None, True, False, 0, 1, -1, 0.5, "", "x", [], [None], {}, {"a": 1}, ["x"], [[[]]]]
DEPTHS = [10, 63, 64, 65, 100, 500, 999, 1000, 1001, 5000, 6000]
NESTINGS: list[Callable[[int], str]] = [
    lambda depth: "[" * depth + "]" * depth,
    lambda depth: '{"a":' * depth + "1" + "}" * depth,
    lambda depth: '[{"a":' * (depth // 2) + "1" + "}]" * (depth // 2),
    lambda depth: "[" * depth,
    lambda depth: '{"a":' * depth,
    lambda depth: '{"\\ud800":' * depth + "1" + "}" * depth,
]
WHOLE_BODIES = [
    b"", b" ", b"null", b"true", b"0", b"[]", b"{}", b'""', b'"x"', b"[{}]", b"{", b"}", b"[", b'{"a"', b'{"a":}',
    b'{"a":1,}', b"{'a': 1}", b"NaN", b"Infinity", b"-Infinity", b"1e400", b"1" + b"0" * 5000, b'"\\ud800"',
    b'{"\\udfff": 1}', b'"\xed\xa0\x80"', b'{"\xed\xb3\xbf": 1}', b"\xff\xfe{\x00}\x00", b"\xef\xbb\xbf{}",
    b'{"a": "\xc3"}', b"\x00", b'{"a": 1}\x00', b'{"a": 1} {"b": 2}', b'{"a": "\\u00"}', b'{"a": "\\x41"}',
    b'{"a":1,"a":2}', b"[" * 70 + b"]" * 70, b'{"a": ' + b"9" * 5000 + b"}", b'{"a": "' + b"x" * 1_100_000 + b'"}',
]
LYING_LENGTHS = [0, 1, 2**20 + 1, 10**12, 2**64, 10**30]
ORIGINS = [b"http://localhost:5173", b"http://127.0.0.1:3000", b"https://evil.example", b"null", b"\xff", b""]
REQUEST_HEADERS = [b"authorization,content-type", b"x-api-key", b"\xe9", b"x" * 5000, b""]
RAW_SEGMENTS = ["%ED%A0%80", "%ED%BF%BF", "%00", "%FF", "%C3", "%2F", "%2F..%2F", "..", ".", "%2e%2e", "a%20b", "%",
                "%zz", "%25", "x" * 5000, "%F0%9F%98%80", "%E2%80%AE", "job_" + "A" * 24, "tn_" + "a" * 16, "12345"]
RAW_QUERIES = ["%ED%A0%80=%ED%A0%80", "limit=%00", "&&&", "=", "a" * 5000 + "=1", "limit=1&limit=2", "limit[]=1",
               "%zz=%zz", "cursor=" + "A" * 600, "limit=" + "9" * 5000, "limit=1e400", "limit=-0", "limit=%D9%A3",
               "cursor=%ED%A0%80", "characterId=%00", "limit", "limit=NaN", "limit=0x10", "cursor=====", "x=" * 2000]
PATH_TWISTS: list[Callable[[str], str]] = [
    lambda path: path + "/", lambda path: path + "/extra", lambda path: "/" + path, lambda path: path.upper(),
    lambda path: path + "%00", lambda path: path + "%ED%A0%80", lambda path: path.replace("/", "//", 1),
    lambda path: path + "/..", lambda path: ADMIN_PREFIX + "x" * 5000, lambda path: "/%ED%A0%80" + path,
]
CONTENT_TYPES: list[bytes | None] = [
    None, b"text/plain", b"application/x-www-form-urlencoded", b"multipart/form-data; boundary=x", b"",
    b"application/json; charset=latin-1", b"application/json; charset=utf-16", b"application/\xffjson",
    b"application/problem+json",
]
ODD_CREDENTIALS = [
    b"", b" ", b"\xe9" * 24, b"\xff" * 30, "é".encode() * 24, b"\x80\x81\x82", b"x" * 10_000,
    b"wrong-key-0123456789abcdef", "Bearer é".encode(), b"null", b"%ED%A0%80", b"\xed\xa0\x80" * 10, b"\t\t",
]
BEARER_PREFIXES = [b"Bearer", b"bearer ", b"BEARER  ", b"Basic ", b"Bearer\t", b"Token ", b"B\xe9arer ", b""]
ODD_HEADERS: list[tuple[bytes, bytes]] = [
    (b"origin", b"http://localhost:5173"), (b"origin", b"https://evil.example"), (b"origin", b"\xff"),
    (b"access-control-request-method", b"POST"), (b"access-control-request-headers", b"\xe9"),
    (b"cookie", b"\xff=\xff"), (b"accept", b"\xff"), (b"content-encoding", b"gzip"), (b"x-forwarded-for", b"1.2.3.4"),
    (b"host", b"\xff"), (b"host", b"evil.example"), (b"expect", b"100-continue"), (b"x-api-key", b"\xe9" * 30),
    (b"authorization", "Bearer é".encode()), (b"content-length", b"abc"), (b"content-length", b"9" * 30),
    (b"content-type", b"application/json"), (b"x-\xff", b"\xff"), (b"accept-encoding", b"\xff" * 1000),
    (b"host", b"["), (b"host", b"a b"), (b"host", b"x:99999"), (b"transfer-encoding", b"chunked, gzip"),
]


def values(schema: Any, known: st.SearchStrategy[str], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values shaped as `schema` asks (valid as far as this reading of the schema goes; the server decides)."""
    if not isinstance(schema, dict) or depth > 6:
        return st.none()
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for combinator in ("oneOf", "anyOf"):
        if combinator in schema:
            rest = {key: value for key, value in schema.items() if key != combinator}
            return st.one_of([values(_merge(rest, branch), known, depth + 1) for branch in schema[combinator]])
    if "allOf" in schema:
        merged = {key: value for key, value in schema.items() if key != "allOf"}
        for branch in schema["allOf"]:
            merged = _merge(merged, branch)
        return values(merged, known, depth + 1)
    kind = schema.get("type")
    if kind == "string":
        return st.one_of(_strings(schema), known)
    if kind in ("integer", "number"):
        low, high = schema.get("minimum"), schema.get("maximum")
        if kind == "integer":
            low = None if low is None else int(low) + (1 if schema.get("exclusiveMinimum") is True else 0)
            high = None if high is None else int(high) - (1 if schema.get("exclusiveMaximum") is True else 0)
            return st.integers(low, high)
        return st.one_of(st.integers(None if low is None else int(low) + 1, None if high is None else int(high)),
                         st.floats(low, high, allow_nan=False, allow_infinity=False,
                                   exclude_min=schema.get("exclusiveMinimum") is True and low is not None,
                                   exclude_max=schema.get("exclusiveMaximum") is True and high is not None))
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        low = schema.get("minItems", 0)
        return st.lists(values(schema.get("items", {}), known, depth + 1), min_size=low,
                        max_size=min(schema.get("maxItems", low + 3), low + 3))
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        required = [name for name in schema.get("required", [])]
        result = st.fixed_dictionaries(
            {name: values(properties.get(name, {"type": "string"}), known, depth + 1) for name in required},
            optional={name: values(sub, known, depth + 1) for name, sub in properties.items() if name not in required})
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            more = st.dictionaries(st.one_of(known, st.text(max_size=10)), values(extra, known, depth + 1), max_size=2)
            result = st.tuples(result, more).map(lambda pair: {**pair[1], **pair[0]})
        return result
    return st.one_of(st.none(), st.text(max_size=10), st.integers())


def _merge(base: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    merged = {**base, **other}
    if "required" in base or "required" in other:
        merged["required"] = list(dict.fromkeys([*base.get("required", []), *other.get("required", [])]))
    if "properties" in base or "properties" in other:
        merged["properties"] = {**base.get("properties", {}), **other.get("properties", {})}
    return merged


def _strings(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    low, high = schema.get("minLength", 0), schema.get("maxLength", 10**9)
    fmt, pattern = schema.get("format"), schema.get("pattern")
    if fmt == "date-time":
        return st.sampled_from(DATE_TIMES)
    if fmt == "uri":
        return st.sampled_from(["https://example.com/a.png", "https://images.example.com/aiko/portrait-01.png",
                                "http://example.com/x.jpg", "https://example.com/not-an-image.txt"])
    if pattern:
        anchored = pattern.startswith("^") and pattern.endswith("$")
        return st.from_regex(pattern, fullmatch=anchored).filter(lambda text: low <= len(text) <= high)
    return st.text(min_size=low, max_size=min(high, low + 30))


def nestings() -> st.SearchStrategy[str]:
    return st.tuples(st.sampled_from(NESTINGS), st.sampled_from(DEPTHS)).map(lambda pair: pair[0](pair[1]))


def junk_values() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(WRONG_TYPES), st.sampled_from(ODD_STRINGS), st.sampled_from(HUGE_NUMBERS).map(Raw),
        nestings().map(Raw), st.text(max_size=20), st.integers(), st.floats(),
        st.lists(st.sampled_from(ODD_STRINGS), max_size=3), st.dictionaries(st.sampled_from(ODD_STRINGS),
                                                                            st.sampled_from(WRONG_TYPES), max_size=2),
    )


def _set(body: Any, path: tuple[str, ...], value: Any) -> Any:
    """`body` (a copy) with the field at `path` set to `value`, creating objects on the way."""
    root = copy.deepcopy(body) if isinstance(body, dict) else {}
    node = root
    for name in path[:-1]:
        if not isinstance(node.get(name), dict):
            node[name] = {}
        node = node[name]
    node[path[-1]] = value
    return root


def mutations(valid: st.SearchStrategy[Any], paths: list[tuple[str, ...]]) -> st.SearchStrategy[bytes]:
    """A valid body with one field changed: given a junk value, removed, or renamed to an odd key."""
    fields = st.sampled_from(paths or [("x",)])

    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        body = draw(valid)
        path = draw(fields)
        action = draw(st.sampled_from(["set", "set", "set", "drop", "rename", "odd key"]))
        if action == "set":
            body = _set(body, path, draw(junk_values()))
        elif action == "drop" and isinstance(body, dict):
            body = copy.deepcopy(body)
            body.pop(path[0], None)
        elif action == "rename" and isinstance(body, dict) and path[0] in body:
            body = copy.deepcopy(body)
            body[path[0] + draw(st.sampled_from(["\ud800", "\udfff", "\x00", "\u202e", " ", "é"]))] = body.pop(path[0])
        else:
            body = _set(body, (*path[:-1], draw(st.sampled_from(ODD_STRINGS[:16]))), draw(junk_values()))
        return encode(body, ascii_only=draw(st.booleans()))

    return build()


def bad_bytes(valid: st.SearchStrategy[Any], paths: list[tuple[str, ...]]) -> st.SearchStrategy[bytes]:
    """A valid body with bytes no UTF-8 text holds in one string field (or at a random place)."""
    fields = st.sampled_from(paths or [("x",)])
    sentinel = "\x01SENTINEL\x01"
    bad = st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xf4\x90\x80\x80", b"\xc0\xaf",
                           b"\x80", b"\xed\xa0\x80\xed\xb0\x80", b"\x00"])

    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        raw = encode(_set(draw(valid), draw(fields), sentinel), ascii_only=draw(st.booleans()))
        junk = draw(bad)
        if draw(st.booleans()):
            return raw.replace(b"\\u0001SENTINEL\\u0001", junk)
        position = draw(st.integers(0, len(raw)))
        return raw[:position] + junk + raw[position:]

    return build()


# -- the fuzz --------------------------------------------------------------------------------------------
def weighted(ops: list[Op]) -> list[Op]:
    """The operations to draw from, each listed as often as it should be drawn: the API's (where money is
    spent) more than the admin API's, those that take a body (most of the input space) more than the others."""
    return [op for op in ops for _ in range((2 if op.spec != ADMIN_SPEC else 1) * (2 if op.body_schema else 1))]


def chance(draw: st.DrawFn, percent: int) -> bool:
    """True in about `percent` of the examples (Hypothesis draws small integers about uniformly)."""
    return draw(st.integers(0, 99)) < percent


@dataclass
class Found:
    """One distinct failure: the first request that showed it, how often it was seen, and where."""

    request: Request
    status: int
    count: int = 0
    labels: dict[str, None] = field(default_factory=dict)  # the routes it was seen on, in order


@pytest.mark.parametrize("api", dialects.NAMES)
def test_no_input_gets_a_5xx_or_a_foreign_error_or_moves_money_on_a_refusal(api: str) -> None:
    origin = Origin(api)
    failures: dict[tuple[str, int, str], Found] = {}
    fuzzed: list[str] = []

    def fuzz(listed: list[Op], examples: int) -> None:
        ops = st.integers(0, 2**16).map(lambda index: listed[index % len(listed)])

        @settings(max_examples=examples, deadline=None, derandomize=True, database=None, phases=(Phase.generate,),
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                         HealthCheck.filter_too_much, HealthCheck.large_base_example])
        @given(st.data())
        def one(data: st.DataObject) -> None:
            op = data.draw(ops, label="operation")
            fuzzed.append(op.operation_id)
            request = data.draw(origin.requests(op), label=op.operation_id)
            answer, problems = origin.check(request)
            label = origin.where(request)[2]
            for kind, detail in problems:
                found = failures.setdefault((kind, answer.status, _signature(detail)), Found(request, answer.status))
                found.count += 1
                found.labels[label] = None

        one()

    try:
        fuzz(weighted(origin.ops), max(EXAMPLES_PER_ORIGIN, EXAMPLES_PER_OPERATION * len(origin.ops)))
        # the draws are not uniform over the operations: those the first round missed get a round of their own
        unreached = [op for op in origin.ops if op.operation_id not in set(fuzzed)]
        if unreached:
            fuzz(unreached, EXAMPLES_PER_OPERATION * len(unreached))
    finally:
        origin.close()
    missed = {op.operation_id for op in origin.ops} - set(fuzzed)
    assert not missed, f"operations not fuzzed: {missed}"
    assert not failures, report(api, failures, len(fuzzed))


def _signature(detail: str) -> str:
    """What makes two failures the same: the detail without the values that vary from request to request."""
    return re.sub(r"tn_\w+|\d+", "#", re.sub(r"b['\"].*", "", detail))[:120]


def reproduce(request: Request, kind: str, signature: str) -> list[tuple[str, str]]:
    """The problems the request shows on a fresh mock, if the one sought is among them (else [])."""
    fresh = Origin(request.api)
    try:
        problems = fresh.check(request)[1]
    finally:
        fresh.close()
    return problems if any(found == kind and _signature(detail) == signature for found, detail in problems) else []


def simpler(request: Request) -> list[Request]:
    """Requests a little simpler than this one (the fuzz's demo credentials in place of learnt ones)."""
    demo = {ADMIN_SPEC: f"Bearer {ADMIN_TOKEN}".encode(), "lovlychat.yaml": b"lc_demo_key_0123456789abcdef",
            "lucydream.yaml": b"your_api_key_here", "aliveai.yaml": b"Key 5b0e7a52-3c8d-4f19-b6a2-e41d9c07f3b8"}
    options = [replace(request, headers=request.headers[:index] + request.headers[index + 1:])
               for index in range(len(request.headers))]
    for index, (name, value) in enumerate(request.headers):
        key = demo[ADMIN_SPEC if request.path.startswith(ADMIN_PREFIX) else f"{request.api}.yaml"]
        if name in (b"authorization", b"x-api-key") and value not in (key, b"Bearer " + key):
            better = key if name == b"x-api-key" or key.startswith((b"Bearer ", b"Key ")) else b"Bearer " + key
            options.append(replace(request, headers=(*request.headers[:index], (name, better),
                                                    *request.headers[index + 1:])))
    if "?" in request.target:
        options.append(replace(request, target=request.target.split("?", 1)[0]))
    if request.chunks > 1:
        options.append(replace(request, chunks=1))
    if request.client != LOOPBACK:
        options.append(replace(request, client=LOOPBACK))
    if request.body:
        options.append(replace(request, body=b""))
    return options


def minimal(request: Request, kind: str, signature: str, budget: int = 60) -> Request | None:
    """A simplest request that still shows the failure on a fresh mock (None: it does not reproduce there)."""
    if not reproduce(request, kind, signature):
        return None
    improved = True
    while improved and budget > 0:
        improved = False
        for option in simpler(request):
            budget -= 1
            if reproduce(option, kind, signature):
                request, improved = option, True
                break
            if budget <= 0:
                break
    return request


def report(api: str, failures: dict[tuple[str, int, str], Found], sent: int) -> str:
    lines = [f"{len(failures)} distinct failure(s) in {sent} requests to the {api} origin:"]
    for (kind, status, signature), found in sorted(failures.items()):
        routes = ", ".join(found.labels)
        lines.append(f"\n  [{kind}] answered {status or 'nothing'}, {found.count} time(s), on {routes}")
        lines.append(f"      first seen on: {found.request.describe()}")
        smallest = minimal(found.request, kind, signature)
        if smallest is None:
            lines.append("      (does not reproduce on a fresh mock: it depends on the state the fuzz built)")
            continue
        lines.append(f"      reproduced on a fresh mock by: {smallest.describe()}")
        lines += [f"      -> [{problem_kind}] {_short(detail, 400)}"
                  for problem_kind, detail in reproduce(smallest, kind, signature)[:3]]
    return "\n".join(lines)


# -- the bugs a review found, one test each --------------------------------------------------------------
LOVLYCHAT_KEY = ((b"x-api-key", b"lc_demo_key_0123456789abcdef"),)
LUCYDREAM_KEY = ((b"x-api-key", b"your_api_key_here"),)
ADMIN_KEY = ((b"authorization", f"Bearer {ADMIN_TOKEN}".encode()),)
JSON = ((b"content-type", b"application/json"),)
# where each API takes a body: (origin, path, credentials, a valid body, its string field to spoil)
BODY_ROUTES = {
    "lovlychat": ("lovlychat", "/v1/generation/jobs", LOVLYCHAT_KEY,
                  {"kind": "image", "variant": "standard", "prompt": "Aiko on a rooftop", "characterId": "char_aiko"},
                  "prompt"),
    "lucydream": ("lucydream", "/wp-json/apiservices/v1/generate", LUCYDREAM_KEY,
                  {"prompt": "A beautiful blonde in lingerie at sunset", "tune_id": "12345",
                   "safetensors_path": "https://your-bucket-url/12345.safetensors", "trigger_name": "woman",
                   "api_mode": "spicy"}, "prompt"),
    "admin": ("lovlychat", "/__genmock/tenants", ADMIN_KEY, {"name": "fuzz", "balance": 10}, "name"),
}
SPOILED_BODIES: dict[str, Callable[[dict[str, Any], str], bytes]] = {
    "lone-surrogate-escape-in-a-value": lambda body, name: dumps({**body, name: "at \ud800 dusk"}).encode(),
    "lone-surrogate-escape-in-a-field-name": lambda body, name: dumps({"\udfff": 1, **body}).encode(),
    "lone-surrogate-as-utf8-bytes": lambda body, name: _utf8(dumps({**body, name: "at \ud800 dusk"}, False)),
    "nested-500-deep-with-a-key": lambda body, name: b'{"a":' * 500 + b"1" + b"}" * 500,
    "nested-5000-deep-without-keys": lambda body, name: b"[" * 5000 + b"]" * 5000,
    "nested-6000-deep-in-a-field": lambda body, name: json.dumps(body)[:-1].encode() + b', "x": '
    + b"[" * 6000 + b"]" * 6000 + b"}",
    "huge-number-in-a-field": lambda body, name: json.dumps(body)[:-1].encode() + b', "x": 1e400}',
}


def _admin(method: str, path: str, body: bytes = b"", token: bytes = ADMIN_TOKEN.encode()) -> Callable[..., Request]:
    return lambda api, mock: Request(api, method, path, ((b"authorization", b"Bearer " + token), *JSON), body)


def _top_up(raw_amount: str) -> Callable[..., Request]:
    def build(api: str, mock: InProcessMock) -> Request:
        return _admin("POST", f"/__genmock/tenants/{mock.demo[api].id}/top-ups",
                      f'{{"amount": {raw_amount}}}'.encode())(api, mock)

    return build


def _get(path: str, credentials: tuple[tuple[bytes, bytes], ...]) -> Callable[..., Request]:
    return lambda api, mock: Request(api, "GET", path, credentials)


def _preflight(path: str, origin: bytes, method: bytes) -> Callable[..., Request]:
    return lambda api, mock: Request(api, "OPTIONS", path, ((b"origin", origin),
                                                            (b"access-control-request-method", method)))


def _declaring(where: str, length: int) -> Callable[..., Request]:
    """A body route's request that declares a body longer than any the operation takes."""
    _, path, credentials, body, _ = BODY_ROUTES[where]
    return lambda api, mock: Request(api, "POST", path, (*credentials, *JSON, (b"content-length", b"%d" % length)),
                                     json.dumps(body).encode())


def _spoiled(where: str, spoil: Callable[[dict[str, Any], str], bytes]) -> Callable[..., Request]:
    _, path, credentials, body, name = BODY_ROUTES[where]
    return lambda api, mock: Request(api, "POST", path, credentials + JSON, spoil(body, name))


NOT_ASCII_TOKENS = {"latin1-byte": ADMIN_TOKEN.encode() + b"\xff", "utf8-e-acute": "é".encode() * 20,
                    "utf8-surrogate-bytes": ADMIN_TOKEN.encode() + b"\xed\xa0\x80"}
HUGE = {"1e400": "1e400", "-1e400": "-1e400", "4000-digits": "1" + "0" * 4000, "2**64": str(2**64), "NaN": "NaN",
        "Infinity": "Infinity"}
WITH_TINY = {**HUGE, "1e-400": "1e-400"}  # 0 once parsed: refused only where zero is
# (origin, the request, the status a correct server answers, or those it may choose from)
REGRESSIONS: list[Any] = [
    *[pytest.param(BODY_ROUTES[where][0], _spoiled(where, spoil), 400, id=f"{name}-{where}")
      for where in BODY_ROUTES for name, spoil in SPOILED_BODIES.items()],
    *[pytest.param(api, _admin("GET", "/__genmock/state", token=token), 401, id=f"admin-token-{label}-{api}")
      for api in dialects.NAMES for label, token in NOT_ASCII_TOKENS.items()],
    pytest.param("lovlychat", _get("/v1/pricing", ((b"x-api-key", b"\xe9" * 30),)), 401, id="api-key-latin1-lovlychat"),
    pytest.param("lovlychat", _get("/v1/pricing", ((b"authorization", "Bearer lc_demo_key_0123456789abcdé".encode()),)),
                 401, id="bearer-utf8-lovlychat"),
    pytest.param("lucydream", lambda api, mock: Request(api, "POST", "/wp-json/apiservices/v1/generate",
                                                        ((b"x-api-key", b"your_api_key_here\xff"), *JSON),
                                                        json.dumps(BODY_ROUTES["lucydream"][3]).encode()),
                 403, id="api-key-latin1-lucydream"),
    *[pytest.param(api, _admin("POST", "/__genmock/tenants", json.dumps(
        {"name": "twice", "credentials": ["gm_same_key_0123456789abcdef"] * 2}).encode()), 400,
        id=f"tenant-with-the-same-key-twice-{api}") for api in dialects.NAMES],
    *[pytest.param("lovlychat", _top_up(raw), 400, id=f"top-up-{label}") for label, raw in WITH_TINY.items()],
    *[pytest.param("lucydream", _admin("POST", "/__genmock/tenants", f'{{"balance": {raw}}}'.encode()), 400,
                   id=f"new-tenant-balance-{label}") for label, raw in HUGE.items()],
    *[pytest.param("lucydream", _admin("POST", "/__genmock/clock", f'{{"advanceSeconds": {raw}}}'.encode()), 400,
                   id=f"clock-advance-{label}") for label, raw in HUGE.items()],
    *[pytest.param("lucydream", _admin("POST", "/__genmock/faults",
                                       f'{{"operation": "generate", "count": {raw}}}'.encode()), 400,
                   id=f"fault-count-{label}") for label, raw in WITH_TINY.items()],
    *[pytest.param("lovlychat", _admin("PATCH", "/__genmock/config", f'{{"prices": {{"image.hd": {raw}}}}}'.encode()),
                   400, id=f"config-price-{label}") for label, raw in HUGE.items()],
    *[pytest.param("lovlychat", _get(f"/v1/generation/gallery?limit={raw}", LOVLYCHAT_KEY), 400,
                   id=f"gallery-limit-{label}") for label, raw in WITH_TINY.items()],
    pytest.param("lovlychat", _get("/v1/generation/jobs/%ED%A0%80", LOVLYCHAT_KEY), 404,
                 id="job-id-utf8-surrogate-bytes"),
    pytest.param("lovlychat", _get("/v1/generation/gallery?cursor=%ED%A0%80", LOVLYCHAT_KEY), 400,
                 id="cursor-utf8-surrogate-bytes"),
    pytest.param("lucydream", _admin("GET", "/__genmock/tenants/%ED%A0%80/ledger"), 404,
                 id="tenant-id-utf8-surrogate-bytes"),
    # found by the fuzz: CORS preflights refused by the middleware, bodies over the limit
    # (a refused preflight is the API's own answer to OPTIONS: 405, or 404 where WordPress knows no such route)
    *[pytest.param(api, _preflight(path, origin, method), (400, 403, 404, 405), id=f"cors-preflight-{label}-{where}")
      for where, (api, path) in {"lovlychat": ("lovlychat", "/v1/generation/jobs"),
                                 "lucydream": ("lucydream", "/wp-json/apiservices/v1/generate"),
                                 "admin": ("lovlychat", "/__genmock/tenants")}.items()
      for label, origin, method in [("from-another-origin", b"https://evil.example", b"POST"),
                                    ("with-a-non-ascii-method", b"http://localhost:5173", b"\xff")]],
    *[pytest.param(BODY_ROUTES[where][0], _declaring(where, 2**20 + 1), 413, id=f"body-over-the-limit-{where}")
      for where in BODY_ROUTES],
]


@pytest.mark.parametrize(("api", "build", "status"), REGRESSIONS)
def test_a_reviewed_input_is_refused_in_the_apis_format_and_changes_nothing(
        api: str, build: Callable[[str, InProcessMock], Request], status: int | tuple[int, ...]) -> None:
    origin = Origin(api)
    try:
        request = build(api, origin.mock)
        answer, problems = origin.check(request)
    finally:
        origin.close()
    assert not problems and answer.status in (status if isinstance(status, tuple) else (status,)), (
        f"answered {answer.status or answer.error}, expected {status}: {answer.body[:300]!r}\n"
        f"    {request.describe()}\n" + "\n".join(f"    [{kind}] {detail}" for kind, detail in problems))
