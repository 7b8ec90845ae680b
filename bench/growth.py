"""How genmock's routes hold up as its stored state grows: 10^3, 10^5 and 10^6 stored LovlyChat jobs and AliveAI
prompts, in one run, reported as ratios against the smallest size.

    python bench/growth.py [--sizes 1000,100000,1000000] [--duration 5] [--rounds 2] [--route TEXT] ...

1. Seeding through HTTP: one `genmock serve --api lovlychat --api aliveai --clock virtual` on a fresh file, its
   clock set `--days` back; per API `--tenants` "spread" tenants and one "fixed" tenant, each with the admin API's
   maximum balance; every duration used set to 0 (and AliveAI's pending limit lifted); `--templates` jobs (LovlyChat:
   standard and HD images and videos) and prompts (AliveAI: text-to-image) of the fixed tenant created through the
   API one virtual second apart, each completed with its asset; `CHATS` chats of AliveAI's fixed user. The server
   is then stopped (its file checkpointed).
2. Growing with SQL: per size a copy of that file in which each API's template rows are cloned until the API holds
   SIZE items: the job row, its asset row and its ledger debit, as the server stored them, with a fresh job id in
   the spec's format (LovlyChat `^job_[0-9A-Za-z]{24}$`, AliveAI a v4-layout UUID like `IdFactory.uuid`), a fresh
   asset id (`ast_` + 24 base62 / 6 base62) and render seed (AliveAI: a fresh request seed too), its timestamps
   `STEP_S` apart after the templates, an owner (the fixed tenant until it holds `--fixed` items, spread evenly
   through time, else the spread tenants in turn: as many of the `--tenants` as each get a first page and more)
   and a debit chaining on that owner's balance.
3. Serving: one `genmock serve --api lovlychat --api aliveai --db FILE` per size, all up at once (idle but for the
   one under load), on the real clock, with `--cache-size` if given (else genmock's default LRUs).
4. Loads: per route, a warm-up of each size, then `--rounds` rounds each loading every size back to back (smallest
   first in odd rounds, largest first in even ones) with `wrk -t2 -c64 -d<duration>s --latency`. Random reads pick
   a random (id, owner's key) pair per request (wrk Lua) from a file of every stored item. A create load runs on a
   fresh tenant that is deleted afterwards, so each create load starts from SIZE items. After each load the bench
   waits for the server to go idle (a slow route leaves up to 64 requests in flight when wrk stops).
5. Checks (a failed one voids the run): no non-2xx answer in any load, sampled ids answered 200 with the item asked
   for, listings of the sizes seeded, one debit per created item. Socket errors (wrk's 2 s timeouts, on a slow
   route) are reported, not failed. RSS from /proc/PID/status.

Writes `bench/results/growth.md`. Exits 0 whether or not the target is met, 1 when the run broke, 2 without wrk.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import math
import os
import platform
import random
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aliveai
import lovlychat
from harness import (
    BENCH_DIR,
    LUA,
    REPO,
    Api,
    BenchError,
    Check,
    Environment,
    Genmock,
    Load,
    Prepared,
    Process,
    Server,
    Target,
    _cpu_model,
    first_answer,
    median,
    median_ratio,
    one_debit_per_answer,
    probe_environment,
    read_file_when_ready,
    read_only,
    request,
    verdict,
    wait_for,
    wrk,
)

from mockserver.engine.clock import iso
from mockserver.engine.ids import BASE62
from mockserver.spec import load_document

TARGET_RATIO = 1 / 1.5  # no route slower than 1/1.5 of its speed at the smallest size
STEP_S = 2.0  # seconds between two stored items (10^6 items: 23 days)
BALANCE = 1_000_000_000  # the admin API's maximum opening balance
CHATS = 20  # chats of AliveAI's fixed user (not multiplied)
PAGE = 20
SAMPLE = 200  # stored items fetched one by one to check the random-read files
CHUNK = 10_000  # rows per executemany while growing
APIS = ("lovlychat", "aliveai")
GALLERY, JOBS = lovlychat.GALLERY, lovlychat.JOBS
PROMPT_PAGE = f"{aliveai.PROMPTS}?page=0&pageSize={PAGE}"
CHATS_PATH = "/chats"
PROBE = Api(name="lovlychat", title="LovlyChat", probe=lovlychat.get(lovlychat.PRICING), probe_status=200, routes=[])
LOVLY_DURATIONS = {f"{kind}.{variant}": 0 for kind in ("image", "video") for variant in ("standard", "hd")}
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
MEDIA_ID = re.compile(r"^[0-9A-Za-z]{6}$")
BYTE_TO_BASE62 = bytes(ord(BASE62[byte % len(BASE62)]) for byte in range(256))
CHARACTER = {"name": "Bench", "bio": "A lighthouse keeper on a northern cliff who tells stories of ships.",
             "shortBio": "Lighthouse keeper", "firstMessage": "The lamp is lit. Sit down, traveller."}
PERSONA = {"name": "Visitor", "bio": "A walker on the coast path", "isDefault": True}


def lovly_templates(count: int) -> list[dict[str, Any]]:
    """LovlyChat job bodies: mostly standard images, some HD, one video in five (from a URL, so that a clone
    owned by another wallet refers to nothing of the fixed wallet's)."""
    characters = ("char_aiko", "char_mira", "char_sol", "char_juno", "char_vex")
    bodies = []
    for index in range(count):
        body = {**lovlychat.IMAGE, "characterId": characters[index % len(characters)],
                "prompt": f"{lovlychat.IMAGE['prompt']}, take {index}"}
        if index % 5 == 4:
            body.update(kind="video", sourceImageUrl=f"https://cdn.example.com/frames/still-{index}.png")
        elif index % 5 == 3:
            body["variant"] = "hd"
        bodies.append(body)
    return bodies


def alive_templates(count: int) -> list[dict[str, Any]]:
    ratios = ("DEFAULT", "PORTRAIT", "SQUARE", "LANDSCAPE")
    return [{**aliveai.IMAGE, "aspectRatio": ratios[index % len(ratios)],
             "appearance": f"{aliveai.IMAGE['appearance']}, scene {index}"} for index in range(count)]


# -- servers -----------------------------------------------------------------------------------------------
class Origin(Genmock):
    """One API origin of a multi-API genmock: `Genmock`'s admin and request helpers, on a process it does not own
    (never stopped through here)."""

    def __init__(self, process: Process, base_url: str, startup_s: float, admin_token: str) -> None:
        Server.__init__(self, process, base_url, startup_s)  # not Genmock's: the process is started already
        self.admin_headers = {"Authorization": f"Bearer {admin_token}"}


class Genmocks(Server):
    """`genmock serve --api lovlychat --api aliveai --db FILE`, and an `Origin` per API."""

    def __init__(self, env: Environment, database: Path, tmp: Path, label: str, extra: list[str]) -> None:
        credentials = tmp / f"credentials-{label}.json"
        cmd = [*env.genmock_cmd, "serve", *[part for name in APIS for part in ("--api", name)], "--db", str(database),
               "--port", "0", "--credentials-file", str(credentials), *extra]
        process = Process(f"genmock ({label})", cmd, tmp / f"genmock-{label}.log")
        try:
            summary = wait_for("credentials file", process, read_file_when_ready(credentials, json.loads))
            urls = {name: api["base_url"] for name, api in summary["apis"].items()}
            startup_s = first_answer(process, urls[PROBE.name], PROBE)
        except BaseException:
            process.stop()
            raise
        super().__init__(process, urls[PROBE.name], startup_s)
        self.event_loop: str = summary["event_loop"]
        self.origins = {name: Origin(process, url, startup_s, summary["admin_token"]) for name, url in urls.items()}


def memory(pid: int) -> dict[str, int]:
    """VmRSS, RssAnon, RssFile and VmHWM of a process, in bytes."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
            values[name] = int(rest.split()[0]) * 1024
    return values


# -- seeding through HTTP ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tenant:
    id: str
    key: str


@dataclass(frozen=True)
class Seeded:
    database: Path
    fixed: dict[str, Tenant]  # per API
    spread: dict[str, list[Tenant]]
    templates: int


def new_tenants(origin: Origin, count: int) -> list[Tenant]:
    return [Tenant(*origin.new_tenant(BALANCE)) for _ in range(count)]


def seed(env: Environment, tmp: Path, args: argparse.Namespace) -> Seeded:
    """The base file: tenants, the template jobs and prompts (completed), the fixed user's chats."""
    database = tmp / "seed.sqlite3"
    server = Genmocks(env, database, tmp, "seed", ["--clock", "virtual"])
    try:
        lovly, alive = server.origins["lovlychat"], server.origins["aliveai"]
        start = math.floor(time.time()) - args.days * 86400
        lovly.admin("POST", "/clock", {"mode": "virtual", "now": iso(start)})  # shared by both origins
        lovly.admin("PATCH", "/config", {"durations": LOVLY_DURATIONS})
        alive.admin("PATCH", "/config", {"durations": {"IMAGE_DEFAULT": 0}, "limits": {"maxPending": 1_000_000}})
        fixed = {name: new_tenants(origin, 1)[0] for name, origin in server.origins.items()}
        spread = {name: new_tenants(origin, args.tenants) for name, origin in server.origins.items()}
        for lovly_body, alive_body in zip(lovly_templates(args.templates), alive_templates(args.templates),
                                          strict=True):
            lovly.admin("POST", "/clock", {"advanceSeconds": 1})
            lovly.call(lovlychat.create_job(lovly_body, fixed["lovlychat"].key), 202)
            alive.call(Target("POST", aliveai.PROMPTS, alive_body, aliveai.key_header(fixed["aliveai"].key)), 200)
        lovly.admin("POST", "/clock", {"advanceSeconds": 1})  # each job completes at the next settle
        alive_key = aliveai.key_header(fixed["aliveai"].key)
        character = alive.call(Target("POST", "/chat-characters", CHARACTER, alive_key), 200)["chatCharacterId"]
        persona = alive.call(Target("POST", "/chat-personas", PERSONA, alive_key), 200)["id"]
        for _ in range(CHATS):
            alive.call(Target("POST", CHATS_PATH, {"chatCharacterId": character, "personaId": persona,
                                                   "firstMessage": ""}, alive_key), 200)
        gallery = lovly.call(lovlychat.get(f"/v1/generation/gallery?limit={PAGE}", fixed["lovlychat"].key), 200)
        prompts = alive.call(aliveai.get(PROMPT_PAGE, fixed["aliveai"].key), 200)
        if len(gallery["items"]) != min(PAGE, args.templates) or len(prompts["prompts"]) != min(PAGE, args.templates):
            raise BenchError(f"the templates did not complete: {gallery} {prompts}")
    finally:
        server.stop()
    return Seeded(database, fixed, spread, args.templates)


# -- growing with SQL --------------------------------------------------------------------------------------
@dataclass
class Stored:
    """One grown file: what it holds, and the request files its loads draw from."""

    size: int
    database: Path
    reads: dict[str, Path]  # per API: "path<TAB>Authorization" of every stored item
    spread_lists: dict[str, Path]  # per API: the listing of every spread tenant used
    spread: dict[str, list[Tenant]]  # per API: the spread tenants used at this size
    samples: dict[str, list[tuple[str, str, str]]]  # per API: (path, Authorization, id) of a few stored items
    owned: dict[str, dict[str, int]]  # per API: items per tenant id
    rows: dict[str, int] = field(default_factory=dict)
    table_bytes: dict[str, int] = field(default_factory=dict)  # each table with its indexes
    file_bytes: int = 0
    grow_s: float = 0.0

    @property
    def items(self) -> int:
        return self.size * len(APIS)


@dataclass(frozen=True)
class Template:
    job: dict[str, Any]
    assets: list[dict[str, Any]]
    debit: dict[str, Any]

    @property
    def seed(self) -> str | None:
        """The request seed AliveAI echoes (None for LovlyChat), as it appears in the stored params."""
        seed = json.loads(self.job["params"]).get("request", {}).get("seed")
        return None if seed is None else json.dumps(seed)


def templates_of(db: sqlite3.Connection, tenant_id: str) -> list[Template]:
    rows = [dict(row) for row in db.execute("SELECT * FROM jobs WHERE tenant_id = ? ORDER BY seq", (tenant_id,))]
    if not rows or any(row["status"] != "completed" for row in rows):
        raise BenchError(f"the fixed tenant's templates are not all completed: {[row['status'] for row in rows]}")
    return [Template(job, [dict(asset) for asset in db.execute("SELECT * FROM assets WHERE job_id = ? ORDER BY seq",
                                                                (job["id"],))],
                     dict(db.execute("SELECT * FROM ledger WHERE reference = ?", (f"job {job['id']}",)).fetchone()))
            for job in rows]


def owners(clones: int, fixed: Tenant, fixed_clones: int, spread: list[Tenant]) -> Iterator[Tenant]:
    """The owner of each clone in time order: the fixed tenant's `fixed_clones` spread evenly, else the spread
    tenants in turn."""
    stride = clones // fixed_clones if fixed_clones else clones + 1
    turn = 0
    for index in range(clones):
        if fixed_clones and index % stride == 0 and index // stride < fixed_clones:
            yield fixed
        else:
            yield spread[turn % len(spread)]
            turn += 1


class Ids:
    """Fresh ids in the formats genmock makes (never one already stored)."""

    def __init__(self, rng: random.Random, taken: set[str]) -> None:
        self._rng, self._taken = rng, taken

    def _fresh(self, make: Callable[[], str]) -> str:
        while (value := make()) in self._taken:
            pass
        self._taken.add(value)
        return value

    def base62(self, prefix: str, length: int) -> str:
        """One character per random byte, modulo 62, as `ids._encode` makes them."""
        return self._fresh(lambda: prefix + self._rng.randbytes(length).translate(BYTE_TO_BASE62).decode())

    def uuid(self) -> str:
        """The v4 layout of `IdFactory.uuid`."""
        def make() -> str:
            digits = f"{self._rng.getrandbits(128):032x}"
            variant = "89ab"[int(digits[16], 16) % 4]
            return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{variant}{digits[17:20]}-{digits[20:32]}"
        return self._fresh(make)


@dataclass(frozen=True)
class Dialect:
    """How one API's items are named and fetched."""

    name: str
    job_id: Callable[[Ids], str]
    asset_id: Callable[[Ids], str]
    read_path: Callable[[str], str]
    auth: Callable[[str], str]
    list_path: str
    valid: Callable[[str, str], bool]  # (job id, asset id) in the spec's format


def _lovly_valid() -> Callable[[str, str], bool]:
    schemas = load_document("lovlychat.yaml")["components"]["schemas"]
    job, asset = re.compile(schemas["JobId"]["pattern"]), re.compile(schemas["AssetId"]["pattern"])
    return lambda job_id, asset_id: bool(job.match(job_id) and asset.match(asset_id))


DIALECTS = {
    "lovlychat": Dialect("lovlychat", lambda ids: ids.base62("job_", 24), lambda ids: ids.base62("ast_", 24),
                         lambda job_id: f"{JOBS}/{job_id}", lambda key: f"Bearer {key}", GALLERY, _lovly_valid()),
    "aliveai": Dialect("aliveai", Ids.uuid, lambda ids: ids.base62("", 6), lambda job_id: f"{aliveai.PROMPTS}/{job_id}",
                       lambda key: f"Key {key}", PROMPT_PAGE,
                       lambda job_id, asset_id: bool(UUID4.match(job_id) and MEDIA_ID.match(asset_id))),
}


def copy_database(source: Path, target: Path) -> None:
    with contextlib.closing(sqlite3.connect(source)) as src, contextlib.closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def grow(seeded: Seeded, size: int, folder: Path, rng: random.Random, fixed_items: int) -> Stored:
    started = time.perf_counter()
    folder.mkdir()
    stored = Stored(size, folder / "genmock.sqlite3", {}, {}, {}, {}, {})
    copy_database(seeded.database, stored.database)
    with contextlib.closing(sqlite3.connect(stored.database, isolation_level=None)) as db:
        db.row_factory = sqlite3.Row
        # bulk writing only: one transaction, a rollback journal (new pages are not journaled), no fsync
        for pragma in ("journal_mode=DELETE", "synchronous=OFF", "cache_size=-262144"):
            db.execute(f"PRAGMA {pragma}")
        db.execute("BEGIN")
        taken = {row[0] for row in db.execute("SELECT id FROM jobs UNION ALL SELECT id FROM assets")}
        ids = Ids(rng, taken)
        for name in APIS:
            clone_api(db, DIALECTS[name], seeded, stored, ids, rng, fixed_items)
        db.execute("COMMIT")
        db.execute("PRAGMA journal_mode=WAL")  # as genmock keeps its files
        count_rows(db, stored)
    with open(stored.database, "rb") as handle:  # written back now, not throttling the loads' writes later
        os.fsync(handle.fileno())
    stored.file_bytes = stored.database.stat().st_size
    stored.grow_s = time.perf_counter() - started
    return stored


def clone_api(db: sqlite3.Connection, dialect: Dialect, seeded: Seeded, stored: Stored, ids: Ids,
              rng: random.Random, fixed_items: int) -> None:
    """Clone the API's templates until it holds `stored.size` items; write its request files."""
    fixed = seeded.fixed[dialect.name]
    templates = templates_of(db, fixed.id)
    seeds = [template.seed for template in templates]
    clones = stored.size - len(templates)
    fixed_clones = fixed_items - len(templates)
    # as many spread tenants as have a full first page (and a next one) each, at most --tenants
    spread = stored.spread[dialect.name] = seeded.spread[dialect.name][:(clones - fixed_clones) // (PAGE + 1)]
    if fixed_clones < 0 or not spread:
        raise BenchError(f"size {stored.size}: too small for {len(templates)} templates, {fixed_items} fixed items "
                         f"and a spread tenant with {PAGE + 1} items")
    balances = {tenant.id: db.execute("SELECT balance_after FROM ledger WHERE tenant_id = ? ORDER BY seq DESC "
                                      "LIMIT 1", (tenant.id,)).fetchone()[0] for tenant in [fixed, *spread]}
    owned = dict.fromkeys(balances, 0)
    owned[fixed.id] = len(templates)
    keys = {tenant.id: dialect.auth(tenant.key) for tenant in [fixed, *spread]}
    start = max(template.job["finished_at"] for template in templates) + STEP_S
    sampled = set(rng.sample(range(stored.size), min(SAMPLE, stored.size)))
    samples = stored.samples[dialect.name] = []
    stored.reads[dialect.name] = path = stored.database.parent / f"reads-{dialect.name}.txt"
    with open(path, "w", encoding="ascii") as reads:
        for index, template in enumerate(templates):
            line = (dialect.read_path(template.job["id"]), keys[fixed.id], template.job["id"])
            reads.write(f"{line[0]}\t{line[1]}\n")
            if clones + index in sampled:
                samples.append(line)
        rows: tuple[list[tuple], list[tuple], list[tuple]] = ([], [], [])
        for index, owner in enumerate(owners(clones, fixed, fixed_clones, spread)):
            job_id = dialect.job_id(ids)
            which = index % len(templates)
            clone(templates[which], seeds[which], job_id, owner.id, start + index * STEP_S, balances, dialect, ids,
                  rng, rows)
            owned[owner.id] += 1
            reads.write(f"{dialect.read_path(job_id)}\t{keys[owner.id]}\n")
            if index in sampled:
                samples.append((dialect.read_path(job_id), keys[owner.id], job_id))
            if len(rows[0]) >= CHUNK:
                insert(db, rows)
        insert(db, rows)
    stored.owned[dialect.name] = owned
    stored.spread_lists[dialect.name] = lists = stored.database.parent / f"lists-{dialect.name}.txt"
    lists.write_text("".join(f"{dialect.list_path}\t{keys[tenant.id]}\n" for tenant in spread), encoding="ascii")


def clone(template: Template, seed: str | None, job_id: str, owner: str, created_at: float,
          balances: dict[str, int], dialect: Dialect, ids: Ids, rng: random.Random,
          rows: tuple[list[tuple], list[tuple], list[tuple]]) -> None:
    """One clone of the template's job, assets and debit (every time shifted alike) into `rows`."""
    job, debit = template.job, template.debit
    shift = created_at - job["created_at"]
    params = job["params"]
    if seed is not None:  # AliveAI echoes the request's seed: a fresh one, as `new_seed` draws it
        params = params.replace(seed, f'"{rng.randrange(10 ** 17, 10 ** 18)}"', 1)
    rows[0].append((job_id, job["api"], owner, job["kind"], job["status"], params, job["cost"], job["duration"],
                    job["fail_with"], job["created_at"] + shift, job["started_at"] + shift, job["finished_at"] + shift))
    for asset in template.assets:
        asset_id = dialect.asset_id(ids)
        if not dialect.valid(job_id, asset_id):
            raise BenchError(f"{dialect.name}: {job_id} / {asset_id} is not in the spec's format")
        rows[1].append((asset_id, asset["api"], owner, job_id, asset["media_type"], asset["width"], asset["height"],
                        asset["seconds"], asset["fps"], rng.getrandbits(31), asset["labels"],
                        asset["created_at"] + shift))
    balances[owner] += debit["amount"]
    rows[2].append((owner, debit["kind"], debit["amount"], balances[owner], f"job {job_id}", debit["at"] + shift))


def insert(db: sqlite3.Connection, rows: tuple[list[tuple], list[tuple], list[tuple]]) -> None:
    jobs, assets, ledger = rows
    db.executemany("INSERT INTO jobs (id, api, tenant_id, kind, status, params, cost, duration, fail_with, created_at,"
                   " started_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", jobs)
    db.executemany("INSERT INTO assets (id, api, tenant_id, job_id, media_type, width, height, seconds, fps, seed,"
                   " labels, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", assets)
    db.executemany("INSERT INTO ledger (tenant_id, kind, amount, balance_after, reference, at)"
                   " VALUES (?, ?, ?, ?, ?, ?)", ledger)
    for part in rows:
        part.clear()


def count_rows(db: sqlite3.Connection, stored: Stored) -> None:
    for table in ("tenants", "jobs", "assets", "ledger", "chats", "chat_messages"):
        stored.rows[table] = db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    for name in APIS:
        found = db.execute("SELECT COUNT(*) FROM jobs WHERE api = ?", (name,)).fetchone()[0]
        if found != stored.size:
            raise BenchError(f"{name}: {found:,} jobs stored, not {stored.size:,}")
    tables = dict(db.execute("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')").fetchall())
    for name, size in db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
        table = tables.get(name, name)
        table = table if table in ("jobs", "assets", "ledger") else "other"
        stored.table_bytes[table] = stored.table_bytes.get(table, 0) + size


# -- routes ------------------------------------------------------------------------------------------------
@dataclass
class Sized:
    """One grown file and the genmock serving it."""

    stored: Stored
    seeded: Seeded
    server: Genmocks
    idle: dict[str, int] = field(default_factory=dict)  # memory() after start-up
    loaded: dict[str, int] = field(default_factory=dict)  # memory() after every load
    prepared: dict[object, Prepared] = field(default_factory=dict)  # per route, once

    def origin(self, api: str) -> Origin:
        return self.server.origins[api]


@dataclass(frozen=True)
class Sampled(Target):
    """GET a random line of `lines` ("path<TAB>Authorization", every line as long) per request: each wrk thread
    seeks to a random line, so that no thread reads the file first (a thread that did would hold the load back:
    wrk starts each thread as soon as its own `init` is done, and starts its clock after the last one)."""

    lines: str = ""

    def lua(self) -> str:
        code = f"""\
local file, width, count
local started = 0
setup = function(thread) started = started + 1; thread:set("thread_number", started) end
init = function(args)
  math.randomseed(os.time() * 100 + thread_number)
  file = io.open([==[{self.lines}]==], "rb")
  width = #file:read("*l") + 1
  count = file:seek("end") / width
end
request = function()
  file:seek("set", (math.random(count) - 1) * width)
  local line = file:read("*l")
  local tab = line:find("\\t", 1, true)
  return wrk.format(nil, line:sub(1, tab - 1), {{["Authorization"] = line:sub(tab + 1)}})
end"""
        return LUA.format(method="GET", setup=code)


def sampled(lines: Path) -> Sampled:
    with lines.open("rb") as handle:
        first = handle.readline()
        size = handle.seek(0, os.SEEK_END)
    if size % len(first):
        raise BenchError(f"{lines}: its lines are not all {len(first)} bytes long")
    return Sampled("GET", first.decode("ascii").split("\t", 1)[0], lines=str(lines))


def fetched(origin: Origin, samples: list[tuple[str, str, str]], test: Callable[[Any, str], bool]) -> Check:
    bad = []
    for path, auth, item_id in samples:
        status, body = request(origin.base_url, Target("GET", path, headers={"Authorization": auth}))
        if status != 200 or not test(body, item_id):
            bad.append(f"{path}: {status}")
    return Check(f"{len(samples)} random stored items fetched one by one: all 200 with the item asked for"
                 + (f" (not: {', '.join(bad[:5])})" if bad else ""), not bad)


Prepare = Callable[[Sized], Prepared]


def random_reads(api: str, test: Callable[[Any, str], bool]) -> Prepare:
    def prepare(sized: Sized) -> Prepared:
        origin = sized.origin(api)
        check = fetched(origin, sized.stored.samples[api], test)
        if not check.passed:
            raise BenchError(f"size {sized.stored.size:,}: {check.text}")
        return Prepared(sampled(sized.stored.reads[api]), lambda loads, connections: [])

    return prepare


def fixed_listing(api: str, path: str, text: str, test: Callable[[Any, int], bool]) -> Prepare:
    def prepare(sized: Sized) -> Prepared:
        tenant = sized.seeded.fixed[api]
        count = sized.stored.owned[api][tenant.id]
        get = lovlychat.get if api == "lovlychat" else aliveai.get
        return read_only(sized.origin(api), get(path, tenant.key), text.format(count=count),
                         lambda body: test(body, count))

    return prepare


def spread_listing(api: str, test: Callable[[Any, int], bool]) -> Prepare:
    """A random spread tenant's first page per request; the first tenant's page is checked."""

    def prepare(sized: Sized) -> Prepared:
        first = sized.stored.spread_lists[api].read_text(encoding="ascii").splitlines()[0]
        path, auth = first.split("\t")
        tenant = sized.stored.spread[api][0]
        count = sized.stored.owned[api][tenant.id]
        check_target = Target("GET", path, headers={"Authorization": auth})

        def verify(loads: list[Load] | None = None, connections: int = 0) -> list[Check]:
            status, body = request(sized.origin(api).base_url, check_target)
            return [Check(f"a spread tenant's page is right for its {count:,} items (status {status})",
                          status == 200 and test(body, count))]

        if not verify()[0].passed:
            raise BenchError(f"{api} {path}: the spread tenant's page is wrong before the loads")
        return Prepared(sampled(sized.stored.spread_lists[api]), verify)

    return prepare


def gallery_page(page: Any, count: int) -> bool:
    return len(page["items"]) == min(PAGE, count) and (page["nextCursor"] is not None) == (count > PAGE)


def prompts_page(page: Any, count: int) -> bool:
    return (len(page["prompts"]) == min(PAGE, count) and page["totalPageCount"] == math.ceil(count / PAGE)
            and page["hasNextPage"] == (count > PAGE))


# A route's load: prepare (once per size) and load; or, for a create, a fresh tenant per load
Runner = Callable[[Sized, float, argparse.Namespace, Path], tuple[Load, list[Check]]]


def reading(api: str, prepare: Prepare) -> Runner:
    """Loads of a route that changes nothing, prepared once per size."""
    name = object()  # this route's key in `Sized.prepared`

    def run(sized: Sized, seconds: float, args: argparse.Namespace, tmp: Path) -> tuple[Load, list[Check]]:
        if name not in sized.prepared:
            sized.prepared[name] = prepare(sized)
        prepared = sized.prepared[name]
        load = wrk(sized.origin(api), prepared.target, seconds, args, tmp)
        return load, prepared.verify([load], args.connections)

    return run


def creating(api: str, target: Callable[[str], Target], status: int) -> Runner:
    """Loads of creates on a fresh tenant, checked against its ledger, then deleted with all it made."""

    def run(sized: Sized, seconds: float, args: argparse.Namespace, tmp: Path) -> tuple[Load, list[Check]]:
        origin = sized.origin(api)
        tenant_id, key = origin.new_tenant(BALANCE)
        load = wrk(origin, target(key), seconds, args, tmp)
        debits = sum(1 for entry in origin.ledger(tenant_id)["entries"] if entry["kind"] == "debit")
        origin.admin("DELETE", f"/tenants/{tenant_id}", status=204)
        return load, [one_debit_per_answer(debits, [load], args.connections, str(status))]

    return run


TITLES = {"lovlychat": "LovlyChat", "aliveai": "AliveAI"}


@dataclass(frozen=True)
class Route:
    name: str
    what: str
    run: Runner


def routes() -> list[Route]:
    lovly, alive = TITLES["lovlychat"], TITLES["aliveai"]
    return [
        Route(f"{lovly} GET {JOBS}/{{id}} (random)", "a random stored job of any wallet with its owner's key: "
              "the job (LRU of finished jobs), its asset row; 200",
              reading("lovlychat", random_reads("lovlychat", lambda job, job_id: job["id"] == job_id
                                                    and job["status"] == "completed" and len(job["assets"]) == 1))),
        Route(f"{lovly} GET {GALLERY} (fixed tenant)", "the newest 21 assets of the fixed wallet (an index range); "
              "200", reading("lovlychat", fixed_listing(
                  "lovlychat", GALLERY, "the fixed wallet's page of its {count} assets", gallery_page))),
        Route(f"{lovly} GET {GALLERY} (random spread tenant)", "the same for a random spread wallet; 200",
              reading("lovlychat", spread_listing("lovlychat", gallery_page))),
        Route(f"{lovly} POST {JOBS} (0 s jobs)", "a debit, a job row; settling completes the previous job (its "
              "asset row); a fresh wallet per load; 202",
              creating("lovlychat", lambda key: lovlychat.create_job(lovlychat.IMAGE, key), 202)),
        Route(f"{alive} GET {aliveai.PROMPTS}/{{promptId}} (random)", "a random stored prompt of any user with "
              "its owner's key: the prompt (LRU of finished jobs), its media row; 200",
              reading("aliveai", random_reads("aliveai", lambda prompt, prompt_id: prompt["promptId"]
                                                    == prompt_id and len(prompt["medias"]) == 1))),
        Route(f"{alive} GET {PROMPT_PAGE} (fixed tenant)", "the fixed user's completed prompts, newest first, "
              "a page of 20; 200", reading("aliveai", fixed_listing(
                  "aliveai", PROMPT_PAGE, "the fixed user's first page of its {count} prompts", prompts_page))),
        Route(f"{alive} GET {PROMPT_PAGE} (random spread tenant)", "the same for a random spread user; 200",
              reading("aliveai", spread_listing("aliveai", prompts_page))),
        Route(f"{alive} GET {CHATS_PATH} (fixed tenant)", f"the fixed user's {CHATS} chats (not multiplied) with "
              "their message counts; 200", reading("aliveai", fixed_listing(
                  "aliveai", CHATS_PATH, f"the fixed user's {CHATS} chats", lambda chats, _: len(chats) == CHATS))),
        Route(f"{alive} POST {aliveai.PROMPTS} (0 s prompts)", "the pending count, a debit, a prompt row; settling "
              "completes the previous prompt (its media row); a fresh user per load; 200",
              creating("aliveai", aliveai.create, 200)),
    ]


# -- the run -----------------------------------------------------------------------------------------------
def disk_reads(pid: int) -> tuple[int, int]:
    """Bytes the process made the kernel read from the disk, and its major page faults, so far."""
    read_bytes = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/io").read_text().splitlines()
                      if line.startswith("read_bytes:"))
    return read_bytes, int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[9])


