"""Deliberately broken assets and gallery items (LovlyChat `lc-...`, AliveAI `aa-...`): each serves bytes that are
not what an answer or the spec declares, or lists a gallery item that is not its job's asset; the contract suite
must catch each.

Registered in tests/broken.py (`python -m tests.broken <variant> serve ...`). The helpers of tests/broken.py are
imported inside the functions (tests/broken.py imports this module).
"""

from __future__ import annotations

import fractions
from collections.abc import Callable
from typing import Any

import av
from starlette.responses import Response

from mockserver import server
from mockserver.engine import media
from mockserver.engine.assets import MP4, PNG, Asset
from mockserver.routing import Call

Rendered = tuple[bytes, str]


def _serve(change: Callable[[Asset, bool, Rendered], Rendered]) -> None:
    """Let `change(asset, thumbnail, (bytes, media type))` rewrite what the asset route serves (the media type
    must stay the one the URL's extension names, or the route answers 404)."""
    original = server.render

    def render(asset: Asset, thumbnail: bool = False) -> Rendered:
        return change(asset, thumbnail, original(asset, thumbnail))

    server.render = render  # type: ignore[assignment]


def _jpeg(width: int, height: int) -> bytes:
    """A grey JPEG of the given size."""
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuvj420p"
    codec.time_base = fractions.Fraction(1, 25)
    frame = av.VideoFrame(width, height, "yuvj420p")
    for plane in frame.planes:
        plane.update(b"\x80" * plane.buffer_size)
    return b"".join(bytes(packet) for packet in [*codec.encode(frame), *codec.encode(None)])


def _lovlychat_file(asset: Asset, thumbnail: bool, media_type: str) -> bool:
    return asset.api == "lovlychat" and not thumbnail and asset.media_type == media_type


def lc_asset_jpeg() -> None:
    """An image asset's URL serves a JPEG (of the declared size) under `image/png`."""
    _serve(lambda asset, thumbnail, rendered: (_jpeg(asset.width, asset.height), PNG)
           if _lovlychat_file(asset, thumbnail, PNG) else rendered)


def lc_asset_swapped() -> None:
    """An image asset is rendered with its width and height swapped: landscape for a portrait declared."""
    _serve(lambda asset, thumbnail, rendered: (media.render_png(asset.height, asset.width, asset.seed), PNG)
           if _lovlychat_file(asset, thumbnail, PNG) else rendered)


def lc_video_short() -> None:
    """A video asset holds 49 frames (3.0625 s at 16 fps) instead of the 81 it declares (5.0625 s)."""
    _serve(lambda asset, thumbnail, rendered: (media.render_mp4(asset.width, asset.height, 49 / 16, 16,
                                                                asset.seed), MP4)
           if _lovlychat_file(asset, thumbnail, MP4) else rendered)


def lc_thumbnail_large() -> None:
    """A thumbnail is 512 px on its long side, not the 256 the spec gives it."""
    _serve(lambda asset, thumbnail, rendered: (media.render_png(*media.thumbnail_size(asset.width, asset.height,
                                                                                       512), asset.seed), PNG)
           if asset.api == "lovlychat" and thumbnail else rendered)


def lc_asset_variant() -> None:
    """A standard image is made (and declared) square, 1024x1024, not the spec's portrait 832x1216."""
    from mockserver.dialects.lovlychat import handlers

    handlers.SIZES["image", "standard"] = (1024, 1024)


def lc_gallery_fields() -> None:
    """The gallery gives each item its job's `createdAt` (when the job was accepted) instead of the asset's (when
    it completed): the same asset, said otherwise than its job's poll says it."""
    from mockserver.engine.clock import iso
    from tests.broken import _rewritten, _wrap

    def after(call: Call, response: Response) -> Response:
        if response.status_code != 200:
            return response
        jobs = call.context.engine.jobs

        def accepted(body: dict[str, Any]) -> None:
            for item in body["items"]:
                item["createdAt"] = iso(jobs.get("lovlychat", call.principal.id, item["jobId"]).created_at)

        return _rewritten(response, accepted)

    _wrap("lovlychat", "listGallery", after)


def aa_media_bytes() -> None:
    """A video media's URL serves its first frame, a PNG, under `video/mp4`."""
    _serve(lambda asset, thumbnail, rendered: (media.render_png(asset.width, asset.height, asset.seed), MP4)
           if asset.api == "aliveai" and asset.media_type == MP4 else rendered)


def aa_still_jpeg() -> None:
    """A generated still is a JPEG (served under `image/png`): an IMAGE media may be one, but the spec promises
    PNG stills."""
    _serve(lambda asset, thumbnail, rendered: (_jpeg(asset.width, asset.height), PNG)
           if asset.api == "aliveai" and asset.media_type == PNG and asset.job_id is not None else rendered)


def aa_frame_rate() -> None:
    """Every video is made at 24 fps, whatever `videoFrameRate` asks (LOW is 16 fps)."""
    from mockserver.dialects.aliveai import outputs

    outputs.FRAME_RATES.update(dict.fromkeys(outputs.FRAME_RATES, 24))


def aa_aspect_ignored() -> None:
    """A still asked for in `aspectRatio` LANDSCAPE comes out portrait (832x1216)."""
    from mockserver.dialects.aliveai import outputs

    outputs.IMAGE_SIZES["LANDSCAPE"] = outputs.IMAGE_SIZES["PORTRAIT"]


VARIANTS: dict[str, Callable[[], None]] = {
    "lc-asset-jpeg": lc_asset_jpeg,
    "lc-asset-swapped": lc_asset_swapped,
    "lc-video-short": lc_video_short,
    "lc-thumbnail-large": lc_thumbnail_large,
    "lc-asset-variant": lc_asset_variant,
    "lc-gallery-fields": lc_gallery_fields,
    "aa-media-bytes": aa_media_bytes,
    "aa-still-jpeg": aa_still_jpeg,
    "aa-frame-rate": aa_frame_rate,
    "aa-aspect-ignored": aa_aspect_ignored,
}
