"""`genmock check --junit FILE --report FILE`: JUnit XML as CI systems read it (junitparser is what e.g. the
publish-unit-test-result GitHub Action reads it with) and one HTML page, opened in headless Chromium from file://;
from runs against the mock, one with gaps and one against a broken mock, and from a report made by hand."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import junitparser
import pytest

from contracts import html_report, junit
from contracts.report import Finding, Report
from tests.browser import browser  # noqa: F401  (the fixture)
from tests.test_check_cli import genmock_check

SEED = 7
# What the common JUnit schema (the Jenkins xUnit plugin's junit-10.xsd) lets each element have: its attributes,
# the ones it requires, its children.
JUNIT = {
    "testsuites": ({"name", "time", "tests", "failures", "errors"}, set(), {"testsuite"}),
    "testsuite": ({"name", "tests", "failures", "errors", "group", "time", "skipped", "timestamp", "hostname", "id",
                   "package", "file", "log", "url"}, {"name", "tests", "failures", "errors"},
                  {"testsuite", "properties", "testcase", "system-out", "system-err"}),
    "properties": (set(), set(), {"property"}),
    "property": ({"name", "value"}, {"name", "value"}, set()),
    "testcase": ({"name", "time", "classname", "group"}, {"name"},
                 {"skipped", "error", "failure", "system-out", "system-err"}),
    **{name: ({"type", "message"}, set(), set()) for name in ("failure", "error", "skipped")},
    **{name: (set(), set(), set()) for name in ("system-out", "system-err")},
}
TIME = re.compile(r"(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]*)?")  # the schema's SUREFIRE_TIME


def reports(folder: Path) -> tuple[str, ...]:
    return ("--json", str(folder / "report.json"), "--junit", str(folder / "report.xml"),
            "--report", str(folder / "report.html"))


def schema_problems(element: ElementTree.Element) -> list[str]:
    """Where `element` and what it holds break the common JUnit schema."""
    if element.tag not in JUNIT:
        return [f"<{element.tag}> is no JUnit element"]
    allowed, required, children = JUNIT[element.tag]
    problems = [f"<{element.tag}> has {sorted(set(element.attrib) - allowed)}"] if set(element.attrib) - allowed else []
    problems += [f"<{element.tag}> lacks {sorted(required - set(element.attrib))}"] if required - set(element.attrib) \
        else []
    if "time" in element.attrib and not TIME.fullmatch(element.attrib["time"]):
        problems.append(f"<{element.tag} time={element.attrib['time']!r}>")
    for child in element:
        problems += [f"<{child.tag}> in <{element.tag}>"] if child.tag not in children else schema_problems(child)
    return problems


def check_junit(path: Path, report: dict[str, Any]) -> junitparser.JUnitXml:
    """The JUnit file, once shown valid, its counts those of its testcases, and its testcases the report's checks."""
    root = ElementTree.parse(path).getroot()
    assert schema_problems(root) == []
    for suite in root:
        cases = suite.findall("testcase")
        assert int(suite.get("tests", -1)) == len(cases)
        assert int(suite.get("failures", -1)) == sum(case.find("failure") is not None for case in cases)
        assert int(suite.get("skipped", -1)) == sum(case.find("skipped") is not None for case in cases)
        assert suite.get("errors") == "0"
    for count in ("tests", "failures", "errors"):
        assert int(root.get(count, -1)) == sum(int(suite.get(count, 0)) for suite in root)

    checks = report["checks"]
    parsed = junitparser.JUnitXml.fromfile(str(path))
    cases = {(suite.name, case.name): case for suite in parsed for case in suite}
    named = {(check["layer"], check["check"] if check["operation"] is None else
              f"{check['check']} on {check['operation']}"): check for check in checks}
    assert set(cases) == set(named)
    for key, case in cases.items():
        verdict = named[key]["verdict"]
        results = [type(result).__name__ for result in case.result]
        assert results == {"held": [], "violated": ["Failure"], "not verified": ["Skipped"]}[verdict], key
    assert parsed.failures == sum(check["verdict"] == "violated" for check in checks)
    assert sum(suite.skipped for suite in parsed) == sum(check["verdict"] == "not verified" for check in checks)
    assert parsed.errors == 0
    return parsed