@dataclass(frozen=True)
class DiskReads:
    """What a load made the server read from the disk (the database file's pages the OS had dropped)."""

    kib_per_request: float
    faults_per_request: float


@dataclass
class Result:
    route: Route
    loads: dict[int, list[Load]] = field(default_factory=dict)  # per size, one per round
    checks: dict[int, list[Check]] = field(default_factory=dict)
    drained_s: dict[int, float] = field(default_factory=dict)  # the longest wait for the server to go idle
    disk: dict[int, list[DiskReads]] = field(default_factory=dict)  # per size, one per round

    def ratio(self, size: int, smallest: int) -> float | None:
        return median_ratio(self.loads[size], self.loads[smallest])

    def disk_kib(self, size: int) -> float:
        return statistics.median(reads.kib_per_request for reads in self.disk[size])


def start_servers(env: Environment, seeded: Seeded, stored: list[Stored], tmp: Path, args: argparse.Namespace,
                  running: contextlib.ExitStack, say: Callable[..., None]) -> list[Sized]:
    extra = ["--cache-size", str(args.cache_size)] if args.cache_size else []
    sizes = []
    for grown in stored:
        server = Genmocks(env, grown.database, tmp, f"size-{grown.size}", extra)
        running.callback(server.stop)
        sized = Sized(grown, seeded, server)
        time.sleep(0.5)  # idle
        sized.idle = memory(server.process.pid)
        say(f"size {grown.size:,}: genmock pid {server.process.pid}, started in {server.startup_s:.3f} s, "
            f"RSS {sized.idle['VmRSS'] / 2**20:.1f} MiB")
        sizes.append(sized)
    return sizes


