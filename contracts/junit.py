"""`genmock check --junit FILE`: the report as JUnit XML, which CI systems render as test results.

One testsuite per layer (and one named `run` for what no layer could verify), one testcase per check that ran
(per operation where the check judges operations one by one) and per gap: a held check passes, a violated one
fails with every finding's message and reproduction in the failure's text, a gap is skipped with its reason
(an accepted one says so). The elements and counts are those of the common JUnit schema (testsuites, testsuite,
properties, testcase, failure, skipped, system-out).
"""

from __future__ import annotations

import re
import socket
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree

from contracts.report import HELD, LAYERS, RUN, VIOLATED, CheckVerdict, Finding, Report

ACCEPTED = "accepted with --allow-unverified: "  # how an accepted gap's skip message starts
# what XML 1.0 cannot carry, even escaped (findings quote server answers, which may hold any byte)
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def document(report: Report, timestamp: datetime | None = None) -> ElementTree.Element:
    """The `<testsuites>` element of the report."""
    stamp = (timestamp or datetime.now(UTC)).replace(microsecond=0).isoformat()
    verdicts = report.verdicts()
    layers = [layer for layer in (*LAYERS, RUN)
              if layer in report.layers or any(each.layer == layer for each in verdicts)]
    root = ElementTree.Element("testsuites", name=f"genmock check {report.api}")
    for layer in layers:
        root.append(_suite(report, layer, [each for each in verdicts if each.layer == layer], stamp))
    for count in ("tests", "failures", "errors"):  # the schema has no total of the skipped
        root.set(count, str(sum(int(suite.get(count, "0")) for suite in root)))
    root.set("time", _seconds(sum(report.seconds.values())))
    return root


def write(report: Report, path: Path) -> None:
    tree = ElementTree.ElementTree(document(report))
    ElementTree.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)


def _suite(report: Report, layer: str, verdicts: list[CheckVerdict], stamp: str) -> ElementTree.Element:
    failed = sum(each.verdict == VIOLATED for each in verdicts)
    skipped = sum(each.verdict not in (VIOLATED, HELD) for each in verdicts)
    suite = ElementTree.Element("testsuite", name=layer, tests=str(len(verdicts)), failures=str(failed), errors="0",
                                skipped=str(skipped), time=_seconds(report.seconds.get(layer, 0.0)),
                                timestamp=stamp, hostname=socket.gethostname())
    properties = ElementTree.SubElement(suite, "properties")
    for name, value in (("api", report.api), ("base_url", report.base_url), ("seed", report.seed),
                        *((f"count.{what}", number) for what, number in report.counts.get(layer, {}).items())):
        if value is not None:
            ElementTree.SubElement(properties, "property", name=name, value=_xml(str(value)))
    for each in verdicts:
        suite.append(_case(report.api, each, report.seed))
    notes = report.notes.get(layer, [])
    if layer in LAYERS and layer not in report.layers:
        notes = [f"the {layer} layer did not run: these checks judged the answers the other layers received", *notes]
    if notes:
        ElementTree.SubElement(suite, "system-out").text = _xml("\n".join(notes))
    return suite


def _case(api: str, verdict: CheckVerdict, seed: int | None) -> ElementTree.Element:
    name = verdict.check if verdict.operation is None else f"{verdict.check} on {verdict.operation}"
    case = ElementTree.Element("testcase", name=_xml(name), classname=f"genmock.{api}.{verdict.layer}", time="0")
    if verdict.verdict == VIOLATED:
        first = verdict.findings[0].message.splitlines()[0] if verdict.findings[0].message else verdict.check
        more = f" (and {len(verdict.findings) - 1} more)" if len(verdict.findings) > 1 else ""
        failure = ElementTree.SubElement(case, "failure", message=_xml(first + more), type=verdict.check)
        failure.text = _xml("\n\n".join(_failure_text(finding, seed) for finding in verdict.findings))
    elif verdict.verdict != HELD:
        prefix = ACCEPTED if verdict.accepted else "not verified: "
        ElementTree.SubElement(case, "skipped", message=_xml(prefix + (verdict.reason or "no check of it ran")))
    return case


def _failure_text(finding: Finding, seed: int | None) -> str:
    text = f"{finding.check} on {finding.operation}\n{finding.message}"
    if finding.reproduction:
        text += f"\n\nreproduce:\n{finding.reproduction}"
    return text + (f"\n(seed {seed}: genmock check --seed {seed} runs the same examples and sequences)"
                   if seed is not None else "")


def _xml(text: str) -> str:
    return _NOT_XML.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def _seconds(value: float) -> str:
    return f"{value:.3f}"
