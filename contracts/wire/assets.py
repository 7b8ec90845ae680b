"""Every media URL an answer hands out, fetched once per run and judged against what the answer declares of it.

An answer declares what is at a URL through the object that carries it (`claims`): LovlyChat's `Asset` (`url`:
its `mimeType`, `width`, `height` and `durationSeconds`, an H.264 video; `thumbnailUrl`: "a PNG preview, 256 px on
the long side"), AliveAI's `MediaResponse` (`mediaUrl`: `mediaType` IMAGE, a PNG, JPEG or WebP, or VIDEO, an H.264
MP4) and its catalogue's pictures (`ClothesResponse.clothesImageUrl`, `Pose.image`). Each answer that passes
through an `Inspected` sender is judged so, as a finding of the responses layer (like its schema):
- `asset_download`: the URL answers 200.
- `asset_content`: its bytes are of a declared type, decode, and have the declared size, duration (within a
  frame and a half, or 0.1 s) and codec.
"""

from __future__ import annotations

import shlex
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

import httpx

from contracts import media
from contracts.client import ContractClient, Reply
from contracts.curl import curl
from contracts.media import Media
from contracts.report import Finding
from contracts.session import Session
from contracts.wire.aliveai import MEDIA_TYPES
from contracts.wire.common import Sender

LAYER = "responses"
CHECKS = ("asset_download", "asset_content")
THUMBNAIL_SIDE = 256  # LovlyChat `Asset.thumbnailUrl`: a PNG preview, 256 px on the long side
H264 = "h264"  # both specs' videos: "video/mp4 (H.264)", "H.264 MP4 videos"
SECONDS = 0.1  # the least tolerance of a duration; at a low frame rate, a frame and a half


@dataclass(frozen=True)
class Claim:
    """What an answer says is at a URL."""

    url: str
    what: str  # e.g. "asset ast_x's url"
    types: tuple[str, ...]  # the MIME types it may be
    width: int | None = None
    height: int | None = None
    seconds: float | None = None
    codec: str | None = None  # of a video
    longest: int | None = None  # a preview's long side (its aspect `width`x`height`'s)

    def __str__(self) -> str:
        kinds = " or ".join(self.types) or "nothing"
        size = f" of {self.width}x{self.height}" if self.width is not None and self.height is not None else ""
        if self.longest is not None:
            size = f", {self.longest} px on the long side{f' at the aspect of {size[4:]}' if size else ''}"
        length = f", {self.seconds:g} s" if self.seconds is not None else ""
        return f"{kinds}{f' ({self.codec})' if self.codec and media.MP4 in self.types else ''}{size}{length}"


@dataclass(frozen=True)
class Download:
    """What a GET of a URL gave: its status and bytes read as media, or why there is no answer."""

    curl: str
    status: int | None = None
    media: Media | None = None
    error: str | None = None


class Inspector:
    """One run's downloads (each distinct URL fetched once) and judgements (each claim judged once)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._downloads: dict[str, Download] = {}
        self._judged: dict[Claim, tuple[str, str] | None] = {}
        self._reported: set[Claim] = set()  # a broken claim is a finding once, on the first answer that makes it
        self._lock = threading.Lock()  # a tour may send from a thread of its own

    def download(self, url: str) -> Download:
        with self._lock:
            found = self._downloads.get(url)
        if found is None:
            found = self._fetch(url)
            with self._lock:
                self._downloads[url] = found
        return found

    def media(self, url: Any) -> Media | None:
        """The media at a URL an answer declared (already downloaded by an `Inspected` sender), if it is one."""
        return self.download(url).media if isinstance(url, str) else None

    def judge(self, claim: Claim) -> tuple[str, str] | None:
        """What is wrong with the bytes at the claim's URL, as (check, message); None when they are as claimed."""
        if claim not in self._judged:
            self._judged[claim] = verdict(claim, self.download(claim.url))
        return self._judged[claim]

    def answer(self, reply: Reply, operation: str) -> None:
        """Judge every URL `reply` declares; each broken claim is a finding."""
        for claim in claims(self.session.target.api, reply.body):
            broken = self.judge(claim)
            undownloaded = broken is not None and broken[0] == "asset_download"  # then the bytes are not judged
            self.session.report.ran(LAYER, *CHECKS[:1 if undownloaded else 2], operation=operation)
            if broken is not None and claim not in self._reported:
                self._reported.add(claim)
                check, message = broken
                reproduction = f"{reply.curl}\n{self.download(claim.url).curl}"
                self.session.report.add(Finding(LAYER, check, operation, message, reproduction), repr(claim))

    def _fetch(self, url: str) -> Download:
        self.session.report.count(LAYER, "media downloads")
        try:
            response = self.session.client.fetch(url)
        except (httpx.HTTPError, ValueError) as error:
            return Download(f"curl -sS {shlex.quote(url)}", error=f"{type(error).__name__}: {error}")
        line = curl(response.request, self.session.transcript.masks)
        return Download(line, response.status_code, media.read(response.content) if response.status_code == 200
                        else None)


