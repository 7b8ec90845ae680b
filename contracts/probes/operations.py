"""The spec's operations as the probes need them: their parameters and request body ($refs resolved), whether
they may charge or stream, a value for a parameter that names nothing, and the smallest body the spec admits."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from contracts.pricing import METHODS

SAFE = ("GET", "HEAD", "OPTIONS")
STREAMED = ("ndjson", "event-stream")  # media types of answers read as streams, not probed here
NOTHING = ("nearmiss0", "0", "00000000-0000-0000-0000-000000000000", "a")  # ids that name nothing


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    spec: dict[str, Any]
    parameters: tuple[dict[str, Any], ...]  # resolved
    responses: dict[str, dict[str, Any]]  # resolved, by status

    @property
    def label(self) -> str:
        return f"{self.method} {self.template}"

    @property
    def safe(self) -> bool:
        return self.method in SAFE

    @property
    def paid(self) -> bool:
        """It declares a 402: a request it accepts may charge."""
        return "402" in self.responses

    @property
    def streamed(self) -> bool:
        """Some answer of it is a stream (NDJSON, server-sent events)."""
        return any(kind in media for response in self.responses.values() for media in response.get("content", {})
                   for kind in STREAMED)

    def required(self, location: str) -> list[dict[str, Any]]:
        return [parameter for parameter in self.parameters
                if parameter.get("in") == location and parameter.get("required")]


def operations(document: dict[str, Any]) -> list[Operation]:
    """Every operation, in the spec's order."""
    found = []
    for template, item in document.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method, spec in item.items():
            if method in METHODS:
                parameters = tuple(resolve(document, parameter) for parameter in (*shared, *spec.get("parameters", [])))
                responses = {str(status): resolve(document, response)
                             for status, response in spec.get("responses", {}).items()}
                found.append(Operation(method.upper(), template, spec, parameters, responses))
    return found


def resolve(document: dict[str, Any], node: Any) -> Any:
    """`node` with its top-level `$ref` followed (within the document)."""
    while isinstance(node, dict) and "$ref" in node:
        found: Any = document
        for part in node["$ref"].lstrip("#/").split("/"):
            found = found[part]
        node = found
    return node


def nothing(schema: dict[str, Any]) -> str:
    """A value a parameter of `schema` admits that names nothing of anyone's (its first enum value, a number,
    or an id-shaped string that matches its pattern)."""
    if schema.get("enum"):
        return str(schema["enum"][0])
    if schema.get("type") in ("integer", "number"):
        return "1"
    pattern = schema.get("pattern")
    if schema.get("format") == "uuid":
        return NOTHING[2]
    return next((value for value in NOTHING if not pattern or re.search(pattern, value)), NOTHING[0])


def body_schema(document: dict[str, Any], operation: Operation) -> tuple[str, dict[str, Any]] | None:
    """The request body's media type and schema, None when it takes none."""
    content = resolve(document, operation.spec.get("requestBody", {})).get("content", {})
    for media, described in content.items():
        return media, resolve(document, described.get("schema", {}))
    return None


def refused_empty(document: dict[str, Any], operation: Operation) -> bool:
    """Whether `{}` is a body the operation must refuse (a required field missing), whatever else it checks."""
    body = body_schema(document, operation)
    if body is None:
        return False
    media, schema = body
    if "json" not in media:
        return True  # a form or a file: a JSON object is not one
    branches = [resolve(document, branch) for branch in schema.get("oneOf", schema.get("anyOf", []))] or [schema]
    return all(branch.get("required") for branch in branches)


def example(document: dict[str, Any], operation: Operation) -> Any:
    """A JSON request body the spec admits: its own example, else the smallest value of its schema (None: the
    operation takes no JSON body)."""
    body = body_schema(document, operation)
    if body is None or "json" not in body[0]:
        return None
    content = resolve(document, operation.spec["requestBody"])["content"][body[0]]
    if "example" in content:
        return content["example"]
    for named in content.get("examples", {}).values():
        return resolve(document, named).get("value")
    return smallest(document, body[1])


def smallest(document: dict[str, Any], schema: dict[str, Any]) -> Any:
    """The smallest value valid against `schema`: required fields only, first enum value, minimum lengths."""
    schema = resolve(document, schema)
    if "example" in schema:
        return schema["example"]
    if schema.get("enum"):
        return schema["enum"][0]
    for combined in ("allOf", "oneOf", "anyOf"):
        if schema.get(combined):
            return smallest(document, schema[combined][0])
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if kind == "object":
        return {name: smallest(document, schema.get("properties", {}).get(name, {}))
                for name in schema.get("required", [])}
    if kind == "array":
        return [smallest(document, schema.get("items", {}))] * max(1, schema.get("minItems", 0))
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    return "near miss".ljust(schema.get("minLength", 0), "x")[:schema.get("maxLength", 64)]
