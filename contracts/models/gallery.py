"""The reference gallery (LovlyChat): the assets of a wallet's completed jobs, newest first (`createdAt`
descending, then `id` descending), optionally only those of one character; walking every page by `nextCursor`
yields that list exactly once, each item the very asset its job's poll answers (every field the same)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any


def position(asset: dict[str, Any]) -> tuple[datetime, str]:
    """Where an asset stands in the gallery, as a sort key (larger: nearer the head)."""
    created = datetime.fromisoformat(str(asset.get("createdAt")).replace("Z", "+00:00"))
    return created, str(asset.get("id"))


def expected(assets: Iterable[dict[str, Any]], character: str | None = None) -> list[str]:
    """The ids the gallery must list, in order."""
    chosen = [asset for asset in assets if character is None or asset.get("characterId") == character]
    return [str(asset["id"]) for asset in sorted(chosen, key=position, reverse=True)]


def differences(item: dict[str, Any], asset: dict[str, Any]) -> list[str]:
    """The fields in which a gallery item differs from its job's asset, each as "name: item's value, asset's
    value" (`createdAt` is compared as an instant: the same moment may be written another way)."""
    found = []
    for name in sorted(item.keys() | asset.keys()):
        listed, polled = item.get(name), asset.get(name)
        if name == "createdAt" and _instant(listed) is not None and _instant(listed) == _instant(polled):
            continue
        if name not in item or name not in asset or listed != polled:
            found.append(f"{name}: {_shown(item, name)}, the job's {_shown(asset, name)}")
    return found


def disorder(items: list[dict[str, Any]], character: str | None = None) -> tuple[str, str] | None:
    """What is wrong with a walked gallery on its own, as (check, explanation): an item listed twice
    (gallery_paging), one of another character (gallery_contents), one older than the next (gallery_order)."""
    ids = [item.get("id") for item in items]
    repeated = sorted({str(item) for item in ids if ids.count(item) > 1})
    if repeated:
        return "gallery_paging", f"the pages repeat {', '.join(repeated)}"
    if character is not None:
        strays = [str(item.get("id")) for item in items if item.get("characterId") != character]
        if strays:
            return "gallery_contents", f"filtered by characterId {character!r}, it lists {', '.join(strays)}"
    try:
        keys = [position(item) for item in items]
    except ValueError:
        return "gallery_order", "an item has no readable createdAt"
    for index, (newer, older) in enumerate(zip(keys, keys[1:], strict=False)):
        if newer < older:
            return "gallery_order", (f"item {index} ({ids[index]}, {newer[0].isoformat()}) comes before the newer "
                                     f"item {index + 1} ({ids[index + 1]}, {older[0].isoformat()}): not newest first")
    return None


def _instant(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _shown(fields: dict[str, Any], name: str) -> str:
    return repr(fields[name]) if name in fields else "none"
