"""`genmock`: serve the mock APIs, or check any server against their contracts."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mockserver import dialects
from mockserver.engine.lru import DEFAULT_CACHE_SIZE
from mockserver.journal import DEFAULT_SIZE as JOURNAL_SIZE

DEFAULT_PORT = 8100
LOOPS = ("uvloop", "asyncio")
WS = "websockets-sansio"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["check"]:  # argparse's REMAINDER does not capture a leading --option: forward by hand
        from contracts.runner import main as run_check

        return run_check(argv[1:])
    parser = argparse.ArgumentParser(prog="genmock", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve", help="serve the mock APIs, each at the root of its own origin",
        description="Serve each API at the root of its own origin (one port per API) with the admin API under "
                    "/__genmock/ on each. Prints the base URLs, the admin token and the demo credentials.")
    serve.add_argument("--api", action="append", choices=dialects.NAMES,
                       help="serve only this API (repeatable; default: all)")
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT,
                       help=f"first port: each API listens on PORT + its offset (default {DEFAULT_PORT}); "
                            "0 = any free port for each API")
    serve.add_argument("--db", default="genmock.sqlite3",
                       help="SQLite file that keeps state across restarts, or :memory: (default: genmock.sqlite3)")
    serve.add_argument("--fresh", action="store_true",
                       help="start from empty state (deletes the --db file; refused while another genmock uses it)")
    serve.add_argument("--seed", type=int, help="make ids, credentials and media reproducible")
    serve.add_argument("--clock", choices=("real", "virtual"), default="real",
                       help="virtual: time stands still until advanced through the admin API")
    serve.add_argument("--cache-size", type=_positive, default=DEFAULT_CACHE_SIZE, metavar="N",
                       help="entries each of the engine's memos of the database keeps (finished jobs, balances, "
                            "credentials, queue counts), least recently used forgotten first "
                            f"(default {DEFAULT_CACHE_SIZE:,})")
    serve.add_argument("--journal-size", type=_not_negative, default=JOURNAL_SIZE, metavar="N",
                       help="requests each origin's journal keeps (GET /__genmock/requests), oldest forgotten first; "
                            f"0 records none (default {JOURNAL_SIZE:,})")
    serve.add_argument("--loop", choices=("auto", *LOOPS), default="auto",
                       help="event loop: auto = uvloop where it is installed (it is with genmock), else asyncio")
    serve.add_argument("--admin-token", help="use this admin token (default: $GENMOCK_ADMIN_TOKEN, else one made on "
                                             "the database's first start and kept with its state)")
    serve.add_argument("--admin-from-anywhere", action="store_true",
                       help="let non-loopback clients use the admin API (still needs the token)")
    serve.add_argument("--credentials-file", type=Path,
                       help="also write base URLs, admin token and credentials per API to FILE as JSON (mode 0600)")
    serve.add_argument("--public-url", action="append", metavar="API=URL",
                       help="where clients reach an API behind a proxy, e.g. lovlychat=https://mock.example: asset "
                            "links are built on it (default: the address served; repeatable)")
    serve.add_argument("--cors-origin", action="append", metavar="ORIGIN",
                       help="a browser origin allowed to call the APIs, e.g. https://app.example, or * for any "
                            "(repeatable; default: any http(s)://localhost, 127.0.0.1 or [::1] origin)")
    docs = commands.add_parser(
        "docs", help="write the reference site (made from the specs) to a folder",
        description="Write a static reference site made from the specs: a page per API and for the admin API, "
                    "the AliveAI websocket channels and an index. It opens offline, from file://.")
    docs.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder to write to (created)")
    docs.add_argument("--api", action="append", choices=dialects.NAMES,
                      help="only this API, beside the admin API (repeatable; default: all)")
    check = commands.add_parser(
        "check", help="run the contract suite against a server (the mock or a real implementation)",
        description="Run the contract suite of one API against BASE_URL with KEY.", add_help=False)
    check.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command == "serve":
        return run_serve(args)
    if args.command == "docs":
        from mockserver.docs import api, write_site

        index = write_site(args.out, [api(name) for name in dict.fromkeys(args.api or dialects.NAMES)])
        print(f"genmock docs: wrote {index}")
        return 0
    from contracts.runner import main as run_check

    return run_check(args.rest)


def run_serve(args: argparse.Namespace) -> int:
    from mockserver.engine import Engine
    from mockserver.engine.clock import Clock
    from mockserver.engine.store import DatabaseInUse
    from mockserver.server import ApiApp

    public_urls = _public_urls(args.public_url or [])
    try:
        engine = Engine.open(args.db, seed=args.seed, clock=Clock(args.clock), fresh=args.fresh,
                             cache_size=args.cache_size)
    except DatabaseInUse as in_use:
        raise SystemExit(f"genmock: {in_use}") from None
    admin_token = _admin_token(engine, args.admin_token or os.environ.get("GENMOCK_ADMIN_TOKEN"))
    served: list[tuple[Any, socket.socket]] = []
    loop = _event_loop(args.loop)
    summary: dict[str, Any] = {"admin_token": admin_token, "seed": engine.ids.seed, "event_loop": loop, "apis": {}}
    for name in args.api or dialects.NAMES:
        dialect = dialects.load(name)
        sock = _listen(args.host, args.port + dialect.default_port_offset if args.port else 0)
        host, port = sock.getsockname()[:2]
        base_url = f"http://{_url_host(host)}:{port}"
        app = ApiApp(dialect, engine, admin_token, args.admin_from_anywhere, public_url=public_urls.get(name),
                     cors_origins=args.cors_origin, journal_size=args.journal_size)
        tenant = app.context.demo_tenant()
        summary["apis"][name] = {
            "title": dialect.title, "base_url": base_url, "admin_url": f"{base_url}/__genmock",
            "tenant_id": tenant.id, "credentials": engine.tenants.credentials(tenant),
            "balance": engine.ledger.balance(tenant.id) / 1000,
        }
        if dialect.account is not None:  # a user who logs in: email, password, user id
            summary["apis"][name]["account"] = dialect.account(tenant)
        if name in public_urls:
            summary["apis"][name]["public_url"] = public_urls[name]
        served.append((app, sock))
    engine.store.commit()  # the demo tenants and the admin token, before anyone is told of them
    if args.credentials_file:  # before the printout: whoever reads it may go for the file at once
        _write_private(args.credentials_file, json.dumps(summary, indent=2) + "\n")
    _print_summary(summary, args.db)
    gc.freeze()  # what start-up built (specs, schemas, routes) lives as long as the server: the collector skips it
    try:
        with asyncio.Runner(loop_factory=_loop_factory(loop)) as runner:
            runner.run(_serve_all(served))
    finally:
        engine.store.close()
    return 0


def _event_loop(choice: str) -> str:
    if choice != "auto":
        return choice
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def _loop_factory(name: str) -> Any:
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return asyncio.new_event_loop


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _not_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, not {value}")
    return value


def _admin_token(engine: Any, given: str | None) -> str:
    """The given token, else the one this database keeps (made on its first start): a restart keeps it."""
    from mockserver.admin import new_admin_token

    if given:
        return given
    token = engine.store.get_setting("admin-token")
    if token is None:
        token = new_admin_token()
        engine.store.set_setting("admin-token", token)
    return str(token)


def _public_urls(values: list[str]) -> dict[str, str]:
    urls = {}
    for value in values:
        name, _, url = value.partition("=")
        if name not in dialects.NAMES or not url.startswith(("http://", "https://")):
            raise SystemExit(f"genmock: --public-url takes API=URL with API one of {', '.join(dialects.NAMES)} "
                             f"and an http(s) URL, not {value!r}")
        urls[name] = url.rstrip("/")
    return urls


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (it holds the admin token and credentials)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # also when the file existed with wider permissions
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say TCP (else 40 ms per keep-alive request)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        raise SystemExit(f"genmock: cannot listen on {host}:{port}: {error.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _print_summary(summary: dict[str, Any], database: str) -> None:
    lines = [f"genmock serving (state: {database}, seed {summary['seed']}, event loop {summary['event_loop']})"]
    for api in summary["apis"].values():
        lines.append(f"  {api['title']:<10} {api['base_url']}   demo key: {api['credentials'][0]}"
                     f"   balance: {api['balance']:g}")
        if "account" in api:
            account = api["account"]
            lines.append(f"  {'':<10} login: {account['email']} / {account['password']}   user id: "
                         f"{account['userId']}")
    lines.append(f"  admin token: {summary['admin_token']}   (Bearer; under /__genmock/ on each origin)")
    print("\n".join(lines), flush=True)


async def _serve_all(served: list[tuple[Any, socket.socket]]) -> None:
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):  # type: ignore[no-untyped-def]
            yield  # signals are handled once for all servers below

    from mockserver.http_limits import protocol_for

    servers = [Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", ws=WS,
                                     http=protocol_for(app.refusal))) for app, _ in served]

    def stop() -> None:
        for server in servers:
            server.should_exit = True

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    await asyncio.gather(*(server.serve(sockets=[sock]) for server, (_, sock) in zip(servers, served, strict=True)))


if __name__ == "__main__":
    sys.exit(main())
