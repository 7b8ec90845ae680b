import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from mockserver.engine import media
from mockserver.engine.media import render_mp4, render_png, thumbnail_size

ROOT = Path(__file__).resolve().parents[1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --- a small PNG reader, independent of the code under test -------------------------------------------


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == PNG_SIGNATURE
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert len(body) == length, f"{kind!r} chunk truncated"
        assert crc == zlib.crc32(kind + body), f"bad CRC on {kind!r}"
        chunks.append((kind, body))
        pos += 12 + length
    assert pos == len(data)
    return chunks


def png_decode(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and unfiltered RGB rows of an 8-bit RGB, non-interlaced PNG."""
    chunks = png_chunks(data)
    kinds = [kind for kind, _ in chunks]
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, colour, compression, filtering, interlace) == (8, 2, 0, 0, 0)
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = 3 * width
    assert len(raw) == height * (1 + stride)

    rows: list[bytes] = []
    previous = bytes(stride)
    for y in range(height):
        kind, line = raw[y * (1 + stride)], bytearray(raw[y * (1 + stride) + 1 : (y + 1) * (1 + stride)])
        assert kind <= 4, f"invalid filter type {kind} on row {y}"
        for x in range(stride):
            left = line[x - 3] if x >= 3 else 0
            up, up_left = previous[x], previous[x - 3] if x >= 3 else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else up_left
                line[x] = (line[x] + predictor) & 0xFF
        rows.append(bytes(line))
        previous = rows[-1]
    return width, height, rows


def pixels(rows: list[bytes]) -> list[tuple[int, int, int]]:
    return [tuple(row[i : i + 3]) for row in rows for i in range(0, len(row), 3)]


# --- PNG --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("width", "height"), [(1, 1), (7, 3), (3, 7), (64, 48), (256, 256)])
def test_png_decodes_to_requested_size(width, height):
    w, h, rows = png_decode(render_png(width, height, seed=5))
    assert (w, h) == (width, height)
    assert len(rows) == height and all(len(row) == 3 * width for row in rows)


@pytest.mark.parametrize(("width", "height"), [(896, 1152), (1024, 1024), (2048, 2048), (4096, 16)])
def test_large_png_structure(width, height):
    data = render_png(width, height, seed=11)
    chunks = png_chunks(data)
    ihdr = struct.unpack(">IIBBBBB", chunks[0][1])
    assert chunks[0][0] == b"IHDR" and ihdr == (width, height, 8, 2, 0, 0, 0)
    assert chunks[-1] == (b"IEND", b"")
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    assert len(raw) == height * (1 + 3 * width)
    assert all(raw[y * (1 + 3 * width)] <= 4 for y in range(height))


def test_png_is_a_gradient_not_a_flat_fill():
    _, _, rows = png_decode(render_png(96, 64, seed=3))
    assert len(set(pixels(rows))) > 50
    assert rows[0] != rows[-1]


def test_png_is_deterministic():
    assert render_png(320, 200, seed=42) == render_png(320, 200, seed=42)
    assert render_png(320, 200, seed=-7) == render_png(320, 200, seed=-7)


@pytest.mark.parametrize("other", [1, 2, 43, -42, 2**70])
def test_png_seeds_look_different(other):
    _, _, a = png_decode(render_png(64, 64, seed=42))
    _, _, b = png_decode(render_png(64, 64, seed=other))
    diff = sum(abs(x - y) for ra, rb in zip(a, b, strict=True) for x, y in zip(ra, rb, strict=True))
    assert diff / (64 * 64 * 3) > 10, "mean per-channel difference too small to see"


def test_png_size_changes_bytes_too():
    assert render_png(100, 50, seed=1) != render_png(50, 100, seed=1)


@pytest.mark.parametrize(("width", "height"), [(0, 10), (10, 0), (-1, 10), (4097, 10), (10, 4097)])
def test_png_rejects_bad_sizes(width, height):
    with pytest.raises(ValueError):
        render_png(width, height, seed=1)


def test_png_accepts_the_limits():
    assert png_chunks(render_png(4096, 1, seed=1))[0][1][:8] == struct.pack(">II", 4096, 1)
    assert png_chunks(render_png(1, 4096, seed=1))[0][1][:8] == struct.pack(">II", 1, 4096)


# --- thumbnail_size ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "longest_side", "expected"),
    [
        ((1024, 1024), 256, (256, 256)),
        ((896, 1152), 256, (199, 256)),
        ((1152, 896), 256, (256, 199)),
        ((1920, 1080), 512, (512, 288)),
        ((257, 100), 256, (256, 100)),
        ((256, 100), 256, (256, 100)),  # already fits
        ((100, 50), 256, (100, 50)),  # never upscaled
        ((4096, 1), 256, (256, 1)),  # at least 1 px
        ((1, 4096), 256, (1, 256)),
        ((5000, 3), 100, (100, 1)),
        ((3, 2), 1, (1, 1)),
    ],
)
def test_thumbnail_size(size, longest_side, expected):
    assert thumbnail_size(*size, longest_side=longest_side) == expected


def test_thumbnail_size_default_longest_side():
    assert thumbnail_size(2048, 1024) == (256, 128)


@pytest.mark.parametrize(("width", "height", "longest_side"), [(0, 10, 256), (10, -1, 256), (10, 10, 0)])
def test_thumbnail_size_rejects_non_positive(width, height, longest_side):
    with pytest.raises(ValueError):
        thumbnail_size(width, height, longest_side)


# --- MP4 --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def av():
    import av  # a dependency of genmock: its absence is a failure, not a skip

    return av


def top_level_boxes(data: bytes) -> list[str]:
    boxes, pos = [], 0
    while pos < len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if size == 1:
            (size,) = struct.unpack(">Q", data[pos + 8 : pos + 16])
        elif size == 0:
            size = len(data) - pos
        assert size >= 8, f"bad box size {size} at {pos}"
        boxes.append(kind.decode("latin-1"))
        pos += size
    assert pos == len(data), "boxes overrun the file"
    return boxes


def luma(frame) -> bytes:
    plane = frame.planes[0]
    data = bytes(plane)
    return b"".join(data[y * plane.line_size : y * plane.line_size + frame.width] for y in range(frame.height))


def probe(av, data: bytes) -> dict:
    import io

    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        return {
            "codec": stream.codec_context.name,
            "size": (stream.width, stream.height),
            "pix_fmt": stream.codec_context.pix_fmt,
            "rate": stream.average_rate,
            "duration": float(stream.duration * stream.time_base),
            "frames": len(frames),
            "first_luma": luma(frames[0]),
            "last_luma": luma(frames[-1]),
        }


@pytest.mark.parametrize(
    ("width", "height", "seconds", "fps"),
    [(512, 512, 2, 8), (832, 480, 5, 16), (66, 38, 0.5, 10), (2, 2, 0.25, 4), (834, 482, 1, 8)],
)
def test_mp4_decodes_back(av, width, height, seconds, fps):
    info = probe(av, render_mp4(width, height, seconds, fps, seed=1))
    if "libx264" in av.codecs_available:
        assert info["codec"] == "h264"
    assert info["size"] == (width, height)
    assert info["pix_fmt"] == "yuv420p"
    assert info["rate"] == fps
    assert info["frames"] == round(seconds * fps)
    assert abs(info["duration"] - seconds) <= 1 / fps


def test_mp4_frames_animate(av):
    info = probe(av, render_mp4(128, 96, 1, 8, seed=4))
    first, last = info["first_luma"], info["last_luma"]
    # compression noise alone stays around 1; a moved gradient differs by far more
    assert sum(abs(a - b) for a, b in zip(first, last, strict=True)) / len(first) > 5


def test_mp4_moov_precedes_mdat(av):
    boxes = top_level_boxes(render_mp4(256, 144, 1, 8, seed=2))
    assert boxes[0] == "ftyp"
    assert "moov" in boxes and "mdat" in boxes
    assert boxes.index("moov") < boxes.index("mdat")


def test_mp4_is_deterministic(av):
    args = (320, 240, 2, 8, 77)
    first = render_mp4(*args)
    for size in (300_000, 1_000_000, 2_500_000):
        # x264's mbtree reads uninitialised memory: garbage left on the heap used to change the output
        junk = [os.urandom(size) for _ in range(8)]
        del junk[::2]
        assert render_mp4(*args) == first
    # a fresh process has different heap contents and timing; the bytes must still match
    script = f"import sys\nfrom mockserver.engine.media import render_mp4\nsys.stdout.buffer.write(render_mp4{args!r})"
    fresh = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, check=True).stdout
    assert fresh == first


def test_mp4_seed_changes_bytes(av):
    assert render_mp4(160, 120, 1, 8, seed=1) != render_mp4(160, 120, 1, 8, seed=2)


def test_mp4_falls_back_to_another_codec(av, monkeypatch):
    monkeypatch.setattr(media, "_VIDEO_CODECS", ("no-such-encoder", "mpeg4"))
    data = render_mp4(160, 120, 1, 8, seed=3)
    info = probe(av, data)
    assert info["codec"] == "mpeg4"
    assert (info["size"], info["frames"]) == ((160, 120), 8)
    assert top_level_boxes(data).index("moov") < top_level_boxes(data).index("mdat")


def test_mp4_with_no_usable_codec(av, monkeypatch):
    monkeypatch.setattr(media, "_VIDEO_CODECS", ("no-such-encoder",))
    with pytest.raises(RuntimeError):
        render_mp4(160, 120, 1, 8, seed=3)


@pytest.mark.parametrize(
    ("width", "height", "seconds", "fps"),
    [
        (511, 512, 1, 8),  # odd width
        (512, 511, 1, 8),  # odd height
        (0, 512, 1, 8),
        (4098, 512, 1, 8),
        (512, 512, 1, 0),
        (512, 512, 0.01, 8),  # rounds to zero frames
    ],
)
def test_mp4_rejects_bad_arguments(av, width, height, seconds, fps):
    with pytest.raises(ValueError):
        render_mp4(width, height, seconds, fps, seed=1)


def test_mp4_odd_size_message_is_clear(av):
    with pytest.raises(ValueError, match="even"):
        render_mp4(511, 512, 1, 8, seed=1)
