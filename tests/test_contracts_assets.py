"""The contract suite judges every asset URL's bytes against what the answer and the spec declare, and compares
the gallery with the jobs' assets field by field: the mock keeps those contracts, and each broken mock of
tests/broken_assets.py is caught by the check meant for it."""

from __future__ import annotations

import fractions
from typing import Any

import av
import pytest

from contracts.media import JPEG, MP4, PNG, WEBP, Media, read
from contracts.models.gallery import differences
from contracts.runner import run
from contracts.target import Target
from contracts.wire.aliveai import png, routes
from contracts.wire.aliveai_media import promise
from contracts.wire.assets import Claim, Download, claims, verdict
from contracts.wire.lovlychat import variant_problem
from mockserver.engine.media import render_mp4
from tests.test_contracts_aliveai import admin_target
from tests.test_contracts_lovlychat import target_of

ASSET = {"id": "ast_1", "jobId": "job_1", "kind": "image", "url": "http://h/gen/ast_1.png",
         "thumbnailUrl": "http://h/gen/ast_1-thumbnail.png", "mimeType": PNG, "width": 832, "height": 1216,
         "durationSeconds": None, "characterId": "c", "createdAt": "2026-01-01T00:00:08Z"}


def encoded(codec_name: str, pix_fmt: str, width: int, height: int, **options: str) -> bytes:
    """One still encoded by libav (JPEG: mjpeg, WebP: libwebp)."""
    codec = av.CodecContext.create(codec_name, "w")
    codec.width, codec.height, codec.pix_fmt = width, height, pix_fmt
    codec.time_base = fractions.Fraction(1, 25)
    codec.options = options
    frame = av.VideoFrame(width, height, pix_fmt)
    for plane in frame.planes:
        plane.update(b"\x80" * plane.buffer_size)
    return b"".join(bytes(packet) for packet in [*codec.encode(frame), *codec.encode(None)])


def test_media_are_read_from_their_bytes() -> None:
    assert read(png(7, 5)) == Media(PNG, len(png(7, 5)), 7, 5)
    jpeg = read(encoded("mjpeg", "yuvj420p", 30, 20))
    assert (jpeg.mime_type, jpeg.width, jpeg.height) == (JPEG, 30, 20)
    for lossless in ("0", "1"):  # VP8 and VP8L
        webp = read(encoded("libwebp", "yuv420p" if lossless == "0" else "bgra", 31, 21, lossless=lossless))
        assert (webp.mime_type, webp.width, webp.height) == (WEBP, 31, 21)
    clip = read(render_mp4(32, 48, 1.5, 16, 1))
    assert clip == Media(MP4, clip.size, 32, 48, 1.5, 16, "h264")
    assert read(b"\x89PNG\r\n\x1a\n").problem is not None  # a signature without a header
    assert read(b"\0\0\0\x18ftypisom").problem is not None  # an MP4 that does not decode
    assert read(b"{}").mime_type is None and "none of PNG" in str(read(b"{}"))


def test_a_claim_is_judged_by_the_bytes() -> None:
    url, thumbnail = claims("lovlychat", {"assets": [ASSET]})
    assert (url.types, url.width, url.height, url.seconds, thumbnail.longest) == ((PNG,), 832, 1216, None, 256)
    ok = Download("curl", 200, Media(PNG, 9, 832, 1216))
    assert verdict(url, ok) is None
    assert verdict(url, Download("curl", 404)) == ("asset_download", f"asset ast_1's url {url.url}: answered 404")
    judged = verdict(url, Download("curl", 200, Media(JPEG, 9, 832, 1216)))
    assert judged is not None and judged[0] == "asset_content"
    assert "is declared image/png of 832x1216; its bytes are a JPEG of 832x1216" in judged[1]
    assert verdict(url, Download("curl", 200, Media(PNG, 9, 1216, 832))) is not None
    assert verdict(thumbnail, Download("curl", 200, Media(PNG, 9, 175, 256))) is None  # 832x1216's aspect
    assert verdict(thumbnail, Download("curl", 200, Media(PNG, 9, 256, 256))) is not None
    video = Claim("http://h/v.mp4", "a video", (MP4,), 480, 832, 5.0625, "h264")
    assert verdict(video, Download("curl", 200, Media(MP4, 9, 480, 832, 5.0, 16.0, "h264"))) is None  # a frame off
    assert verdict(video, Download("curl", 200, Media(MP4, 9, 480, 832, 4.5, 16.0, "h264"))) is not None
    assert verdict(video, Download("curl", 200, Media(MP4, 9, 480, 832, 5.0625, 16.0, "mpeg4"))) is not None
    media = claims("aliveai", {"medias": [{"id": "m", "mediaType": "IMAGE", "mediaUrl": "http://h/m.png"}],
                               "poses": [{"id": "p", "image": "http://h/p.png"}]})
    assert [claim.types for claim in media] == [(PNG, JPEG, WEBP)] * 2  # an IMAGE may be any of them


