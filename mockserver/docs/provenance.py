"""Make the specs' `x-provenance` visible in a copy of a spec that Swagger UI renders.

Every element that carries `x-provenance` (operation, parameter, request body, response, schema, property,
server, security scheme, info) gets a marker such as `**[inferred]**` in front of its description, followed by
its `x-provenance-note`; operations also get `[inferred]` in front of their summary, so that it shows on the
collapsed row. The extensions themselves stay, for Swagger UI's `showExtensions`.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterator
from typing import Any

WORDS = ("documented", "observed", "inferred")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# values that are data, not description: an `x-provenance` key inside them is not the spec's
_DATA = frozenset({"example", "examples", "default", "enum", "const"})
# objects whose keys are names (of paths, properties, media types...), not fields
_MAPS = frozenset({"paths", "properties", "patternProperties", "responses", "content", "schemas", "parameters",
                   "securitySchemes", "headers", "requestBodies", "links", "callbacks", "encoding", "variables"})


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(method, path, operation) of every operation of an OpenAPI document, in document order."""
    for path, item in spec.get("paths", {}).items():
        for method in METHODS:
            if isinstance(item.get(method), dict):
                yield method, path, item[method]


def operation_counts(spec: dict[str, Any]) -> dict[str, int]:
    """How many operations are documented, observed and inferred (and "unmarked", those without the mark)."""
    counts = Counter(operation.get("x-provenance", "unmarked") for _, _, operation in operations(spec))
    return {word: counts.get(word, 0) for word in (*WORDS, "unmarked")}


def annotate(spec: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of an OpenAPI document with the provenance of each element written into its description."""
    annotated = copy.deepcopy(spec)
    _walk(annotated, None, None)
    return annotated


def marker(element: dict[str, Any], markdown: bool = True) -> str:
    """`**[inferred]** note` (markdown) or `[inferred] note` (plain) for an element; "" if it carries neither."""
    word = element.get("x-provenance")
    note = " ".join(str(element.get("x-provenance-note", "")).split())
    if word:
        label = f"**[{word}]**" if markdown else f"[{word}]"
    elif note:
        label = "*Provenance:*" if markdown else "Provenance:"
    else:
        return ""
    return f"{label} {note}".rstrip()


def _walk(node: Any, key: str | None, parent_key: str | None) -> None:
    """Mark `node` (found under `key`, in an object found under `parent_key`; an item of a list under `key`
    is found under `key[]`) and everything inside it."""
    if isinstance(node, list):
        for item in node:
            _walk(item, f"{key}[]", parent_key)
        return
    if not isinstance(node, dict):
        return
    is_map = key in _MAPS and parent_key != "properties"  # else a property that happens to be named so
    for child_key, child in node.items():
        if not is_map and (child_key.startswith("x-") or child_key in _DATA):
            continue
        _walk(child, child_key, key)
    if not is_map and parent_key != "content":  # a media type's provenance goes to its body or response
        _mark(node, key)


def _mark(node: dict[str, Any], key: str | None) -> None:
    lines = [marker(node, markdown=key != "servers[]")]  # a server's description is shown as plain text
    content = node.get("content")
    for media_type, media in (content.items() if isinstance(content, dict) else ()):
        if isinstance(media, dict) and marker(media):
            lines.append(f"{media_type}: {marker(media)}")
    lines = [line for line in lines if line]
    if not lines:
        return
    if key == "servers[]":
        node["description"] = " — ".join(part for part in (str(node.get("description", "")), *lines) if part)
        return
    if key in METHODS and "responses" in node and node.get("x-provenance"):
        node["summary"] = f"[{node['x-provenance']}] {node.get('summary', '')}".rstrip()
    node["description"] = "\n\n".join([*lines, str(node.get("description", ""))]).strip()
