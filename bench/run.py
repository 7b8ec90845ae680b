"""Load genmock's routes, a bare Starlette floor of the same shapes and Prism with wrk, in one run; report the ratios.

    python bench/run.py --api lucydream|lovlychat|aliveai|all [--rounds 2] [--duration 10] [--route TEXT] ...

Every server runs one uvicorn worker in a subprocess on a free 127.0.0.1 port, one at a time under load. Each
route gets a fresh `genmock serve --api NAME` on its own SQLite file (WAL), seeded through the admin API, with
full request validation and real state; the floor (`bench/bare.py`) parses the request and answers JSON of
the same shape, with no validation and no state. Afterwards the bench checks that the loads measured what
they claim (only 2xx, one ledger debit per paid answer, state as prepared). With `--baseline-src DIR` (a
checkout of another commit), each route also gets a genmock run from DIR's sources, loaded right after genmock in
each round: the report gives genmock / genmock@baseline too. Where Stoplight Prism 5 is found (`--prism PATH`, else
`bench/.prism/node_modules/.bin/prism`, else `prism` on PATH), `prism mock` serves the same spec as genmock, loaded
last in each round with genmock's request: the report gives genmock / Prism. Without Prism, or when it fails, the
report says why and the run goes on.

Writes `bench/results/<api>.md` per API. Exits 0 whether or not the targets are met, 1 when the run itself
broke (a server did not start, answered errors, or a check failed), 2 when wrk is missing.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

import aliveai
import lovlychat
import lucydream
from harness import BENCH_DIR, INSTALL_PRISM, BenchError, probe_environment, run_api, summarize

APIS = {api.name: api for api in (lucydream.API, lovlychat.API, aliveai.API)}
INSTALL_WRK = "apt-get update && apt-get install -y wrk"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", choices=[*APIS, "all"], default="all", help="which API's routes (default: all)")
    parser.add_argument("--route", action="append",
                        help="only the routes whose name contains TEXT (repeatable), e.g. --route gallery")
    parser.add_argument("--duration", type=int, default=8, help="seconds of each measured load (default 8)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="seconds of warm-up load per server and route (default 1)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="load every server (bare, genmock, ..., Prism) in turn this many times per route; report "
                             "medians (default 1)")
    parser.add_argument("--startup-runs", type=int, default=3,
                        help="start-up measurements per server and API (default 3)")
    parser.add_argument("--baseline-src", type=Path, metavar="DIR",
                        help="also load, per route and round right after genmock, a genmock run from the sources of "
                             "this checkout of another commit (e.g. `git worktree add /tmp/genmock-base COMMIT`)")
    parser.add_argument("--baseline-options", type=shlex.split, default=[], metavar="OPTIONS",
                        help="serve options the genmock@baseline run adds; without --baseline-src it runs this "
                             "checkout, so the report gives what a setting costs, e.g. --baseline-options "
                             "'--journal-size 0' (the request journal's cost)")
    parser.add_argument("--prism", metavar="PATH",
                        help="Stoplight Prism 5's CLI (default: bench/.prism/node_modules/.bin/prism, else `prism` on "
                             f"PATH; install: {INSTALL_PRISM})")
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter that runs both servers (default: this one), e.g. another venv's")
    parser.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results",
                        help="where to write <api>.md (default bench/results)")
    parser.add_argument("--quiet", action="store_true", help="print only the reports")
    args = parser.parse_args(argv)
    if min(args.duration, args.connections, args.threads, args.startup_runs, args.rounds) <= 0 or args.warmup < 0:
        parser.error("duration, connections, threads, rounds and start-up runs must be positive")
    if shutil.which("wrk") is None:
        print(f"bench/run.py needs wrk (https://github.com/wg/wrk). On Debian/Ubuntu, as root:\n    {INSTALL_WRK}",
              file=sys.stderr)
        return 2
    broken = []
    with tempfile.TemporaryDirectory(prefix="genmock-bench-") as tmp:
        try:
            env = probe_environment(args.python, args.startup_runs, args.baseline_src, args.prism,
                                    tuple(args.baseline_options))
            if not args.quiet:
                print(f"python {env.python_version}, {env.uvicorn}; {args.rounds} round(s) of wrk -t{args.threads} "
                      f"-c{args.connections} -d{args.duration:g}s per server and route after {args.warmup:g} s warm-up")
                if env.baseline:
                    print(f"genmock@baseline: {env.baseline.commit}, imports {env.baseline.imported}"
                          + (f", serve options {shlex.join(env.baseline.options)}" if env.baseline.options else ""))
                print(f"Prism {env.prism.version}: {env.prism.path}" if env.prism.path else
                      f"no Prism comparison: {env.prism.error}")
            for api in APIS.values() if args.api == "all" else [APIS[args.api]]:
                report = run_api(api, args, env, Path(tmp))
                text = summarize(report)
                print(text)
                path = args.results_dir / f"{api.name}.md"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
                print(f"written to {path}")
                broken += report.broken
        except BenchError as error:
            print(f"bench broke: {error}", file=sys.stderr)
            return 1
    if broken:
        print("the run is void: " + "; ".join(broken), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