def test_the_spec_promises_sizes_lengths_and_frame_rates() -> None:
    assert variant_problem(ASSET, "image", "standard") is None
    assert variant_problem({**ASSET, "width": 1024, "height": 1024}, "image", "standard") == (
        "asset ast_1 of a standard image job declares 1024x1024 (durationSeconds null); the spec's standard image "
        "is 832x1216 (durationSeconds null)")
    assert variant_problem({**ASSET, "width": 480, "height": 832, "durationSeconds": 5.0625}, "video",
                           "standard") is None
    found = routes(Target(api="aliveai", base_url="http://127.0.0.1:9"))
    still = promise(found["IMAGE_DEFAULT"], {"aspectRatio": "LANDSCAPE", "highResolution": True}, None)
    assert still is not None and (still.width, still.height) == (1824, 1248)
    assert [check for check, _ in still.broken_by(Media(PNG, 9, 832, 1216))] == ["media_size"]
    assert [check for check, _ in still.broken_by(Media(JPEG, 9, 1824, 1248))] == ["media_format"]
    clip = promise(found["IMAGE_TO_VIDEO"], {"videoFrameRate": "LOW", "videoLength": "MEDIUM"}, Media(PNG, 9, 48, 64))
    assert clip is not None and (clip.width, clip.height, clip.seconds, clip.fps) == (480, 640, 10.0, 16)
    assert clip.broken_by(Media(MP4, 9, 480, 640, 10.0, 16.0, "h264")) == []
    assert {check for check, _ in clip.broken_by(Media(MP4, 9, 480, 640, 5.0, 24.0, "h264"))} == {
        "media_duration", "media_frame_rate"}
    longer = promise(found["EXTEND_VIDEO"], {}, Media(MP4, 9, 480, 640, 5.0, 16.0, "h264"))
    assert longer is not None and longer.seconds == 10.0


def test_a_gallery_item_is_compared_with_its_job_asset_field_by_field() -> None:
    assert differences({**ASSET, "createdAt": "2026-01-01T00:00:08.000+00:00"}, ASSET) == []  # the same instant
    assert differences({**ASSET, "createdAt": "2026-01-01T00:00:00Z", "kind": "video"}, ASSET) == [
        "createdAt: '2026-01-01T00:00:00Z', the job's '2026-01-01T00:00:08Z'", "kind: 'video', the job's 'image'"]
    assert differences({key: value for key, value in ASSET.items() if key != "url"}, ASSET) == [
        "url: none, the job's 'http://h/gen/ast_1.png'"]


def test_the_mock_keeps_every_asset_contract(mock_server: dict[str, Any]) -> None:
    lovlychat = run(target_of(mock_server), ["responses", "stateful"], max_examples=4, shrink=False)
    aliveai = run(admin_target(mock_server), ["responses"], max_examples=1, shrink=False)

    assert lovlychat.ok, lovlychat.render()
    assert aliveai.ok, aliveai.render()
    # not vacuous: the tours' job assets and thumbnails, the machine's, AliveAI's medias and catalogue pictures
    assert lovlychat.counts["responses"]["media downloads"] >= 6
    assert aliveai.counts["responses"]["media downloads"] >= 30


BROKEN = [
    # variant, API, layers, budget, (layer, check) that must name it
    ("lc-asset-jpeg", "lovlychat", ["responses"], 1, ("responses", "asset_content")),
    ("lc-asset-swapped", "lovlychat", ["responses"], 1, ("responses", "asset_content")),
    ("lc-video-short", "lovlychat", ["responses"], 1, ("responses", "asset_content")),
    ("lc-thumbnail-large", "lovlychat", ["responses"], 1, ("responses", "asset_content")),
    ("lc-asset-variant", "lovlychat", ["responses"], 1, ("responses", "asset_variant")),
    ("lc-gallery-fields", "lovlychat", ["responses"], 1, ("responses", "gallery_fields")),
    # the state machine's answers are judged too: its asset URLs (responses findings) and its galleries
    ("lc-asset-jpeg", "lovlychat", ["stateful"], 4, ("responses", "asset_content")),
    ("lc-asset-variant", "lovlychat", ["stateful"], 8, ("stateful", "asset_variant")),
    ("lc-gallery-fields", "lovlychat", ["stateful"], 8, ("stateful", "gallery_fields")),
    ("aa-media-bytes", "aliveai", ["responses"], 1, ("responses", "asset_content")),
    ("aa-still-jpeg", "aliveai", ["responses"], 1, ("responses", "media_format")),
    ("aa-frame-rate", "aliveai", ["responses"], 1, ("responses", "media_frame_rate")),
    ("aa-aspect-ignored", "aliveai", ["responses"], 1, ("responses", "media_size")),
    ("aa-still-jpeg", "aliveai", ["stateful"], 1, ("stateful", "media_format")),
]


@pytest.mark.parametrize(("mock_server", "api", "layers", "budget", "expected"),
                         [(("-m", "tests.broken", variant), *rest) for variant, *rest in BROKEN],
                         ids=[f"{variant}-{layers[0]}" for variant, _, layers, *_ in BROKEN], indirect=["mock_server"])
def test_each_broken_asset_is_caught_by_its_check(mock_server: dict[str, Any], api: str, layers: list[str],
                                                  budget: int, expected: tuple[str, str]) -> None:
    target = target_of(mock_server) if api == "lovlychat" else admin_target(mock_server)
    report = run(target, layers, max_examples=budget, shrink=False)

    assert expected in {(finding.layer, finding.check) for finding in report.findings}, report.render()
    for finding in report.findings:
        assert "curl" in finding.reproduction, finding
