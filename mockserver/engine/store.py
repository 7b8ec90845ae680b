"""The storage seam: every read and write of engine state goes through `Store`.

SQLite by default (a file, or ":memory:"). The engine uses only the methods below, so a server-grade
database can replace this class without touching the engine or the dialects.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from mockserver.engine.lru import DEFAULT_CACHE_SIZE, LRU

SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tenants (
    id TEXT PRIMARY KEY, api TEXT NOT NULL, name TEXT NOT NULL, created_at REAL NOT NULL,
    attributes TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS credentials (
    api TEXT NOT NULL, secret TEXT NOT NULL, tenant_id TEXT NOT NULL REFERENCES tenants(id),
    PRIMARY KEY (api, secret)
);
CREATE TABLE IF NOT EXISTS ledger (
    seq INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id),
    kind TEXT NOT NULL, amount INTEGER NOT NULL, balance_after INTEGER NOT NULL,
    reference TEXT NOT NULL, at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_by_tenant ON ledger (tenant_id, seq);
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL, api TEXT NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id), kind TEXT NOT NULL, status TEXT NOT NULL,
    params TEXT NOT NULL, cost INTEGER NOT NULL, duration REAL NOT NULL, fail_with TEXT,
    created_at REAL NOT NULL, started_at REAL, finished_at REAL, UNIQUE (api, id)
);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (api, status, seq);
DROP INDEX IF EXISTS jobs_by_tenant;
CREATE INDEX IF NOT EXISTS jobs_by_tenant_kind ON jobs (tenant_id, status, seq, kind);
CREATE TABLE IF NOT EXISTS assets (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, api TEXT NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id), job_id TEXT, media_type TEXT NOT NULL,
    width INTEGER NOT NULL, height INTEGER NOT NULL, seconds REAL, fps INTEGER, seed INTEGER NOT NULL,
    labels TEXT NOT NULL DEFAULT '{}', created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS assets_by_tenant ON assets (tenant_id, seq);
CREATE INDEX IF NOT EXISTS assets_newest_first ON assets (tenant_id, created_at, id);
CREATE INDEX IF NOT EXISTS assets_by_job ON assets (job_id);
CREATE TABLE IF NOT EXISTS blobs (asset_id TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS faults (
    seq INTEGER PRIMARY KEY, api TEXT NOT NULL, operation TEXT NOT NULL,
    tenant_id TEXT, remaining INTEGER NOT NULL, message TEXT
);
CREATE TABLE IF NOT EXISTS chat_characters (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, tenant_id TEXT NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL, bio TEXT NOT NULL, short_bio TEXT NOT NULL, first_message TEXT NOT NULL,
    first_message_id TEXT NOT NULL, first_candidate_id TEXT NOT NULL, media_id TEXT, prompt_id TEXT,
    deleted INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS chat_characters_by_tenant ON chat_characters (tenant_id, seq);
CREATE TABLE IF NOT EXISTS chat_personas (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, tenant_id TEXT NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL, bio TEXT, is_default INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS chat_personas_by_tenant ON chat_personas (tenant_id, seq);
CREATE TABLE IF NOT EXISTS chats (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, tenant_id TEXT NOT NULL REFERENCES tenants(id),
    character_id TEXT NOT NULL, persona_id TEXT NOT NULL, created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS chats_by_tenant ON chats (tenant_id, seq);
CREATE INDEX IF NOT EXISTS chats_by_persona ON chats (persona_id);
CREATE TABLE IF NOT EXISTS chat_messages (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, chat_id TEXT NOT NULL, tenant_id TEXT NOT NULL,
    kind TEXT NOT NULL, selected_candidate_id TEXT NOT NULL, created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS chat_messages_by_chat ON chat_messages (chat_id, seq);
CREATE INDEX IF NOT EXISTS chat_messages_by_tenant ON chat_messages (tenant_id);
CREATE TABLE IF NOT EXISTS chat_candidates (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, message_id TEXT NOT NULL, chat_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL, text TEXT NOT NULL, media_id TEXT, job_id TEXT,
    started_at REAL, first_token_seconds REAL, token_seconds REAL, ready_at REAL,
    fails_after INTEGER, fails_at REAL, previous_candidate_id TEXT, user_message_id TEXT,
    pending INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS chat_candidates_by_chat ON chat_candidates (chat_id, seq);
CREATE INDEX IF NOT EXISTS chat_candidates_by_message ON chat_candidates (message_id, seq);
CREATE INDEX IF NOT EXISTS chat_candidates_pending ON chat_candidates (tenant_id, pending);
CREATE TABLE IF NOT EXISTS chat_vision_uses (tenant_id TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS chat_vision_uses_by_tenant ON chat_vision_uses (tenant_id, at);
"""


