"""`genmock check --report FILE`: the report as one HTML page for a person to read.

Self-contained (inline CSS, no script, no image, no link out of the page), so it opens from file:// offline and
can be kept as a CI artifact. It shows the run (target, API, seed, layers and their timings, counts), each
failure with what broke and how to reproduce it (the requests as curl commands, a state machine's sequence,
the seed to run the same examples again), what could not be verified and why, every check that ran with its
verdict, and the layers' notes. Everything the report holds is escaped: findings quote what servers answered.
"""

from __future__ import annotations

import html
import re
import shlex
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from contracts.report import HELD, LAYERS, NOT_VERIFIED, RUN, VIOLATED, CheckVerdict, Finding, Report

VERDICT_CLASSES = {HELD: "held", VIOLATED: "violated", NOT_VERIFIED: "unverified"}
_CONTROL = re.compile("[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f\\ud800-\\udfff]")  # what a page should not carry raw

STYLE = """
:root { color-scheme: light; --held: #1a7f37; --violated: #c62828; --unverified: #9a6700; --line: #d0d7de; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; margin: 0;
       background: #f6f8fa; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 48px; background: #fff; min-height: 100vh; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 32px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 0 0 6px; }
h4 { font-size: 13px; margin: 12px 0 4px; text-transform: uppercase; letter-spacing: .04em; color: #59636e; }
.subtitle { color: #59636e; margin: 0 0 16px; }
.verdict { display: inline-block; padding: 1px 9px; border-radius: 10px; font-weight: 600; font-size: 13px;
           color: #fff; white-space: nowrap; }
.verdict.held { background: var(--held); } .verdict.violated { background: var(--violated); }
.verdict.unverified { background: var(--unverified); }
.banner { font-size: 17px; padding: 10px 14px; border-radius: 6px; margin: 0 0 18px; border-left: 6px solid; }
.banner.held { border-color: var(--held); background: #dafbe1; }
.banner.violated { border-color: var(--violated); background: #ffebe9; }
.banner.unverified { border-color: var(--unverified); background: #fff8c5; }
dl.run { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 0; }
dl.run dt { font-weight: 600; color: #59636e; } dl.run dd { margin: 0; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
td.count { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font: 12.5px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { background: #f6f8fa; border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; margin: 0;
      white-space: pre-wrap; overflow-wrap: anywhere; }
pre.reproduction { max-height: 32em; overflow: auto; }
.finding { border: 1px solid var(--line); border-left: 6px solid var(--violated); border-radius: 6px;
           padding: 12px 14px; margin: 0 0 14px; }
.finding .where { color: #59636e; margin: 0 0 8px; }
table[data-testid=checks] td:first-child { width: 30%; } table[data-testid=checks] td:nth-child(2) { width: 9%; }
.op { display: inline-block; margin: 0 10px 2px 0; } .op.violated, .op.violated a { color: var(--violated); }
.layer-summary { color: #59636e; font-weight: normal; font-size: 14px; }
ul.notes { margin: 4px 0 0; padding-left: 20px; color: #343a40; }
footer { margin-top: 40px; color: #59636e; font-size: 13px; }
"""


def render(report: Report, generated: datetime | None = None) -> str:
    """The whole page."""
    verdicts = report.verdicts()
    violated = [each for each in verdicts if each.verdict == VIOLATED]
    stamp = (generated or datetime.now(UTC)).replace(microsecond=0).isoformat()
    title = f"genmock check: {report.api} at {report.base_url}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_text(title)}</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body><main>",
        f"<h1>genmock check: {_text(report.api)}</h1>",
        f'<p class="subtitle">{_text(report.base_url)} · generated {_text(stamp)}</p>',
        _banner(report, verdicts),
        _run(report, verdicts),
        _failures(report, violated),
        _gaps(report),
        _checks(report, verdicts),
        _notes(report),
        "<footer>Written by <code>genmock check --report</code>. Verdicts: <b>held</b> (the check ran and "
        "nothing broke it), <b>violated</b> (a finding, with how to reproduce it), <b>not verified</b> (the run "
        "could not check it: why is given).</footer>",
        "</main></body>",
        "</html>",
    ]
    return "\n".join(part for part in parts if part) + "\n"


def write(report: Report, path: Path) -> None:
    path.write_text(render(report), encoding="utf-8")


def rerun_command(report: Report, layers: list[str] | None = None) -> str:
    """The command that runs the same examples and sequences again (the run's credentials are not known here)."""
    command = ["genmock", "check", "--api", report.api, "--base-url", report.base_url]
    if layers:
        command += ["--layers", ",".join(layers)]
    if report.seed is not None:
        command += ["--seed", str(report.seed)]
    return " ".join(shlex.quote(part) for part in command) + " …"


