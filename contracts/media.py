"""What a file's bytes really are: its type by its signature, the size an image's header gives (PNG, JPEG, WebP,
read with struct), and an MP4's size, duration, frame rate and codec (read with PyAV, whose first frame must
decode)."""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

import av

PNG, JPEG, WEBP, MP4 = "image/png", "image/jpeg", "image/webp", "video/mp4"
IMAGES = (PNG, JPEG, WEBP)
NAMES = {PNG: "PNG", JPEG: "JPEG", WEBP: "WebP", MP4: "MP4"}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG markers without a length, and the start-of-frame markers (C4, C8 and CC are not frames)
_STANDALONE = {0x01, *range(0xD0, 0xDA)}
_FRAMES = {*range(0xC0, 0xD0)} - {0xC4, 0xC8, 0xCC}


@dataclass(frozen=True)
class Media:
    """A file as read from its bytes; `problem` says why a file of a known type could not be read."""

    mime_type: str | None  # by its signature; None: none of PNG, JPEG, WebP, MP4
    size: int  # bytes
    width: int | None = None
    height: int | None = None
    seconds: float | None = None  # a video's duration
    fps: float | None = None
    codec: str | None = None  # a video's, as libav names it (h264)
    problem: str | None = None

    def __str__(self) -> str:
        if self.mime_type is None:
            return f"{self.size} bytes of none of PNG, JPEG, WebP or MP4"
        name = NAMES[self.mime_type]
        if self.problem is not None:
            return f"{'an' if self.mime_type == MP4 else 'a'} {name} that cannot be read ({self.problem})"
        if self.mime_type != MP4:
            return f"a {name} of {self.width}x{self.height}"
        return f"an MP4 ({self.codec}) of {self.width}x{self.height}, {self.seconds:g} s at {self.fps:g} fps"


def sniff(content: bytes) -> str | None:
    """The MIME type `content`'s signature names (PNG, JPEG, WebP, MP4), None for any other."""
    if content.startswith(_PNG_SIGNATURE):
        return PNG
    if content.startswith(b"\xff\xd8\xff"):
        return JPEG
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return WEBP
    if content[4:8] == b"ftyp":
        return MP4
    return None


def read(content: bytes) -> Media:
    """What `content` is: its type, and the size (and for a video the duration, frame rate and codec) its
    header gives."""
    mime_type = sniff(content)
    if mime_type == MP4:
        return _video(content)
    reader = {PNG: _png_size, JPEG: _jpeg_size, WEBP: _webp_size}.get(mime_type or "")
    if reader is None:
        return Media(None, len(content))
    try:
        size = reader(content)
    except (struct.error, IndexError):
        size = None
    if size is None or not all(size):
        return Media(mime_type, len(content), problem="no image size in its header")
    return Media(mime_type, len(content), *size)


def _png_size(content: bytes) -> tuple[int, int] | None:
    if content[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", content[16:24])
    return int(width), int(height)


def _jpeg_size(content: bytes) -> tuple[int, int] | None:
    """From the first start-of-frame segment, walking the segments from the start-of-image marker."""
    at = 2
    while at + 4 <= len(content):
        if content[at] != 0xFF:
            return None
        marker = content[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in _STANDALONE:
            at += 2
            continue
        if marker in _FRAMES:
            height, width = struct.unpack(">HH", content[at + 5:at + 9])
            return int(width), int(height)
        at += 2 + struct.unpack(">H", content[at + 2:at + 4])[0]
    return None


def _webp_size(content: bytes) -> tuple[int, int] | None:
    """From the first chunk: lossy (VP8), lossless (VP8L) or extended (VP8X, the canvas)."""
    chunk = content[12:16]
    if chunk == b"VP8 " and content[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", content[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and content[20] == 0x2F:
        bits = struct.unpack("<I", content[21:25])[0]
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        return int.from_bytes(content[24:27], "little") + 1, int.from_bytes(content[27:30], "little") + 1
    return None


def _video(content: bytes) -> Media:
    try:
        with av.open(io.BytesIO(content)) as container:
            if not container.streams.video:
                return Media(MP4, len(content), problem="no video stream")
            stream = container.streams.video[0]
            frame = next(container.decode(stream))  # a header can lie; a decoded frame cannot
            if container.duration:
                seconds = float(container.duration / av.time_base)
            elif stream.duration:
                seconds = float(stream.duration * stream.time_base)
            else:
                return Media(MP4, len(content), problem="no duration")
            rate = stream.average_rate or stream.guessed_rate
            return Media(MP4, len(content), frame.width, frame.height, seconds, float(rate) if rate else 0.0,
                         stream.codec_context.name)
    except (av.FFmpegError, StopIteration, ValueError, OSError) as error:
        return Media(MP4, len(content), problem=f"{type(error).__name__}: {error}"[:200])
