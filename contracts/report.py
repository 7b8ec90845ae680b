"""Findings (one broken contract each, with how to reproduce it) and the report that collects them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

LAYERS = ("schema", "responses", "stateful")
RUN = "run"  # notes on the run as a whole rather than one layer: whose wallets it spent, what it cleaned up
ALL = "all"  # --allow-unverified all: accept every gap
HELD, VIOLATED, NOT_VERIFIED = "held", "violated", "not verified"  # a check's verdict, and the run's

# What a run may be unable to verify, by the name `--allow-unverified` takes: neither held nor violated, each
# is reported, and `genmock check` exits 3 (not verified) unless the user accepted it.
UNVERIFIABLE = {
    "tenant_isolation": "tenants never see, use or delete each other's models, jobs, prompts or assets "
                        "(needs --second-key, or --admin-token)",
    "concurrent_debit": "parallel paid requests on one wallet are charged exactly (needs --admin-token or "
                        "--race-key)",
    "exact_price": "each charge is the published or given price (LucyDream: needs --price, AliveAI --prices, or "
                   "--admin-token)",
    "paid_generation": "a paid generation succeeds and is charged (LucyDream: needs --model-id and "
                       "--safetensors-path, or --admin-token)",
    "model_creation": "training a model: its price, its 409 while one trains (LucyDream: needs --admin-token)",
    "paid_job_tour": "the answers that follow a paid job: its polls, assets and gallery (needs a wallet that pays)",
    "payment_required": "a create the wallet cannot pay is refused with 402 and costs nothing (needs "
                        "--admin-token, or a wallet short of some price)",
    "queue_full": "a full queue answers 429 and removals free it (AliveAI)",
    "video_routes": "the routes that edit a finished video (AliveAI)",
    "ws_isolation": "a user's websocket channels refuse other users (AliveAI: needs --second-key or --admin-token)",
    "chat_isolation": "a user's characters, personas and chats are not another's (AliveAI: needs --second-key "
                      "or --admin-token)",
    "chat_streams": "NDJSON chat replies: order, one terminal event, what is stored (AliveAI)",
    "stream_error_consistent": "a reply that fails mid-stream ends with an error and stores nothing (AliveAI: "
                               "needs --admin-token, to arm the fault)",
    "unchecked_operations": "operations the suite has no contracts for yet",
    # what the user's own limits left out (contracts.guard): read_only and max_spend are accepted by asking for them
    "read_only": "what needs a request that could create or charge (--read-only sends none)",
    "max_spend": "what needs more spending than --max-spend leaves (or a paid request at no known price)",
    "deadline": "what the run's --deadline left no time for",
    "interrupted": "what had not run when the run was interrupted",
}


@dataclass(frozen=True)
class Finding:
    layer: str  # "schema" | "responses" | "stateful"
    check: str  # e.g. "status_code_conformance", "failure_is_free"
    operation: str  # e.g. "POST /wp-json/apiservices/v1/generate"
    message: str
    reproduction: str = ""  # curl line(s), or the failing sequence of a state machine
    source: str = ""  # the part of the run that found it (`--replay` runs it again): schema, tour, machine, a module
    blob: str = ""  # a state machine's failing example, "hypothesis-version:base64" (`@reproduce_failure`)


@dataclass(frozen=True)
class Gap:
    """A property a layer could not verify, and why."""

    layer: str
    property: str  # a key of UNVERIFIABLE
    reason: str
    accepted: bool = False  # the user said so (--allow-unverified): reported, not failed


@dataclass(frozen=True)
class CheckVerdict:
    """What a run found of one check, on one operation or (operation None) on whatever the layer sent."""

    layer: str
    check: str  # a check's name, or a gap's property
    operation: str | None
    verdict: str  # HELD | VIOLATED | NOT_VERIFIED
    findings: tuple[Finding, ...] = ()  # what violated it
    reason: str = ""  # not verified: why
    accepted: bool = False  # not verified, and the user accepted it (--allow-unverified)


@dataclass
class Report:
    api: str
    base_url: str
    layers: list[str] = field(default_factory=list)  # the layers that ran, in order
    findings: list[Finding] = field(default_factory=list)
    notes: dict[str, list[str]] = field(default_factory=dict)  # per layer: what was skipped and why, budgets
    seconds: dict[str, float] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # per layer: requests, answers by status...
    # operations the schema and responses layers did not send (the profile's unchecked tags): "METHOD /path", why
    unverified: list[str] = field(default_factory=list)
    unverified_reason: str = ""
    gaps: list[Gap] = field(default_factory=list)
    accepted: frozenset[str] = frozenset()  # the gaps the user accepted (--allow-unverified), or {ALL}
    seed: int | None = None  # --seed: what the run's examples and sequences were drawn from
    max_examples: int | None = None  # --max-examples: with the seed, what a replay of a finding needs
    _seen: set[tuple[str, ...]] = field(default_factory=set, repr=False)
    _ran: set[tuple[str, str, str | None]] = field(default_factory=set, repr=False)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def open_gaps(self) -> list[Gap]:
        """What could not be verified and was not accepted: such a run is not a pass."""
        return [gap for gap in self.gaps if not gap.accepted]

    def cannot_verify(self, layer: str, name: str, reason: str) -> None:
        """Record that `layer` could not verify the property `name` (once per layer and property)."""
        if name not in UNVERIFIABLE:
            raise ValueError(f"unknown property {name!r}: add it to contracts.report.UNVERIFIABLE")
        if any(gap.layer == layer and gap.property == name for gap in self.gaps):
            return
        self.gaps.append(Gap(layer, name, reason, ALL in self.accepted or name in self.accepted))

    def add(self, finding: Finding, dedupe: str | None = None) -> bool:
        """Record a finding unless one with the same layer, check, operation and `dedupe` key (default: the
        message) is already in; return whether it was new."""
        key = (finding.layer, finding.check, finding.operation, finding.message if dedupe is None else dedupe)
        if key in self._seen:
            return False
        self._seen.add(key)
        self.findings.append(finding)
        return True

    def not_verified(self, operations: list[str], reason: str) -> None:
        """Record operations no layer checks (neither held nor broken: not verified)."""
        self.unverified = list(operations)
        self.unverified_reason = reason
        if operations:
            self.cannot_verify(RUN, "unchecked_operations", f"{len(operations)} operation(s) ({reason})")

    def ran(self, layer: str, *checks: str, operation: str | None = None) -> None:
        """Record that `checks` judged an answer (of `operation`, or of any operation the layer sent). Only a
        check recorded here or by a finding is listed, as held or violated: one that never ran is not."""
        for check in checks:
            self._ran.add((layer, check, operation))

    def verdicts(self) -> list[CheckVerdict]:
        """Every check that ran, with its verdict, and every gap (not verified), by layer, check and operation.
        A finding goes to its check on its operation, else to its check on the layer as a whole; a gap named
        like a check that ran (e.g. tenant_isolation with one tenant) leaves it not verified."""
        found: dict[tuple[str, str, str | None], list[Finding]] = {key: [] for key in self._ran}
        for finding in self.findings:
            key: tuple[str, str, str | None] = (finding.layer, finding.check, finding.operation)
            if key not in found and (finding.layer, finding.check, None) in found:
                key = (finding.layer, finding.check, None)
            found.setdefault(key, []).append(finding)
        gaps = {(gap.layer, gap.property, None): gap for gap in self.gaps}
        verdicts = []
        for key in sorted(found.keys() | gaps.keys(), key=_check_order):
            findings, gap = tuple(found.get(key, ())), gaps.get(key)
            verdict = VIOLATED if findings else NOT_VERIFIED if gap else HELD
            verdicts.append(CheckVerdict(*key, verdict, findings, gap.reason if gap else "",
                                         gap.accepted if gap else False))
        return verdicts

    def note(self, layer: str, text: str) -> None:
        self.notes.setdefault(layer, []).append(text)

    def count(self, layer: str, what: str, number: int = 1) -> None:
        layer_counts = self.counts.setdefault(layer, {})
        layer_counts[what] = layer_counts.get(what, 0) + number

    def found(self, layer: str) -> int:
        """How many findings one layer made."""
        return len(self._of(layer))

    def checks(self, layer: str | None = None) -> set[str]:
        """The names of the checks that found something (in one layer, or in any)."""
        return {finding.check for finding in self.findings if layer is None or finding.layer == layer}

    def render(self) -> str:
        lines = [f"genmock check: {self.api} at {self.base_url}"]
        shown = [layer for layer in LAYERS if layer in self.layers or self._of(layer)]
        for layer in shown:
            findings = self._of(layer)
            verdict = "FAILED" if findings else "passed"
            timing = f" in {self.seconds[layer]:.1f}s" if layer in self.seconds else ""
            ran = "" if layer in self.layers else " (findings from responses other layers received)"
            lines.append("")
            lines.append(f"[{layer}] {verdict}{timing}{ran}: {len(findings)} finding(s)")
            lines.extend(f"  note: {text}" for text in self.notes.get(layer, []))
            lines.extend(f"  {_gap_line(gap)}" for gap in self.gaps if gap.layer == layer)
            for finding in findings:  # numbered as in the JSON report (what `--replay --finding N` takes)
                lines.append(f"  {self.findings.index(finding) + 1}. {finding.check} on {finding.operation}")
                lines.extend(f"     {line}" for line in finding.message.splitlines())
                if finding.reproduction:
                    lines.append("     reproduce:")
                    lines.extend(f"       {line}" for line in finding.reproduction.splitlines())
        if self.notes.get(RUN):
            lines.append("")
            lines.extend(f"note: {text}" for text in self.notes[RUN])
        if self.open_gaps:
            lines.append("")
            lines.append(f"NOT VERIFIED: {', '.join(sorted({gap.property for gap in self.open_gaps}))}: give what "
                         "each needs, or accept the gap with --allow-unverified NAME (repeatable; all: every one)")
        if self.unverified:
            lines.append("")
            lines.append(f"NOT VERIFIED: {len(self.unverified)} operation(s) that the schema and responses layers "
                         f"do not send yet ({self.unverified_reason}); only the stateful layer's properties, if "
                         f"any, judged them: {', '.join(self.unverified)}")
        lines.append("")
        lines.append(self._verdict())
        return "\n".join(lines)

    def _verdict(self) -> str:
        if not self.ok:
            return f"FAILED: {len(self.findings)} finding(s)"
        if self.open_gaps:
            return f"NOT VERIFIED: every contract checked held, but {len(self.open_gaps)} could not be checked"
        if self.gaps:
            return f"OK: every contract checked held; {len(self.gaps)} gap(s) accepted (--allow-unverified)"
        return "OK: every contract held"

    @property
    def verdict(self) -> str:
        """held, violated or not verified: the run as a whole."""
        return VIOLATED if self.findings else NOT_VERIFIED if self.open_gaps else HELD

    def to_dict(self) -> dict[str, Any]:
        return {"api": self.api, "base_url": self.base_url, "ok": self.ok, "verdict": self.verdict,
                "seed": self.seed, "max_examples": self.max_examples, "layers": self.layers, "seconds": self.seconds,
                "notes": self.notes,
                "counts": self.counts, "unverified": self.unverified, "gaps": [asdict(gap) for gap in self.gaps],
                "findings": [asdict(finding) for finding in self.findings],
                "checks": [{"layer": each.layer, "check": each.check, "operation": each.operation,
                            "verdict": each.verdict, "findings": len(each.findings), "reason": each.reason,
                            "accepted": each.accepted} for each in self.verdicts()]}

    def _of(self, layer: str) -> list[Finding]:
        return [finding for finding in self.findings if finding.layer == layer]


def _check_order(key: tuple[str, str, str | None]) -> tuple[int, str, str]:
    layer, check, operation = key
    order = (*LAYERS, RUN)
    return order.index(layer) if layer in order else len(order), check, operation or ""


def _gap_line(gap: Gap) -> str:
    status = "not verified (accepted)" if gap.accepted else "NOT VERIFIED"
    return f"{status}: {gap.property}: {gap.reason}"
