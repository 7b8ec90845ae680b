"""The engine: the concepts all three APIs share (tenants, ledger, jobs, clock, assets, faults).

It knows nothing of any wire format; the dialects translate to and from it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from mockserver.engine.assets import Assets
from mockserver.engine.clock import VIRTUAL_EPOCH, Clock
from mockserver.engine.events import Events
from mockserver.engine.faults import Faults
from mockserver.engine.ids import IdFactory
from mockserver.engine.jobs import Jobs
from mockserver.engine.ledger import Ledger
from mockserver.engine.lru import DEFAULT_CACHE_SIZE
from mockserver.engine.store import Store
from mockserver.engine.tenants import Tenants


@dataclass
class Engine:
    store: Store
    clock: Clock
    ids: IdFactory
    ledger: Ledger
    tenants: Tenants
    jobs: Jobs
    assets: Assets
    faults: Faults
    events: Events

    @classmethod
    def open(cls, database: str = ":memory:", seed: int | None = None, clock: Clock | None = None,
             fresh: bool = False, cache_size: int = DEFAULT_CACHE_SIZE) -> Engine:
        """State in `database` (a SQLite file, or ":memory:"; `fresh`: emptied first); ids reproducible when
        `seed` is given; each memo of the store keeps at most `cache_size` entries. Raises DatabaseInUse while
        another process has the file open."""
        store = Store(database, fresh=fresh, cache_size=cache_size)
        if seed is None:
            seed = store.get_setting("seed")
            if seed is None:
                seed = random.SystemRandom().randrange(2**31)
        store.set_setting("seed", seed)
        clock = clock or Clock()
        ids = IdFactory(store, seed)
        ledger = Ledger(store, clock, cache_size)
        assets = Assets(store, clock, ids, cache_size)
        events = Events()
        jobs = Jobs(store, clock, ledger, assets, events, slots={}, cache_size=cache_size)
        return cls(store=store, clock=clock, ids=ids, ledger=ledger, jobs=jobs, assets=assets,
                   tenants=Tenants(store, clock, ids, ledger, cache_size), faults=Faults(store), events=events)

    def config(self, api: str, defaults: dict[str, Any]) -> dict[str, Any]:
        """The API's tunables (prices, durations, slots): the defaults, overridden by what was set."""
        stored = self.store.get_setting(f"config:{api}") or {}
        return {key: {**value, **stored.get(key, {})} if isinstance(value, dict) else stored.get(key, value)
                for key, value in defaults.items()}

    def set_config(self, api: str, changes: dict[str, Any]) -> None:
        stored = self.store.get_setting(f"config:{api}") or {}
        for key, value in changes.items():
            stored[key] = {**stored.get(key, {}), **value} if isinstance(value, dict) else value
        self.store.set_setting(f"config:{api}", stored)
        self.store.set_setting(f"config-changed:{api}", self.clock.now())

    def config_changed_at(self, api: str) -> float:
        """When the API's tunables last changed (the defaults count as set at the virtual epoch)."""
        changed = self.store.get_setting(f"config-changed:{api}")
        return VIRTUAL_EPOCH if changed is None else changed

    def reset(self, api: str) -> None:
        self.store.delete_api_state(api)  # the engine's modules forget what they remembered of it
        self.store.set_setting(f"config:{api}", {})
        self.store.set_setting(f"config-changed:{api}", None)
        self.events.notify()
