"""AliveAI on the wire, shared by its tour and its state machine: the create routes (read from the spec's
`x-aliveai-prompt`), a valid request for each, uploads, the user's credits and queue, prompts and the files each
`mediaType` may be.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from contracts import media
from contracts.client import Reply
from contracts.target import Target, Token
from contracts.wire.common import Sender, Waiter, poll_until

ME, PENDING, QUEUE, PROMPTS, UPLOAD = "/members/me", "/prompts/pending", "/prompts/queue", "/prompts", "/upload"
GET_ME, GET_PENDING, REMOVE = f"GET {ME}", f"GET {PENDING}", f"DELETE {QUEUE}"
POLL, DELETE, LIST = "GET /prompts/{promptId}", "DELETE /prompts/{promptId}", f"GET {PROMPTS}"
UPLOAD_OP = f"POST {UPLOAD}"
FAR_SECONDS = 3600.0  # drains any plausible queue; less than a token's 24 h, so logins outlive a settle
TOKEN_SECONDS = 24 * 3600  # an access token's life (POST /members/login)
MEDIA_TYPES = {"IMAGE": media.IMAGES, "VIDEO": (media.MP4,)}  # the files each `MediaType` may be
# the request fields that name something of the user's, each filled by `body_for` from `References`
MEDIA_FIELDS = ("mediaId", "originalMediaId", "maskMediaId", "lastFrameMediaId")
TEXT = "a lighthouse on a cliff at dusk, oil painting"
TOO_MANY = "Max pending creations"  # what a 429 for a full queue says in its detail
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
UNKNOWN = "00000000-0000-0000-0000-000000000000"  # a prompt id, and a key, issued to no one
LEAN = {"videoFrameRate": "LOW"}  # optional fields at their cheapest: the fewest frames to make and to download


@dataclass(frozen=True)
class Route:
    """One create route, as the spec's `x-aliveai-prompt` describes it."""

    operation_id: str
    path: str
    prompt_type: str
    container_field: str  # the PromptContainer field that echoes its request
    media_type: str  # of its results: IMAGE | VIDEO
    source: str  # the kind of media its `mediaId` names: VIDEO for the routes that edit "an existing video"
    schema: dict[str, Any]  # its request body's schema
    lengths: bool  # it takes a `videoLength` (a MEDIUM video costs twice the price)

    @property
    def operation(self) -> str:
        return f"POST {self.path}"

    def needs(self, name: str) -> bool:
        """Whether its request requires a reference (`mediaId`, `createdFromPromptId`, ...)."""
        return name in _required_names(self.schema, _definitions(self.schema))


@dataclass(frozen=True)
class References:
    """What a valid request may name: an image and a video of the user's, and one of the user's prompts."""

    image: str | None = None
    video: str | None = None
    prompt: str | None = None


def routes(target: Target) -> dict[str, Route]:
    """Every create route, by prompt type, in the spec's order."""
    spec = target.document()
    found = {}
    for path, item in spec["paths"].items():
        operation = item.get("post", {})
        marks = operation.get("x-aliveai-prompt")
        if not marks:
            continue
        schema = {**_resolve(spec, operation["requestBody"]["content"]["application/json"]["schema"]),
                  "x-definitions": spec["components"]["schemas"]}
        text = f"{operation.get('summary', '')} {operation.get('description', '')}"
        found[marks["promptType"]] = Route(operation["operationId"], path, marks["promptType"],
                                           marks["containerField"], marks["mediaType"],
                                           "VIDEO" if "existing video" in text else "IMAGE", schema,
                                           "videoLength" in schema.get("properties", {}))
    return found


def body_for(route: Route, references: References, medium: bool = False) -> dict[str, Any]:
    """A valid request of `route`: its required fields, references filled from `references`, and the optional
    fields of `LEAN` it has (a MEDIUM video with `medium`)."""
    media = references.video if route.source == "VIDEO" else references.image
    named = {"mediaId": media, "originalMediaId": references.image, "maskMediaId": references.image,
             "lastFrameMediaId": references.image, "createdFromPromptId": references.prompt,
             "mediaIds": [references.image]}
    body: dict[str, Any] = _example(route.schema, _definitions(route.schema), named)
    body.update({name: value for name, value in LEAN.items() if name in route.schema.get("properties", {})})
    if medium and route.lengths:
        body["videoLength"] = "MEDIUM"
    return body


def prompt_path(prompt_id: str) -> str:
    return f"{PROMPTS}/{quote(prompt_id, safe='')}"


def credits(client: Sender, key: str) -> tuple[int | None, Reply]:
    """The user's credits (`GET /members/me`), None when the answer does not tell them."""
    reply = client.send("GET", ME, key=key)
    value = reply.field("credits")
    return (value if reply.status == 200 and isinstance(value, int) and not isinstance(value, bool) else None), reply


