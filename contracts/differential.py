"""`genmock check --compare-with-mock`: the same seeded run against the target and against a genmock started for
the purpose (contracts.reference), and where their observable behaviour differs (contracts.differences).

The two runs are made alike. With an admin token on the target, genmock's run gets genmock's admin token: each
run makes tenants of its own with the same balances, on a virtual clock. Without one, genmock's run has none
either and uses the target's keys (and AliveAI's login), each mirrored onto a genmock tenant holding the balance
the target showed for it (or, when its answers never show it, genmock's demo balance: said so), in real time with
jobs of REFERENCE_SECONDS. Genmock charges the target's prices: --prices, else the target's admin config, else
its published price list (LovlyChat), else genmock's own (said so).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any

from contracts import differences, exchanges, reference
from contracts.apis import profile
from contracts.client import KeyScheme, key_scheme
from contracts.curl import Transcript
from contracts.differences import Comparison, Side
from contracts.exchanges import Exchange, Recording
from contracts.progress import Progress
from contracts.report import RUN, VIOLATED, Report
from contracts.schema import paid_operations
from contracts.target import AdminClient, Target

REFERENCE_SECONDS = 0.2  # what each job takes on genmock when the two run in real time (no admin token)
MOCK = "genmock"  # what the report calls the reference


def compare(target: Target, run: Callable[[Target, Progress], Report], progress: Progress) -> Report:
    """`run` (the runner's, with the options of the command line) against the target, then against a genmock
    made alike; the target's report, with the differences (`Compared`)."""
    from contracts.runner import UsageError  # (the runner imports this module)

    if target.model_id:
        raise UsageError("--compare-with-mock: --model-id names a model of the target's, which a fresh genmock "
                         "does not have")
    api = profile(target.api)
    # what the layers import as they start is imported before the first run, so that both runs start from the
    # same process: importing them (PyAV among them) changes what schemathesis draws from the same seed
    api.tour()
    api.machine()
    api.properties()
    scheme = key_scheme(target.document())
    paid = set(paid_operations(target.document()).values())
    with reference.started(target.api) as genmock:
        wallets = _mirror(genmock, target)  # before the target's run: a credential genmock refuses stops it early
        with exchanges.recording() as recorded:
            report = run(target, _Shown(progress, recorded, ""))
        if _interrupted(report):
            report.note(RUN, f"--compare-with-mock: the run was interrupted; {MOCK}'s run was not made")
            return report
        notes = [f"{MOCK} at {genmock.base_url} ran the same seed, layers and budget"]
        try:
            opening = _fund(genmock, target, scheme, paid, recorded.exchanges, wallets, notes)
            notes.append(_prices(genmock, target, recorded.exchanges))
            if not target.admin_token:
                durations = genmock.call("GET", "/config")["durations"]
                genmock.configure({"durations": dict.fromkeys(durations, REFERENCE_SECONDS)})
                notes.append(f"both in real time; {MOCK}'s jobs take {REFERENCE_SECONDS:g} s (times are not "
                             "compared)")
        except KeyboardInterrupt:
            report.note(RUN, f"--compare-with-mock: interrupted before {MOCK}'s run")
            return report
        twin = replace(target, base_url=genmock.base_url, rate=None,
                       admin_token=genmock.admin_token if target.admin_token else None)
        with exchanges.recording() as theirs:
            mocked = run(twin, _Shown(progress, theirs, f" ({MOCK})"))
        if _interrupted(mocked):
            notes.append(f"{MOCK}'s run was interrupted: what it did not send is compared as unpaired")
    fresh = target.admin_token is not None and not wallets
    comparison = differences.compare(target.api, scheme, paid, Side(recorded.exchanges, target.root, opening),
                                     Side(theirs.exchanges, twin.root, _funded(opening, wallets, api.own_balance)),
                                     lengths=fresh)
    return Compared.of(report, comparison, mocked, notes)


def _interrupted(report: Report) -> bool:
    return any(gap.property == "interrupted" for gap in report.gaps)


class _Shown(Progress):
    """A run's progress as shown, with the recording told which layer runs."""

    def __init__(self, shown: Progress, recording: Recording, suffix: str) -> None:
        self._shown, self._recording, self._suffix = shown, recording, suffix

    def layer(self, name: str) -> None:
        self._recording.layer = name
        self._shown.layer(name + self._suffix)

    def step(self, operation: str, examples: int | None = None, findings: int | None = None) -> None:
        self._shown.step(operation, examples, findings)

    def done(self, findings: int) -> None:
        self._shown.done(findings)


@dataclass(frozen=True)
class _Wallet:
    option: str  # --key, --second-key, --race-key, or --email (a login without a key)
    credential: str | None  # None: a login's, whose token the run learns


def _mirror(genmock: reference.Reference, target: Target) -> list[_Wallet]:
    """Genmock tenants holding the target's keys (and login), funded once the target's run showed balances."""
    wallets: list[_Wallet] = []
    for option, key in (("--key", target.key), ("--second-key", target.second_key), ("--race-key", target.race_key)):
        if key and key not in {wallet.credential for wallet in wallets}:
            login = (target.email, target.password) if option == "--key" else (None, None)
            genmock.mirror(option, key, *login)
            wallets.append(_Wallet(option, key))
    if target.email and not target.key:
        genmock.mirror("--email", None, target.email, target.password)
        wallets.append(_Wallet("--email", None))
    return wallets


def _fund(genmock: reference.Reference, target: Target, scheme: KeyScheme, paid: set[str],
          recorded: list[Exchange], wallets: list[_Wallet], notes: list[str]) -> dict[str, float]:
    """Put in each mirrored wallet what the target's run showed it held before the run; the balances so known, by
    the credential the target's run spent them with."""
    api = profile(target.api)
    opening: dict[str, float] = {}
    said = []
    for wallet in wallets:
        credential = wallet.credential or _token(target, recorded)
        balance = differences.opening_balance(target.api, scheme, paid, recorded, credential) if credential else None
        if credential is None or balance is None:
            said.append(f"{wallet.option} {api.own_balance:g} (the target's answers did not show it: {MOCK}'s demo "
                        "balance)")
        else:
            said.append(f"{wallet.option} {balance:g}")
            opening[credential] = balance
        genmock.fund(wallet.option, api.own_balance if balance is None else balance)
    if said:
        notes.append(f"the target's credentials were mirrored onto {MOCK} tenants holding: {', '.join(said)}")
    return opening


def _funded(opening: dict[str, float], wallets: list[_Wallet], default: float) -> dict[str, float]:
    """What genmock's run starts each mirrored key's wallet with (a login's token differs between the runs)."""
    return {wallet.credential: opening.get(wallet.credential, default) for wallet in wallets if wallet.credential}


def _token(target: Target, recorded: list[Exchange]) -> str | None:
    """The bearer token the target's run logged in for first (AliveAI's --email without --key)."""
    login = profile(target.api).login
    for exchange in recorded:
        if login is not None and exchange.operation == f"POST {login.path}" and exchange.status == 200 and \
                isinstance(exchange.answer, dict) and isinstance(exchange.answer.get(login.token_field), str):
            return str(exchange.answer[login.token_field])
    return None


def _prices(genmock: reference.Reference, target: Target, recorded: list[Exchange]) -> str:
    """Make genmock charge the target's prices, where they are known; what the report says of them."""
    if target.prices is not None:
        prices, source = dict(target.prices), "--prices"
    elif target.admin_token:
        admin = AdminClient(target, Transcript(target.masks()))
        try:
            prices, source = dict(admin.config()["prices"]), "the target's admin config"
        finally:
            admin.close()
    else:
        listed = next((exchange.answer for exchange in recorded if exchange.operation == "GET /v1/pricing"
                       and exchange.status == 200 and isinstance(exchange.answer, dict)), None)
        if listed is None:
            return f"{MOCK} charged its own prices (the target's are not known)"
        prices, source = _flattened(listed.get("prices")), "the target's GET /v1/pricing"
    known = genmock.call("GET", "/config")["prices"]
    genmock.configure({"prices": {name: price for name, price in prices.items() if name in known}})
    return f"{MOCK} charged the prices of {source}"


def _flattened(prices: Any, prefix: str = "") -> dict[str, float]:
    """{"image": {"standard": 10}} as the admin config names prices: {"image.standard": 10}."""
    if isinstance(prices, int | float) and not isinstance(prices, bool):
        return {prefix: float(prices)}
    if not isinstance(prices, dict):
        return {}
    return {name: price for key, value in prices.items()
            for name, price in _flattened(value, f"{prefix}.{key}" if prefix else str(key)).items()}


@dataclass
class Compared(Report):
    """The target's report, with where genmock's run of the same sequence differed: a difference that matters
    (contracts.differences) fails the run as a finding does."""

    comparison: Comparison = field(default_factory=Comparison)
    reference: Report | None = None  # genmock's run
    reference_notes: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, report: Report, comparison: Comparison, mocked: Report, notes: list[str]) -> Compared:
        return cls(**{each.name: getattr(report, each.name) for each in fields(Report)}, comparison=comparison,
                   reference=mocked, reference_notes=notes)

    @property
    def ok(self) -> bool:
        return super().ok and not self.comparison.matters

    @property
    def verdict(self) -> str:
        return VIOLATED if self.comparison.matters else super().verdict

    def verdicts_side_by_side(self) -> list[dict[str, Any]]:
        """Every check either run judged, with its verdict on each side (None: that run did not judge it)."""
        sides = [{(each.layer, each.check, each.operation): each.verdict for each in report.verdicts()}
                 for report in (self, self.reference) if report is not None]
        keys = sorted(set().union(*sides), key=lambda key: (key[0], key[1], key[2] or ""))
        return [{"layer": key[0], "check": key[1], "operation": key[2], "target": sides[0].get(key),
                 "mock": sides[-1].get(key)} for key in keys]

    def render(self) -> str:
        body, _, last = super().render().rpartition("\n\n")
        matter = len(self.comparison.matters)
        if matter:
            said = f"{matter} difference(s) from {MOCK} that matter"
            last = f"{last}; {said}" if self.findings else f"FAILED: {said}"
        return "\n\n".join((body, self._differences(), last))

    def _differences(self) -> str:
        comparison = self.comparison
        matter, other = comparison.matters, [each for each in comparison.differences if not each.matters]
        verdict = "FAILED" if matter else "no difference that matters"
        lines = [f"[compared with {MOCK}] {verdict}: {len(matter)} difference(s) that matter, {len(other)} other(s)"]
        lines.extend(f"  note: {note}" for note in self.reference_notes)
        lines.append(f"  note: {comparison.paired} requests paired (same layer, method, path, query, body and "
                     f"credential; {comparison.ids} ids mapped from the target's to {MOCK}'s; values not compared); "
                     f"{comparison.target_only} only the target's run sent, {comparison.mock_only} only {MOCK}'s")
        unknown = ", ".join(f"{reason} x{count}" for reason, count in comparison.money_unknown.most_common())
        lines.append(f"  note: money compared on {comparison.money_compared} paid request(s)"
                     + (f"; not on {sum(comparison.money_unknown.values())} ({unknown})" if unknown else ""))
        for title, shown in (("differences that matter", matter), ("other differences (reported only)", other)):
            if shown:
                lines.append(f"  {title}:")
            for number, each in enumerate(shown, 1):
                counted = "" if each.kind == differences.COUNTS else f", {each.count} request(s)"
                lines.append(f"  {number}. {each.kind} on {each.operation} ({each.layer}{counted}): {each.what}: "
                             f"the target {each.target}, {MOCK} {each.mock}")
                if each.example:
                    lines.append(f"     e.g. {each.example}")
        judged = [each for each in self.verdicts_side_by_side() if each["target"] != each["mock"]]
        if judged:
            lines.append("  checks judged differently:")
            lines.extend(f"    {each['layer']} {each['check']}{' on ' + each['operation'] if each['operation'] else ''}"
                         f": the target {each['target'] or 'not judged'}, {MOCK} {each['mock'] or 'not judged'}"
                         for each in judged)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "differences": {
            "reference": self.reference.base_url if self.reference else None, "notes": self.reference_notes,
            "reference_verdict": self.reference.verdict if self.reference else None,
            **self.comparison.to_dict(), "verdicts": self.verdicts_side_by_side()}}
