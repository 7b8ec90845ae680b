"""What an uploaded file really is: its media type and size, read by decoding it (not by trusting its name or
declared type)."""

from __future__ import annotations

import io
from dataclasses import dataclass

import av

# magic bytes -> media type; only these are decoded at all
_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"))


@dataclass(frozen=True)
class Probe:
    media_type: str
    width: int
    height: int
    seconds: float | None = None
    fps: int | None = None


def sniff(content: bytes) -> str | None:
    for signature, media_type in _SIGNATURES:
        if content.startswith(signature):
            return media_type
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    if content[4:8] == b"ftyp":
        return "video/mp4"
    return None


def probe(content: bytes) -> Probe | None:
    """The file's media type and dimensions, or None when it is not a PNG, JPEG, WebP or MP4 that decodes."""
    media_type = sniff(content)
    if media_type is None:
        return None
    try:
        with av.open(io.BytesIO(content)) as container:
            stream = container.streams.video[0]
            frame = next(container.decode(stream))  # a header can lie; a decoded frame cannot
            if media_type != "video/mp4":
                return Probe(media_type, frame.width, frame.height)
            rate = stream.average_rate or stream.guessed_rate
            seconds = float(container.duration / av.time_base) if container.duration else None
            return Probe(media_type, frame.width, frame.height, seconds, round(float(rate)) if rate else None)
    except (av.FFmpegError, IndexError, StopIteration, ValueError, OSError):
        return None
