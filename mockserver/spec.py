"""Read an OpenAPI 3.0 document and compile what serving it needs: routes, security, validators.

Everything the mock enforces about a request (paths, methods, parameters, bodies, credentials) comes from
here, so a behaviour change starts in the spec.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import Any

import jsonschema_rs
import yaml

import genmock_specs

SPECS_DIR = genmock_specs.DIR
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
# OpenAPI keywords that JSON Schema (draft 4) does not know; they never constrain a request
_ANNOTATIONS = {"example", "examples", "discriminator", "readOnly", "writeOnly", "xml", "externalDocs", "deprecated"}


# Body limits: twice the largest body the request schema admits (every string at its maxLength, each
# character escaped), at least MIN_BODY_LIMIT (room for whitespace and ignored fields); DEFAULT_BODY_LIMIT
# where the schema bounds nothing; an operation can state its own as `x-genmock-max-body-bytes` (uploads).
MIN_BODY_LIMIT = 16 * 1024
DEFAULT_BODY_LIMIT = 1024 * 1024


@dataclass(frozen=True)
class Violation:
    """One reason a request does not match its operation."""

    location: str  # "body" | "query" | "path" | "header"
    field: str  # dotted path within the location; "" for the whole body
    keyword: str  # the JSON Schema keyword that failed ("required", "enum", ...) or "json"
    message: str
    schema: dict[str, Any] = field(default_factory=dict, compare=False)  # the failing (sub)schema


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str
    required: bool
    schema: dict[str, Any]
    validator: Any


@dataclass(frozen=True)
class SecurityScheme:
    name: str
    kind: str  # "header" | "query" | "cookie" | "bearer"
    key: str  # header/query/cookie name; "authorization" for bearer
    prefix: str = ""  # what the value starts with, when the credential shares a header (`Key ` of AliveAI)


@dataclass(frozen=True)
class BodyBranch:
    """One alternative of a `oneOf` body, and the keys only it requires (to explain a failure)."""

    validator: Any
    schema: dict[str, Any]  # as JSON Schema, to explain failures
    unique_required: frozenset[str]
    defaults: dict[str, Any]
    discriminator: tuple[str, frozenset[str]] | None  # (property, the values that select this branch)


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str
    parameters: tuple[Parameter, ...]
    body_required: bool
    body_validator: Any | None
    body_schema: dict[str, Any] | None  # as JSON Schema, with the spec's schemas under "definitions"
    body_branches: tuple[BodyBranch, ...]
    body_defaults: dict[str, Any]
    security: tuple[tuple[SecurityScheme, ...], ...]  # alternatives; () = no credentials needed; an empty
    # alternative among others (`security: [{}, {key: []}]`): credentials are optional
    responses: dict[str, Any]
    max_body_bytes: int = MIN_BODY_LIMIT  # a longer body is refused (413) before it is read
    form_body: bool = False  # the body is multipart/form-data (an upload), not JSON

    @cached_property
    def has_query(self) -> bool:
        return any(parameter.location == "query" for parameter in self.parameters)


@dataclass(frozen=True)
class CompiledSpec:
    document: dict[str, Any]
    operations: tuple[Operation, ...]


@cache
def load_document(name: str) -> dict[str, Any]:
    """The parsed spec `specs/<name>` (e.g. "lucydream.yaml")."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(genmock_specs.path(name), encoding="utf-8") as handle:
        return yaml.load(handle, Loader=loader)


def compile_spec(name: str) -> CompiledSpec:
    document = load_document(name)
    schemas = document.get("components", {}).get("schemas", {})
    definitions = {key: to_json_schema(value) for key, value in schemas.items()}
    schemes = _security_schemes(document)
    operations = []
    for path, item in document.get("paths", {}).items():
        shared_parameters = item.get("parameters", [])
        for method in METHODS:
            if method in item:
                operations.append(
                    _operation(document, definitions, schemes, path, method, item[method], shared_parameters)
                )
    return CompiledSpec(document=document, operations=tuple(operations))


