"""An HTTP client whose every response is validated strictly against the spec with openapi-core.

A response with an undeclared status, an undeclared content type, headers or a body that do not match the
spec becomes a `Finding` of the `responses` layer, whichever layer sent the request.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.media_types.exceptions import MediaTypeNotFound
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.validation.response.exceptions import HeaderValidationError
from werkzeug.datastructures import Headers, ImmutableMultiDict

from contracts import exchanges
from contracts.cleanup import Created, deletables
from contracts.curl import Transcript
from contracts.guard import Guard
from contracts.paths import template_pattern
from contracts.report import Finding, Report
from contracts.target import Target, Token

NO_BODY = object()
VERDICTS = 4096  # responses whose verdict is remembered
CREDENTIAL_PREFIX = "x-genmock-credential-prefix"  # what an apiKey scheme's value starts with (AliveAI: "Key ")
# what the strict validation judges of every response (the report lists each, per operation, with its verdict)
CONFORMANCE = ("status_code_conformance", "content_type_conformance", "response_headers_conformance",
               "response_schema_conformance")


@dataclass(frozen=True)
class KeyScheme:
    """How the API takes a key: the header of its apiKey scheme and what the value starts with."""

    header: str | None  # e.g. "X-API-Key"; None: the spec has no apiKey header scheme, keys go as Bearer tokens
    prefix: str = ""  # e.g. "Key ": the header's value is `Key <key>`, not the bare key

    def headers(self, key: str) -> dict[str, str]:
        """The header(s) that present `key` (a `Token` always as Bearer)."""
        if isinstance(key, Token) or self.header is None:
            return {"authorization": f"Bearer {key}"}
        return {self.header: self.prefix + key}


@dataclass(frozen=True)
class Reply:
    """One answered request."""

    status: int
    body: Any  # the parsed JSON body; None when there is none or it is not JSON
    text: str
    content_type: str
    curl: str  # the request as a curl line (secrets masked)
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    content: bytes = b""

    def error_code(self) -> Any:
        """`error.code` of an error body shaped `{"error": {"code", ...}}`, else None."""
        error = self.field("error")
        return error.get("code") if isinstance(error, dict) else None

    def field(self, name: str) -> Any:
        return self.body.get(name) if isinstance(self.body, dict) else None


class ContractClient:
    def __init__(self, target: Target, report: Report, transcript: Transcript, guard: Guard | None = None) -> None:
        document = {**target.document()}  # a copy: the servers change
        self.api = target.api
        self.key_scheme = key_scheme(document)
        self.auth_header = self.key_scheme.header
        document["servers"] = [{"url": target.root}]  # validate against the target, not the published host
        self._templates = [(template_pattern(path), path) for path in document.get("paths", {})]
        # the spec is not validated again here (over a second for AliveAI's): schemathesis reads it too, and the
        # repository's own specs are validated by their tests
        json_types = dict.fromkeys(_json_suffixed(document), json.loads)
        self._openapi = OpenAPI.from_dict(document, config=Config(spec_validator_cls=None,
                                                                  extra_media_type_deserializers=json_types))
        # every request it sends (streams and asset downloads too) is first admitted by the run's guard
        self.guard = guard or Guard()
        self.created = Created(deletables(document))  # what the run may delete again at its end
        self._http = httpx.Client(base_url=target.root, timeout=target.timeout, event_hooks=self.guard.event_hooks())
        self._report = report
        self.transcript = transcript
        self._verdicts: dict[Any, list[tuple[str, str, str]]] = {}

    def close(self) -> None:
        self._http.close()

    def send(self, method: str, path: str, *, key: str | None, body: Any = NO_BODY, raw: bytes | None = None,
             validate: bool = True, headers: dict[str, str] | None = None, params: dict[str, Any] | None = None,
             files: dict[str, Any] | None = None) -> Reply:
        """Send one request (JSON `body`, `raw` bytes sent as JSON, or a multipart form of `files` and the
        string fields of `body`) with `key` as the API's key scheme takes it (a `Token` as Bearer), plus any
        other `headers` (e.g. another form of the key) and query `params`.

        With `validate`, the response is checked against the operation the spec declares for it; leave it
        off only for requests the spec cannot describe (an undeclared route or method)."""
        request = self.build(method, path, key=key, body=body, raw=raw, headers=headers, params=params, files=files)
        return self.receive(request, self.exchange(request), validate)

    def build(self, method: str, path: str, *, key: str | None, body: Any = NO_BODY, raw: bytes | None = None,
              headers: dict[str, str] | None = None, params: dict[str, Any] | None = None,
              files: dict[str, Any] | None = None) -> httpx.Request:
        """The request `send` would send."""
        sent = self.key_scheme.headers(key) if key is not None else {}
        sent.update(headers or {})
        if files is not None:
            request = self._http.build_request(method, path, files=files, data=None if body is NO_BODY else body,
                                               headers=sent, params=params)
            request.read()  # a multipart body is a stream: read, so the transcript and validation see it
            return request
        if raw is not None:
            return self._http.build_request(method, path, content=raw, params=params,
                                            headers={**sent, "content-type": "application/json"})
        if body is not NO_BODY:
            return self._http.build_request(method, path, json=body, headers=sent, params=params)
        return self._http.build_request(method, path, headers=sent, params=params)

    def fetch(self, url: str) -> httpx.Response:
        """GET an absolute URL the API handed out (e.g. a media's), without credentials or validation, on the
        client's connections; recorded in the transcript."""
        response = self._http.get(url)
        self.transcript.record(response.request, response.status_code)
        return response

    def open_stream(self, request: httpx.Request) -> httpx.Response:
        """Send `request` and return its response unread (the caller reads it, e.g. line by line, then closes it):
        an NDJSON stream is judged line by line by its own checks (contracts/protocols/streams.py)."""
        return self._http.send(request, stream=True)

    def exchange(self, request: httpx.Request) -> httpx.Response:
        """Only the HTTP exchange: safe to call from several threads at once."""
        return self._http.send(request)

    def receive(self, request: httpx.Request, response: httpx.Response, validate: bool = True) -> Reply:
        """Record an exchange in the transcript and (with `validate`) check the response against the spec."""
        line = self.transcript.record(request, response.status_code)
        exchanges.note(request, response, self.operation)
        reply = Reply(status=response.status_code, body=_json(response), text=response.text,
                      content_type=response.headers.get("content-type", ""), curl=line,
                      headers={name.lower(): value for name, value in response.headers.items()},
                      content=response.content)
        operation = self.operation(request)
        self.created.note(request, operation.split(" ", 1)[1], reply.status, reply.body)
        if validate:
            for check, message, dedupe in self._judged(operation, request, response):
                self._report.add(Finding("responses", check, operation, message, line), dedupe)
            self._report.ran("responses", *CONFORMANCE, operation=operation)
        return reply

    def operation(self, request: httpx.Request) -> str:
        """"METHOD /path/{template}" of the spec's path the request went to (its own path if none)."""
        path = request.url.path
        template = next((template for pattern, template in self._templates if pattern.match(path)), path)
        return f"{request.method} {template}"

    def _judged(self, operation: str, request: httpx.Request, response: httpx.Response) -> list[tuple[str, str, str]]:
        """`_violations`, remembered: the verdict depends only on the operation and the response (a state machine
        polls the same answers over and over; the `Date` header is the one part of them that changes)."""
        key = (operation, response.status_code, response.content,
               tuple(sorted((name, value) for name, value in response.headers.items() if name.lower() != "date")))
        verdict = self._verdicts.get(key)
        if verdict is None:
            if len(self._verdicts) >= VERDICTS:
                self._verdicts.clear()
            verdict = self._verdicts[key] = list(self._violations(request, response))
        return verdict

    def _violations(self, request: httpx.Request, response: httpx.Response) -> Iterator[tuple[str, str, str]]:
        """(check, message, dedupe key) for each way the response breaks the spec."""
        status = response.status_code
        try:
            self._openapi.validate_response(_OpenAPIRequest(request), _OpenAPIResponse(response))
        except ResponseNotFound:
            yield "status_code_conformance", f"status {status} is not declared for this operation", str(status)
        except HeaderValidationError as error:
            yield "response_headers_conformance", f"status {status}: {error}", f"{status}:{error.name}"
        except Exception as error:  # openapi-core wraps the cause of a data error
            cause = _root_cause(error)
            if isinstance(cause, MediaTypeNotFound):
                content_type = response.headers.get("content-type", "(none)")
                yield ("content_type_conformance",
                       f"status {status} answered Content-Type {content_type}; the spec declares "
                       f"{', '.join(cause.availableMimetypes)}", f"{status}:{content_type}")
                return
            errors = list(_schema_errors(error))
            if not errors:
                yield "response_schema_conformance", f"status {status}: {error}", f"{status}:{type(cause).__name__}"
            for where, message, keyword in errors:
                yield ("response_schema_conformance", f"status {status}: body{where}: {message}",
                       f"{status}:{where}:{keyword}:{message if keyword == 'required' else ''}")


def key_scheme(document: dict[str, Any]) -> KeyScheme:
    """The spec's first `apiKey` security scheme in a header (e.g. "X-API-Key", or "Authorization" with the
    prefix "Key ")."""
    for scheme in document.get("components", {}).get("securitySchemes", {}).values():
        if scheme.get("type") == "apiKey" and scheme.get("in") == "header":
            return KeyScheme(str(scheme["name"]), str(scheme.get(CREDENTIAL_PREFIX, "")))
    return KeyScheme(None)


def api_key_header(document: dict[str, Any]) -> str | None:
    """The header of the spec's first `apiKey` security scheme in a header (e.g. "X-API-Key")."""
    return key_scheme(document).header


def _json_suffixed(document: Any) -> set[str]:
    """The media types of the spec that are JSON by their `+json` suffix (RFC 6839), e.g.
    application/problem+json: openapi-core reads only application/json as JSON by itself."""
    if isinstance(document, dict):
        found = {name for name in document.get("content", {}) if isinstance(document.get("content"), dict)
                 and name.endswith("+json")}
        return found.union(*(_json_suffixed(value) for value in document.values()))
    if isinstance(document, list):
        return set().union(*(_json_suffixed(value) for value in document))
    return set()


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _root_cause(error: BaseException) -> BaseException:
    while error.__cause__ is not None:
        error = error.__cause__
    return error


def _schema_errors(error: BaseException) -> Iterator[tuple[str, str, str]]:
    """(where, message, keyword) of each JSON Schema error behind an openapi-core data error. For a `oneOf`,
    the errors of the alternative that came closest (the fewest errors) explain best what is wrong."""
    current: BaseException | None = error
    while current is not None:
        for schema_error in getattr(current, "schema_errors", ()) or ():
            yield from _explain(schema_error)
        current = current.__cause__


def _explain(schema_error: Any) -> Iterator[tuple[str, str, str]]:
    if schema_error.validator in ("oneOf", "anyOf") and schema_error.context:
        branches: dict[Any, list[Any]] = {}
        for sub in schema_error.context:
            branches.setdefault(sub.schema_path[0] if sub.schema_path else None, []).append(sub)
        closest = min(branches.values(), key=len)
        for sub in closest:
            yield from _explain(sub)
        return
    where = "".join(f"[{part!r}]" for part in schema_error.absolute_path)
    yield where, schema_error.message, str(schema_error.validator)


class _OpenAPIRequest:
    """An httpx request as openapi-core's request protocol."""

    def __init__(self, request: httpx.Request) -> None:
        url = urlsplit(str(request.url))
        self.host_url = f"{url.scheme}://{url.netloc}"
        self.path = url.path
        self.method = request.method.lower()
        self.body: bytes | None = request.content or None
        self.content_type = request.headers.get("content-type", "")
        self.parameters = RequestParameters(query=ImmutableMultiDict(parse_qs(url.query)),
                                            header=Headers(dict(request.headers)), cookie=ImmutableMultiDict())


class _OpenAPIResponse:
    """An httpx response as openapi-core's response protocol."""

    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.data = response.content
        self.headers = Headers(dict(response.headers))
        self.content_type = response.headers.get("content-type", "")
