"""JSON schemas (OpenAPI 3.0 flavour) as readable HTML: properties, types, required, enums, constraints,
descriptions and provenance. Each named schema (the target of a `$ref`) is rendered once, with an anchor, and
linked from everywhere else, so that recursive schemas stay finite.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from html import escape
from typing import Any

from mockserver.docs.markdown import to_html
from mockserver.docs.provenance import marker

CONSTRAINTS = ("format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength",
               "pattern", "minItems", "maxItems", "uniqueItems", "multipleOf", "nullable", "readOnly", "writeOnly",
               "deprecated")
Loader = Callable[[str], dict[str, Any]]  # a document's name (e.g. "aliveai.yaml") -> the parsed document


def provenance_html(element: dict[str, Any]) -> str:
    """The element's provenance marker (word and note) as a paragraph, or ""."""
    text = marker(element)
    if not text:
        return ""
    word = element.get("x-provenance", "note")
    return f'<div class="provenance provenance-{escape(word)}">{to_html(text)}</div>'


class SchemaRenderer:
    """Renders schemas found in the document `base` (refs are resolved with `load`, also across documents)."""

    def __init__(self, load: Loader) -> None:
        self.load = load
        self.done: set[str] = set()  # anchors of the named schemas rendered in full
        self.pending: list[tuple[str, str]] = []  # (ref, the document it is in) linked, not rendered yet

    def resolve(self, ref: str, base: str) -> tuple[str, str, dict[str, Any]]:
        """(document, name, schema) of a `$ref` seen in the document `base`."""
        document, _, pointer = ref.partition("#")
        document = document or base
        node: Any = self.load(document)
        for part in pointer.strip("/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return document, pointer.rsplit("/", 1)[-1], node

    def named(self, ref: str, base: str) -> str:
        """The schema a `$ref` names, rendered in full with its anchor (once; later calls answer "")."""
        document, name, schema = self.resolve(ref, base)
        anchor = _anchor(name)
        if anchor in self.done:
            return ""
        self.done.add(anchor)
        source = f'<span class="source">{escape(document)}</span>'
        return (f'<section class="schema" id="{anchor}"><h4>{escape(name)} {source}</h4>'
                f"{self.body(schema, document)}</section>")

    def remaining(self) -> str:
        """Every schema linked so far and not rendered yet (and those they link, transitively)."""
        parts = []
        while self.pending:
            parts.append(self.named(*self.pending.pop(0)))
        return "".join(parts)

    def body(self, schema: dict[str, Any], base: str) -> str:
        """Provenance, description, type, enum, constraints and properties of one schema."""
        parts = [provenance_html(schema), to_html(schema.get("description")),
                 f'<p class="type">Type: {self.type_label(schema, base)}</p>', _facts(schema)]
        for keyword in ("allOf", "oneOf", "anyOf"):
            for branch in schema.get(keyword, ()):
                if "$ref" not in branch and (branch.get("properties") or branch.get("description")):
                    parts.append(f'<div class="branch"><p>{keyword} branch:</p>{self.body(branch, base)}</div>')
        if schema.get("properties"):
            parts.append(self.properties(schema, base))
        items = schema.get("items")
        if isinstance(items, dict) and "$ref" not in items and items.get("properties"):
            parts.append(f'<div class="branch"><p>Each item:</p>{self.body(items, base)}</div>')
        return "".join(part for part in parts if part)

    def properties(self, schema: dict[str, Any], base: str) -> str:
        required = set(schema.get("required", ()))
        rows = []
        for name, prop in schema["properties"].items():
            inline = prop.get("properties") and "$ref" not in prop
            details = [provenance_html(prop), to_html(prop.get("description")), _facts(prop)]
            if inline:
                details.append(self.properties(prop, base))
            flag = '<span class="required">required</span>' if name in required else "optional"
            rows.append(f'<tr><td><code class="property">{escape(name)}</code></td>'
                        f"<td>{self.type_label(prop, base)}</td><td>{flag}</td>"
                        f"<td>{''.join(part for part in details if part)}</td></tr>")
        return ('<table class="properties"><thead><tr><th>Property</th><th>Type</th><th>Required</th>'
                f"<th>Description</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")

    def type_label(self, schema: dict[str, Any], base: str) -> str:
        """A short HTML label: a link for a reference, `array of ...`, `one of ...`, a type and its format."""
        if "$ref" in schema:
            document, name, _ = self.resolve(schema["$ref"], base)
            if _anchor(name) not in self.done:
                self.pending.append((schema["$ref"], base))
            return f'<a href="#{_anchor(name)}">{escape(name)}</a>'
        for keyword, word in (("allOf", "all of"), ("oneOf", "one of"), ("anyOf", "any of")):
            branches = schema.get(keyword)
            if branches:
                labels = [self.type_label(branch, base) for branch in branches]
                return labels[0] if len(labels) == 1 else f"{word} {' | '.join(labels)}"
        kind = schema.get("type") or ("object" if "properties" in schema else "any")
        if kind == "array":
            return f"array of {self.type_label(schema.get('items') or {}, base)}"
        label = escape(str(kind))
        if schema.get("format"):
            label += f" ({escape(str(schema['format']))})"
        return label


def _facts(schema: dict[str, Any]) -> str:
    """Enum values, default, constraints and example of a schema, as a short list."""
    facts = []
    if "enum" in schema:
        values = ", ".join(f"<code>{escape(_json(value))}</code>" for value in schema["enum"])
        facts.append(f"<li>One of: {values}</li>")
    if "default" in schema:
        facts.append(f"<li>Default: <code>{escape(_json(schema['default']))}</code></li>")
    constraints = [f"{name} {_json(schema[name])}" for name in CONSTRAINTS if name in schema and name != "format"]
    if constraints:
        facts.append(f"<li>{escape(', '.join(constraints))}</li>")
    if "example" in schema and not isinstance(schema["example"], dict | list):
        facts.append(f"<li>Example: <code>{escape(_json(schema['example']))}</code></li>")
    return f'<ul class="facts">{"".join(facts)}</ul>' if facts else ""


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _anchor(name: str) -> str:
    return "schema-" + "".join(char if char.isalnum() or char in "-_" else "-" for char in name)
