"""What `bench/run.py` measures every API with: servers in subprocesses, wrk loads, checks, the markdown report.

An API module (`lucydream.py`, `lovlychat.py`) describes an `Api`: the request that times start-up, and its
`Route`s. Each route names the bare floor's request of the same shape and how to prepare genmock for it: the
state to seed through the admin API, the request wrk repeats, and the checks to run once the loads are over.
`run_api` does the rest: start-up times, then per route a fresh genmock on its own SQLite file, warm-up,
`--rounds` rounds alternating the floor and genmock (never loaded at the same time), the checks, and a
`Report` that `summarize` renders. With `--baseline-src DIR`, each route also gets a "genmock@baseline" run from
another checkout's sources, prepared alike and loaded in each round right after genmock. Where Stoplight Prism is
found (`--prism PATH`, `bench/.prism`, PATH), it serves the API's own spec and is loaded last in each round with
genmock's request of the route; Prism failing is noted in the report, never a reason to break the run.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import http.client
import json
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
BASELINE = "genmock@baseline"  # genmock from another checkout (--baseline-src), in the report
PRISM = "Prism"  # Stoplight Prism serving the API's spec, in the report
LOCAL_PRISM = BENCH_DIR / ".prism" / "node_modules" / ".bin" / "prism"
INSTALL_PRISM = "npm install --prefix bench/.prism @stoplight/prism-cli@5"
# Prism 5's fastest quiet setting (`prism mock --help`): static examples, no errors for response violations, no CORS
# headers, the HTTP server in the CLI's own process (one process, as one uvicorn worker), no logging
PRISM_FLAGS = ("--dynamic", "false", "--errors", "false", "--cors", "false", "--multiprocess", "false", "-v", "silent")
TARGET_RATIO = 1 / 2  # of the floor's requests/s
TARGET_PRISM_RATIO = 2.5  # of Prism's requests/s; and p99 and start-up below Prism's
NOISE_CORES = 0.1  # other processes' CPU during a load above which the report warns
ADMIN_TIMEOUT_S = 120.0  # a ledger of a few 10^4 entries takes a while to render

# One wrk process per load; done() prints the summary as one JSON line.
LUA = """\
wrk.method = "{method}"
{setup}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {{\\"requests\\":%d,\\"duration_us\\":%d,\\"bytes\\":%d,\\"connect\\":%d,\\"read\\":%d," ..
    "\\"write\\":%d,\\"status\\":%d,\\"timeout\\":%d,\\"mean_us\\":%.1f,\\"max_us\\":%d,\\"p50_us\\":%d," ..
    "\\"p90_us\\":%d,\\"p99_us\\":%d,\\"p999_us\\":%d}}\\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.max, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9)))
end
"""


class BenchError(Exception):
    """The run broke: its numbers would not mean anything."""


# -- what an API module describes --------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """One HTTP request: what wrk repeats, or what the bench sends once."""

    method: str
    path: str  # with the query string, if any
    body: Any = None  # sent as JSON when not None
    headers: dict[str, str] = field(default_factory=dict)

    def all_headers(self) -> dict[str, str]:
        return {**({"Content-Type": "application/json"} if self.body is not None else {}), **self.headers}

    def lua(self) -> str:
        headers = self.all_headers().items()
        lines = [f"wrk.headers[ {_lua_string(name)} ] = {_lua_string(value)}" for name, value in headers]
        if self.body is not None:
            lines.insert(0, f"wrk.body = {_lua_string(json.dumps(self.body, separators=(',', ':')))}")
        return LUA.format(method=self.method, setup="\n".join(lines))


def _lua_string(text: str) -> str:
    return f"[==[{text}]==]"


@dataclass(frozen=True)
class Check:
    text: str
    passed: bool | None = True  # None: information, not something that can fail

    @property
    def label(self) -> str:
        return {True: "ok", False: "FAILED", None: "info"}[self.passed]


@dataclass(frozen=True)
class Prepared:
    """A route made ready on one genmock: the request to load it with, and the checks for afterwards."""

    target: Target
    # given genmock's loads of this route (warm-up included) and wrk's connections, once the loads are over
    verify: Callable[[list[Load], int], list[Check]]


@dataclass(frozen=True)
class Route:
    name: str  # e.g. "POST /v1/generation/jobs"
    what: str  # what one request does in genmock, for the report
    prepare: Callable[[Genmock], Prepared]
    bare: Target | None  # the floor's request of the same shape; None: no floor (a load of invalid requests)
    expect_errors: bool = False  # every answer should be 4xx (else: every answer 2xx)


@dataclass(frozen=True)
class Api:
    name: str  # as `genmock serve --api` knows it
    title: str
    probe: Target  # the request that times start-up (demo credentials); the floor answers it alike
    probe_status: int
    routes: list[Route]

    @property
    def spec(self) -> Path:
        """The spec genmock serves for this API (and Prism is given)."""
        return REPO / "specs" / f"{self.name}.yaml"


# -- measurements ------------------------------------------------------------------------------------------
@dataclass
class Load:
    """One wrk run: what it counted, and the server's CPU time meanwhile."""

    requests: int
    seconds: float
    non_2xx: int  # wrk's "Non-2xx or 3xx responses" (status >= 400)
    socket_errors: int  # connect + read + write + timeout
    timeouts: int  # of which wrk's timeouts: a request still unanswered after its 2 s (slow, not refused)
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    mean_ms: float
    server_cpu_s: float  # CPU time the server used during the load
    wrk_cpu_s: float
    other_cpu_s: float  # CPU time every other process used meanwhile: noise when it is not ~0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def ok(self) -> int:
        return self.requests - self.non_2xx

    @property
    def cpu_us_per_request(self) -> float:
        return self.server_cpu_s * 1e6 / self.requests if self.requests else 0.0

    def cores(self, cpu_seconds: float) -> float:
        return cpu_seconds / self.seconds if self.seconds else 0.0


def median(loads: list[Load], attribute: str) -> float:
    return statistics.median(getattr(load, attribute) for load in loads)


def median_ratio(numerators: list[Load], denominators: list[Load]) -> float | None:
    """The median of the per-round requests/s ratios (each round loads both, one after the other)."""
    if not denominators:
        return None
    return statistics.median(top.rps / bottom.rps for top, bottom in zip(numerators, denominators, strict=True))


@dataclass
class RouteResult:
    route: Route
    # per server ("bare", "genmock", genmock@baseline, Prism), in loading order: one load per round
    loads: dict[str, list[Load]] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)  # per server: its answer before the loads (Prism)
    failures: dict[str, str] = field(default_factory=dict)  # per optional server (Prism): why it has no numbers
    rss_after_kib: dict[str, int] = field(default_factory=dict)  # per server, once the loads are over

    @property
    def bare(self) -> list[Load]:
        return self.loads.get("bare", [])

    @property
    def genmock(self) -> list[Load]:
        return self.loads.get("genmock", [])

    @property
    def ratio(self) -> float | None:
        """genmock / bare requests/s."""
        return self.ratio_to("bare")

    def ratio_to(self, server: str) -> float | None:
        """genmock / `server` requests/s."""
        return median_ratio(self.genmock, self.loads.get(server, []))

    def servers(self) -> list[tuple[str, list[Load]]]:
        return list(self.loads.items())

    def unexpected(self, server: str) -> int:
        """Answers of `server` that are not what the route expects (2xx, or 4xx if invalid), and socket errors other
        than wrk's timeouts (see `timeouts`)."""
        loads, invalid = self.loads.get(server, []), self.route.expect_errors and server != "bare"
        wrong = sum(load.ok if invalid else load.non_2xx for load in loads)
        return wrong + sum(load.socket_errors - load.timeouts for load in loads)

    def timeouts(self, server: str) -> int:
        return sum(load.timeouts for load in self.loads.get(server, []))


@dataclass(frozen=True)
class Baseline:
    """Another checkout of genmock (`--baseline-src`), run from its own sources."""

    src: Path
    commit: str  # `git log -1 --format="%h %s"` there, plus whether its tracked files are modified
    imported: str  # where `import mockserver.cli` resolved in the probe, with the servers' cwd and PYTHONPATH
    options: tuple[str, ...] = ()  # added to its `serve` command (`--baseline-options`), e.g. --journal-size 0


@dataclass(frozen=True)
class PrismCli:
    """Stoplight Prism's CLI as found, or why it cannot run (then the run goes on without it)."""

    path: str | None
    source: str  # how it was found: --prism, bench/.prism, PATH
    version: str = ""  # `prism --version` and the node it runs on
    error: str | None = None


@dataclass(frozen=True)
class Environment:
    """What both servers run on, probed once per run."""

    python: str
    python_version: str
    uvicorn: str
    genmock_cmd: list[str]
    bare_python_s: list[float]
    import_floor_s: list[float]
    bare_loop: str  # the class of the loop uvicorn makes for bench/bare.py's Config (loop="auto")
    uvloop: str  # its version where importable, else ""
    prism: PrismCli
    baseline: Baseline | None = None


@dataclass
class Report:
    api: Api
    args: argparse.Namespace
    env: Environment
    startup: dict[str, list[float]] = field(default_factory=dict)
    rss_idle_kib: dict[str, list[int]] = field(default_factory=dict)  # right after each start-up's first answer
    event_loops: dict[str, str] = field(default_factory=dict)  # per genmock: what its credentials file states
    bare_uvloop_mapped: bool = False  # uvloop's extension module is in the floor's memory map
    prism_error: str | None = None  # why Prism did not run for this API
    results: list[RouteResult] = field(default_factory=list)

    @property
    def checks(self) -> list[Check]:
        return [check for result in self.results for check in result.checks]

    @property
    def broken(self) -> list[str]:
        return [check.text for check in self.checks if check.passed is False]


# -- processes ---------------------------------------------------------------------------------------------
class Process:
    """A server subprocess, stopped by its own PID; it imports genmock from `src` (this checkout by default)."""

    def __init__(self, name: str, cmd: list[str], log: Path, src: Path = REPO) -> None:
        self.name = name
        self.log = log
        self._log_file = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.spawned_at = time.perf_counter()
        self.popen = subprocess.Popen(cmd, stdout=self._log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      env=server_env(src), cwd=src)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def check_alive(self) -> None:
        if self.popen.poll() is not None:
            raise BenchError(f"{self.name} exited with {self.popen.returncode}:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        self._log_file.flush()
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def cpu_seconds(self) -> float:
        """User + system CPU time the process has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_kib(self) -> int | None:
        """Resident memory now (VmRSS, KiB); None once the process is gone."""
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return None
        return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), None)

    def maps(self, text: str) -> bool:
        """Whether a file whose path contains `text` is mapped into the process (e.g. an extension module)."""
        return text in Path(f"/proc/{self.pid}/maps").read_text()

    def listening_port(self) -> int | None:
        """The IPv4 TCP port the process listens on (from /proc), None while it listens on none."""
        sockets = set()
        try:
            for fd in Path(f"/proc/{self.pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    sockets.add(os.readlink(fd).removeprefix("socket:[").removesuffix("]"))
            table = Path(f"/proc/{self.pid}/net/tcp").read_text().splitlines()[1:]
        except OSError:
            return None  # gone: wait_for tells why
        for line in table:
            _, local, _, state, *_, inode = line.split()[:10]
            if state == "0A" and inode in sockets:  # 0A: LISTEN
                return int(local.rsplit(":", 1)[1], 16)
        return None

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)  # both servers shut down cleanly on SIGTERM
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        self._log_file.close()


def server_env(src: Path = REPO) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")]))
    return env


# -- HTTP --------------------------------------------------------------------------------------------------
def request(base_url: str, target: Target, timeout: float = 10.0) -> tuple[int, Any]:
    """One request; the status and the parsed JSON body (or the raw text)."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        payload = None if target.body is None else json.dumps(target.body).encode()
        connection.request(target.method, target.path, body=payload, headers=target.all_headers())
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    try:
        return response.status, json.loads(raw) if raw else None
    except ValueError:
        return response.status, raw.decode(errors="replace")


def expect(base_url: str, target: Target, status: int, timeout: float = 10.0) -> Any:
    """The answer's body; BenchError unless it came with `status`."""
    got, answer = request(base_url, target, timeout)
    if got != status:
        raise BenchError(f"{target.method} {target.path}: {got} {str(answer)[:500]} (expected {status})")
    return answer


def wait_for(what: str, process: Process, probe: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Call `probe` until it returns something other than None; fail if the process dies or time runs out."""
    deadline = time.perf_counter() + timeout
    while True:
        process.check_alive()
        result = probe()
        if result is not None:
            return result
        if time.perf_counter() > deadline:
            raise BenchError(f"{process.name}: no {what} after {timeout:g} s:\n{process.tail()}")
        time.sleep(0.002)


def first_answer(process: Process, base_url: str, api: Api) -> float:
    """Seconds from spawn until the probe was answered as expected (the server's start-up time)."""

    def probe() -> tuple[int, Any] | None:
        try:
            return request(base_url, api.probe, timeout=30)
        except (ConnectionRefusedError, ConnectionResetError, http.client.RemoteDisconnected):
            return None

    status, answer = wait_for("HTTP answer", process, probe)
    elapsed = time.perf_counter() - process.spawned_at
    if status != api.probe_status:
        raise BenchError(f"{process.name}: first answer was {status} {answer}")
    return elapsed


def read_file_when_ready(path: Path, parse: Callable[[str], Any]) -> Callable[[], Any]:
    def probe() -> Any:
        try:
            return parse(path.read_text())
        except (FileNotFoundError, ValueError, IndexError):
            return None  # not written yet, or written halfway

    return probe


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@contextlib.contextmanager
def running_genmock(tmp: Path, *options: str) -> Iterator[tuple[dict[str, Any], Process]]:
    """`genmock serve --port 0 OPTIONS` on a fresh SQLite file in `tmp`: what its credentials file says, and its
    process, stopped by its PID on exit."""
    credentials = tmp / "credentials.json"
    process = Process("genmock", [*genmock_command(sys.executable), "serve", "--port", "0", "--db",
                                  str(tmp / "bench.sqlite3"), "--credentials-file", str(credentials), *options],
                      tmp / "genmock.log")
    try:
        yield wait_for("credentials file", process, read_file_when_ready(credentials, json.loads)), process
    finally:
        process.stop()


# -- servers -----------------------------------------------------------------------------------------------
class Server:
    """A started server: its process, where it listens, and how long it took to answer."""

    def __init__(self, process: Process, base_url: str, startup_s: float) -> None:
        self.process, self.base_url, self.startup_s = process, base_url, startup_s

    def stop(self) -> None:
        self.process.stop()


def _started(process: Process, find_base_url: Callable[[], str], api: Api) -> tuple[str, float]:
    try:
        base_url = find_base_url()
        return base_url, first_answer(process, base_url, api)
    except BaseException:
        process.stop()
        raise


def start_bare(env: Environment, api: Api, tmp: Path, index: int) -> Server:
    log = tmp / f"bare-{api.name}-{index}.log"
    process = Process("bare Starlette", [env.python, str(BENCH_DIR / "bare.py")], log)
    port = read_file_when_ready(log, lambda text: int(text.splitlines()[0]))
    return Server(process, *_started(process, lambda: f"http://127.0.0.1:{wait_for('port', process, port)}", api))


def start_prism(env: Environment, api: Api, tmp: Path, index: int) -> Server:
    """`prism mock <the API's spec>` on a free 127.0.0.1 port (found in /proc: Prism is silent)."""
    log = tmp / f"prism-{api.name}-{index}.log"
    process = Process(PRISM, [str(env.prism.path), "mock", str(api.spec), "-h", "127.0.0.1", "-p", "0",
                              *PRISM_FLAGS], log)

    def base_url() -> str:
        return f"http://127.0.0.1:{wait_for('listening port', process, process.listening_port)}"

    try:
        return Server(process, *_started(process, base_url, api))
    except BenchError as error:
        said = prism_output(log)
        raise BenchError(str(error).split("\n", 1)[0].rstrip(":") + (f"; Prism said:\n{said}" if said else "")) \
            from None


def prism_output(log: Path) -> str:
    """What Prism wrote, less its banner and the usage text it repeats after an error."""
    lines = [line for line in log.read_text(errors="replace").splitlines()
             if line.strip() and "Starting Prism" not in line]
    if "prism mock <document>" in lines:
        start = lines.index("prism mock <document>")
        end = next((index for index in range(start, len(lines)) if lines[index].lstrip().startswith("--seed")), start)
        lines = lines[:start] + lines[end + 1:]
    return "\n".join(lines)


class Genmock(Server):
    """`genmock serve --api NAME` on a fresh SQLite file, and its admin API; with `baseline`, the same from that
    checkout's sources (`python -m mockserver.cli` with its directory as cwd and PYTHONPATH)."""

    def __init__(self, env: Environment, api: Api, tmp: Path, label: str, baseline: Baseline | None = None) -> None:
        if baseline:
            label = f"{label}-baseline"
        database, credentials = tmp / f"genmock-{label}.sqlite3", tmp / f"credentials-{label}.json"
        cmd = [env.python, "-m", "mockserver.cli"] if baseline else env.genmock_cmd
        process = Process(BASELINE if baseline else "genmock",
                          [*cmd, "serve", "--api", api.name, "--db", str(database), "--port", "0",
                           "--credentials-file", str(credentials), *(baseline.options if baseline else ())],
                          tmp / f"genmock-{label}.log", baseline.src if baseline else REPO)
        summary: dict[str, Any] = {}

        def base_url() -> str:
            summary.update(wait_for("credentials file", process, read_file_when_ready(credentials, json.loads)))
            return summary["apis"][api.name]["base_url"]

        super().__init__(process, *_started(process, base_url, api))
        self.admin_headers = {"Authorization": f"Bearer {summary['admin_token']}"}
        self.event_loop: str | None = summary.get("event_loop")  # the loop it runs, where it says (newer genmock)

    def call(self, target: Target, status: int) -> Any:
        return expect(self.base_url, target, status)

    def admin(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        return expect(self.base_url, Target(method, f"/__genmock{path}", body, self.admin_headers), status,
                      timeout=ADMIN_TIMEOUT_S)

    def new_tenant(self, balance: float) -> tuple[str, str]:
        """A tenant with `balance`: its id and its key."""
        tenant = self.admin("POST", "/tenants", {"name": "bench", "balance": balance}, 201)
        return tenant["id"], tenant["credentials"][0]

    def ledger(self, tenant_id: str) -> dict[str, Any]:
        return self.admin("GET", f"/tenants/{tenant_id}/ledger")


def genmock_command(python: str) -> list[str]:
    """`genmock` next to the interpreter when installed there, else the same entry point through -m."""
    script = Path(python).parent / "genmock"
    return [str(script)] if script.exists() else [python, "-m", "mockserver.cli"]


def timed_python(python: str, code: str, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([python, "-c", code], check=True, env=server_env(), timeout=60)
        times.append(time.perf_counter() - started)
    return times


def probe_baseline(python: str, src: Path, options: tuple[str, ...] = ()) -> Baseline:
    """The checkout's commit, and proof that a server started from it imports its sources."""
    src = src.resolve()
    git = ["git", "-C", str(src)]
    try:
        commit = subprocess.run([*git, "log", "-1", "--format=%h %s"], capture_output=True, text=True,
                                check=True).stdout.strip()
        modified = subprocess.run([*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                                  text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as error:
        raise BenchError(f"--baseline-src {src}: not a git checkout of genmock ({error})") from None
    found = subprocess.run([python, "-c", "import mockserver.cli; print(mockserver.cli.__file__)"],
                           capture_output=True, text=True, cwd=src, env=server_env(src))
    imported = Path(found.stdout.strip()).resolve() if found.returncode == 0 else None
    if imported is None or not imported.is_relative_to(src):
        raise BenchError(f"--baseline-src {src}: a server started there imports {imported} {found.stderr.strip()}")
    return Baseline(src=src, commit=commit + (" (with uncommitted changes)" if modified else ""),
                    imported=str(imported), options=options)


def find_prism(given: str | None) -> PrismCli:
    """`--prism PATH`, else the local install (bench/.prism), else `prism` on PATH; and its version."""
    if given:
        candidates = [("--prism", given)]
    else:
        candidates = [("bench/.prism", str(LOCAL_PRISM)), ("PATH", shutil.which("prism"))]
    source, path = next(((source, path) for source, path in candidates if path and os.access(path, os.X_OK)),
                        (candidates[0][0], None))
    if path is None:
        where = f"{given} is not an executable file" if given else \
            f"neither {LOCAL_PRISM.relative_to(REPO)} nor `prism` on PATH exists"
        return PrismCli(None, source, error=f"Prism not found ({source}): {where}; install it with `{INSTALL_PRISM}`")
    try:
        version = _output([path, "--version"])
        node = _output(["node", "--version"]) if shutil.which("node") else "unknown"
    except (OSError, subprocess.SubprocessError) as error:
        return PrismCli(None, source, error=f"`{path} --version` failed: {error}")
    return PrismCli(path, source, version=f"{version} on node {node}")


def _output(cmd: list[str]) -> str:
    found = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    if found.returncode != 0:
        raise subprocess.SubprocessError(f"exit {found.returncode}: {(found.stdout + found.stderr).strip()}")
    return found.stdout.strip()


# The interpreter the servers run on: its uvicorn, and the loop uvicorn makes for bench/bare.py's Config (loop="auto"
# as bare.py leaves it) there: uvicorn >= 0.36 has loop factories, older ones install an event loop policy.
ENVIRONMENT_PROBE = """\
import asyncio, importlib.metadata as m, importlib.util as u, platform, uvicorn
print(platform.python_version())
print('uvicorn', uvicorn.__version__, 'http=' + ('httptools' if u.find_spec('httptools') else 'h11'))
config = uvicorn.Config(None, log_level="warning", access_log=False, lifespan="off")
if hasattr(config, "get_loop_factory"):
    loop = (config.get_loop_factory() or asyncio.new_event_loop)()
else:
    config.setup_event_loop()
    loop = asyncio.new_event_loop()
print(type(loop).__module__ + "." + type(loop).__qualname__)
print(m.version("uvloop") if u.find_spec("uvloop") else "")
loop.close()
"""


def probe_environment(python: str, startup_runs: int, baseline_src: Path | None = None,
                      prism: str | None = None, baseline_options: tuple[str, ...] = ()) -> Environment:
    """What the servers run on; a baseline from `baseline_src`, or from this checkout when only
    `baseline_options` are given (the same code with other settings: what a setting costs)."""
    if baseline_options and baseline_src is None:
        baseline_src = REPO
    found = subprocess.run([python, "-c", ENVIRONMENT_PROBE], capture_output=True, text=True, env=server_env())
    if found.returncode != 0:
        raise BenchError(f"{python} cannot run the servers (run this script with the project's .venv/bin/python, "
                         f"or pass --python):\n{found.stderr.strip()}")
    version, uvicorn_info, bare_loop, uvloop = [*found.stdout.splitlines(), ""][:4]
    return Environment(python=python, python_version=version, uvicorn=uvicorn_info,
                       genmock_cmd=genmock_command(python),
                       bare_python_s=timed_python(python, "pass", startup_runs),
                       import_floor_s=timed_python(python, "import starlette, uvicorn", startup_runs),
                       bare_loop=bare_loop, uvloop=uvloop, prism=find_prism(prism),
                       baseline=probe_baseline(python, baseline_src, baseline_options) if baseline_src else None)


# -- load --------------------------------------------------------------------------------------------------
def wrk(server: Server, target: Target, seconds: float, args: argparse.Namespace, tmp: Path) -> Load:
    script = tmp / "load.lua"
    script.write_text(target.lua())
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds:g}s", "--latency", "-s", str(script),
           server.base_url + target.path]
    process = server.process
    cpu_before, children_before, busy_before = process.cpu_seconds(), children_cpu_seconds(), machine_busy_seconds()
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    cpu, busy = process.cpu_seconds() - cpu_before, machine_busy_seconds() - busy_before
    wrk_cpu = children_cpu_seconds() - children_before
    process.check_alive()
    line = next((line for line in result.stdout.splitlines() if line.startswith("WRKJSON ")), None)
    if result.returncode != 0 or line is None:
        raise BenchError(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    data = json.loads(line.removeprefix("WRKJSON "))
    return Load(requests=data["requests"], seconds=data["duration_us"] / 1e6, non_2xx=data["status"],
                socket_errors=data["connect"] + data["read"] + data["write"] + data["timeout"],
                timeouts=data["timeout"],
                p50_ms=data["p50_us"] / 1000, p90_ms=data["p90_us"] / 1000, p99_ms=data["p99_us"] / 1000,
                p999_ms=data["p999_us"] / 1000, mean_ms=data["mean_us"] / 1000, server_cpu_s=cpu,
                wrk_cpu_s=wrk_cpu, other_cpu_s=max(0.0, busy - cpu - wrk_cpu))


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_busy_seconds() -> float:
    """CPU time all processes used since boot (all CPUs): /proc/stat less idle and iowait."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


# -- checks the API modules share --------------------------------------------------------------------------
def one_debit_per_answer(debits: int, loads: list[Load], connections: int, status: str) -> Check:
    """The ledger holds one debit for each success wrk counted (plus those in flight when it stopped)."""
    answered = sum(load.ok for load in loads)
    in_flight = connections * len(loads)  # wrk stops counting while up to one request per connection is open
    return Check(f"one ledger debit per {status}: {debits:,} debits, {answered:,} {status}s counted by wrk "
                 f"(+ at most {in_flight} in flight when wrk stopped)", answered <= debits <= answered + in_flight)


def read_only(genmock: Genmock, target: Target, text: str, test: Callable[[Any], bool]) -> Prepared:
    """A route that changes nothing: it answers 200 with a body that passes `test` before the loads (else the
    run breaks) and after them (the check)."""

    def verify(loads: list[Load] | None = None, connections: int = 0) -> list[Check]:
        status, body = request(genmock.base_url, target)
        return [Check(f"{text} (status {status})", status == 200 and test(body))]

    if not verify()[0].passed:
        raise BenchError(f"{target.method} {target.path}: not {text} before the loads")
    return Prepared(target, verify)


# -- the run -----------------------------------------------------------------------------------------------
S = TypeVar("S", bound=Server)


def run_api(api: Api, args: argparse.Namespace, env: Environment, tmp: Path) -> Report:
    report = Report(api=api, args=args, env=env)
    say = print if not args.quiet else (lambda *_: None)
    routes = [route for route in api.routes if not args.route or any(part in route.name for part in args.route)]
    with contextlib.ExitStack() as running:
        # start-up, one server at a time; the last floor and the last Prism serve the loads
        for server, baseline in [("genmock", None), *([(BASELINE, env.baseline)] if env.baseline else [])]:
            genmock = time_startups(report, server, lambda index, baseline=baseline: Genmock(
                env, api, tmp, f"{api.name}-startup-{index}", baseline))
            genmock.stop()
            report.event_loops[server] = genmock.event_loop or "not stated"
        bare = time_startups(report, "bare", lambda index: start_bare(env, api, tmp, index))
        running.callback(bare.stop)
        report.bare_uvloop_mapped = bare.process.maps("uvloop")
        say(f"{api.title}: bare Starlette pid {bare.process.pid}, {bare.base_url}")
        prism = started_prism(report, tmp, running)
        say(f"{api.title}: Prism pid {prism.process.pid}, {prism.base_url}" if prism else
            f"{api.title}: Prism does not run, the report has no Prism comparison: {report.prism_error}")
        for index, route in enumerate(routes):
            report.results.append(run_route(route, bare, prism, api, args, env, tmp, f"{api.name}-{index}", say))
    return report


def time_startups(report: Report, name: str, start: Callable[[int], S]) -> S:
    """Start the server --startup-runs times, one at a time: start-up times and RSS right after the first answer.
    The last one is left running."""
    report.startup[name], report.rss_idle_kib[name] = [], []
    servers: list[S] = []
    for index in range(report.args.startup_runs):
        if servers:
            servers[-1].stop()
        servers.append(start(index))
        report.startup[name].append(servers[-1].startup_s)
        report.rss_idle_kib[name].append(servers[-1].process.rss_kib() or 0)
    return servers[-1]


def started_prism(report: Report, tmp: Path, running: contextlib.ExitStack) -> Server | None:
    """Prism timed like the others and left running for the loads; None (and why, in the report) if it cannot run."""
    report.prism_error = report.env.prism.error
    if report.prism_error:
        return None
    try:
        prism = time_startups(report, PRISM, lambda index: start_prism(report.env, report.api, tmp, index))
    except BenchError as error:
        report.startup.pop(PRISM, None)
        report.rss_idle_kib.pop(PRISM, None)
        report.prism_error = f"it did not start on {_shown(report.api.spec)}: {error}"
        return None
    running.callback(prism.stop)
    return prism


def no_checks(loads: list[Load], connections: int) -> list[Check]:
    return []


@dataclass
class Loaded:
    """A server made ready for the route: its name in the report, the request to load it with and the checks for
    afterwards, and every load it took (warm-up included: what the checks count). An optional server (Prism) that
    fails has a `failure` and no more loads; it never breaks the run."""

    name: str
    server: Server
    prepared: Prepared
    optional: bool = False
    note: str = ""  # for the report: e.g. what Prism answered the route's request before the loads
    failure: str | None = None
    loads: list[Load] = field(default_factory=list)

    def load(self, seconds: float, args: argparse.Namespace, tmp: Path) -> Load | None:
        if self.failure is None:
            try:
                self.loads.append(wrk(self.server, self.prepared.target, seconds, args, tmp))
                return self.loads[-1]
            except BenchError as error:
                if not self.optional:
                    raise
                self.failure = str(error)
        return None

    def verify(self, connections: int) -> list[Check]:
        return self.prepared.verify(self.loads, connections)


def prepared_genmock(route: Route, env: Environment, api: Api, tmp: Path, label: str, baseline: Baseline | None,
                     running: contextlib.ExitStack) -> Loaded:
    genmock = Genmock(env, api, tmp, label, baseline)
    running.callback(genmock.stop)
    return Loaded(BASELINE if baseline else "genmock", genmock, route.prepare(genmock))


def prepared_prism(prism: Server, route: Route, target: Target) -> Loaded:
    """Prism loaded with genmock's request of the route, and what it answers that request before the loads."""
    loaded = Loaded(PRISM, prism, Prepared(target, no_checks), optional=True)
    if prism.process.popen.poll() is not None:
        loaded.failure = f"Prism no longer runs: it exited ({prism.process.popen.returncode}) during an earlier route"
        return loaded
    try:
        status, body = request(prism.base_url, target)
    except (OSError, http.client.HTTPException) as error:
        loaded.failure = f"no answer to the route's request: {error!r}"
        return loaded
    # the body too where the status is unexpected, or is one of the 4xx an invalid request may get (which, and why)
    shown = route.expect_errors or not 200 <= status < 300
    loaded.note = f"{status} before the loads" + (f" (`{json.dumps(body)[:160]}`)" if shown else "")
    return loaded


DISPLAY = {"bare": "bare Starlette"}  # server names in what the run prints


def run_route(route: Route, bare: Server, prism: Server | None, api: Api, args: argparse.Namespace,
              env: Environment, tmp: Path, label: str, say: Callable[..., None]) -> RouteResult:
    """A fresh genmock (and genmock@baseline) prepared for the route, the floor and Prism as they run; warm-up, then
    the rounds, each loading one server after the other; then the checks."""
    result = RouteResult(route)
    with contextlib.ExitStack() as running:
        genmock = prepared_genmock(route, env, api, tmp, label, None, running)
        say(f"{route.name}: genmock pid {genmock.server.process.pid}, {genmock.server.base_url}")
        servers = [*([Loaded("bare", bare, Prepared(route.bare, no_checks))] if route.bare else []), genmock]
        if env.baseline:
            servers.append(prepared_genmock(route, env, api, tmp, label, env.baseline, running))
            say(f"  {BASELINE} pid {servers[-1].server.process.pid}, {servers[-1].server.base_url}")
        if prism:
            servers.append(prepared_prism(prism, route, genmock.prepared.target))
        order = ", then ".join(DISPLAY.get(server.name, server.name) for server in servers)
        for server in servers if args.warmup else []:
            server.load(args.warmup, args, tmp)
        for round_ in range(1, args.rounds + 1):
            say(f"  round {round_}/{args.rounds}: {order}")
            for server in servers:
                load = server.load(args.duration, args, tmp)
                if load:
                    result.loads.setdefault(server.name, []).append(load)
        for server in servers:
            keep(result, server, say)
        result.checks = status_checks(result)
        for server in servers:
            prefix = "" if server.name == "genmock" else f"{server.name}: "
            result.checks += [replace(check, text=prefix + check.text) for check in server.verify(args.connections)]
    return result


def keep(result: RouteResult, loaded: Loaded, say: Callable[..., None]) -> None:
    """What the route's result keeps of a server besides its loads: its RSS now, its note, its failure."""
    rss = loaded.server.process.rss_kib()
    if rss:
        result.rss_after_kib[loaded.name] = rss
    if loaded.note:
        result.notes[loaded.name] = loaded.note
    if loaded.failure:
        say(f"  {loaded.name} failed on this route (no numbers for it): {loaded.failure}")
        result.failures[loaded.name] = loaded.failure
        result.loads.pop(loaded.name, None)


def status_checks(result: RouteResult) -> list[Check]:
    checks = []
    for server, loads in result.servers():
        requests, non_2xx = sum(load.requests for load in loads), sum(load.non_2xx for load in loads)
        errors = sum(load.socket_errors for load in loads)
        if server != "bare" and result.route.expect_errors:
            text = f"answered every invalid request 4xx ({non_2xx:,} of {requests:,}, socket errors: {errors})"
        else:
            text = f"answered only 2xx ({requests:,} requests; non-2xx: {non_2xx}, socket errors: {errors})"
        if server == PRISM:  # compared with, not checked: what it answers is information, flagged in the report
            text += f"; {result.timeouts(server)} of the socket errors are wrk's timeouts" if errors else ""
            checks.append(Check(f"{server} {text}" if result.unexpected(server) == 0 else f"{server} did not answer as "
                                f"the route expects, so its numbers are not like for like ({text.split('(', 1)[1]}",
                                None))
        else:
            checks.append(Check(f"{server} {text}", result.unexpected(server) == 0 and result.timeouts(server) == 0))
    return checks


# -- the report --------------------------------------------------------------------------------------------
def verdict(passed: bool) -> str:
    return "PASS" if passed else "MISS"


def summarize(report: Report) -> str:
    args, env, api = report.args, report.env, report.api
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    rounds = f"median of {args.rounds} rounds" if args.rounds > 1 else "one round"
    startup = statistics.median(report.startup["genmock"])
    order = ["bare Starlette", "genmock", *[BASELINE] * bool(env.baseline), *[PRISM] * (not report.prism_error)]
    lines = [
        f"# {api.title}: genmock vs bare Starlette" + ("" if report.prism_error else " and Stoplight Prism"),
        "",
        f"- date: {now}",
        f"- machine: {os.cpu_count()} CPUs ({_cpu_model()}), Linux {platform.release()}, Python {env.python_version}",
        f"- Python servers: one uvicorn worker each, {env.uvicorn}, log_level=warning, no access log; the floor is "
        "`bench/bare.py`",
        _loops_header(report),
        f"- genmock: `{_command(env.genmock_cmd)} serve --api {api.name} --db <tmp>.sqlite3 --port 0` (SQLite file "
        "in WAL mode), started afresh for each route",
        *_baseline_header(env, api),
        _prism_header(report),
        f"- load: `wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s --latency` per server and round, "
        f"after a {args.warmup:g} s warm-up of each; {args.rounds} round(s) per route, each loading "
        f"{' then '.join(order)}, never two at once",
        "",
        f"## Routes ({rounds})",
        "",
        "| route | bare req/s | genmock req/s | genmock / bare | p50 ms bare / genmock | p99 ms bare / genmock "
        "| server CPU µs/req bare / genmock | checks |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for result in report.results:
        loads = result.bare, result.genmock
        checks = "ok" if all(check.passed is not False for check in result.checks) else "**FAILED**"
        lines.append(f"| {result.route.name} | {_median_or_dash(result.bare, 'rps', ',.0f')} "
                     f"| {median(result.genmock, 'rps'):,.0f} | {_ratio(result.ratio)} "
                     f"| {_pair(*loads, 'p50_ms', '.2f')} | {_pair(*loads, 'p99_ms', '.2f')} "
                     f"| {_pair(*loads, 'cpu_us_per_request', ',.0f')} | {checks} |")
    lines += ["", "What one genmock request does:", ""]
    lines += [f"- {result.route.name}: {result.route.what}" for result in report.results]
    lines += [
        "",
        "Server CPU is the user + system time of the server process over a load, divided by its requests: the "
        "steadiest number. The ratio is the median of the per-round ratios.",
        *(_versus_section(report, BASELINE, f"{BASELINE} ({env.baseline.commit}; {rounds})",
                          f"each round loads {BASELINE} right after genmock, on the same route state prepared the "
                          "same way") if env.baseline else []),
        *_prism_section(report, rounds),
        "",
        "## Every load",
        "",
        "| route | round | server | req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | non-2xx | socket errors "
        "| CPU µs/req | cores: server / wrk / other |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in report.results:
        for server, loads in result.servers():
            for index, load in enumerate(loads):
                lines.append(
                    f"| {result.route.name} | {index + 1} | {server} | {load.rps:,.0f} | {load.p50_ms:.2f} "
                    f"| {load.p90_ms:.2f} | {load.p99_ms:.2f} | {load.p999_ms:.2f} | {load.non_2xx} "
                    f"| {load.socket_errors} | {load.cpu_us_per_request:,.0f} | {load.cores(load.server_cpu_s):.2f} / "
                    f"{load.cores(load.wrk_cpu_s):.2f} / {load.cores(load.other_cpu_s):.2f} |")
    lines += [
        "",
        "\"other\" is CPU used during the load by processes other than the server and wrk (from /proc/stat, kernel "
        "writeback included): numbers from a loaded machine are only comparable when it stays near 0.",
        *_noise_warning(report),
        "",
        "## Start-up",
        "",
        f"Spawn to the first answer to `{api.probe.method} {api.probe.path}` with the demo key (median of "
        f"{len(report.startup['genmock'])}): genmock **{startup:.3f} s** ({_list(report.startup['genmock'])}), "
        f"bare Starlette {statistics.median(report.startup['bare']):.3f} s ({_list(report.startup['bare'])}); "
        f"floor `python -c \"import starlette, uvicorn\"` {statistics.median(env.import_floor_s):.3f} s "
        f"({_list(env.import_floor_s)}), `python -c pass` {statistics.median(env.bare_python_s):.3f} s."
        + "".join(f" {server}: {statistics.median(report.startup[server]):.3f} s ({_list(report.startup[server])})."
                  for server in (BASELINE, PRISM) if server in report.startup)
        + (f" Prism: not run ({_prism_failure(report)})." if report.prism_error else ""),
        *_memory_section(report),
        "",
        "## Targets (information, not a test)",
        "",
        f"At least {TARGET_RATIO:.2f} of the floor's requests/s and {TARGET_PRISM_RATIO:g}x Prism's, p99 below "
        "Prism's, start-up under Prism's.",
        "",
    ]
    for result in report.results:
        if result.genmock:
            lines.append(f"- {result.route.name}: " + ", ".join(_route_verdicts(result)))
    prism_startup = statistics.median(report.startup[PRISM]) if report.startup.get(PRISM) else None
    lines += [
        f"- start-up: {verdict(startup < prism_startup)} ({startup:.3f} s against Prism's {prism_startup:.3f} s)"
        if prism_startup is not None else f"- start-up: {startup:.3f} s (no Prism to compare with)",
        "",
        "## Checks (the run is void if one fails)",
        "",
    ]
    for result in report.results:
        lines += [f"- {result.route.name}: {check.label}: {check.text}" for check in result.checks]
    return "\n".join(lines) + "\n"


def _baseline_header(env: Environment, api: Api) -> list[str]:
    if not env.baseline:
        return []
    return [f"- {BASELINE}: commit {env.baseline.commit}, from `{env.baseline.src}`: `python -m mockserver.cli serve "
            f"--api {api.name} --db <tmp>.sqlite3 --port 0{''.join(' ' + o for o in env.baseline.options)}` "
            "with that directory as cwd and PYTHONPATH (it imports "
            f"`{env.baseline.imported}`), started afresh for each route and prepared alike through its admin API"]


def _loops_header(report: Report) -> str:
    """The event loop each Python server ran: as genmock states it, as uvicorn makes it for the floor."""
    env, loops = report.env, report.event_loops
    genmocks = ", ".join(f"{server} **{loops[server]}**" for server in ("genmock", BASELINE) if server in loops)
    bare = "uvloop" if env.bare_loop.startswith("uvloop.") else "asyncio"
    unstated = "; \"not stated\": no such key" if "not stated" in loops.values() else ""
    return (f"- event loops, as run: {genmocks} (each genmock's as the `event_loop` key of its credentials file gives "
            f"it{unstated}); bare Starlette **{bare}**: `bench/bare.py` leaves uvicorn's `loop=\"auto\"`, which with "
            f"this interpreter makes a `{env.bare_loop}` "
            + (f"(uvloop {env.uvloop} is importable)" if env.uvloop else "(uvloop is not importable)")
            + f", and uvloop's extension module {'is' if report.bare_uvloop_mapped else 'is not'} mapped in the "
            "floor's process")


def _prism_header(report: Report) -> str:
    prism, api = report.env.prism, report.api
    if report.prism_error:
        return f"- Prism: **not run**: {_prism_failure(report)} (see \"genmock vs Prism\")"
    return (f"- Prism: Stoplight Prism {prism.version} (`{prism.path}`, found via {prism.source}): `prism mock "
            f"{_shown(api.spec)} -h 127.0.0.1 -p 0 {' '.join(PRISM_FLAGS)}` (static examples, no CORS "
            "headers, one node process, no logging), started once for the API and loaded with genmock's request of "
            "each route")


def _prism_failure(report: Report) -> str:
    """Why Prism did not run, in one line (what Prism said, if anything, is in its section)."""
    return str(report.prism_error).splitlines()[0].removesuffix("; Prism said:")


def _route_verdicts(result: RouteResult) -> list[str]:
    p99 = median(result.genmock, "p99_ms")
    verdicts = ["no floor" if result.ratio is None else
                f"{verdict(result.ratio >= TARGET_RATIO)} of the floor ({_ratio(result.ratio)})"]
    prism = result.ratio_to(PRISM)
    if prism is None:
        return [*verdicts, f"p99 {p99:.2f} ms (no Prism to compare with)"]
    prism_p99 = median(result.loads[PRISM], "p99_ms")
    return [*verdicts, f"{verdict(prism >= TARGET_PRISM_RATIO)} of Prism ({_ratio(prism)})",
            f"{verdict(p99 < prism_p99)} p99 ({p99:.2f} ms against Prism's {prism_p99:.2f} ms)"]


def _prism_section(report: Report, rounds: str) -> list[str]:
    if report.prism_error:
        return ["", "## genmock vs Prism", "", "**Prism did not run for this API**, so there are no Prism numbers "
                "(the floor comparison above stands):", "", "```", report.prism_error, "```"]
    lines = _versus_section(report, PRISM, f"Stoplight Prism {report.env.prism.version} ({rounds})",
                            "each round loads Prism last, with genmock's very request of the route (headers, body, "
                            "ids). Prism validates the request against the spec and answers the spec's example: no "
                            "state and no credential lookup, only the security header's presence. \"answers\" gives "
                            "Prism's status for that request before the loads and whether every answer of its loads "
                            "was what the route expects (2xx, 4xx for an invalid request): where not, its requests/s "
                            "are not like for like")
    failed = [(result.route.name, result.failures[PRISM]) for result in report.results if PRISM in result.failures]
    for name, failure in failed:
        lines += ["", f"Prism failed on {name}:", "", "```", failure, "```"]
    return lines


def _versus_section(report: Report, other: str, title: str, how: str) -> list[str]:
    """genmock against another server loaded in the same rounds, route by route."""
    lines = [
        "",
        f"## genmock vs {title}",
        "",
        f"| route | {other} req/s | genmock req/s | genmock / {other} | genmock / bare | p50 ms {other} / genmock "
        f"| p99 ms {other} / genmock | server CPU µs/req {other} / genmock | {other}'s answers |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for result in report.results:
        loads = result.loads.get(other, []), result.genmock
        mismatch = result.unexpected(other) > 0
        lines.append(f"| {result.route.name} | {_median_or_dash(loads[0], 'rps', ',.0f')} "
                     f"| {median(result.genmock, 'rps'):,.0f} "
                     f"| {_ratio(result.ratio_to(other))}{' (not like for like)' if mismatch else ''} "
                     f"| {_ratio(result.ratio)} | {_pair(*loads, 'p50_ms', '.2f')} | {_pair(*loads, 'p99_ms', '.2f')} "
                     f"| {_pair(*loads, 'cpu_us_per_request', ',.0f')} | {_answers(result, other)} |")
    return [*lines, "", f"The ratio is the median of the per-round ratios; {how}."]


def _answers(result: RouteResult, server: str) -> str:
    """What `server` answered on the route: its answer before the loads (if noted), and how many were unexpected."""
    if server in result.failures:
        return f"**failed**: {result.failures[server].splitlines()[0].rstrip(':')} (below)"
    requests, unexpected = sum(load.requests for load in result.loads[server]), result.unexpected(server)
    expected = "4xx" if result.route.expect_errors else "2xx"
    counted = (f"all {requests:,} {expected}" if not unexpected else
               f"**{unexpected:,} of {requests:,} not {expected} (or socket errors)**")
    timeouts = result.timeouts(server)
    slow = f"{timeouts:,} wrk timeout{'s' * (timeouts > 1)} (no answer within 2 s)" if timeouts else ""
    return "; ".join(filter(None, [result.notes.get(server), counted, slow])).replace("|", "\\|")


def _memory_section(report: Report) -> list[str]:
    """Resident memory (VmRSS): after start-up, and after each route's loads."""
    servers = [server for server in ("genmock", BASELINE, PRISM, "bare") if server in report.rss_idle_kib]
    idle = ", ".join(f"{DISPLAY.get(server, server)} {_mib(statistics.median(report.rss_idle_kib[server]))}"
                     for server in servers)
    lines = ["", f"Resident memory right after the first answer (VmRSS, median of the start-ups): {idle}.", "",
             "| route | " + " | ".join(f"{DISPLAY.get(server, server)} RSS after the loads" for server in servers)
             + " |", "| --- |" + " ---: |" * len(servers)]
    for result in report.results:
        lines.append(f"| {result.route.name} | " + " | ".join(
            _mib(result.rss_after_kib[server]) if server in result.rss_after_kib else "–" for server in servers) + " |")
    shared = " and ".join(["the floor", *[PRISM] * (PRISM in servers)])
    return [*lines, "", f"Each route has its own genmock{f' (and {BASELINE})' if BASELINE in servers else ''}; "
                        f"{shared} serve every route of the API, so theirs is after the loads of this route and those "
                        "before it."]


def _shown(path: Path) -> Path:
    return path.relative_to(REPO) if path.is_relative_to(REPO) else path


def _mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


def _pair(first: list[Load], second: list[Load], attribute: str, form: str) -> str:
    return f"{_median_or_dash(first, attribute, form)} / {_median_or_dash(second, attribute, form)}"


def _median_or_dash(loads: list[Load], attribute: str, form: str) -> str:
    return format(median(loads, attribute), form) if loads else "–"


def _ratio(ratio: float | None) -> str:
    return "–" if ratio is None else f"**{ratio:.3f}**"


def _noise_warning(report: Report) -> list[str]:
    noisy = sorted({result.route.name for result in report.results for loads in result.loads.values()
                    for load in loads if load.cores(load.other_cpu_s) > NOISE_CORES})
    if not noisy:
        return []
    return ["", f"**Warning: other processes used more than {NOISE_CORES:g} core during loads of "
                f"{', '.join(noisy)}; rerun on a quiet machine before trusting these numbers.**"]


def _command(cmd: list[str]) -> str:
    return "genmock" if len(cmd) == 1 else "python -m mockserver.cli"


def _list(values: list[float]) -> str:
    return ", ".join(f"{value:.3f}" for value in values)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"