def open_page(driver: Any, path: Path) -> dict[tuple[str, str], str]:
    """Open the page from file:// and show it made no request; its checks table: (layer, check) -> verdict."""
    page = path.read_text(encoding="utf-8")
    assert not re.search(r"<(script|link|img|iframe|object)\b|\bsrc\s*=|url\(|@import", page, re.IGNORECASE)
    assert not re.search(r"href\s*=\s*(?![\"']?#)", page, re.IGNORECASE)  # links within the page only
    driver.get(path.resolve().as_uri())
    assert driver.execute_script("return performance.getEntriesByType('resource').length") == 0
    rows = driver.execute_script("return [...document.querySelectorAll('[data-testid=check]')].map("
                                  "(row) => [row.dataset.layer, row.dataset.check, row.dataset.verdict])")
    return {(layer, check): verdict for layer, check, verdict in rows}


def expected_rows(report: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(layer, check) -> the worst verdict of the check over the operations it judged."""
    rows: dict[tuple[str, str], str] = {}
    for check in report["checks"]:
        key, order = (check["layer"], check["check"]), ("held", "not verified", "violated")
        rows[key] = max(rows.get(key, "held"), check["verdict"], key=order.index)
    return rows


def test_a_run_with_gaps_lists_each_as_skipped_and_only_the_checks_that_ran(
        mock_server: dict[str, Any], tmp_path: Path, browser: Any) -> None:  # noqa: F811
    api = mock_server["apis"]["lucydream"]
    result = genmock_check("lucydream", "--base-url", api["base_url"], "--key", api["credentials"][0],
                           "--max-examples", "2", "--no-shrink", "--seed", str(SEED),
                           "--allow-unverified", "exact_price", *reports(tmp_path))

    assert result.returncode == 3, result.stdout + result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["seed"] == SEED and report["findings"] == [] and report["gaps"]
    parsed = check_junit(tmp_path / "report.xml", report)
    skipped = {(suite.name, case.name): case.result[0].message for suite in parsed for case in suite if case.result}
    assert skipped == {(gap["layer"], gap["property"]): ("accepted with --allow-unverified: " if gap["accepted"]
                                                         else "not verified: ") + gap["reason"]
                       for gap in report["gaps"]}
    assert any(gap["accepted"] for gap in report["gaps"]) and not all(gap["accepted"] for gap in report["gaps"])
    # without an admin token the machine creates no model and arms no fault: what needs that never ran
    held = {check["check"] for check in report["checks"] if check["layer"] == "stateful" and check["verdict"] == "held"}
    assert held and not held & {"model_creation", "model_ids_unique", "armed_fault", "usable_only_after_training",
                                "failed_model_unusable", "tenant_isolation"}
    # the schema layer lists checks exactly when it sent requests (LucyDream's one operation can charge: a run
    # that may not spend sends none)
    sent = report["counts"]["schema"]["requests"]
    schema_checks = [check for check in report["checks"] if check["layer"] == "schema"]
    assert bool(schema_checks) == bool(sent)
    assert [(suite.name, suite.tests) for suite in parsed if suite.name == "schema"] == [("schema", len(schema_checks))]

    rows = open_page(browser, tmp_path / "report.html")
    assert rows == expected_rows(report)
    banner = browser.find_element("css selector", "[data-testid=run-verdict]")
    assert banner.get_attribute("data-verdict") == "not verified"
    assert browser.find_element("css selector", "[data-testid=seed]").text == str(SEED)
    after_schema = browser.find_element("id", "layer-schema").find_element("xpath", "following-sibling::*[1]").text
    assert ("No check of this layer ran." in after_schema) == (not sent)
    gaps = browser.find_elements("css selector", "[data-testid=gap]")
    assert sorted(row.get_attribute("data-property") for row in gaps) == sorted(gap["property"]
                                                                                for gap in report["gaps"])


@pytest.mark.parametrize("mock_server", [("-m", "tests.broken", "lc-gallery-order")], indirect=True)
def test_a_broken_mock_fails_its_check_with_the_reproduction_and_seed(
        mock_server: dict[str, Any], tmp_path: Path, browser: Any) -> None:  # noqa: F811
    api = mock_server["apis"]["lovlychat"]
    result = genmock_check("lovlychat", "--base-url", api["base_url"], "--admin-token", mock_server["admin_token"],
                           "--layers", "stateful", "--max-examples", "25", "--no-shrink", "--seed", str(SEED),
                           *reports(tmp_path))

    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    broken = [finding for finding in report["findings"] if finding["check"] == "gallery_order"]
    assert broken, report["findings"]
    parsed = check_junit(tmp_path / "report.xml", report)
    failures = {case.name: case.result[0] for suite in parsed if suite.name == "stateful" for case in suite
                if case.result}
    failure = failures["gallery_order"]
    assert failure.message == broken[0]["message"].splitlines()[0]
    for finding in broken:
        assert finding["message"] in failure.text and finding["reproduction"] in failure.text
        assert "curl -sS -X GET" in finding["reproduction"]
    assert f"--seed {SEED}" in failure.text
    assert len(report["findings"]) == sum(len(re.findall(r"^reproduce:$", each.text or "", re.MULTILINE))
                                          for each in failures.values())

    rows = open_page(browser, tmp_path / "report.html")
    assert rows == expected_rows(report) and rows["stateful", "gallery_order"] == "violated"
    banner = browser.find_element("css selector", "[data-testid=run-verdict]")
    assert banner.get_attribute("data-verdict") == "violated"
    section = browser.find_element("css selector", "[data-testid=finding][data-check=gallery_order]")
    shown = [block.text for block in section.find_elements("css selector", "[data-testid=reproduction]")]
    requests = broken[0]["reproduction"].split("# the requests it sent:\n", 1)[1]
    assert any(requests.splitlines()[0] in text and "curl -sS" in text for text in shown)
    assert f"--seed {SEED}" in section.text and broken[0]["message"].splitlines()[0][:60] in section.text
    assert browser.find_element("css selector", "[data-testid=seed]").text == str(SEED)
    browser.set_window_size(1200, 1600)
    assert browser.save_screenshot(str(tmp_path / "report.png"))
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def hostile_report() -> Report:
    """A report whose findings quote what a server might answer: markup, quotes, control characters."""
    report = Report("lovlychat", "http://127.0.0.1:9", layers=["responses", "stateful"], seed=3)
    report.ran("responses", "status_code_conformance", operation="GET /v1/pricing")
    report.ran("stateful", "charge_per_job", "job_lookup")
    report.add(Finding("responses", "status_code_conformance", "GET /v1/pricing",
                       'status 200: body: <script>alert("x")</script> & \x00\x1b[31m',
                       "curl -sS -X GET 'http://127.0.0.1:9/v1/pricing?a=<b>'   # -> 200"))
    report.add(Finding("stateful", "charge_per_job", "POST /v1/generation/jobs", "charged twice",
                       "# the sequence (Hypothesis):\nstate = LovlyChatMachine()\n# the requests it sent:\n"
                       "curl -sS -X POST http://127.0.0.1:9/v1/generation/jobs   # -> 202"))
    report.add(Finding("stateful", "server_error", "(run)", "the layer stopped"))  # a check no hook recorded
    report.cannot_verify("stateful", "tenant_isolation", "no --second-key")
    report.ran("stateful", "tenant_isolation")  # ran in part: the gap still stands
    return report


def test_what_a_server_answered_is_escaped_and_each_check_has_one_verdict(tmp_path: Path) -> None:
    report = hostile_report()

    verdicts = {(each.layer, each.check, each.operation): each.verdict for each in report.verdicts()}
    assert verdicts == {("responses", "status_code_conformance", "GET /v1/pricing"): "violated",
                        ("stateful", "charge_per_job", None): "violated", ("stateful", "job_lookup", None): "held",
                        ("stateful", "server_error", "(run)"): "violated",
                        ("stateful", "tenant_isolation", None): "not verified"}

    page = html_report.render(report)
    assert "<script" not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp;" in page
    assert "\x00" not in page and "\x1b" not in page and "\\x00\\x1b[31m" in page
    assert "the sequence (Hypothesis)" in page and "state = LovlyChatMachine()" in page

    junit.write(report, tmp_path / "report.xml")
    root = ElementTree.parse(tmp_path / "report.xml").getroot()  # what XML cannot carry did not break it
    assert schema_problems(root) == []
    failures = [case.find("failure") for case in root.iter("testcase") if case.find("failure") is not None]
    assert len(failures) == 3
    assert any('<script>alert("x")</script>' in (failure.text or "") and "\\x00\\x1b" in (failure.text or "")
               for failure in failures)
