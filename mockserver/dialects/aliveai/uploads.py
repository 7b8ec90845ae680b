"""`POST /upload`: keep an uploaded image (or video) as the user's media, usable as any request's `mediaId`."""

from __future__ import annotations

from starlette.responses import Response

from mockserver.dialects.aliveai.errors import bad_request
from mockserver.dialects.aliveai.lookups import API
from mockserver.dialects.aliveai.prompts import MEDIA_ID_LENGTH
from mockserver.engine.assets import MP4
from mockserver.engine.probe import probe
from mockserver.routing import Call, UploadedFile, json_response

MAX_SIDE = 8192  # pixels; a larger picture is refused rather than stored


async def upload_image(call: Call) -> Response:
    image = call.body.get("image")
    if not isinstance(image, UploadedFile):
        return bad_request(call.request, "image", "a file is required", location="form")
    found = probe(image.content)
    if found is None:
        return bad_request(call.request, "image", "is not a PNG, JPEG or WebP image or an MP4 video that decodes",
                           location="form")
    if max(found.width, found.height) > MAX_SIDE:
        return bad_request(call.request, "image", f"is larger than {MAX_SIDE} pixels on a side", location="form")
    name = call.body.get("name")
    asset = call.context.engine.assets.create(
        API, call.principal.id, found.media_type, found.width, found.height, seconds=found.seconds, fps=found.fps,
        labels={"upload": {"name": name if isinstance(name, str) else image.filename}},
        id_length=MEDIA_ID_LENGTH, content=image.content)
    return json_response(200, {"mediaId": asset.id, "mediaType": "VIDEO" if asset.media_type == MP4 else "IMAGE"})


HANDLERS = {"uploadImage": upload_image}