# every column of a job but its params (read apart, once per job: see Store._jobs)
_JOB_COLUMNS = ("seq, id, api, tenant_id, kind, status, cost, duration, fail_with, created_at, started_at,"
                " finished_at")


class DatabaseInUse(Exception):
    """Another process serves this database file: one file, one server."""

    def __init__(self, path: str, holder: str) -> None:
        super().__init__(f"{path} is in use by another genmock process (pid {holder or 'unknown'}); stop it, "
                         "or give this one another --db")
        self.path = path
        self.holder = holder


class Store:
    """SQLite-backed state. Safe to share between threads; one writer at a time; one process per file.

    Transactions nest: each `transaction()` is a savepoint, so a block that raises leaves no trace even inside
    another. Completed outermost transactions are not committed one by one: they pile up in one long SQLite
    transaction until something waits for them (`durable()`, awaited before a request is answered) or the
    store is closed, and one COMMIT then writes them all. So a burst of requests shares one write, and no
    answer leaves before what it acknowledges is on disk: a killed process loses nothing a client was told.
    (Commits are not fsynced: only a crash of the OS could lose the latest ones.)
    """

    def __init__(self, path: str = ":memory:", fresh: bool = False, cache_size: int = DEFAULT_CACHE_SIZE) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._lock_file = _claim(path) if path != ":memory:" else None  # before --fresh deletes anything
        if fresh and path != ":memory:":
            for suffix in ("", "-wal", "-shm"):
                Path(path + suffix).unlink(missing_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        if path != ":memory:":
            # WAL without fsync: every commit survives the death of the process (only an OS crash could lose
            # the latest ones), and no checkpoint fsync stalls the event loop.
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=OFF")
            # Read the file through a memory map (up to 2 GiB; SQLite caps it at its build's maximum, 2 GiB - 64
            # KiB by default) rather than one pread per page: once the file outgrows the 2 MB page cache (10^5
            # stored jobs and more), a random job read costs ~7.5 preads (py-spy at 10^6: pread ~20% of the
            # route). Measured on grown files of bench/growth.py, 4 rounds in alternating order, 10^6 jobs and
            # prompts per API: random GET /v1/generation/jobs/{id} 304 -> 279 µs of CPU per request (+13% req/s),
            # random GET /prompts/{promptId} 313 -> 267 µs (+31% req/s); creates and 10^3 files unchanged (±3%).
            # The mapped pages are the OS page cache, counted in VmRSS as RssFile (up to the cap), not heap.
            self._db.execute("PRAGMA mmap_size=2147483648")
        self._db.executescript(SCHEMA)
        self._depth = 0
        self._savepoints = 0  # how many of the open blocks have their savepoint yet (see _before_write)
        self._owner: object = None  # the asyncio task (or thread) inside the outermost transaction
        self._changes_at: list[int] = []  # per open savepoint: total_changes when it began
        self._open = False  # whether the long transaction holding completed transactions is open
        self._committed_changes = 0  # total_changes at the last COMMIT: more since then = something to write
        self._forget_listeners: list[Callable[[], None]] = [self._forget_own]
        # a job's params never change once stored: decoded once per seq (a rollback or a delete can free a seq)
        self._job_params: LRU[int, Any] = LRU(cache_size)
        self._transaction = _Transaction(self)
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._commit_scheduled = False

    def on_forget(self, listener: Callable[[], None]) -> None:
        """Call `listener` whenever what the engine remembers of the store may have become untrue: after a
        rollback (it may have remembered writes that were undone) and after state is deleted."""
        self._forget_listeners.append(listener)

    def _forget(self) -> None:
        for listener in self._forget_listeners:
            listener()

    def _forget_own(self) -> None:
        self._job_params.clear()

    def _job(self, row: dict[str, Any] | None) -> dict[str, Any] | None:
        """A job row with its params decoded (shared with every other reader of the job: never mutated)."""
        if row is not None:
            params = self._job_params.get(row["seq"])
            if params is None:
                params = self._job_params[row["seq"]] = json.loads(row["params"])
            row["params"] = params
        return row

    def _jobs(self, where: str, args: tuple) -> list[dict[str, Any]]:
        """Job rows, their params from the memo: a job's (large) params text is read once."""
        rows = self._all(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE {where}", args)
        missing = [row["seq"] for row in rows if row["seq"] not in self._job_params]
        if missing:
            for found in self._all(f"SELECT seq, params FROM jobs WHERE seq IN ({', '.join('?' * len(missing))})",
                                   tuple(missing)):
                self._job_params[found["seq"]] = json.loads(found["params"])
        for row in rows:
            params = self._job_params.get(row["seq"])
            row["params"] = params if params is not None else self._job_params_of(row["seq"])
        return rows

    def _job_params_of(self, seq: int) -> Any:  # (a page of jobs larger than the memo)
        row = self._one("SELECT params FROM jobs WHERE seq = ?", (seq,))
        return json.loads(row["params"]) if row else None

    def close(self) -> None:
        with self._lock:
            self.commit()
            self._db.close()
            if self._lock_file is not None:
                self._lock_file.close()  # releases the claim on the file

    @property
    def pending(self) -> bool:
        """Whether completed transactions wrote something not yet committed (reads alone leave nothing)."""
        return self._open and self._db.total_changes != self._committed_changes and self.path != ":memory:"

    def commit(self) -> None:
        """Write what completed transactions changed (a no-op while a transaction is under way)."""
        with self._lock:
            if self._open and self._depth == 0:
                self._db.execute("COMMIT")
                self._open = False
                self._committed_changes = self._db.total_changes

    async def durable(self) -> None:
        """Return once everything completed so far is committed: the group commit that contains it.

        Every caller that arrives before the commit runs (in practice: every request the event loop handled
        in the same turn) shares it."""
        if not self.pending:
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        with self._lock:
            self._waiters.append((loop, waiter))
            if not self._commit_scheduled:
                self._commit_scheduled = True
                loop.call_soon(self._group_commit)
        await waiter

    def _group_commit(self) -> None:
        with self._lock:
            self._commit_scheduled = False
            waiters, self._waiters = self._waiters, []
            self.commit()
        running = asyncio.get_running_loop()
        for loop, waiter in waiters:
            if loop is running:
                _settle_waiter(waiter)
            else:
                loop.call_soon_threadsafe(_settle_waiter, waiter)

    def transaction(self) -> _Transaction:
        """All-or-nothing: writes inside commit together or not at all. Nests: an inner block that raises
        undoes only its own writes."""
        return self._transaction

    def _begin(self) -> None:
        self._lock.acquire()
        owner = _current_owner()
        if self._depth == 0:
            self._owner = owner
        elif owner is not self._owner:
            # the lock is re-entrant per thread: a second asyncio task of the same thread would silently
            # join a transaction another task left open across an `await`
            self._lock.release()
            raise RuntimeError("a transaction was left open across an await")
        self._depth += 1
        self._changes_at.append(self._db.total_changes)

    def _before_write(self) -> None:
        """Savepoints are made lazily, at the first write inside them: a block that only reads (most
        requests) costs no statement of its own. Every open block gets its savepoint before the write."""
        if self._savepoints == self._depth:
            return
        if not self._open:
            self._db.execute("BEGIN IMMEDIATE")
            self._open = True
        while self._savepoints < self._depth:
            self._savepoints += 1
            self._db.execute(f"SAVEPOINT s{self._savepoints}")

    def _end(self, failed: bool) -> None:
        try:
            changed = self._db.total_changes != self._changes_at.pop()
            if self._savepoints == self._depth:  # (else nothing was written in this block)
                if failed and changed:
                    self._db.execute(f"ROLLBACK TO s{self._depth}")
                self._db.execute(f"RELEASE s{self._depth}")
                self._savepoints -= 1
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
            if failed and changed:
                self._forget()
        finally:
            self._lock.release()

    def _one(self, sql: str, args: tuple = ()) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(sql, args).fetchone()
        return dict(row) if row is not None else None

    def _all(self, sql: str, args: tuple = ()) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(row) for row in self._db.execute(sql, args).fetchall()]

    def _run(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        """A statement that writes."""
        with self._lock:
            self._before_write()
            return self._db.execute(sql, args)

    # -- settings and counters ------------------------------------------------------------------
    def get_setting(self, key: str) -> Any:
        row = self._one("SELECT value FROM settings WHERE key = ?", (key,))
        return json.loads(row["value"]) if row else None

    def set_setting(self, key: str, value: Any) -> None:
        self._run(
            "INSERT INTO settings (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value)),
        )

    def next_counter(self, name: str, step: int = 1) -> int:
        """Advance a named counter by `step` and return its new value (the first call returns `step`)."""
        with self._lock:
            row = self._run(
                "INSERT INTO counters (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value RETURNING value",
                (name, step),
            ).fetchone()
        return int(row["value"])

    # -- tenants and credentials ----------------------------------------------------------------
    def insert_tenant(self, tenant: dict[str, Any]) -> None:
        self._run(
            "INSERT INTO tenants (id, api, name, created_at, attributes) VALUES (?, ?, ?, ?, ?)",
            (tenant["id"], tenant["api"], tenant["name"], tenant["created_at"],
             json.dumps(tenant.get("attributes", {}))),
        )

    def get_tenant(self, tenant_id: str) -> dict[str, Any] | None:
        return _decode(self._one("SELECT * FROM tenants WHERE id = ?", (tenant_id,)), "attributes")

    def list_tenants(self, api: str) -> list[dict[str, Any]]:
        rows = self._all("SELECT * FROM tenants WHERE api = ? ORDER BY created_at, id", (api,))
        return [_decode(row, "attributes") for row in rows]

    def tenant_with_attribute(self, api: str, key: str, value: Any) -> dict[str, Any] | None:
        """The tenant of `api` whose attribute `key` equals `value` (e.g. a login's email)."""
        return _decode(self._one("SELECT * FROM tenants WHERE api = ? AND json_extract(attributes, ?) = ?",
                                 (api, f"$.{key}", value)), "attributes")

    def insert_credential(self, api: str, secret: str, tenant_id: str) -> None:
        self._run("INSERT INTO credentials (api, secret, tenant_id) VALUES (?, ?, ?)", (api, secret, tenant_id))

    def tenant_for_credential(self, api: str, secret: str) -> str | None:
        row = self._one("SELECT tenant_id FROM credentials WHERE api = ? AND secret = ?", (api, secret))
        return row["tenant_id"] if row else None

    def credentials_of(self, tenant_id: str) -> list[str]:
        rows = self._all("SELECT secret FROM credentials WHERE tenant_id = ? ORDER BY rowid", (tenant_id,))
        return [row["secret"] for row in rows]

    # -- ledger ----------------------------------------------------------------------------------
    def last_ledger_entry(self, tenant_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM ledger WHERE tenant_id = ? ORDER BY seq DESC LIMIT 1", (tenant_id,))

    def append_ledger_entry(self, entry: dict[str, Any]) -> int:
        cursor = self._run(
            "INSERT INTO ledger (tenant_id, kind, amount, balance_after, reference, at) VALUES (?, ?, ?, ?, ?, ?)",
            (entry["tenant_id"], entry["kind"], entry["amount"], entry["balance_after"], entry["reference"],
             entry["at"]),
        )
        return int(cursor.lastrowid or 0)

    def ledger_entries(self, tenant_id: str) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM ledger WHERE tenant_id = ? ORDER BY seq", (tenant_id,))

    # -- jobs ------------------------------------------------------------------------------------
    def insert_job(self, job: dict[str, Any]) -> int:
        """Store a new job; returns its sequence number (queue order)."""
        cursor = self._run(
            "INSERT INTO jobs (id, api, tenant_id, kind, status, params, cost, duration, fail_with, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (job["id"], job["api"], job["tenant_id"], job["kind"], job["status"], json.dumps(job["params"]),
             job["cost"], job["duration"], job.get("fail_with"), job["created_at"]),
        )
        return int(cursor.lastrowid or 0)

    def update_job(self, api: str, job_id: str, **changes: Any) -> None:
        columns = ", ".join(f"{name} = ?" for name in changes)
        self._run(f"UPDATE jobs SET {columns} WHERE api = ? AND id = ?", (*changes.values(), api, job_id))

    def get_job(self, api: str, job_id: str) -> dict[str, Any] | None:
        return self._job(self._one("SELECT * FROM jobs WHERE api = ? AND id = ?", (api, job_id)))

    def jobs_in_status(self, api: str, status: str, after_seq: int = 0, limit: int = -1) -> list[dict[str, Any]]:
        """Jobs of one status in queue order, from `after_seq` on, at most `limit` (-1: all)."""
        return self._jobs("api = ? AND status = ? AND seq > ? ORDER BY seq LIMIT ?", (api, status, after_seq, limit))

    def recent_jobs(self, api: str, statuses: tuple[str, ...], tenant_id: str | None,
                    limit: int) -> list[dict[str, Any]]:
        """Up to `limit` jobs in these statuses, newest first, of one tenant or of all."""
        where = f"api = ? AND status IN ({', '.join('?' * len(statuses))})"
        args: tuple = (api, *statuses)
        if tenant_id is not None:
            where, args = where + " AND tenant_id = ?", (*args, tenant_id)
        return self._jobs(where + " ORDER BY seq DESC LIMIT ?", (*args, limit))

    def latest_active_time(self, api: str) -> float | None:
        """The latest start or creation time of a queued or running job."""
        row = self._one("SELECT MAX(COALESCE(started_at, created_at)) AS latest FROM jobs"
                        " WHERE api = ? AND status IN ('queued', 'running')", (api,))
        return row["latest"] if row else None

    def shift_active_jobs(self, api: str, seconds: float) -> None:
        """Move the creation and start times of the queued and running jobs by `seconds`."""
        self._run("UPDATE jobs SET created_at = created_at + ?, started_at = started_at + ?"
                  " WHERE api = ? AND status IN ('queued', 'running')", (seconds, seconds, api))

    def queued_seqs(self, api: str) -> list[int]:
        rows = self._all("SELECT seq FROM jobs WHERE api = ? AND status = 'queued' ORDER BY seq", (api,))
        return [row["seq"] for row in rows]

    # (a tenant belongs to one API, so its jobs are found by the tenant alone: the index holds all it needs)
    def count_active_jobs(self, tenant_id: str) -> int:
        row = self._one("SELECT COUNT(*) AS n FROM jobs WHERE tenant_id = ? AND status IN ('running', 'queued')",
                        (tenant_id,))
        return int(row["n"]) if row else 0

    def active_jobs_of(self, tenant_id: str) -> list[dict[str, Any]]:
        """A tenant's running and queued jobs, running first, each group in queue order."""
        return self._jobs("tenant_id = ? AND status IN ('running', 'queued') ORDER BY status = 'queued', seq",
                          (tenant_id,))

    def jobs_page(self, tenant_id: str, status: str, kinds: tuple[str, ...], offset: int,
                  limit: int) -> list[dict[str, Any]]:
        """A page of a tenant's jobs of one status and of these kinds, newest first."""
        where = f"tenant_id = ? AND status = ? AND kind IN ({', '.join('?' * len(kinds))})"
        return self._jobs(f"{where} ORDER BY seq DESC LIMIT ? OFFSET ?", (tenant_id, status, *kinds, limit, offset))

    def count_jobs_by_kind(self, tenant_id: str, status: str) -> dict[str, int]:
        """How many jobs of one status the tenant has, per kind (from the index alone)."""
        rows = self._all("SELECT kind, COUNT(*) AS n FROM jobs WHERE tenant_id = ? AND status = ? GROUP BY kind",
                         (tenant_id, status))
        return {row["kind"]: int(row["n"]) for row in rows}

    def jobs_of(self, tenant_id: str, kind: str | None = None) -> list[dict[str, Any]]:
        if kind is None:
            return self._jobs("tenant_id = ? ORDER BY seq", (tenant_id,))
        return self._jobs("tenant_id = ? AND kind = ? ORDER BY seq", (tenant_id, kind))

    def delete_job(self, api: str, job_id: str) -> str | None:
        """Remove a job with the assets it produced; return whose it was (None: there was no such job)."""
        with self.transaction():
            self._run("DELETE FROM blobs WHERE asset_id IN (SELECT id FROM assets WHERE api = ? AND job_id = ?)",
                      (api, job_id))
            self._run("DELETE FROM assets WHERE api = ? AND job_id = ?", (api, job_id))
            row = self._run("DELETE FROM jobs WHERE api = ? AND id = ? RETURNING seq, tenant_id",
                            (api, job_id)).fetchone()
        if row is None:
            return None
        self._job_params.pop(row["seq"])
        return str(row["tenant_id"])

    # -- assets ----------------------------------------------------------------------------------
    def insert_asset(self, asset: dict[str, Any]) -> None:
        self._run(
            "INSERT INTO assets (id, api, tenant_id, job_id, media_type, width, height, seconds, fps, seed,"
            " labels, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (asset["id"], asset["api"], asset["tenant_id"], asset.get("job_id"), asset["media_type"],
             asset["width"], asset["height"], asset.get("seconds"), asset.get("fps"), asset["seed"],
             json.dumps(asset.get("labels", {})), asset["created_at"]),
        )

    def get_asset(self, asset_id: str) -> dict[str, Any] | None:
        return _decode(self._one("SELECT * FROM assets WHERE id = ?", (asset_id,)), "labels")

    def assets_of(self, tenant_id: str, job_id: str | None = None) -> list[dict[str, Any]]:
        if job_id is None:
            rows = self._all("SELECT * FROM assets WHERE tenant_id = ? ORDER BY seq", (tenant_id,))
        else:
            rows = self._all("SELECT * FROM assets WHERE job_id = ? AND tenant_id = ? ORDER BY seq",
                             (job_id, tenant_id))
        return [_decode(row, "labels") for row in rows]

    def newest_asset_ids(self, tenant_id: str, limit: int, before: tuple[float, str] | None = None,
                         label: tuple[str, Any] | None = None) -> list[str]:
        """The ids of a tenant's assets, newest first (created_at, then id, descending), strictly after `before`,
        only those whose label `label[0]` equals `label[1]` (without a label: read from the index alone)."""
        sql = "SELECT id FROM assets WHERE tenant_id = ?"
        args: list[Any] = [tenant_id]
        if before is not None:
            sql += " AND (created_at < ? OR (created_at = ? AND id < ?))"
            args += [before[0], before[0], before[1]]
        if label is not None:
            sql += " AND json_extract(labels, ?) = ?"
            args += [f"$.{label[0]}", label[1]]
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY created_at DESC, id DESC LIMIT ?", (*args, limit)).fetchall()
        return [row[0] for row in rows]

    def assets_by_id(self, asset_ids: list[str]) -> list[dict[str, Any]]:
        """The assets of these ids, in this order (missing ones left out)."""
        rows = self._all(f"SELECT * FROM assets WHERE id IN ({', '.join('?' * len(asset_ids))})", tuple(asset_ids))
        order = {asset_id: index for index, asset_id in enumerate(asset_ids)}
        return sorted((_decode(row, "labels") for row in rows), key=lambda row: order[row["id"]])

    def assets_labelled(self, tenant_id: str, key: str) -> list[dict[str, Any]]:
        """A tenant's assets that carry the label `key`, newest first."""
        rows = self._all("SELECT * FROM assets WHERE tenant_id = ? AND json_extract(labels, ?) IS NOT NULL"
                         " ORDER BY created_at DESC, id DESC", (tenant_id, f"$.{key}"))
        return [_decode(row, "labels") for row in rows]

    def delete_asset(self, asset_id: str) -> str | None:
        """Remove an asset; return the job that produced it (None: none, or no such asset)."""
        with self.transaction():
            self._run("DELETE FROM blobs WHERE asset_id = ?", (asset_id,))
            row = self._run("DELETE FROM assets WHERE id = ? RETURNING job_id", (asset_id,)).fetchone()
        return row["job_id"] if row else None

    def asset_exists(self, asset_id: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM assets WHERE id = ?", (asset_id,)).fetchone() is not None

    def put_blob(self, asset_id: str, data: bytes) -> None:
        """The bytes of an asset that was uploaded rather than rendered."""
        self._run("INSERT OR REPLACE INTO blobs (asset_id, data) VALUES (?, ?)", (asset_id, data))

    def get_blob(self, asset_id: str) -> bytes | None:
        row = self._one("SELECT data FROM blobs WHERE asset_id = ?", (asset_id,))
        return bytes(row["data"]) if row else None

    # -- faults ----------------------------------------------------------------------------------
    def insert_fault(self, fault: dict[str, Any]) -> int:
        cursor = self._run(
            "INSERT INTO faults (api, operation, tenant_id, remaining, message) VALUES (?, ?, ?, ?, ?)",
            (fault["api"], fault["operation"], fault.get("tenant_id"), fault["remaining"], fault.get("message")),
        )
        return int(cursor.lastrowid or 0)

    def faults(self, api: str) -> list[dict[str, Any]]:
        return self._all("SELECT seq, api, operation, tenant_id, remaining, message FROM faults"
                         " WHERE api = ? AND remaining > 0 ORDER BY seq", (api,))

    def spend_fault(self, seq: int) -> None:
        self._run("UPDATE faults SET remaining = remaining - 1 WHERE seq = ?", (seq,))

    def clear_faults(self, api: str) -> None:
        self._run("DELETE FROM faults WHERE api = ?", (api,))

    # -- reset -----------------------------------------------------------------------------------
    def delete_api_state(self, api: str) -> None:
        """Remove every tenant, credential, entry, job, asset, fault and chat row of one API."""
        tenant_ids = "SELECT id FROM tenants WHERE api = ?"
        with self.transaction():
            self._run(f"DELETE FROM ledger WHERE tenant_id IN ({tenant_ids})", (api,))
            self._run("DELETE FROM blobs WHERE asset_id IN (SELECT id FROM assets WHERE api = ?)", (api,))
            for table in ("credentials", "jobs", "assets", "faults"):
                self._run(f"DELETE FROM {table} WHERE api = ?", (api,))
            for table in self.CHAT_TABLES:
                self._run(f"DELETE FROM {table} WHERE tenant_id IN ({tenant_ids})", (api,))
            self._run("DELETE FROM tenants WHERE api = ?", (api,))
        self._forget()

    def delete_tenant(self, tenant_id: str) -> None:
        """Remove one tenant with its credentials, entries, jobs, assets, chat rows and the faults armed for it."""
        with self.transaction():
            self._run("DELETE FROM blobs WHERE asset_id IN (SELECT id FROM assets WHERE tenant_id = ?)", (tenant_id,))
            for table in ("ledger", "credentials", "jobs", "assets", "faults", *self.CHAT_TABLES):
                self._run(f"DELETE FROM {table} WHERE tenant_id = ?", (tenant_id,))
            self._run("DELETE FROM tenants WHERE id = ?", (tenant_id,))
        self._forget()

    # -- chat ------------------------------------------------------------------------------------
    # Characters, personas, chats, their messages and the candidates of each message. Rows are dicts of their
    # columns; `changes` name columns (the callers' own names, never a client's). Every chat table has a
    # tenant_id: a tenant's rows go with it.
    CHAT_TABLES = ("chat_candidates", "chat_messages", "chats", "chat_personas", "chat_characters",
                   "chat_vision_uses")

    def _insert_row(self, table: str, row: dict[str, Any]) -> None:
        columns = ", ".join(row)
        self._run(f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))

    def _update_row(self, table: str, row_id: str, changes: dict[str, Any]) -> None:
        columns = ", ".join(f"{name} = ?" for name in changes)
        self._run(f"UPDATE {table} SET {columns} WHERE id = ?", (*changes.values(), row_id))

    def insert_chat_character(self, row: dict[str, Any]) -> None:
        self._insert_row("chat_characters", row)

    def get_chat_character(self, character_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM chat_characters WHERE id = ?", (character_id,))

    def chat_characters_of(self, tenant_id: str) -> list[dict[str, Any]]:
        """A tenant's characters that are not deleted, oldest first."""
        return self._all("SELECT * FROM chat_characters WHERE tenant_id = ? AND deleted = 0 ORDER BY seq",
                         (tenant_id,))

    def update_chat_character(self, character_id: str, **changes: Any) -> None:
        self._update_row("chat_characters", character_id, changes)

    def insert_chat_persona(self, row: dict[str, Any]) -> None:
        self._insert_row("chat_personas", row)

    def get_chat_persona(self, persona_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM chat_personas WHERE id = ?", (persona_id,))

    def chat_personas_of(self, tenant_id: str) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM chat_personas WHERE tenant_id = ? ORDER BY seq", (tenant_id,))

    def default_chat_persona(self, tenant_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM chat_personas WHERE tenant_id = ? AND is_default = 1", (tenant_id,))

    def update_chat_persona(self, persona_id: str, **changes: Any) -> None:
        self._update_row("chat_personas", persona_id, changes)

    def unset_default_chat_persona(self, tenant_id: str) -> None:
        self._run("UPDATE chat_personas SET is_default = 0 WHERE tenant_id = ? AND is_default = 1", (tenant_id,))

    def delete_chat_persona(self, persona_id: str) -> None:
        self._run("DELETE FROM chat_personas WHERE id = ?", (persona_id,))

    def count_chats_with_persona(self, persona_id: str) -> int:
        row = self._one("SELECT COUNT(*) AS n FROM chats WHERE persona_id = ?", (persona_id,))
        return int(row["n"]) if row else 0

    def insert_chat(self, row: dict[str, Any]) -> None:
        self._insert_row("chats", row)

    def get_chat(self, chat_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM chats WHERE id = ?", (chat_id,))

    def chat_summaries(self, tenant_id: str) -> list[dict[str, Any]]:
        """A tenant's chats with their character's name, message count and the time of their last message
        (None without messages), the latest activity first."""
        return self._all(
            "SELECT c.id, c.created_at, c.character_id, ch.name AS character_name, COUNT(m.id) AS message_count,"
            " MAX(m.created_at) AS last_message_at FROM chats c JOIN chat_characters ch ON ch.id = c.character_id"
            " LEFT JOIN chat_messages m ON m.chat_id = c.id WHERE c.tenant_id = ? GROUP BY c.id"
            " ORDER BY COALESCE(MAX(m.created_at), c.created_at) DESC, COALESCE(MAX(m.seq), 0) DESC, c.seq DESC",
            (tenant_id,))

    def delete_chat(self, chat_id: str) -> None:
        """A chat with its messages and their candidates."""
        with self.transaction():
            for table, column in (("chat_candidates", "chat_id"), ("chat_messages", "chat_id"), ("chats", "id")):
                self._run(f"DELETE FROM {table} WHERE {column} = ?", (chat_id,))

    def insert_chat_message(self, row: dict[str, Any]) -> None:
        self._insert_row("chat_messages", row)

    def get_chat_message(self, message_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM chat_messages WHERE id = ?", (message_id,))

    def chat_messages(self, chat_id: str) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM chat_messages WHERE chat_id = ? ORDER BY seq", (chat_id,))

    def last_chat_message(self, chat_id: str, kind: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM chat_messages WHERE chat_id = ? AND kind = ? ORDER BY seq DESC LIMIT 1",
                         (chat_id, kind))

    def chat_transcript(self, chat_id: str, before_seq: int | None = None, *, last: int,
                        skip_kind: str = "") -> list[dict[str, Any]]:
        """The kind and the selected candidate's text of the chat's `last` messages (before `before_seq`; not of
        `skip_kind`), oldest first: one indexed read however long the chat is."""
        rows = self._all("SELECT m.kind, c.text FROM chat_messages m JOIN chat_candidates c"
                         " ON c.id = m.selected_candidate_id WHERE m.chat_id = ? AND m.seq < ? AND m.kind != ?"
                         " ORDER BY m.seq DESC LIMIT ?",
                         (chat_id, 2**62 if before_seq is None else before_seq, skip_kind, last))
        return rows[::-1]

    def update_chat_message(self, message_id: str, **changes: Any) -> None:
        self._update_row("chat_messages", message_id, changes)

    def delete_chat_messages_from(self, chat_id: str, seq: int) -> None:
        """The chat's messages from `seq` on, with their candidates."""
        with self.transaction():
            self._run("DELETE FROM chat_candidates WHERE message_id IN"
                      " (SELECT id FROM chat_messages WHERE chat_id = ? AND seq >= ?)", (chat_id, seq))
            self._run("DELETE FROM chat_messages WHERE chat_id = ? AND seq >= ?", (chat_id, seq))

    def delete_chat_message(self, message_id: str) -> None:
        with self.transaction():
            self._run("DELETE FROM chat_candidates WHERE message_id = ?", (message_id,))
            self._run("DELETE FROM chat_messages WHERE id = ?", (message_id,))

    def insert_chat_candidate(self, row: dict[str, Any]) -> None:
        self._insert_row("chat_candidates", row)

    def get_chat_candidate(self, candidate_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM chat_candidates WHERE id = ?", (candidate_id,))

    def chat_candidates(self, chat_id: str) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM chat_candidates WHERE chat_id = ? ORDER BY seq", (chat_id,))

    def candidates_of_message(self, message_id: str) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM chat_candidates WHERE message_id = ? ORDER BY seq", (message_id,))

    def pending_chat_candidates(self, tenant_id: str) -> list[dict[str, Any]]:
        """A tenant's candidates whose fate is not settled yet (a reply bound to fail, an image being made)."""
        return self._all("SELECT * FROM chat_candidates WHERE tenant_id = ? AND pending = 1 ORDER BY seq",
                         (tenant_id,))

    def update_chat_candidate(self, candidate_id: str, **changes: Any) -> None:
        self._update_row("chat_candidates", candidate_id, changes)

    def delete_chat_candidate(self, candidate_id: str) -> None:
        self._run("DELETE FROM chat_candidates WHERE id = ?", (candidate_id,))

    def vision_uses_since(self, tenant_id: str, since: float) -> list[float]:
        """When the tenant used a vision route after `since`, oldest first (older uses are forgotten)."""
        self._run("DELETE FROM chat_vision_uses WHERE tenant_id = ? AND at <= ?", (tenant_id, since))
        rows = self._all("SELECT at FROM chat_vision_uses WHERE tenant_id = ? ORDER BY at", (tenant_id,))
        return [row["at"] for row in rows]

    def record_vision_use(self, tenant_id: str, at: float) -> None:
        self._run("INSERT INTO chat_vision_uses (tenant_id, at) VALUES (?, ?)", (tenant_id, at))


class _Transaction:
    """The context manager `Store.transaction()` returns (a class: this sits on every request's path)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __enter__(self) -> None:
        self._store._begin()

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        self._store._end(failed=kind is not None)


def _current_owner() -> object:
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no event loop in this thread
        task = None
    return task or threading.current_thread()


def _settle_waiter(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _claim(path: str) -> IO[str]:
    """Hold an exclusive lock on `<path>.lock` for as long as the returned file is open, and write our pid in
    it; raise DatabaseInUse, naming the holder's pid, when another process holds it."""
    handle = open(path + ".lock", "a+", encoding="ascii")  # noqa: SIM115 - held open: it is the lock
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip()
        handle.close()
        raise DatabaseInUse(path, holder) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def _decode(row: dict[str, Any] | None, column: str) -> Any:
    if row is not None:
        row[column] = json.loads(row[column])
    return row