# -- sections ----------------------------------------------------------------------------------------------------
def _banner(report: Report, verdicts: list[CheckVerdict]) -> str:
    tally = Counter(each.verdict for each in verdicts)
    summary = (f"{tally[HELD]} held, {tally[VIOLATED]} violated, {tally[NOT_VERIFIED]} not verified "
               f"({len(report.findings)} finding(s), {len(report.gaps)} gap(s)"
               f"{f', {sum(gap.accepted for gap in report.gaps)} accepted' if report.gaps else ''})")
    label = {HELD: "Every check that ran held", VIOLATED: "Contracts violated",
             NOT_VERIFIED: "Nothing broke, but some contracts could not be verified"}[report.verdict]
    return (f'<p class="banner {VERDICT_CLASSES[report.verdict]}" data-testid="run-verdict" '
            f'data-verdict="{_text(report.verdict)}"><b>{_text(label)}</b>: {_text(summary)}</p>')


def _run(report: Report, verdicts: list[CheckVerdict]) -> str:
    layers = ", ".join(f"{layer} ({report.seconds[layer]:.1f} s)" if layer in report.seconds else layer
                       for layer in report.layers) or "none"
    rows = [("Target", f"<code>{_text(report.base_url)}</code>"), ("API", _text(report.api)),
            ("Seed", f'<code data-testid="seed">{_text(report.seed if report.seed is not None else "unknown")}'
                     "</code> (<code>--seed</code>: the same seed draws the same examples and sequences)"),
            ("Layers", _text(layers)),
            ("Time", _text(f"{sum(report.seconds.values()):.1f} s")),
            ("Verdict", _badge(report.verdict))]
    table = _counts(report)
    return ("<h2>Run</h2>\n<dl class=\"run\">\n" + "\n".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in rows)
            + "\n</dl>" + (f"\n<h4>Counts</h4>\n{table}" if table else ""))


def _counts(report: Report) -> str:
    rows = [f"<dt>{_text(layer)}</dt><dd>" + " · ".join(
        f"{_text(f'answers {what}' if what.isdigit() else what)}: {number}"
        for what, number in report.counts[layer].items()) + "</dd>" for layer in _layers(report, report.counts)]
    return '<dl class="run" data-testid="counts">\n' + "\n".join(rows) + "\n</dl>" if rows else ""


def _failures(report: Report, violated: list[CheckVerdict]) -> str:
    if not violated:
        return "<h2>Failures</h2>\n<p>None: no check found a contract broken.</p>"
    blocks = []
    number = 0
    for verdict in violated:
        for finding in verdict.findings:
            number += 1
            blocks.append(_finding(report, finding, number))
    return f"<h2>Failures ({number})</h2>\n" + "\n".join(blocks)


def _finding(report: Report, finding: Finding, number: int) -> str:
    # a responses finding may come from any layer's requests: run them all again
    layers = [finding.layer] if finding.layer in ("schema", "stateful") else report.layers
    parts = [f'<section class="finding" id="finding-{number}" data-testid="finding" '
             f'data-check="{_text(finding.check)}" data-layer="{_text(finding.layer)}">',
             f"<h3>{number}. {_text(finding.check)} {_badge(VIOLATED)}</h3>",
             f'<p class="where">{_text(finding.layer)} layer · <code>{_text(finding.operation)}</code></p>',
             "<h4>What broke</h4>", f"<pre>{_text(finding.message)}</pre>"]
    for heading, body in _reproduction(finding.reproduction):
        parts += [f"<h4>{_text(heading)}</h4>",
                  f'<pre class="reproduction" data-testid="reproduction">{_text(body)}</pre>']
    parts += ["<h4>Seed</h4>",
              f"<p>Seed <code>{_text(report.seed if report.seed is not None else 'unknown')}</code>: "
              f"<code>{_text(rerun_command(report, layers))}</code> (with the run's key or admin token) sends the "
              "same examples and sequences again; with <code>--replay REPORT.json --finding "
              f"{report.findings.index(finding) + 1}</code> (the run's <code>--json</code> report) only what found "
              "this failure runs again.</p>", "</section>"]
    return "\n".join(parts)


def _reproduction(text: str) -> list[tuple[str, str]]:
    """The reproduction's parts, each under its heading: a state machine's reads "# the sequence (Hypothesis):"
    then "# the requests it sent:"; any other is the requests, as curl commands."""
    parts: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("# ") and line.rstrip().endswith(":"):
            parts.append((line[2:].rstrip().rstrip(":"), []))
        else:
            if not parts:
                parts.append(("the requests, as curl commands", []))
            parts[-1][1].append(line)
    headings = {"the requests it sent": "the requests it sent, as curl commands"}
    return [(headings.get(heading, heading), "\n".join(lines).strip() or "(none)") for heading, lines in parts]


