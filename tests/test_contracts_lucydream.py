"""The LucyDream contract suite: the mock keeps every contract, and each broken mock is caught by its check."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts.models.wallet import Wallet
from contracts.report import LAYERS
from contracts.runner import run
from contracts.target import Target

BUDGET = 8  # schemathesis examples per operation, and state-machine sequences: small, for CI
DEMO_MODEL = {"model_id": "12345", "safetensors_path": "https://your-bucket-url/12345.safetensors"}


def target_of(credentials: dict[str, Any], admin: bool = True, **overrides: Any) -> Target:
    api = credentials["apis"]["lucydream"]
    return Target(api="lucydream", base_url=api["base_url"], key=api["credentials"][0],
                  admin_token=credentials["admin_token"] if admin else None, **{**DEMO_MODEL, **overrides})


def second_tenant_key(credentials: dict[str, Any]) -> str:
    """A key of another tenant, made through the admin API (a real server's user would bring one)."""
    key = "tests-second-tenant"
    response = httpx.post(f"{credentials['apis']['lucydream']['admin_url']}/tenants",
                          headers={"authorization": f"Bearer {credentials['admin_token']}"},
                          json={"name": "second", "balance": 1.0, "credentials": [key]})
    assert response.status_code == 201, response.text
    return key


def test_the_mock_keeps_every_contract(mock_server: dict[str, Any]) -> None:
    report = run(target_of(mock_server), LAYERS, max_examples=BUDGET)

    assert report.ok, report.render()
    assert report.layers == list(LAYERS)
    assert report.counts["schema"]["requests"] > 50
    assert report.counts["responses"]["stops"] >= 10
    # the machine reached every outcome its properties speak about, so the pass is not vacuous
    stateful = report.counts["stateful"]
    assert {"200", "400", "402", "403", "404", "409", "500"} <= set(stateful), stateful


def test_without_an_admin_token_the_suite_uses_only_the_public_api(mock_server: dict[str, Any]) -> None:
    target = target_of(mock_server, admin=False, second_key=second_tenant_key(mock_server))
    report = run(target, ["responses", "stateful"], max_examples=BUDGET)

    assert report.ok, report.render()
    assert {"200", "403", "404"} <= set(report.counts["stateful"])
    assert "409" not in report.counts["stateful"]  # no model creation on a server it does not administer


BROKEN = [
    # variant, layers to run, (layer, check) pairs that must name it (the schema layer never spends: a paid
    # generation's answer is judged by the tour, whose every response is validated)
    ("wrong-status", ["schema", "responses"], {("responses", "status_code_conformance")}),
    ("missing-field", ["schema", "responses"], {("responses", "response_schema_conformance")}),
    ("double-charge", ["stateful"], {("stateful", "charge_per_generation")}),
    ("charge-on-failure", ["stateful"], {("stateful", "failure_is_free")}),
    ("cross-tenant", ["stateful"], {("stateful", "tenant_isolation")}),
    ("method-not-allowed", ["schema", "responses"],
     {("schema", "UndeclaredMethodAnswer"), ("responses", "documented_status")}),
]


@pytest.mark.parametrize(("mock_server", "layers", "expected"),
                         [(("-m", "tests.broken", variant), layers, expected) for variant, layers, expected in BROKEN],
                         ids=[variant for variant, _, _ in BROKEN], indirect=["mock_server"])
def test_each_broken_mock_is_caught_by_its_check(mock_server: dict[str, Any], layers: list[str],
                                                 expected: set[tuple[str, str]]) -> None:
    report = run(target_of(mock_server), layers, max_examples=BUDGET, shrink=False)

    assert not report.ok
    found = {(finding.layer, finding.check) for finding in report.findings}
    assert expected <= found, report.render()
    for finding in report.findings:
        assert "curl" in finding.reproduction, finding
        if finding.layer == "stateful" and finding.source == "machine":  # (a property's: its own requests)
            assert "state = LucyDreamMachine()" in finding.reproduction  # the failing sequence, as Hypothesis says


@pytest.mark.parametrize("mock_server", [("-m", "tests.broken", "cross-tenant")], indirect=True)
def test_a_failing_sequence_is_shrunk_to_its_essence(mock_server: dict[str, Any]) -> None:
    report = run(target_of(mock_server), ["stateful"], max_examples=BUDGET)  # shrinking on, as by default

    (finding,) = [finding for finding in report.findings if finding.source == "machine"]  # (the probes' too)
    assert finding.check == "tenant_isolation"
    steps = [line for line in finding.reproduction.splitlines() if line.startswith("state.")]
    assert len(steps) <= 3, finding.reproduction  # open the accounts, use the other's model, tear down
    assert finding.reproduction.count("curl") >= len(steps)


@pytest.mark.parametrize(("mock_server", "overrides", "checks"), [
    # the balance is only seen in successful generations, so when refused requests came in between, the suite
    # cannot tell an overcharged generation from a charged refusal: either name is right
    (("-m", "tests.broken", "double-charge"), {"price": 0.1}, {"charge_per_generation", "wallet_balance"}),
    (("-m", "tests.broken", "cross-tenant"), {}, {"tenant_isolation"}),
], ids=["double-charge", "cross-tenant"], indirect=["mock_server"])
def test_without_an_admin_token_broken_mocks_are_caught_too(mock_server: dict[str, Any], overrides: dict[str, Any],
                                                            checks: set[str]) -> None:
    target = target_of(mock_server, admin=False, second_key=second_tenant_key(mock_server), **overrides)
    report = run(target, ["stateful"], max_examples=BUDGET, shrink=False)

    assert report.checks("stateful") & checks, report.render()


def test_the_wallet_model_learns_the_price_then_blames_the_right_request() -> None:
    wallet = Wallet()
    wallet.generated()
    assert wallet.observe(Decimal("4.9")) is None  # the first balance only anchors
    wallet.generated()
    assert wallet.observe(Decimal("4.8")) is None  # the second teaches the price
    assert wallet.price == Decimal("0.1")
    wallet.free_request("a generation answered 500")
    discrepancy = wallet.observe(Decimal("4.7"))
    assert discrepancy is not None and discrepancy.check == "failure_is_free"
    wallet.generated()
    discrepancy = wallet.observe(Decimal("4.5"))
    assert discrepancy is not None and discrepancy.check == "charge_per_generation"
    assert Wallet(anchor=Decimal("0.1"), price=Decimal("0.1")).affordable() is True
    assert Wallet(anchor=Decimal("0.05"), price=Decimal("0.1")).affordable() is False


def genmock_check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mockserver.cli", "check", "--api", "lucydream", *args],
                          capture_output=True, text=True, timeout=120)