def pending(client: Sender, key: str) -> tuple[list[dict[str, Any]] | None, Reply]:
    """The user's queue (`GET /prompts/pending`), None when the answer is no queue."""
    reply = client.send("GET", PENDING, key=key)
    queue = reply.field("queue")
    if reply.status != 200 or not isinstance(queue, list) or not all(isinstance(item, dict) for item in queue):
        return None, reply
    return queue, reply


def upload(client: Sender, key: str, content: bytes, name: str = "contract.png") -> Reply:
    """`POST /upload` of one file (multipart `image` and `name`)."""
    return client.send("POST", UPLOAD, key=key, body={"name": name}, files={"image": (name, content, "image/png")})


def finish(client: Sender, waiter: Waiter, key: str, prompt_ids: list[str]) -> tuple[dict[str, Reply], list[str]]:
    """Poll the prompts until each is finished (medias) or gone (404): the last answer of each, and the ids of
    those still unfinished when the waiter's time ran out."""
    return poll_until(client, waiter, key, prompt_ids, prompt_path, lambda reply: bool(medias(reply)))


def medias(reply: Reply) -> list[dict[str, Any]]:
    """The medias of a `PromptContainer` answer (none until it is finished)."""
    found = reply.field("medias") if reply.status == 200 else None
    return [media for media in found if isinstance(media, dict)] if isinstance(found, list) else []


def png(width: int = 64, height: int = 96) -> bytes:
    """A small PNG picture (an RGB gradient), for uploads."""
    rows = b"".join(b"\0" + bytes(value for x in range(width) for value in (x * 4 % 256, y * 2 % 256, 128))
                    for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def png_size(content: bytes) -> tuple[int, int] | None:
    """A PNG's (width, height) from its IHDR chunk, None when it has none."""
    found = media.read(content)
    return (found.width, found.height) if found.mime_type == media.PNG and found.width and found.height else None


def media_problem(content: bytes, media_type: str) -> str | None:
    """What is wrong with a media's bytes, by their signature, for its declared `mediaType` (IMAGE: a PNG, JPEG or
    WebP with a size; VIDEO: an MP4); contracts/wire/assets.py judges them whole."""
    if media_type not in MEDIA_TYPES:
        return f"mediaType {media_type!r} is neither IMAGE nor VIDEO"
    found = media.read(content) if media_type == "IMAGE" else media.Media(media.sniff(content), len(content))
    if found.mime_type not in MEDIA_TYPES[media_type] or found.problem is not None:
        return f"{found}, not {' or '.join(MEDIA_TYPES[media_type])}"
    return None


def misuses(key: str | None, token: str | None) -> dict[str, str | None]:
    """Credentials that must be refused (401), by what they are: the `Authorization` header's value (None: no
    header); the key's misuses need a key, the token's a token."""
    wrong: dict[str, str | None] = {"no credentials": None, "an unknown key": f"Key {UNKNOWN}"}
    if key is not None and not isinstance(key, Token):
        wrong.update({"the key as a Bearer token": f"Bearer {key}", "the bare key, without `Key `": key,
                      "the key in a Basic scheme": f"Basic {key}"})
    if token is not None:
        wrong.update({"the token in the Key scheme": f"Key {token}",
                      "a token with a broken signature": f"Bearer {token[:-4]}AAAA"})
    return wrong


def too_many(reply: Reply) -> bool:
    """Whether a 429 is the full-queue one ("Max pending creations" in its detail)."""
    return reply.status == 429 and TOO_MANY.lower() in str(reply.field("detail") or "").lower()


def _definitions(schema: dict[str, Any]) -> dict[str, Any]:
    return schema["x-definitions"]  # type: ignore[no-any-return]


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].split("/")[-1]]
    return schema


def _deref(schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = definitions[schema["$ref"].split("/")[-1]]
    if "allOf" in schema:  # a property that only wraps an enum (`allOf: [$ref]`, with a default)
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(_deref(part, definitions))
        return merged
    return schema


def _required_names(schema: dict[str, Any], definitions: dict[str, Any]) -> set[str]:
    schema = _deref(schema, definitions)
    names = set(schema.get("required", []))
    for name in list(names):
        names |= _required_names(schema["properties"][name], definitions)
    return names


def _example(schema: dict[str, Any], definitions: dict[str, Any], named: dict[str, Any]) -> Any:
    """The smallest value valid against `schema` (required fields only; the first enum value; the minimum)."""
    schema = _deref(schema, definitions)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if kind == "object":
        return {name: named[name] if name in named else _example(schema["properties"][name], definitions, named)
                for name in schema.get("required", [])}
    if kind == "array":
        return [_example(schema.get("items", {}), definitions, named)] * max(1, schema.get("minItems", 1))
    if kind in ("number", "integer"):
        low, high = schema.get("minimum"), schema.get("maximum")
        return low if low is not None else 1 if high is None or high >= 1 else high
    if kind == "boolean":
        return False
    if "pattern" in schema and not re.search(schema["pattern"], TEXT):
        return "1"  # the specs' patterns on required strings are digit strings (seeds)
    text = TEXT[:schema.get("maxLength", len(TEXT))]
    return text.ljust(schema.get("minLength", 0), "x")
