"""Real, deterministic placeholder media: seed-coloured gradient PNGs and H.264 MP4 clips."""

from __future__ import annotations

import colorsys
import hashlib
import os
import struct
import tempfile
import zlib
from fractions import Fraction

__all__ = ["MAX_SIDE", "render_mp4", "render_png", "thumbnail_size"]

MAX_SIDE = 4096

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_LEVEL = 6  # measured: levels 1-3 are barely faster here but give ~2.5x larger files
_CYCLE_SECONDS = 4  # time for the video gradient to scroll through one full period
_VIDEO_CODECS = ("libx264", "libopenh264", "mpeg4")  # first one this libav build can encode with


class _Pattern:
    """A horizontal, cyclic gradient through three seed-derived colours, tilted by shifting rows.

    Row ``y`` is the ``tile``d period starting at pixel ``offset(y)``, so rendering is byte slicing only.
    """

    def __init__(self, width: int, height: int, seed: int) -> None:
        digest = hashlib.sha256(b"genmock-media:%d" % seed).digest()
        hue = digest[0] / 256
        stops = []
        for i in range(3):
            h = (hue + i / 3 + (digest[1 + i] - 128) / 1024) % 1.0
            s = 0.45 + digest[4 + i] / 600
            v = 0.55 + digest[7 + i] / 600
            stops.append(tuple(round(c * 255) for c in colorsys.hsv_to_rgb(h, s, v)))
        self.period = max(6, max(width, height) * (128 + digest[10]) // 256)
        # pixels of shift per row, as a fraction over 64: between -2 and +2 (up to ~63 degrees)
        self.slope = digest[11] - 128 + (digest[11] >= 128)
        self.width = width

        channels = [bytearray(), bytearray(), bytearray()]
        bounds = [self.period * i // 3 for i in range(4)]
        for i in range(3):
            a, b, n = stops[i], stops[(i + 1) % 3], bounds[i + 1] - bounds[i]
            for c in range(3):
                channels[c] += bytes(a[c] + (b[c] - a[c]) * k // n for k in range(n))
        rgb = bytearray(3 * self.period)
        for c in range(3):
            rgb[c::3] = channels[c]
        self.rgb = bytes(rgb)

    def offset(self, y: int, shift: int = 0) -> int:
        return (y * self.slope // 64 + shift) % self.period

    def tile(self, period_bytes: bytes) -> bytes:
        """Repeat one period's bytes until a row of ``width`` pixels fits after any offset."""
        return period_bytes * -(-(self.period + self.width) // self.period)


def _check_size(width: int, height: int) -> None:
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise ValueError(f"image size must be between 1 and {MAX_SIDE} px per side, got {width}x{height}")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def render_png(width: int, height: int, seed: int) -> bytes:
    """A ``width`` x ``height`` 8-bit RGB PNG, identical for identical arguments."""
    _check_size(width, height)
    pattern = _Pattern(width, height, seed)
    strip = pattern.tile(pattern.rgb)
    stride = 3 * width
    raw = b"".join(
        b"\x00" + strip[3 * o : 3 * o + stride] for o in map(pattern.offset, range(height))
    )  # filter type 0 (None) on every row
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        _PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, _PNG_LEVEL))
        + _chunk(b"IEND", b"")
    )


def _yuv_strips(pattern: _Pattern) -> tuple[bytes, bytes, bytes]:
    """The pattern's tiled period as full-resolution Y, U and V bytes (BT.601, limited range)."""
    rgb = pattern.rgb
    y, u, v = bytearray(pattern.period), bytearray(pattern.period), bytearray(pattern.period)
    for i in range(pattern.period):
        r, g, b = rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]
        y[i] = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16
        u[i] = ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128
        v[i] = ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128
    return pattern.tile(bytes(y)), pattern.tile(bytes(u)), pattern.tile(bytes(v))


def _video_codec() -> str:
    import av

    for name in _VIDEO_CODECS:
        try:
            av.Codec(name, "w")
        except ValueError:  # av.codec.codec.UnknownCodecError
            continue
        return name
    raise RuntimeError(f"this PyAV build has none of the video encoders {_VIDEO_CODECS}")


def render_mp4(width: int, height: int, seconds: float, fps: int, seed: int) -> bytes:
    """A yuv420p MP4 of ``round(seconds * fps)`` frames with a scrolling gradient, moov before mdat."""
    import av  # deferred: PNG-only callers should not pay for loading libav

    _check_size(width, height)
    if width % 2 or height % 2:
        raise ValueError(f"yuv420p video needs even width and height, got {width}x{height}")
    if fps < 1:
        raise ValueError(f"fps must be at least 1, got {fps}")
    frames = round(seconds * fps)
    if frames < 1:
        raise ValueError(f"{seconds} s at {fps} fps is less than one frame")

    pattern = _Pattern(width, height, seed)
    luma, cb, cr = _yuv_strips(pattern)
    speed = max(1, pattern.period // (fps * _CYCLE_SECONDS))
    chroma_w = width // 2
    codec = _video_codec()

    # faststart moves moov by re-opening the output by name after muxing, which BytesIO output can't do
    with tempfile.TemporaryDirectory(prefix="genmock-") as tmp:
        path = os.path.join(tmp, "clip.mp4")
        with av.open(path, "w", options={"movflags": "faststart"}) as container:
            stream = container.add_stream(codec, rate=fps)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.time_base = Fraction(1, fps)
            if codec == "libx264":
                # A fixed thread count keeps x264's settings SEI machine-independent. mbtree stays off (as in
                # superfast anyway): with it this x264 build's output varies with uninitialised heap memory.
                stream.options = {"preset": "superfast", "crf": "26", "threads": "2", "x264-params": "mbtree=0"}
            else:
                stream.bit_rate = 2_000_000

            frame = av.VideoFrame(width, height, "yuv420p")
            y_plane, u_plane, v_plane = frame.planes
            y_pad = b"\x00" * (y_plane.line_size - width)
            c_pad = b"\x00" * (u_plane.line_size - chroma_w)
            for index in range(frames):
                shift = index * speed
                offsets = [pattern.offset(y, shift) for y in range(height)]
                y_plane.update(b"".join(luma[o : o + width] + y_pad for o in offsets))
                # chroma row j samples every other pixel of luma row 2j
                for plane, strip in ((u_plane, cb), (v_plane, cr)):
                    plane.update(b"".join(strip[o : o + width : 2] + c_pad for o in offsets[::2]))
                frame.pts = index
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
        with open(path, "rb") as f:
            return f.read()


def thumbnail_size(width: int, height: int, longest_side: int = 256) -> tuple[int, int]:
    """Aspect-preserving size with a longest side of ``longest_side``, never upscaled, at least 1 px."""
    if width < 1 or height < 1 or longest_side < 1:
        raise ValueError(f"sizes must be positive, got {width}x{height} and longest_side={longest_side}")
    longest = max(width, height)
    if longest <= longest_side:
        return width, height
    return (
        max(1, (width * longest_side + longest // 2) // longest),
        max(1, (height * longest_side + longest // 2) // longest),
    )
