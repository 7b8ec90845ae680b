"""What AliveAI's spec promises of a finished prompt's medias (its description's **Medias**): PNG stills of the
requested `aspectRatio` (832x1216 portrait, 1024x1024 square, 1216x832 landscape; 1.5x with `highResolution`);
edits keep their source's size, `edit-upscale` doubles it; H.264 MP4 videos at the source image's aspect with a
480-pixel (`V_720P`: 720) short side, `videoFrameRate` LOW/MEDIUM/HIGH = 16/24/30 fps (MEDIUM when omitted) and
`videoLength` SHORT/MEDIUM = 5/10 s (SHORT when omitted); extending adds 5 s, increasing the frame rate doubles
it, a video upscale doubles the size.

Checks: `media_format` (a PNG still, an MP4 video), `media_size`, `media_duration` (within a frame and a half, or
0.1 s) and `media_frame_rate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contracts import media
from contracts.media import Media
from contracts.wire.aliveai import Route
from contracts.wire.assets import SECONDS

ASPECTS = {"PORTRAIT": (832, 1216), "SQUARE": (1024, 1024), "LANDSCAPE": (1216, 832)}
HIGH_RESOLUTION = 1.5
FRAME_RATES = {"LOW": 16, "MEDIUM": 24, "HIGH": 30}
LENGTHS = {"SHORT": 5.0, "MEDIUM": 10.0}
SHORT_SIDES = {"V_480P": 480, "V_720P": 720}
EXTENSION = 5.0
PIXELS = 2  # a size the server scales is rounded (to even pixels for H.264): this far either way
EDITS = "/prompts/edit-"  # the image routes whose results keep their source's size
UPSCALE, EXTEND, FASTER, VIDEO_UPSCALE = ("/prompts/edit-upscale", "/prompts/edit-video-extend",
                                          "/prompts/edit-video-increase-fps", "/prompts/upscale-video")


@dataclass(frozen=True)
class Promise:
    """What a prompt's medias must be (None: the spec does not say), and why."""

    why: str
    mime_type: str
    width: float | None = None
    height: float | None = None
    seconds: float | None = None
    fps: float | None = None

    @property
    def checks(self) -> tuple[str, ...]:
        """The checks that judge a media against this promise."""
        return ("media_format", *(("media_size",) if self.width is not None else ()),
                *(("media_duration",) if self.seconds is not None else ()),
                *(("media_frame_rate",) if self.fps is not None else ()))

    def broken_by(self, found: Media) -> list[tuple[str, str]]:
        """(check, message) for each way `found` is not what was promised."""
        broken = []
        if found.mime_type != self.mime_type:
            promised = "an MP4" if self.mime_type == media.MP4 else f"a {media.NAMES[self.mime_type]}"
            broken.append(("media_format", f"it is {found}, where the spec promises {promised} ({self.why})"))
            return broken
        if self.width is not None and self.height is not None and \
                (abs((found.width or 0) - self.width) > PIXELS or abs((found.height or 0) - self.height) > PIXELS):
            broken.append(("media_size", f"it is {found.width}x{found.height}, not {self.width:g}x{self.height:g} "
                                         f"({self.why})"))
        tolerance = max(SECONDS, 1.5 / found.fps) if found.fps else SECONDS
        if self.seconds is not None and abs((found.seconds or 0.0) - self.seconds) > tolerance:
            broken.append(("media_duration", f"it lasts {found.seconds:g} s, not {self.seconds:g} s ({self.why})"))
        if self.fps is not None and abs((found.fps or 0.0) - self.fps) > 0.5:
            broken.append(("media_frame_rate", f"it runs at {found.fps:g} fps, not {self.fps:g} ({self.why})"))
        return broken


def promise(route: Route, echo: dict[str, Any], source: Media | None) -> Promise | None:
    """What the spec promises the medias of a `route` prompt whose container echoes `echo`, made from `source`
    (what its `mediaId` names, if it names one and it is known); None when it promises nothing checkable."""
    if route.media_type == "IMAGE":
        return _still(route, echo, source)
    if source is None or source.width is None or source.height is None:
        return None
    if route.source == "IMAGE":
        short = SHORT_SIDES.get(str(echo.get("videoQuality")), SHORT_SIDES["V_480P"])
        scale = short / min(source.width, source.height)
        rate, length = str(echo.get("videoFrameRate", "MEDIUM")), str(echo.get("videoLength", "SHORT"))
        return Promise(f"a {short}-pixel short side at its {source.width}x{source.height} source's aspect, "
                       f"videoFrameRate {rate}, videoLength {length}", media.MP4, source.width * scale,
                       source.height * scale, LENGTHS.get(length), FRAME_RATES.get(rate))
    if source.seconds is None or source.fps is None:
        return None
    width, height, seconds, fps = source.width, source.height, source.seconds, source.fps
    why = f"from a video of {width}x{height}, {seconds:g} s at {fps:g} fps"
    if route.path == EXTEND:
        return Promise(f"extending adds {EXTENSION:g} s: {why}", media.MP4, width, height, seconds + EXTENSION, fps)
    if route.path == FASTER:
        return Promise(f"increasing the frame rate doubles it: {why}", media.MP4, width, height, seconds, 2 * fps)
    if route.path == VIDEO_UPSCALE:
        return Promise(f"a video upscale doubles the size: {why}", media.MP4, 2 * width, 2 * height, seconds, fps)
    return None


def _still(route: Route, echo: dict[str, Any], source: Media | None) -> Promise | None:
    if route.path.startswith(EDITS):
        if source is None or source.width is None or source.height is None:
            return None
        factor = 2 if route.path == UPSCALE else 1
        return Promise(f"{'edit-upscale doubles' if factor == 2 else 'an edit keeps'} its source's size "
                       f"{source.width}x{source.height}", media.PNG, factor * source.width, factor * source.height)
    aspect = str(echo.get("aspectRatio"))
    if route.needs("mediaId") or aspect not in ASPECTS:
        return Promise("a still", media.PNG)
    width, height = ASPECTS[aspect]
    factor = HIGH_RESOLUTION if echo.get("highResolution") is True else 1
    return Promise(f"aspectRatio {aspect}{', highResolution' if factor != 1 else ''}", media.PNG, factor * width,
                   factor * height)