def test_genmock_check_exits_0_when_every_contract_holds(mock_server: dict[str, Any]) -> None:
    api = mock_server["apis"]["lucydream"]
    result = genmock_check("--base-url", api["base_url"], "--key", api["credentials"][0],
                           "--admin-token", mock_server["admin_token"], "--model-id", DEMO_MODEL["model_id"],
                           "--safetensors-path", DEMO_MODEL["safetensors_path"], "--max-examples", "5")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK: every contract held" in result.stdout
    assert "[schema] passed" in result.stdout and "[stateful] passed" in result.stdout


@pytest.mark.parametrize("mock_server", [("-m", "tests.broken", "wrong-status")], indirect=True)
def test_genmock_check_exits_1_and_reports_a_broken_contract(mock_server: dict[str, Any], tmp_path: Path) -> None:
    api = mock_server["apis"]["lucydream"]
    result = genmock_check("--base-url", api["base_url"], "--key", api["credentials"][0], "--model-id",
                           DEMO_MODEL["model_id"], "--safetensors-path", DEMO_MODEL["safetensors_path"],
                           "--layers", "schema,responses", "--max-examples", "3", "--json", str(tmp_path / "r.json"))

    assert result.returncode == 1, result.stdout + result.stderr
    assert "status_code_conformance" in result.stdout and "reproduce:" in result.stdout
    assert "your_api_key_here" not in result.stdout  # the key is shown as $KEY
    findings = json.loads((tmp_path / "r.json").read_text())["findings"]
    # the schema layer never spends: the paid generation's answer is the tour's to judge
    assert "responses" in {finding["layer"] for finding in findings}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(("args", "says"), [
    (("--base-url", "http://127.0.0.1:{port}", "--key", "k"), "cannot reach"),
    (("--base-url", "http://127.0.0.1:{port}", "--key", "k", "--layers", "schema,nope"), "--layers"),
    (("--base-url", "http://127.0.0.1:{port}", "--key", "k", "--model-id", "1"), "--safetensors-path"),
    (("--key", "k"), "--base-url"),
])
def test_genmock_check_exits_2_on_usage_errors(args: tuple[str, ...], says: str) -> None:
    port = free_port()  # nothing listens there
    result = genmock_check(*(arg.format(port=port) for arg in args))

    assert result.returncode == 2, result.stdout + result.stderr
    assert says in result.stderr
