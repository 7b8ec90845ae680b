"""What each kind of prompt produces: the medias (size, length, frame rate) a finished prompt holds, and the
defaults the server fills into the request it echoes. Real GPU pipelines' shapes: SDXL-like stills, WAN-like
image-to-video clips."""

from __future__ import annotations

from typing import Any

from mockserver.engine.assets import MP4, PNG, Asset

IMAGE_SIZES = {"DEFAULT": (832, 1216), "PORTRAIT": (832, 1216), "SQUARE": (1024, 1024), "LANDSCAPE": (1216, 832)}
FRAME_RATES = {"LOW": 16, "MEDIUM": 24, "HIGH": 30}
VIDEO_SECONDS = {"SHORT": 5.0, "MEDIUM": 10.0}
VIDEO_SHORT_SIDES = {"V_480P": 480, "V_720P": 720}
DEFAULT_FRAME_RATE = "MEDIUM"
DEFAULT_MOTION_STRENGTH = 2
MAX_IMAGE_SIDE = 4096
MAX_VIDEO_SIDE = 1920
MAX_FPS = 60
TRAINING_IMAGES = 4  # a character's training set: several stills of one face


def filled_request(prompt_type: str, request: dict[str, Any]) -> dict[str, Any]:
    """The request as the server stores and echoes it: with the defaults it fills in."""
    if prompt_type == "IMAGE_TO_VIDEO":
        request.setdefault("videoFrameRate", DEFAULT_FRAME_RATE)
        if request.get("videoModel") == "DEFAULT":
            request.setdefault("motionStrength", DEFAULT_MOTION_STRENGTH)
    return request


def stored(schema: dict[str, Any], value: Any, definitions: dict[str, Any]) -> Any:
    """A request value as the (Java) server binds it: fields its schema does not know are dropped, and a
    number sent for an integer field is truncated toward zero."""
    while "$ref" in schema:
        schema = definitions[schema["$ref"].split("/")[-1]]
    for combined in ("allOf", "oneOf", "anyOf"):
        if combined in schema and isinstance(value, dict):
            merged: dict[str, Any] = {}
            for part in schema[combined]:
                merged.update(stored(part, value, definitions))
            return merged
    if isinstance(value, dict) and "properties" in schema:
        return {name: stored(schema["properties"][name], item, definitions)
                for name, item in value.items() if name in schema["properties"]}
    if isinstance(value, list) and "items" in schema:
        return [stored(schema["items"], item, definitions) for item in value]
    if isinstance(value, float) and schema.get("format") in ("int32", "int64"):
        return int(value)
    return value


def medias_for(prompt_type: str, request: dict[str, Any], source: Asset | None) -> list[dict[str, Any]]:
    """The assets the finished prompt holds, as the engine's job outputs."""
    if prompt_type in ("IMAGE_TO_VIDEO", "VIDEO_EXPRESSION"):
        width, height = _video_size(source, request.get("videoQuality", "V_480P"))
        fps = FRAME_RATES[request.get("videoFrameRate", DEFAULT_FRAME_RATE)]
        return [_video(width, height, VIDEO_SECONDS[request.get("videoLength", "SHORT")], fps)]
    if prompt_type in ("EXTEND_VIDEO", "EDIT_VIDEO_INCREASE_FPS", "UPSCALE_VIDEO"):
        assert source is not None  # the route requires a source video
        width, height, seconds, fps = source.width, source.height, source.seconds or 5.0, source.fps or 16
        if prompt_type == "EXTEND_VIDEO":
            seconds += VIDEO_SECONDS["SHORT"]
        elif prompt_type == "EDIT_VIDEO_INCREASE_FPS":
            fps = min(MAX_FPS, fps * 2)
        else:
            width, height = _scaled(width, height, 2, MAX_VIDEO_SIDE)
        return [_video(width, height, seconds, fps)]
    if prompt_type == "EDIT_UPSCALE_IMAGE":
        assert source is not None
        return [_image(*_scaled(source.width, source.height, 2, MAX_IMAGE_SIDE))]
    if prompt_type == "CHARACTER_TRAINING_DATA":
        return [_image(1024, 1024) for _ in range(TRAINING_IMAGES)]
    if prompt_type == "CREATE_FACE":
        return [_image(1024, 1024)]
    if source is not None:  # an edit keeps its source's size
        return [_image(source.width, source.height)]
    width, height = IMAGE_SIZES[request.get("aspectRatio", "DEFAULT")]
    if request.get("highResolution"):
        width, height = _scaled(width, height, 1.5, MAX_IMAGE_SIDE)
    return [_image(width, height)]


def _image(width: int, height: int) -> dict[str, Any]:
    return {"media_type": PNG, "width": width, "height": height}


def _video(width: int, height: int, seconds: float, fps: int) -> dict[str, Any]:
    return {"media_type": MP4, "width": width, "height": height, "seconds": seconds, "fps": fps}


def _video_size(source: Asset | None, quality: str) -> tuple[int, int]:
    """The source image's aspect at the quality's short side, in even pixels (H.264 needs them)."""
    short = VIDEO_SHORT_SIDES.get(quality, 480)
    width, height = (source.width, source.height) if source is not None else IMAGE_SIZES["DEFAULT"]
    scale = short / min(width, height)
    return _even(width * scale), _even(height * scale)


def _scaled(width: int, height: int, factor: float, longest: int) -> tuple[int, int]:
    factor = min(factor, longest / max(width, height))
    return _even(width * factor), _even(height * factor)


def _even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)
