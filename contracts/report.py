"""Findings (one broken contract each, with how to reproduce it) and the report that collects them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

LAYERS = ("schema", "responses", "stateful")
RUN = "run"  # notes on the run as a whole rather than one layer: whose wallets it spent, what it cleaned up


@dataclass(frozen=True)
class Finding:
    layer: str  # "schema" | "responses" | "stateful"
    check: str  # e.g. "status_code_conformance", "failure_is_free"
    operation: str  # e.g. "POST /wp-json/apiservices/v1/generate"
    message: str
    reproduction: str = ""  # curl line(s), or the failing sequence of a state machine


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
    _seen: set[tuple[str, ...]] = field(default_factory=set, repr=False)

    @property
    def ok(self) -> bool:
        return not self.findings

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
            for number, finding in enumerate(findings, 1):
                lines.append(f"  {number}. {finding.check} on {finding.operation}")
                lines.extend(f"     {line}" for line in finding.message.splitlines())
                if finding.reproduction:
                    lines.append("     reproduce:")
                    lines.extend(f"       {line}" for line in finding.reproduction.splitlines())
        if self.notes.get(RUN):
            lines.append("")
            lines.extend(f"note: {text}" for text in self.notes[RUN])
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
        if self.unverified:
            return f"OK: every contract checked held; {len(self.unverified)} operation(s) not verified (see above)"
        return "OK: every contract held"

    def to_dict(self) -> dict[str, Any]:
        return {"api": self.api, "base_url": self.base_url, "ok": self.ok, "layers": self.layers,
                "seconds": self.seconds, "notes": self.notes, "counts": self.counts, "unverified": self.unverified,
                "findings": [asdict(finding) for finding in self.findings]}

    def _of(self, layer: str) -> list[Finding]:
        return [finding for finding in self.findings if finding.layer == layer]
