"""A dialect is one API's wire format over the shared engine: its spec, handlers and error format.

Adding an API means adding a spec and a dialect package that exposes a `DIALECT`, and listing it here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mockserver.engine import Engine
from mockserver.engine.assets import MP4, Asset
from mockserver.routing import ErrorFormat, Handler

NAMES = ("lovlychat", "lucydream")


@dataclass(frozen=True)
class DemoTenant:
    """The tenant `genmock serve` creates and prints: its credentials and opening balance."""

    name: str
    credentials: list[str]
    balance: float


@dataclass(frozen=True)
class Dialect:
    name: str
    title: str
    spec: str  # file name under specs/
    default_port_offset: int
    handlers: dict[str, Handler]  # by operationId
    errors: ErrorFormat
    defaults: dict[str, Any]  # tunables: {"prices": {...}, "durations": {...}, "slots": n}
    fault_operations: dict[str, str]  # operation name -> what arming it does
    asset_path: str  # where asset downloads are served, e.g. "/generated/"
    demo: DemoTenant
    credential_rule: Callable[[str], str | None]  # why a credential cannot be issued, or None
    seed_demo: Callable[[Engine, str], None] | None = None  # extra demo state, given the demo tenant's id

    def asset_url(self, base_url: str, asset: Asset, thumbnail: bool = False) -> str:
        """Where the asset's bytes are served (thumbnails are always PNG stills)."""
        if thumbnail:
            return f"{base_url}{self.asset_path}{asset.id}-thumbnail.png"
        extension = "mp4" if asset.media_type == MP4 else "png"
        return f"{base_url}{self.asset_path}{asset.id}.{extension}"


def load(name: str) -> Dialect:
    if name not in NAMES:
        raise LookupError(f"unknown API {name!r}; known: {', '.join(NAMES)}")
    return importlib.import_module(f"mockserver.dialects.{name}").DIALECT