def quiesce(process: Process, timeout: float = 600.0) -> float:
    """Wait until the server has worked off what a load left it (requests in flight when wrk stopped), its CPU
    time flat over 0.2 s; the seconds waited."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        before = process.cpu_seconds()
        time.sleep(0.2)
        if process.cpu_seconds() - before < 0.01:
            break
    return time.perf_counter() - started


def loaded(route: Route, sized: Sized, seconds: int, args: argparse.Namespace, tmp: Path,
           result: Result) -> tuple[Load, DiskReads]:
    before = disk_reads(sized.server.process.pid)
    load, checks = route.run(sized, seconds, args, tmp)
    after = disk_reads(sized.server.process.pid)
    result.checks[sized.stored.size] += checks
    result.drained_s[sized.stored.size] = max(result.drained_s.get(sized.stored.size, 0.0),
                                              quiesce(sized.server.process))
    requests = max(1, load.requests)
    return load, DiskReads((after[0] - before[0]) / 1024 / requests, (after[1] - before[1]) / requests)


def run_route(route: Route, sizes: list[Sized], args: argparse.Namespace, tmp: Path,
              say: Callable[..., None]) -> Result:
    """Warm-up of each size, then the rounds, each loading every size in turn (smallest first in odd rounds,
    largest first in even ones: on this kind of machine a load's place in the sequence moves it by up to ~10%);
    then the status checks."""
    result = Result(route)
    for sized in sizes:
        result.loads[sized.stored.size], result.checks[sized.stored.size] = [], []
        result.disk[sized.stored.size] = []
        if args.warmup:
            loaded(route, sized, args.warmup, args, tmp, result)
    for round_ in range(1, args.rounds + 1):
        for sized in sizes if round_ % 2 else sizes[::-1]:
            load, reads = loaded(route, sized, args.duration, args, tmp, result)
            result.loads[sized.stored.size].append(load)
            result.disk[sized.stored.size].append(reads)
            say(f"  round {round_}, size {sized.stored.size:,}: {load.rps:,.0f} req/s, p99 {load.p99_ms:.1f} ms, "
                f"{load.cpu_us_per_request:,.0f} µs/req, socket errors {load.socket_errors}")
    for sized in sizes:
        loads = result.loads[sized.stored.size]
        requests, non_2xx = sum(load.requests for load in loads), sum(load.non_2xx for load in loads)
        errors = sum(load.socket_errors for load in loads)
        result.checks[sized.stored.size][:0] = [
            Check(f"no answer but 2xx ({requests:,} requests; non-2xx: {non_2xx})", non_2xx == 0),
            Check(f"socket errors: {errors} (wrk's 2 s timeouts under a backlog, mostly)", None if errors else True)]
        sized.loaded = memory(sized.server.process.pid)
    return result


@dataclass
class Run:
    args: argparse.Namespace
    env: Environment
    command: str
    sizes: list[Sized] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)
    seed_s: float = 0.0
    seconds: float = 0.0

    @property
    def broken(self) -> list[str]:
        return [f"{result.route.name} at {size:,}: {check.text}" for result in self.results
                for size, checks in result.checks.items() for check in checks if check.passed is False]


def measure(args: argparse.Namespace, env: Environment, tmp: Path, run: Run, say: Callable[..., None]) -> None:
    started = time.perf_counter()
    seeded = seed(env, tmp, args)
    run.seed_s = time.perf_counter() - started
    rng = random.Random(args.seed)
    stored = []
    for size in args.sizes:
        stored.append(grow(seeded, size, tmp / f"size-{size}", rng, args.fixed))
        say(f"size {size:,}: grown in {stored[-1].grow_s:.1f} s, {stored[-1].file_bytes / 2**20:,.1f} MiB")
    selected = [route for route in routes() if not args.route or any(part in route.name for part in args.route)]
    with contextlib.ExitStack() as running:
        run.sizes = start_servers(env, seeded, stored, tmp, args, running, say)
        for route in selected:
            say(route.name)
            run.results.append(run_route(route, run.sizes, args, tmp, say))
        for sized in run.sizes:
            wal = sized.stored.database.with_name(sized.stored.database.name + "-wal")
            sized.stored.rows["wal_bytes"] = wal.stat().st_size if wal.exists() else 0


# -- the report --------------------------------------------------------------------------------------------
def store_pragmas() -> list[str]:
    source = (REPO / "mockserver" / "engine" / "store.py").read_text(encoding="utf-8")
    return [f"`{pragma}`" for pragma in re.findall(r'execute\("PRAGMA ([^"]+)"\)', source)]


def mib(value: float) -> str:
    return f"{value / 2**20:,.1f}"


def summarize(run: Run) -> str:
    args, env = run.args, run.env
    smallest, largest = args.sizes[0], args.sizes[-1]
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    loop = run.sizes[0].server.event_loop if run.sizes else "?"
    lines = [
        "# genmock as stored state grows",
        "",
        f"- command: `{run.command}` ({run.seconds / 60:.1f} min, seeding and growing included)",
        f"- date: {now}",
        f"- machine: {os.cpu_count()} CPUs ({_cpu_model()}), Linux {platform.release()}, Python {env.python_version}"
        " — a machine shared with other work: requests/s move with whatever else runs (see \"other\" cores below)",
        f"- server: `genmock serve --api lovlychat --api aliveai --db <grown file> --port 0"
        f"{f' --cache-size {args.cache_size}' if args.cache_size else ''}` per size, all up at once, one uvicorn "
        f"worker, {env.uvicorn}; event loop genmock ran: **{loop}**; real clock; caches: "
        f"{args.cache_size or 'default (10,000)'} entries per LRU; SQLite PRAGMAs genmock sets (from "
        f"`mockserver/engine/store.py`): {', '.join(store_pragmas())}",
        f"- load: `wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s --latency` per size and round, "
        f"after a {args.warmup:g} s warm-up of each size; {args.rounds} rounds per route, each loading every size "
        "back to back (smallest first in odd rounds, largest first in even ones); medians; the ratio is the median "
        "of the per-round ratios to the smallest size",
        f"- target: no route slower than 1/1.5 ({TARGET_RATIO:.3f}) of its {smallest:,} speed at {largest:,} items",
        "",
        *stored_section(run),
        *routes_section(run, smallest, largest),
        *memory_section(run, smallest),
        *loads_section(run),
        "",
        "## Checks (the run is void if one fails)",
        "",
    ]
    for result in run.results:
        for size, checks in result.checks.items():
            failed = [check.text for check in checks if check.passed is False]
            shown = failed or list(dict.fromkeys(check.text for check in (*checks[:2], checks[-1])))
            lines.append(f"- {result.route.name} at {size:,}: {len(checks) - len(failed)} of {len(checks)} ok"
                         f"{'; FAILED' if failed else ''}: " + "; ".join(shown))
    return "\n".join(lines) + "\n"


def stored_section(run: Run) -> list[str]:
    args = run.args
    lines = [
        "## What was stored",
        "",
        f"Per API: {args.templates} jobs / prompts made through the API (seeding took {run.seed_s:.1f} s), cloned "
        f"with SQL (job row, asset row, ledger debit) to SIZE items; one fixed tenant holding {args.fixed} items at "
        f"every size, the others spread over at most {args.tenants} tenants (fewer where they would not each fill "
        f"a first page of {PAGE} and start a second); AliveAI's fixed user also has {CHATS} chats (not "
        f"multiplied). Items are {STEP_S:g} s apart, the oldest {args.days} days back.",
        "",
        "| items per API | jobs (both APIs) | assets | ledger entries | tenants | spread tenants x items "
        "| DB file MiB | WAL MiB after loads | jobs+assets+ledger bytes per stored job | file bytes per stored job "
        "| grown in s | start-up s |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for sized in run.sizes:
        stored = sized.stored
        per_spread = stored.owned["lovlychat"][stored.spread["lovlychat"][0].id]
        item_bytes = sum(stored.table_bytes.get(table, 0) for table in ("jobs", "assets", "ledger"))
        lines.append(f"| {stored.size:,} | {stored.rows['jobs']:,} | {stored.rows['assets']:,} "
                     f"| {stored.rows['ledger']:,} | {stored.rows['tenants']:,} "
                     f"| {len(stored.spread['lovlychat'])} x {per_spread:,} "
                     f"| {mib(stored.file_bytes)} | {mib(stored.rows.get('wal_bytes', 0))} "
                     f"| {item_bytes / stored.items:,.0f} | {stored.file_bytes / stored.items:,.0f} "
                     f"| {stored.grow_s:.1f} | {sized.server.startup_s:.3f} |")
    if run.sizes:
        stored = run.sizes[-1].stored
        parts = ", ".join(f"{table} {mib(size)} MiB" for table, size in sorted(stored.table_bytes.items()))
        lines += ["", f"At {stored.size:,} items per API, each table with its indexes (dbstat): {parts}. "
                      "A stored job is counted once per API (the jobs column counts both APIs and the demo state)."]
    return [*lines, ""]


def routes_section(run: Run, smallest: int, largest: int) -> list[str]:
    header = " / ".join(f"{size:,}" for size in run.args.sizes)
    lines = [
        "## Routes (a run on a shared machine; medians)",
        "",
        f"Each cell: at {header} items per API. Requests/s, their ratio to {smallest:,} (median of the per-round "
        "ratios), p50 / p99 ms, server CPU µs per request, KiB the server read from the disk per request (pages "
        "of the database file the OS had dropped from its cache: this VM pages out what was not touched for a "
        "minute), socket errors over all rounds (wrk counts a request still unanswered after 2 s as a timeout, "
        "once per 2 s: latencies count only answers within 2 s).",
        "",
        f"| route | req/s | ratio | p50 ms | p99 ms | server CPU µs/req | disk KiB/req | socket errors "
        f"| at {largest:,} | checks |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    sizes = run.args.sizes
    for result in run.results:
        ratio = result.ratio(largest, smallest)
        passed = all(check.passed is not False for checks in result.checks.values() for check in checks)
        lines.append(
            f"| {result.route.name} | {joined(result, sizes, 'rps', ',.0f')} "
            f"| {' / '.join(format(result.ratio(size, smallest), '.2f') for size in sizes[1:])} "
            f"| {joined(result, sizes, 'p50_ms', '.1f')} | {joined(result, sizes, 'p99_ms', '.1f')} "
            f"| {joined(result, sizes, 'cpu_us_per_request', ',.0f')} "
            f"| {' / '.join(format(result.disk_kib(size), '.1f') for size in sizes)} "
            f"| {' / '.join(str(sum(load.socket_errors for load in result.loads[size])) for size in sizes)} "
            f"| **{verdict(ratio is not None and ratio >= TARGET_RATIO)}** ({ratio:.2f}) "
            f"| {'ok' if passed else '**FAILED**'} |")
    lines += ["", "What one request does:", ""]
    lines += [f"- {result.route.name}: {result.route.what}" for result in run.results]
    return [*lines, ""]


def joined(result: Result, sizes: list[int], attribute: str, form: str) -> str:
    return " / ".join(format(median(result.loads[size], attribute), form) for size in sizes)


def memory_section(run: Run, smallest: int) -> list[str]:
    lines = [
        "## Memory",
        "",
        "From /proc/PID/status of each size's server: idle right after start-up, then after all its loads; VmHWM "
        "is the peak. RssAnon is the process's own memory (heap: genmock's LRUs, SQLite's page cache); RssFile is "
        "mapped files: the interpreter's libraries and the database file's pages that SQLite read through its "
        "memory map (`PRAGMA mmap_size`, at most 2 GiB): the OS page cache, shared and dropped under memory "
        "pressure, not the process's heap. Per stored job: the growth over the smallest size after the loads, per "
        "stored job more (both APIs).",
        "",
        "| items per API | idle VmRSS MiB | idle RssAnon MiB | loaded VmRSS MiB | loaded RssAnon MiB "
        "| loaded RssFile MiB | VmHWM MiB | RssAnon bytes per stored job | VmRSS bytes per stored job | DB file MiB |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    base = next((sized for sized in run.sizes if sized.stored.size == smallest), None)
    for sized in run.sizes:
        loaded = sized.loaded or sized.idle
        per_job = ["–", "–"]
        if base is not None and sized is not base:
            grown = sized.stored.items - base.stored.items
            per_job = [f"{(loaded[name] - (base.loaded or base.idle)[name]) / grown:,.2f}"
                       for name in ("RssAnon", "VmRSS")]
        lines.append(f"| {sized.stored.size:,} | {mib(sized.idle['VmRSS'])} | {mib(sized.idle['RssAnon'])} "
                     f"| {mib(loaded['VmRSS'])} | {mib(loaded['RssAnon'])} | {mib(loaded['RssFile'])} "
                     f"| {mib(loaded['VmHWM'])} | {per_job[0]} | {per_job[1]} | {mib(sized.stored.file_bytes)} |")
    return [*lines, ""]


def loads_section(run: Run) -> list[str]:
    lines = [
        "## Every load",
        "",
        "| route | items per API | round | req/s | p50 ms | p90 ms | p99 ms | non-2xx | socket errors | CPU µs/req "
        "| disk KiB / major faults per req | cores: server / wrk / other |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in run.results:
        for size, loads in result.loads.items():
            for index, (load, reads) in enumerate(zip(loads, result.disk[size], strict=True)):
                lines.append(f"| {result.route.name} | {size:,} | {index + 1} | {load.rps:,.0f} | {load.p50_ms:.2f} "
                             f"| {load.p90_ms:.2f} | {load.p99_ms:.2f} | {load.non_2xx} | {load.socket_errors} "
                             f"| {load.cpu_us_per_request:,.0f} | {reads.kib_per_request:.1f} / "
                             f"{reads.faults_per_request:.2f} | {load.cores(load.server_cpu_s):.2f} / "
                             f"{load.cores(load.wrk_cpu_s):.2f} / {load.cores(load.other_cpu_s):.2f} |")
    return [*lines, "", "\"other\" is CPU that processes other than the server and wrk used during the load (from "
                        "/proc/stat): the numbers are only comparable when it stays near 0."]


# -- command line ------------------------------------------------------------------------------------------
def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000,1000000",
                        help="items per API, smallest first: the reference (default 1000,100000,1000000)")
    parser.add_argument("--route", action="append", help="only the routes whose name contains TEXT (repeatable)")
    parser.add_argument("--duration", type=int, default=5, help="seconds of each measured load (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of warm-up per route and size (default 1)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per route (default 2)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--tenants", type=int, default=100,
                        help="spread tenants per API, at most (default 100; fewer at sizes where each would hold "
                             "less than a page and one)")
    parser.add_argument("--fixed", type=int, default=100, help="items of the fixed tenant at every size (default 100)")
    parser.add_argument("--templates", type=int, default=10, help="items made through the API per API (default 10)")
    parser.add_argument("--days", type=int, default=40, help="how far back the oldest item is (default 40)")
    parser.add_argument("--cache-size", type=int, help="`genmock serve --cache-size N` (default: genmock's)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the cloned ids and the samples (default 1)")
    parser.add_argument("--tmp-dir", type=Path, help="where the grown files go (default: the system's temp dir)")
    parser.add_argument("--results", type=Path, default=BENCH_DIR / "results" / "growth.md",
                        help="the report (default bench/results/growth.md)")
    parser.add_argument("--quiet", action="store_true", help="print only the report")
    args = parser.parse_args(argv)
    args.sizes = sorted(int(size) for size in args.sizes.split(","))
    if len(args.sizes) < 2 or min(args.rounds, args.connections, args.threads, args.tenants) < 1 or args.duration <= 0:
        parser.error("at least two sizes; positive rounds, connections, threads, tenants and duration")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if shutil.which("wrk") is None:
        print("bench/growth.py needs wrk: apt-get update && apt-get install -y wrk", file=sys.stderr)
        return 2
    say = print if not args.quiet else (lambda *_: None)
    started = time.perf_counter()
    command = " ".join(["python bench/growth.py", *(sys.argv[1:] if argv is None else argv)])
    with tempfile.TemporaryDirectory(prefix="genmock-growth-", dir=args.tmp_dir) as tmp:
        try:
            env = probe_environment(sys.executable, 1)
            run = Run(args, env, command)
            measure(args, env, Path(tmp), run, say)
        except BenchError as error:
            print(f"bench broke: {error}", file=sys.stderr)
            return 1
    run.seconds = time.perf_counter() - started
    text = summarize(run)
    print(text)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(text)
    say(f"written to {args.results}")
    if run.broken:
        print("the run is void: " + "; ".join(run.broken), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
