"""`genmock check`: judge a server of an API against its contracts, print the report, exit 1 on any finding.

Exit codes: 0 every contract held, 1 at least one finding, 2 usage error (bad arguments, unreachable server,
a refused key, login or admin token), 3 no finding but some property could not be verified (e.g. tenant
isolation without a second tenant's key) and was not accepted with --allow-unverified.

With an admin token the run leaves the server as it found it: it removes every tenant it created (and with
them their jobs, assets, ledger entries and faults) and puts the clock back in its mode; without --key it
spends no one's wallet but its own tenants'.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from contracts import differential, html_report, junit, schema
from contracts.apis import PROFILES, REFUSED, ApiProfile, KeyProbe, profile
from contracts.client import key_scheme
from contracts.guard import SAFE_METHODS, Stop
from contracts.progress import Progress, for_stream
from contracts.report import ALL, LAYERS, RUN, UNVERIFIABLE, Finding, Report
from contracts.session import LoginRefused, PricesUnknown, Session, broke_key, open_session
from contracts.target import ADMIN_PREFIX, AdminError, Target

DEFAULT_MAX_EXAMPLES = 50
USAGE = 2  # the exit code of a run that could not start; the others follow the report's verdict
EXIT_CODES = {"held": 0, "violated": 1, "not verified": 3}


class UsageError(Exception):
    pass


def run(target: Target, layers: Sequence[str] = LAYERS, max_examples: int = DEFAULT_MAX_EXAMPLES,
        seed: int = 0, shrink: bool = True, progress: Progress | None = None,
        accepted: frozenset[str] = frozenset(), only: Replay | None = None) -> Report:
    """Run the given layers (in the order schema, responses, stateful) and return their report.

    `shrink` off reports failures as first found (faster; longer reproductions); `progress` is told what
    runs as it goes; `accepted` names the gaps (contracts.report.UNVERIFIABLE) that do not fail the run; `only`
    runs just the part of the run that found a finding (`--replay`). Raises AdminError when the admin API refuses
    to set up the run."""
    unknown = set(layers) - set(LAYERS)
    if unknown:
        raise UsageError(f"unknown layer(s) {', '.join(sorted(unknown))}; known: {', '.join(LAYERS)}")
    api = profile(target.api)
    report = Report(target.api, target.root, accepted=accepted)
    report.not_verified(schema.unchecked(target, api), ", ".join(api.unchecked_tags))
    report.seed, report.max_examples = seed, max_examples
    progress = progress or Progress()
    session = open_session(target, report, progress)
    session.seed = seed
    session.reproduce = only.blob if only is not None else None
    # the parts that may spend (the schema layer never does) share --max-spend
    spending_parts = sum(1 if layer == "responses" else 1 + len(api.property_modules)
                         for layer in layers if layer != "schema")
    try:
        for layer in (name for name in LAYERS if name in layers):
            report.layers.append(layer)
            progress.layer(layer)
            started = time.monotonic()
            try:
                for source, what, step in _steps(layer, session, api, max_examples, seed, shrink, only):
                    if layer != "schema":
                        session.guard.share(spending_parts)
                        spending_parts -= 1
                    found = len(report.findings)
                    try:
                        step()
                    except (httpx.HTTPError, AdminError) as error:
                        report.add(Finding(layer, "server_error", "(run)", f"the layer stopped: "
                                           f"{type(error).__name__}: {error}", session.transcript.text()))
                        break
                    except Stop as stop:
                        report.cannot_verify(layer, stop.gap, f"{stop.reason}; the rest of {what} was not run")
                        if stop.gap == "deadline":
                            raise
                    finally:
                        report.findings[found:] = [finding if finding.source else replace(finding, source=source)
                                                   for finding in report.findings[found:]]
            finally:
                report.seconds[layer] = time.monotonic() - started
                progress.done(report.found(layer))
    except Stop:
        _not_run(report, layers, "deadline", "the run's --deadline passed before it")
    except KeyboardInterrupt:
        report.cannot_verify(RUN, "interrupted", "the run was interrupted; the report is of what ran until then")
        _not_run(report, layers, "interrupted", "the run was interrupted before it")
    finally:
        session.close()
        _note_spending(report, session)
    return report


def _steps(layer: str, session: Session, api: ApiProfile, max_examples: int, seed: int, shrink: bool,
           only: Replay | None = None) -> list[tuple[str, str, Callable[[], None]]]:
    """What a layer runs, each step with the name a finding's `source` takes, said in words, and on its own: a
    step the guard stops does not stop the next. With `only`, just the step that found a finding."""
    if layer == "schema":
        target = session.target
        paid_key = broke_key(session) if not target.read_only else None
        operations = only.operations if only is not None else None
        steps = [("schema", "the schema layer",
                  lambda: schema.run(target, api, session.report, max_examples, seed, shrink, session.queued,
                                     session.progress, paid_key, session.guard, operations))]
    elif layer == "responses":
        steps = [("tour", "the tour", lambda: api.tour().run(session))]
    else:
        machine = api.machine()
        steps = [("machine", "the state machine", lambda: machine.run(session, max_examples, shrink=shrink)),
                 *((module.__name__, f"the {module.__name__.removeprefix('contracts.')} property",
                    partial(module.run, session)) for module in api.properties())]
    return [step for step in steps if only is None or step[0] == only.source]


@dataclass(frozen=True)
class Replay:
    """What `--replay` runs again for one recorded finding: the part of the run that found it (its `source`), a
    schema finding's operation, a state machine's failing example."""

    source: str
    operations: frozenset[str] | None = None
    blob: str | None = None

    @property
    def layer(self) -> str:
        return {"schema": "schema", "tour": "responses"}.get(self.source, "stateful")

    @classmethod
    def of(cls, finding: dict[str, Any]) -> Replay:
        source = finding.get("source") or {"schema": "schema", "responses": "tour"}.get(finding["layer"], "machine")
        return cls(source, frozenset({finding["operation"]}) if source == "schema" else None,
                   finding.get("blob") or None if source == "machine" else None)


def replay(target: Target, recorded: dict[str, Any], numbers: Sequence[int],
           progress: Progress | None = None) -> list[tuple[int, dict[str, Any], Report]]:
    """Run again, on `target`, what found each recorded finding (by its number, from 1, in the JSON report of an
    earlier run): the same seed and budget, only its part of the run; each with the report of that run."""
    findings = recorded.get("findings", [])
    replayed = []
    for number in numbers:
        if not 1 <= number <= len(findings):
            raise UsageError(f"--finding {number}: the report has {len(findings)} finding(s)")
        finding = findings[number - 1]
        only = Replay.of(finding)
        report = run(target, [only.layer], int(recorded.get("max_examples") or DEFAULT_MAX_EXAMPLES),
                     int(recorded.get("seed") or 0), False, progress, frozenset({ALL}), only)
        replayed.append((number, finding, report))
    return replayed


def reproduced(finding: dict[str, Any], report: Report) -> bool:
    """Whether `report` holds the recorded finding again: the same layer, check and operation."""
    return any((found.layer, found.check, found.operation) == (finding["layer"], finding["check"],
                                                               finding["operation"]) for found in report.findings)


def _not_run(report: Report, layers: Sequence[str], gap: str, reason: str) -> None:
    for layer in LAYERS:
        if layer in layers and layer not in report.layers:
            report.cannot_verify(layer, gap, reason)


def _note_spending(report: Report, session: Session) -> None:
    guard = session.guard
    pricing = guard.pricing
    priced = f", priced from {pricing.source}" if pricing is not None else ""
    limit = f" of at most {guard.max_spend:g} (--max-spend)" if guard.max_spend is not None else ""
    report.note(RUN, f"spent at most {guard.spent:g}{limit} on paid requests the target accepted{priced}")
    refused = ", ".join(f"{count} by {gap.replace('_', '-')}" for gap, count in sorted(guard.refused.items()))
    if refused:
        report.note(RUN, f"requests not sent: {refused}")


def main(argv: Sequence[str]) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exit_:
        return EXIT_CODES["held"] if exit_.code == 0 else USAGE
    try:
        target = _target(args)
        # what the user's own limits leave out is reported, but not held against the run
        accepted = _accepted(args.allow_unverified) | {name for name, asked in (("read_only", args.read_only),
                                                                                 ("max_spend", args.max_spend))
                                                       if asked is not None and asked is not False}
        layers = [layer.strip() for layer in args.layers.split(",") if layer.strip()]
        if not layers or set(layers) - set(LAYERS):
            raise UsageError(f"--layers takes a comma-separated subset of {','.join(LAYERS)}")
        if args.max_examples < 1:
            raise UsageError("--max-examples must be at least 1")
        recorded = _recorded(args.replay, target) if args.replay else None
        _preflight(target)
        progress = for_stream(sys.stderr)
        try:
            with _interrupted_by_sigterm():
                if recorded is not None:
                    numbers = args.finding or range(1, len(recorded.get("findings", [])) + 1)
                    return _print_replays(replay(target, recorded, numbers, progress))
                if args.compare_with_mock:
                    report = differential.compare(target, lambda on, shown: run(
                        on, layers, args.max_examples, args.seed, not args.no_shrink, shown, accepted), progress)
                else:
                    report = run(target, layers, args.max_examples, args.seed, not args.no_shrink, progress, accepted)
        finally:
            progress.close()
    except (UsageError, AdminError, LoginRefused, PricesUnknown) as error:
        print(f"genmock check: {error}", file=sys.stderr)
        return USAGE
    print(report.render())
    if args.json:
        args.json.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    if args.junit:
        junit.write(report, args.junit)
    if args.report:
        html_report.write(report, args.report)
    return EXIT_CODES[report.verdict]


def _recorded(path: Path, target: Target) -> dict[str, Any]:
    """The JSON report `--replay` takes its findings, seed and budget from."""
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UsageError(f"--replay: cannot read a JSON report from {path}: {error}") from None
    if not isinstance(recorded, dict) or recorded.get("api") != target.api:
        raise UsageError(f"--replay: {path} is no report of an --api {target.api} run")
    return recorded


def _print_replays(replays: list[tuple[int, dict[str, Any], Report]]) -> int:
    """Say of each finding whether it recurred (with the run that shows it); exit 1 if any did."""
    lines = []
    for number, finding, report in replays:
        again = reproduced(finding, report)
        lines.append(f"{number}. {finding['check']} on {finding['operation']}: "
                     f"{'REPRODUCED' if again else 'not reproduced'}")
        if again:
            lines.extend(f"   {line}" for line in report.render().splitlines())
    print("\n".join(lines) if lines else "genmock check --replay: the report has no finding")
    return EXIT_CODES["violated"] if any(reproduced(finding, report) for _, finding, report in replays) else 0


@contextmanager
def _interrupted_by_sigterm() -> Iterator[None]:
    """A SIGTERM (a CI job cancelled) interrupts the run as Ctrl-C does: the report of what ran is still written."""
    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _accepted(values: Sequence[str]) -> frozenset[str]:
    names = frozenset(name.strip() for value in values for name in value.split(",") if name.strip())
    unknown = sorted(names - set(UNVERIFIABLE) - {ALL})
    if unknown:
        raise UsageError(f"--allow-unverified: unknown {', '.join(unknown)}; known: {ALL}, "
                         f"{', '.join(sorted(UNVERIFIABLE))}")
    return names


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genmock check", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--api", required=True, choices=sorted(PROFILES))
    parser.add_argument("--base-url", required=True, help="where the server under test answers, e.g. "
                                                          "http://127.0.0.1:8102")
    parser.add_argument("--key", help="an API key of a tenant whose balance the suite may spend (the schema "
                                      "layer spends it freely); optional with --admin-token, which then runs "
                                      "every layer on tenants of the suite's own")
    parser.add_argument("--second-key", help="an API key of another tenant (tenant isolation)")
    parser.add_argument("--email", help="AliveAI: a user's login (with --password): without --key every layer uses "
                                        "the Bearer token it logs in for; with --key the tour also tours the "
                                        "Bearer scheme with it")
    parser.add_argument("--password", help="AliveAI: the password of --email")
    parser.add_argument("--admin-token", help="a genmock admin token: fresh tenants, virtual clock, faults, ledger; "
                                              "the tenants are removed and the clock's mode restored at the end")
    parser.add_argument("--model-id", help="LucyDream: a ready model of the tenant of --key")
    parser.add_argument("--safetensors-path", help="LucyDream: the .safetensors file of --model-id")
    parser.add_argument("--trigger-name", default="woman", choices=("man", "woman"),
                        help="LucyDream: the trigger name --model-id was trained with (default woman)")
    parser.add_argument("--price", type=float, help="LucyDream: the price of one generation (else read from the "
                                                    "admin API or learnt)")
    parser.add_argument("--max-examples", type=int, default=DEFAULT_MAX_EXAMPLES,
                        help=f"schemathesis examples per operation and state-machine sequences "
                             f"(default {DEFAULT_MAX_EXAMPLES})")
    parser.add_argument("--layers", default=",".join(LAYERS), help=f"comma-separated (default {','.join(LAYERS)})")
    parser.add_argument("--spec", type=Path, help="the OpenAPI document (default specs/<api>.yaml)")
    parser.add_argument("--seed", type=int, default=0,
                        help="what every layer draws from: schemathesis' examples and the state machines' "
                             "sequences (default 0: the same seed runs the same requests; another, others)")
    parser.add_argument("--no-shrink", action="store_true",
                        help="report failures as first found, without searching for the smallest reproduction")
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, in seconds (default 30)")
    parser.add_argument("--job-timeout", type=float, default=300.0,
                        help="LovlyChat without --admin-token: how long to wait, in real time, for jobs to finish "
                             "(default 300 s); an admin token lets the suite advance a virtual clock instead")
    parser.add_argument("--poll-interval", type=float, default=1.0,
                        help="LovlyChat without --admin-token: seconds between two polls of unfinished jobs "
                             "(default 1)")
    parser.add_argument("--race-key", help="LovlyChat without --admin-token: a key whose wallet the concurrency "
                                           "property may spend (parallel jobs it covers only in part; best a wallet "
                                           "of a few images)")
    parser.add_argument("--json", type=Path, help="also write the report as JSON to this file")
    parser.add_argument("--junit", type=Path, help="also write the report as JUnit XML to this file (a testsuite "
                                                  "per layer, a testcase per check: what CI systems render)")
    parser.add_argument("--report", type=Path, help="also write the report as one self-contained HTML page to this "
                                                   "file (every check's verdict, each failure's reproduction)")
    parser.add_argument("--read-only", action="store_true",
                        help="send only what cannot create or charge (GET, HEAD, OPTIONS, a login): what needs more is "
                             "reported as not verified (read_only)")
    parser.add_argument("--max-spend", type=float, metavar="N",
                        help="never send a request that could take what the run spent past N (the API's money), "
                             "priced from --prices, the admin API's config or the target's published prices; the "
                             "report says what was spent and what was left out (max_spend)")
    parser.add_argument("--prices", type=_prices, metavar="JSON",
                        help="the prices of the paid operations, as a JSON object (or @FILE) keyed like the admin "
                             "config's: LovlyChat kind.variant, AliveAI PromptType (and CHAT_IMAGE), LucyDream "
                             "generate and train")
    parser.add_argument("--rate", type=float, metavar="R",
                        help="at most R requests per second; a 429's Retry-After is then waited out before the same "
                             "credential asks again")
    parser.add_argument("--deadline", type=float, metavar="SECONDS",
                        help="the whole run's time: past it nothing more is sent and the report of what ran is "
                             "written, what did not run reported as not verified (deadline)")
    parser.add_argument("--replay", type=Path, metavar="REPORT",
                        help="run again what found each finding of the JSON report of an earlier run (--json): its "
                             "seed and budget, only the part of the run that found it (a state machine's recorded "
                             "failing example alone); exit 1 if any recurs, 0 if none does")
    parser.add_argument("--finding", type=int, action="append", metavar="N",
                        help="with --replay: only finding N (from 1, as the report numbers them; repeatable)")
    parser.add_argument("--compare-with-mock", action="store_true",
                        help="run the same seeded sequence against a genmock started for the purpose too (the "
                             "target's keys mirrored onto it, with the balances the target shows, and its prices) and "
                             "report where the two differ, per operation: status, shape, money moved, each check's "
                             "verdict; a different status class or money moved differently fails the run (exit 1)")
    parser.add_argument("--allow-unverified", action="append", default=[], metavar="NAME",
                        help="do not fail (exit 3) when this property cannot be verified with what was given "
                             "(repeatable or comma-separated; all: any): " + ", ".join(sorted(UNVERIFIABLE)))
    return parser


def _target(args: argparse.Namespace) -> Target:
    if not args.base_url.startswith(("http://", "https://")):
        raise UsageError(f"--base-url must be an http(s) URL, not {args.base_url!r}")
    if bool(args.email) != bool(args.password):
        raise UsageError("--email and --password go together")
    if args.email and profile(args.api).login is None:
        raise UsageError(f"--email/--password: {args.api} has no logins, only keys")
    if args.key is None and not args.admin_token and not args.email:
        raise UsageError("--key (or --email/--password where the API has logins) is needed without --admin-token "
                         "(with one, the suite makes tenants of its own)")
    if bool(args.model_id) != bool(args.safetensors_path):
        raise UsageError("--model-id and --safetensors-path go together")
    if args.model_id and args.key is None:
        raise UsageError("--model-id names a model of the tenant of --key: give --key too")
    if args.spec is not None and not args.spec.is_file():
        raise UsageError(f"no spec at {args.spec}")
    if args.job_timeout <= 0 or args.poll_interval <= 0:
        raise UsageError("--job-timeout and --poll-interval must be positive")
    for option, value in (("--max-spend", args.max_spend), ("--rate", args.rate), ("--deadline", args.deadline)):
        if value is not None and not (value > 0 or (option == "--max-spend" and value == 0)):
            raise UsageError(f"{option} must be positive, not {value:g}")
    target = Target(api=args.api, base_url=args.base_url, key=args.key, second_key=args.second_key,
                    admin_token=args.admin_token, model_id=args.model_id, safetensors_path=args.safetensors_path,
                    trigger_name=args.trigger_name, price=args.price, spec=args.spec, timeout=args.timeout,
                    job_timeout=args.job_timeout, poll_interval=args.poll_interval, race_key=args.race_key,
                    email=args.email, password=args.password, read_only=args.read_only, max_spend=args.max_spend,
                    rate=args.rate, deadline=args.deadline, prices=args.prices)
    if not target.spec_path.is_file():
        raise UsageError(f"no spec at {target.spec_path}")
    return target


def _prices(text: str) -> dict[str, float]:
    """--prices: a JSON object of prices, given inline or as @FILE."""
    try:
        raw = Path(text[1:]).read_text(encoding="utf-8") if text.startswith("@") else text
        prices = json.loads(raw)
    except (OSError, ValueError) as error:
        raise argparse.ArgumentTypeError(f"not a JSON object of prices: {error}") from None
    if not isinstance(prices, dict) or not all(isinstance(price, int | float) and not isinstance(price, bool)
                                               and price >= 0 for price in prices.values()):
        raise argparse.ArgumentTypeError("a JSON object of prices, each a number of at least 0")
    return {str(name): float(price) for name, price in prices.items()}


def _preflight(target: Target) -> None:
    """Fail fast, as a usage error, when the server does not answer or refuses a key or the admin token."""
    try:
        httpx.get(target.root + "/", timeout=min(target.timeout, 10.0))
    except httpx.HTTPError as error:
        raise UsageError(f"cannot reach {target.root}: {type(error).__name__}: {error}") from error
    scheme = key_scheme(target.document())
    api = profile(target.api)
    probe = api.key_probe
    for option, key in (("--key", target.key), ("--second-key", target.second_key),
                        ("--race-key", target.race_key)):
        if key is not None and not (target.read_only and probe.method not in SAFE_METHODS):  # (LucyDream's POST)
            status = _probe(target, probe, scheme.headers(key))
            if status in REFUSED:
                raise UsageError(f"the server refused {option}: {probe.method} {probe.path} with it answered "
                                 f"{status}")
    if target.email and api.login is not None:
        status = _probe(target, KeyProbe("POST", api.login.path, {"email": target.email,
                                                                  "password": target.password}), {})
        if status != 200:
            raise UsageError(f"the server refused --email/--password: POST {api.login.path} answered {status}")
    if target.admin_token:
        response = httpx.get(f"{target.root}{ADMIN_PREFIX}/state", timeout=min(target.timeout, 10.0),
                             headers={"authorization": f"Bearer {target.admin_token}"})
        if response.status_code != 200:
            raise UsageError(f"the admin API at {target.root}{ADMIN_PREFIX} answered {response.status_code} "
                             "to the admin token")


def _probe(target: Target, probe: KeyProbe, headers: dict[str, str]) -> int:
    """The status of `probe` sent with `headers` (a request that costs nothing)."""
    try:
        response = httpx.request(probe.method, target.root + probe.path, headers=headers, json=probe.body,
                                 timeout=min(target.timeout, 10.0))
    except httpx.HTTPError as error:
        raise UsageError(f"cannot reach {target.root}: {type(error).__name__}: {error}") from error
    return response.status_code
