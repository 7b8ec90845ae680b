"""Assets: every image or video a response points at, rendered on demand as real, deterministic bytes."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from mockserver.engine import media
from mockserver.engine.clock import Clock
from mockserver.engine.ids import IdFactory
from mockserver.engine.lru import DEFAULT_CACHE_SIZE, LRU
from mockserver.engine.store import Store

PNG = "image/png"
MP4 = "video/mp4"


@dataclass(frozen=True)
class Asset:
    id: str
    api: str
    tenant_id: str
    job_id: str | None
    media_type: str
    width: int
    height: int
    seconds: float | None
    fps: int | None
    seed: int
    created_at: float
    seq: int = 0
    labels: dict[str, Any] = field(default_factory=dict)

    @property
    def thumbnail_size(self) -> tuple[int, int]:
        return media.thumbnail_size(self.width, self.height)


class Assets:
    def __init__(self, store: Store, clock: Clock, ids: IdFactory, cache_size: int = DEFAULT_CACHE_SIZE) -> None:
        self._store = store
        self._clock = clock
        self._ids = ids
        # an asset never changes once made, and its id is never reused: these memos answer only for ids a fresh
        # query has just listed (a listing) or for a job whose assets exist (they are made all at once)
        self._by_id: LRU[str, Asset] = LRU(cache_size)
        self._of_job: LRU[str, list[Asset]] = LRU(cache_size)
        store.on_forget(self._forget)

    def _forget(self) -> None:
        self._by_id.clear()
        self._of_job.clear()

    def create(self, api: str, tenant_id: str, media_type: str, width: int, height: int, *,
               job_id: str | None = None, seconds: float | None = None, fps: int | None = None,
               labels: dict[str, Any] | None = None, at: float | None = None, id_prefix: str = "",
               id_length: int = 24, content: bytes | None = None) -> Asset:
        """A new asset; with `content` (an upload) its bytes are those, else they are rendered from its seed."""
        token, seed = self._ids.token_and_seed(id_length)
        while self._store.asset_exists(id_prefix + token):  # short ids (AliveAI's six characters) collide
            token, seed = self._ids.token_and_seed(id_length)
        asset = Asset(id=id_prefix + token, api=api, tenant_id=tenant_id, job_id=job_id, media_type=media_type,
                      width=width, height=height, seconds=seconds, fps=fps, seed=seed,
                      created_at=self._clock.now() if at is None else at, labels=labels or {})
        self._store.insert_asset(asset.__dict__)
        if content is not None:
            self._store.put_blob(asset.id, content)
        return asset

    def content(self, asset: Asset) -> bytes | None:
        """The stored bytes of an uploaded asset (None for a rendered one)."""
        return self._store.get_blob(asset.id)

    def delete(self, asset_id: str) -> None:
        job_id = self._store.delete_asset(asset_id)
        if job_id is not None:
            self.forget_job(job_id)

    def forget_job(self, job_id: str) -> None:
        """The job's assets were deleted."""
        self._of_job.pop(job_id)

    def labelled(self, tenant_id: str, key: str) -> list[Asset]:
        """The tenant's assets that carry the label `key`, newest first."""
        return [Asset(**row) for row in self._store.assets_labelled(tenant_id, key)]

    def get(self, asset_id: str) -> Asset | None:
        row = self._store.get_asset(asset_id)
        return Asset(**row) if row else None

    def of_tenant(self, tenant_id: str, job_id: str | None = None) -> list[Asset]:
        return [Asset(**row) for row in self._store.assets_of(tenant_id, job_id)]

    def of_job(self, tenant_id: str, job_id: str) -> list[Asset]:
        """The assets a job of the tenant produced, oldest first."""
        assets = self._of_job.get(job_id)
        if assets is None or (assets and assets[0].tenant_id != tenant_id):
            assets = self.of_tenant(tenant_id, job_id)
            if assets:  # none yet may mean not yet
                self._of_job[job_id] = assets
        return list(assets)

    def newest(self, tenant_id: str, limit: int, before: tuple[float, str] | None = None,
               label: tuple[str, Any] | None = None) -> list[Asset]:
        """Up to `limit` assets, newest first, older than `before` (created_at, id), with `label` if given."""
        ids = self._store.newest_asset_ids(tenant_id, limit, before, label)
        missing = [asset_id for asset_id in ids if asset_id not in self._by_id]
        for row in self._store.assets_by_id(missing) if missing else []:
            self._by_id[row["id"]] = Asset(**row)
        found = [self._by_id.get(asset_id) for asset_id in ids]
        if None in found:  # a page larger than the memo: read it whole
            return [Asset(**row) for row in self._store.assets_by_id(ids)]
        return found  # type: ignore[return-value]


def render(asset: Asset, thumbnail: bool = False) -> tuple[bytes, str]:
    """The asset's bytes and media type; a thumbnail is always a PNG still."""
    if thumbnail:
        width, height = asset.thumbnail_size
        return _png(width, height, asset.seed), PNG
    if asset.media_type == MP4:
        return _mp4(asset.width, asset.height, asset.seconds or 1.0, asset.fps or 16, asset.seed), MP4
    return _png(asset.width, asset.height, asset.seed), PNG


def render_still(width: int, height: int, seed: int) -> bytes:
    """A PNG that belongs to no asset (a catalogue's picture), deterministic per seed."""
    return _png(width, height, seed)


@lru_cache(maxsize=64)
def _png(width: int, height: int, seed: int) -> bytes:
    return media.render_png(width, height, seed)


@lru_cache(maxsize=8)
def _mp4(width: int, height: int, seconds: float, fps: int, seed: int) -> bytes:
    return media.render_mp4(width, height, seconds, fps, seed)