def resolve(document: dict[str, Any], node: Any) -> Any:
    """Follow a local `$ref` (one level at a time, until the node is not a reference)."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def to_json_schema(schema: Any) -> Any:
    """An OpenAPI 3.0 schema object as JSON Schema draft 4 (refs point into `definitions`)."""
    if isinstance(schema, list):
        return [to_json_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result: dict[str, Any] = {}
    for key, value in schema.items():
        if key.startswith("x-") or key in _ANNOTATIONS or key == "nullable":
            continue
        if key == "$ref":
            result[key] = value.replace("#/components/schemas/", "#/definitions/")
        elif key in ("properties", "definitions", "patternProperties"):
            result[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        elif isinstance(value, dict | list) and key not in ("enum", "required", "default"):
            result[key] = to_json_schema(value)
        else:
            result[key] = value
    bounds = _FORMAT_BOUNDS.get(schema.get("format"))
    if bounds and schema.get("type") in ("integer", "number"):  # JSON Schema has no int32: its range says it
        result.setdefault("minimum", bounds[0])
        result.setdefault("maximum", bounds[1])
    if schema.get("nullable"):
        if "type" in result:
            result["type"] = [result["type"], "null"]
        if "enum" in result and None not in result["enum"]:
            result["enum"] = [*result["enum"], None]
    return result


_FORMAT_BOUNDS = {"int32": (-2**31, 2**31 - 1), "int64": (-2**63, 2**63 - 1)}


def _validator(schema: dict[str, Any], definitions: dict[str, Any]) -> Any:
    return jsonschema_rs.Draft4Validator({**schema, "definitions": definitions}, validate_formats=True)


def _security_schemes(document: dict[str, Any]) -> dict[str, SecurityScheme]:
    schemes = {}
    for name, raw in document.get("components", {}).get("securitySchemes", {}).items():
        scheme = resolve(document, raw)
        if scheme["type"] == "apiKey":
            schemes[name] = SecurityScheme(name, scheme["in"], scheme["name"].lower(),
                                           scheme.get("x-genmock-credential-prefix", ""))
        elif scheme["type"] == "http" and scheme.get("scheme", "").lower() == "bearer":
            schemes[name] = SecurityScheme(name, "bearer", "authorization")
        else:
            raise ValueError(f"security scheme {name!r}: only apiKey and http bearer are supported")
    return schemes


def _operation(document: dict[str, Any], definitions: dict[str, Any], schemes: dict[str, SecurityScheme],
               path: str, method: str, raw: dict[str, Any], shared_parameters: list[Any]) -> Operation:
    parameters: dict[tuple[str, str], Parameter] = {}
    for raw_parameter in [*shared_parameters, *raw.get("parameters", [])]:
        parameter = resolve(document, raw_parameter)
        schema = to_json_schema(resolve(document, parameter.get("schema", {})))
        parameters[(parameter["in"], parameter["name"])] = Parameter(
            name=parameter["name"], location=parameter["in"], required=parameter.get("required", False),
            schema=schema, validator=_validator(schema, definitions),
        )
    body = resolve(document, raw.get("requestBody")) or {}
    body_schema = resolve(document, body.get("content", {}).get("application/json", {}).get("schema"))
    branches: tuple[BodyBranch, ...] = ()
    body_defaults: dict[str, Any] = {}
    if body_schema is not None:
        json_schema = to_json_schema(body_schema)
        if "oneOf" in resolve(document, body_schema):
            branches = _branches(document, definitions, resolve(document, body_schema))
        else:
            body_defaults = _defaults(document, body_schema)
    requirements = raw.get("security", document.get("security", []))
    return Operation(
        operation_id=raw["operationId"], method=method.upper(), path=path, parameters=tuple(parameters.values()),
        body_required=bool(body.get("required")),
        body_validator=_validator(json_schema, definitions) if body_schema is not None else None,
        body_schema={**json_schema, "definitions": definitions} if body_schema is not None else None,
        body_branches=branches, body_defaults=body_defaults,
        security=tuple(tuple(schemes[name] for name in requirement) for requirement in requirements),
        responses=raw.get("responses", {}),
        max_body_bytes=raw.get("x-genmock-max-body-bytes") or body_limit(document, body_schema),
        form_body="multipart/form-data" in body.get("content", {}),
    )


def body_limit(document: dict[str, Any], schema: Any) -> int:
    """The body limit of an operation whose JSON body has `schema` (None: no body)."""
    if schema is None:
        return MIN_BODY_LIMIT
    largest = largest_json(document, schema)
    return DEFAULT_BODY_LIMIT if largest is None else max(MIN_BODY_LIMIT, 2 * largest)


def largest_json(document: dict[str, Any], schema: Any, seen: frozenset[str] = frozenset()) -> int | None:
    """An upper bound of the bytes of a JSON value valid against `schema`; None when it has none."""
    if isinstance(schema, dict) and "$ref" in schema:
        if schema["$ref"] in seen:
            return None  # recursive
        return largest_json(document, resolve(document, schema), seen | {schema["$ref"]})
    if not isinstance(schema, dict):
        return None
    for combinator in ("oneOf", "anyOf"):
        if combinator in schema:
            sizes = [largest_json(document, branch, seen) for branch in schema[combinator]]
            return None if None in sizes else max(sizes)  # type: ignore[type-var]
    if "enum" in schema:
        return max(len(json.dumps(value)) for value in schema["enum"])
    kind = schema.get("type")
    if kind == "string":
        # \uXXXX per character at worst; formats without maxLength (uri, date-time) are still unbounded
        return 6 * schema["maxLength"] + 2 if "maxLength" in schema else None
    if kind in ("integer", "number", "boolean", "null"):
        return 32
    if kind == "array":
        item = largest_json(document, schema.get("items", {}), seen)
        return None if item is None or "maxItems" not in schema else schema["maxItems"] * (item + 1) + 2
    properties = schema.get("properties")
    if kind == "object" or properties:
        total = 2
        for name, sub in (properties or {}).items():
            size = largest_json(document, sub, seen)
            if size is None:
                return None
            total += 6 * len(name) + 4 + size
        return total
    return None


def _branches(document: dict[str, Any], definitions: dict[str, Any], schema: dict[str, Any]) -> tuple[BodyBranch, ...]:
    alternatives = schema["oneOf"]
    required = [set(resolve(document, alternative).get("required", [])) for alternative in alternatives]
    discriminator = schema.get("discriminator")
    branches = []
    for index, alternative in enumerate(alternatives):
        others = set().union(*(keys for position, keys in enumerate(required) if position != index))
        selected_by = None
        if discriminator and "$ref" in alternative:
            values = {value for value, ref in discriminator.get("mapping", {}).items() if ref == alternative["$ref"]}
            selected_by = (discriminator["propertyName"], frozenset(values or {alternative["$ref"].split("/")[-1]}))
        json_schema = to_json_schema(alternative)
        branches.append(BodyBranch(_validator(json_schema, definitions), json_schema,
                                   frozenset(required[index] - others), _defaults(document, alternative), selected_by))
    return tuple(branches)


def _defaults(document: dict[str, Any], schema: Any) -> dict[str, Any]:
    """Top-level property defaults of an object schema: what the server assumes when a field is left out."""
    properties = resolve(document, schema).get("properties", {})
    return {name: prop["default"] for name, prop in properties.items() if isinstance(prop, dict) and "default" in prop}


def path_pattern(template: str) -> re.Pattern[str]:
    """`/v1/jobs/{id}` -> a regex with one named group per path parameter (one segment each)."""
    parts = re.split(r"\{([^}]+)\}", template)
    regex = "".join(
        re.escape(part) if index % 2 == 0 else f"(?P<{group_name(part)}>[^/]+)" for index, part in enumerate(parts)
    )
    return re.compile(f"^{regex}$")


@cache  # on every request's path: a path parameter's name is turned into its group's once
def group_name(name: str) -> str:
    return re.sub(r"\W", "_", name)