_INSPECTORS: WeakKeyDictionary[ContractClient, Inspector] = WeakKeyDictionary()


def inspector(session: Session) -> Inspector:
    """The run's inspector (one per session's client: every layer shares its downloads)."""
    found = _INSPECTORS.get(session.client)
    if found is None:
        found = _INSPECTORS[session.client] = Inspector(session)
    return found


class Inspected:
    """A sender (the session's client, or a machine's counted one) whose every answer's URLs are judged."""

    def __init__(self, session: Session, sender: Sender | None = None) -> None:
        self._sender = sender or session.client
        self._session = session
        self.inspector = inspector(session)

    def send(self, method: str, path: str, **options: Any) -> Reply:
        reply = self._sender.send(method, path, **options)
        request = httpx.Request(method, self._session.target.root + path)
        self.inspector.answer(reply, self._session.client.operation(request))
        return reply


def claims(api: str, body: Any) -> list[Claim]:
    """What an answer's body declares of each media URL in it."""
    read = {"lovlychat": _lovlychat, "aliveai": _aliveai}.get(api)
    return [claim for item in _objects(body) for claim in read(item)] if read else []


def _objects(body: Any) -> Iterator[dict[str, Any]]:
    if isinstance(body, dict):
        yield body
        for value in body.values():
            yield from _objects(value)
    elif isinstance(body, list):
        for value in body:
            yield from _objects(value)


def _lovlychat(item: dict[str, Any]) -> list[Claim]:
    """An `Asset`: its file, and its thumbnail."""
    if not {"url", "mimeType"} <= item.keys():
        return []
    width, height = _number(item.get("width"), int), _number(item.get("height"), int)
    mime_type = str(item.get("mimeType"))
    found = []
    if isinstance(item["url"], str):
        found.append(Claim(item["url"], f"asset {item.get('id')}'s url", (mime_type,), width, height,
                           _number(item.get("durationSeconds"), float), H264 if mime_type == media.MP4 else None))
    if isinstance(item.get("thumbnailUrl"), str):
        found.append(Claim(item["thumbnailUrl"], f"asset {item.get('id')}'s thumbnailUrl", (media.PNG,), width,
                           height, longest=THUMBNAIL_SIDE))
    return found


def _aliveai(item: dict[str, Any]) -> list[Claim]:
    """A `MediaResponse`, a clothes item's picture, a pose's picture."""
    if isinstance(item.get("mediaUrl"), str) and "mediaType" in item:
        kind = str(item["mediaType"])
        return [Claim(item["mediaUrl"], f"media {item.get('id')} ({kind})", MEDIA_TYPES.get(kind, ()),
                      codec=H264 if kind == "VIDEO" else None)]
    if isinstance(item.get("clothesImageUrl"), str):
        return [Claim(item["clothesImageUrl"], f"clothes {item.get('clothesId')}'s clothesImageUrl", media.IMAGES)]
    if isinstance(item.get("image"), str) and item["image"].startswith(("http://", "https://")):
        return [Claim(item["image"], f"pose {item.get('id')}'s image", media.IMAGES)]
    return []


def _number(value: Any, kind: type) -> Any:
    return kind(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def verdict(claim: Claim, download: Download) -> tuple[str, str] | None:
    """What is wrong with what a download gave for what was claimed of its URL, as (check, message)."""
    where = f"{claim.what} {claim.url}"
    if download.status != 200 or download.media is None:
        return "asset_download", f"{where}: {download.error or f'answered {download.status}'}"
    found = download.media
    wrong = f"{where} is declared {claim}; its bytes are {found}"
    if found.mime_type not in claim.types or found.problem is not None:
        return "asset_content", wrong
    if claim.longest is not None:
        return None if _preview(claim, found) else ("asset_content", wrong)
    if (claim.width, claim.height) != (None, None) and (found.width, found.height) != (claim.width, claim.height):
        return "asset_content", wrong
    if found.mime_type == media.MP4:
        tolerance = max(SECONDS, 1.5 / found.fps) if found.fps else SECONDS
        if claim.seconds is not None and abs((found.seconds or 0.0) - claim.seconds) > tolerance:
            return "asset_content", wrong
        if claim.codec is not None and found.codec != claim.codec:
            return "asset_content", wrong
    return None


def _preview(claim: Claim, found: Media) -> bool:
    """A preview has the long side claimed, and (to a pixel) the aspect of what it previews."""
    width, height = found.width or 0, found.height or 0
    if max(width, height) != claim.longest:
        return False
    if not claim.width or not claim.height:
        return True
    scale = claim.longest / max(claim.width, claim.height)
    return abs(width - claim.width * scale) <= 1 and abs(height - claim.height * scale) <= 1