def _gaps(report: Report) -> str:
    if not report.gaps and not report.unverified:
        return ""
    rows = [f'<tr data-testid="gap" data-property="{_text(gap.property)}"><td><code>{_text(gap.property)}</code>'
            f"</td><td>{_text(gap.layer)}</td><td>{_text(gap.reason)}</td><td>"
            f"{'accepted (--allow-unverified)' if gap.accepted else '<b>open</b>: the run is not a pass'}</td></tr>"
            for gap in report.gaps]
    parts = ["<h2>Not verified</h2>",
             "<table><thead><tr><th>Property</th><th>Layer</th><th>Why</th><th>Status</th></tr></thead><tbody>",
             *rows, "</tbody></table>"]
    if report.unverified:
        parts += [f"<h4>Operations the schema and responses layers do not send ({_text(report.unverified_reason)})"
                  "</h4>", "<pre>" + _text("\n".join(report.unverified)) + "</pre>"]
    return "\n".join(parts)


def _checks(report: Report, verdicts: list[CheckVerdict]) -> str:
    parts = ["<h2>Checks</h2>",
             "<p>Every check that ran and every property the run could not verify, with its verdict; a check that "
             "judges operations one by one lists the operations it judged.</p>"]
    anchors: dict[CheckVerdict, int] = {}  # a violated check: the number of its first failure
    number = 0
    for each in verdicts:
        if each.verdict == VIOLATED:
            anchors[each] = number + 1
            number += len(each.findings)
    for layer in (*LAYERS, RUN):
        checks: dict[str, list[CheckVerdict]] = {}
        for each in verdicts:
            if each.layer == layer:
                checks.setdefault(each.check, []).append(each)
        if not checks and layer not in report.layers:
            continue
        tally = Counter(_worst(entries) for entries in checks.values())
        timing = f" · {report.seconds[layer]:.1f} s" if layer in report.seconds else ""
        parts.append(f'<h3 id="layer-{layer}">{_text(layer)} <span class="layer-summary">{tally[HELD]} held · '
                     f"{tally[VIOLATED]} violated · {tally[NOT_VERIFIED]} not verified{timing}</span></h3>")
        if not checks:
            parts.append("<p>No check of this layer ran.</p>")
            continue
        parts.append('<table data-testid="checks"><thead><tr><th>Check</th><th>Verdict</th><th>Operations</th>'
                     "</tr></thead><tbody>")
        for check, entries in checks.items():
            verdict = _worst(entries)
            parts.append(f'<tr data-testid="check" data-layer="{_text(layer)}" data-check="{_text(check)}" '
                         f'data-verdict="{_text(verdict)}"><td><code>{_text(check)}</code></td>'
                         f"<td>{_badge(verdict, all(each.accepted for each in entries))}</td>"
                         f"<td>{' '.join(_judged(each, anchors.get(each)) for each in entries)}</td></tr>")
        parts.append("</tbody></table>")
    return "\n".join(parts)


def _worst(entries: list[CheckVerdict]) -> str:
    verdicts = {each.verdict for each in entries}
    return next(verdict for verdict in (VIOLATED, NOT_VERIFIED, HELD) if verdict in verdicts)


def _judged(entry: CheckVerdict, anchor: int | None) -> str:
    """One operation a check judged (or what the layer sent as a whole), its failures linked, its gap's reason."""
    what = f"<code>{_text(entry.operation)}</code>" if entry.operation else ""
    if anchor is not None:
        link = f'<a href="#finding-{anchor}">{len(entry.findings)} finding(s)</a>'
        return f'<span class="op violated">{what}{" " if what else ""}{link}</span>'
    if entry.verdict != HELD:
        return f'<span class="op">{what}{" " if what else ""}{_text(entry.reason)}</span>'
    return f'<span class="op">{what}</span>' if what else ""


def _notes(report: Report) -> str:
    layers = _layers(report, report.notes)
    if not layers:
        return ""
    parts = ["<h2>Notes</h2>"]
    for layer in layers:
        parts.append(f"<h4>{_text(layer)}</h4>")
        parts.append('<ul class="notes">' + "".join(f"<li>{_text(text)}</li>" for text in report.notes[layer])
                     + "</ul>")
    return "\n".join(parts)


# -- helpers -----------------------------------------------------------------------------------------------------
def _layers(report: Report, per_layer: dict[str, object]) -> list[str]:
    order = (*LAYERS, RUN)
    return sorted(per_layer, key=lambda layer: order.index(layer) if layer in order else len(order))


def _badge(verdict: str, accepted: bool = False) -> str:
    label = f"{verdict} (accepted)" if accepted else verdict
    return f'<span class="verdict {VERDICT_CLASSES.get(verdict, "unverified")}">{_text(label)}</span>'


def _text(value: object) -> str:
    """`value` as page text: escaped, and without the control characters a server's answer may hold."""
    return html.escape(_CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", str(value)), quote=True)
