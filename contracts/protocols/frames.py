"""The frames of a websocket channel, as the AsyncAPI document describes them: the payload schema of each
message (a `$ref` into the OpenAPI document, resolved there) and a validator for it."""

from __future__ import annotations

from functools import cache
from typing import Any

import jsonschema
import yaml

import genmock_specs


@cache
def _document(name: str) -> dict[str, Any]:
    return yaml.safe_load(genmock_specs.path(name).read_text(encoding="utf-8"))


@cache
def validator(asyncapi: str, message: str) -> jsonschema.Draft4Validator:
    """A validator of message `message`'s payload (components.messages) of the AsyncAPI document `asyncapi`."""
    payload = _document(asyncapi)["components"]["messages"][message]["payload"]
    reference = payload.get("schema", payload)["$ref"]
    document_name, _, pointer = reference.partition("#")
    document = _document(document_name) if document_name else _document(asyncapi)
    # the OpenAPI schema keywords AliveAI's payloads use are JSON Schema draft 4's; refs stay inside `document`
    return jsonschema.Draft4Validator({"$ref": f"#{pointer}", "components": document["components"]})


def problems(asyncapi: str, message: str, frame: Any) -> list[str]:
    """What is wrong with one frame, as short texts (empty when it validates)."""
    return [f"{'/'.join(map(str, error.absolute_path)) or '(frame)'}: {error.message[:200]}"
            for error in validator(asyncapi, message).iter_errors(frame)]
