"""A dialect is one API's wire format over the shared engine: its spec, handlers and error format.

Adding an API means adding a spec and a dialect package that exposes a `DIALECT`, and listing it here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp

from mockserver.engine import Engine
from mockserver.engine.assets import Asset
from mockserver.engine.tenants import Tenant
from mockserver.routing import ErrorFormat, Handler

NAMES = ("lovlychat", "aliveai", "lucydream")


@dataclass(frozen=True)
class DemoTenant:
    """The tenant `genmock serve` creates and prints: its credentials and opening balance."""

    name: str
    credentials: list[str]
    balance: float
    login: dict[str, str] | None = None  # {"email", "password"} where the API has logins


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
    # the (width, height, seed) of a catalogue picture served at asset_path + name + ".png", or None
    catalogue_media: Callable[[str], tuple[int, int, int] | None] | None = None
    # where a tenant is more than keys and a wallet (AliveAI's users log in):
    # create(engine, name, keys, balance, login) with login {"email"?, "password"?}, the tenant's account
    # details as the admin API shows them, and authentication of a credential that may not be a stored key
    create_tenant: Callable[[Engine, str, list[str], float, dict[str, str]], Tenant] | None = None
    account: Callable[[Tenant], dict[str, Any]] | None = None
    authenticate: Callable[[Engine, str, str | None], Tenant | None] | None = None
    # the ASGI app that answers websocket connections, given the origin's context
    websocket: Callable[[Any], ASGIApp] | None = None

    def asset_url(self, base_url: str, asset: Asset, thumbnail: bool = False) -> str:
        """Where the asset's bytes are served (thumbnails are always PNG stills)."""
        if thumbnail:
            return f"{base_url}{self.asset_path}{asset.id}-thumbnail.png"
        extension = asset.media_type.split("/")[1]
        return f"{base_url}{self.asset_path}{asset.id}.{extension}"


def load(name: str) -> Dialect:
    if name not in NAMES:
        raise LookupError(f"unknown API {name!r}; known: {', '.join(NAMES)}")
    return importlib.import_module(f"mockserver.dialects.{name}").DIALECT
