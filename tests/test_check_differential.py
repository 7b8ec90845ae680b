"""`genmock check --compare-with-mock`: the same seeded run against the target and against a genmock started for the
purpose, and where the two part. Genmock against itself parts nowhere; a deliberately broken genmock parts where it
is broken (money, status, shape), named by operation; the LovlyChat server written from the spec alone parts in the
money its deviation moves, and only there."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from contracts.client import KeyScheme
from contracts.differences import MONEY, Side, compare
from contracts.exchanges import Exchange
from tests.conftest import SERVE_ARGS
from tests.servers import running_mock
from tests.test_check_foreign import DEVIATION, WALLETS, foreign_server

ROOT = Path(__file__).resolve().parents[1]
BUDGET = ("--max-examples", "2", "--no-shrink")
CREATE = "POST /v1/generation/jobs"


def compared(base_url: str, report: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """`genmock check --api lovlychat --compare-with-mock` as a user runs it, and its JSON report."""
    result = subprocess.run([sys.executable, "-m", "mockserver.cli", "check", "--api", "lovlychat", "--base-url",
                             base_url, *BUDGET, "--compare-with-mock", "--json", str(report), *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert report.exists(), result.stdout + result.stderr
    return result, json.loads(report.read_text())


def differences(report: dict[str, Any], kind: str | None = None) -> list[dict[str, Any]]:
    return [each for each in report["differences"]["items"] if kind is None or each["kind"] == kind]


def test_genmock_compared_with_itself_parts_nowhere(mock_server: dict[str, Any], tmp_path: Path) -> None:
    result, report = compared(mock_server["apis"]["lovlychat"]["base_url"], tmp_path / "report.json",
                              "--admin-token", mock_server["admin_token"])

    assert result.returncode == 0, result.stdout + result.stderr
    assert differences(report) == [], result.stdout
    compared_ = report["differences"]
    # not vacuous: most requests of every layer paired, ids mapped, money compared, the same checks judged alike
    assert compared_["paired"] > compared_["target_only"] and compared_["ids_mapped"] > 0, compared_
    assert compared_["money_compared"] > 0, compared_
    verdicts = compared_["verdicts"]
    assert {each["layer"] for each in verdicts} == {"schema", "responses", "stateful"}
    assert all(each["target"] == each["mock"] == "held" for each in verdicts), verdicts
    assert "[compared with genmock] no difference that matters: 0 difference(s) that matter, 0 other(s)" in \
        result.stdout


# variant, the kind of difference, what differs, the target's, genmock's, whether it fails the run by itself
BROKEN = [("lc-double-charge", MONEY, "money moved", "20", "10", True),  # a standard image (10) debited twice
          ("lc-wrong-status", "status", "status", "200", "202", False),  # the same class: reported only
          ("lc-missing-field", "shape", "202 body.wallet", "absent", "number", False)]


@pytest.mark.parametrize(("variant", "kind", "what", "target", "mock", "matters"), BROKEN)
def test_a_broken_genmock_parts_where_it_is_broken(tmp_path: Path, variant: str, kind: str, what: str, target: str,
                                                   mock: str, matters: bool) -> None:
    with running_mock(*SERVE_ARGS, launcher=("-m", "tests.broken", variant)) as served:
        result, report = compared(served["apis"]["lovlychat"]["base_url"], tmp_path / "report.json",
                                  "--admin-token", served["admin_token"], "--layers", "responses")

    assert result.returncode == 1, result.stdout + result.stderr
    found = [(each["operation"], each["what"], each["target"], each["mock"], each["matters"])
             for each in differences(report, kind)]
    assert (CREATE, what, target, mock, matters) in found, result.stdout
    assert {operation for operation, *_ in found} == {CREATE}, found
    assert f"{kind} on {CREATE} (responses" in result.stdout
    # each side's verdicts: genmock's run held every check it judged, among them those the target broke
    verdicts = report["differences"]["verdicts"]
    assert {each["mock"] for each in verdicts} - {None} == {"held"}, verdicts
    assert any(each["target"] == "violated" and each["mock"] == "held" for each in verdicts), verdicts


def test_the_server_written_from_the_spec_parts_only_in_the_money_its_deviation_moves(tmp_path: Path) -> None:
    keys = [part for option, (key, _, _) in WALLETS.items() for part in (option, key)]
    options = (*keys, "--job-timeout", "10", "--poll-interval", "0.05", "--layers", "responses",
               "--allow-unverified", "payment_required")
    with foreign_server() as base_url:
        correct, agreeing = compared(base_url, tmp_path / "correct.json", *options)
    with foreign_server("--deviation", DEVIATION) as base_url:
        deviant, parting = compared(base_url, tmp_path / "deviant.json", *options)

    assert correct.returncode == 0, correct.stdout + correct.stderr
    assert agreeing["differences"]["matter"] == 0 and agreeing["differences"]["money_compared"] > 0, correct.stdout
    # genmock held the balances the target showed, and charged the prices it lists
    notes = " ".join(agreeing["differences"]["notes"])
    assert f"--key {WALLETS['--key'][1]}" in notes and "GET /v1/pricing" in notes, notes
    # the tour does not judge what a job costs: the money it moved differently alone fails the run
    assert deviant.returncode == 1, deviant.stdout + deviant.stderr
    assert parting["findings"] == [] and parting["verdict"] == "violated"
    money = [(each["operation"], each["target"], each["mock"], each["matters"])
             for each in differences(parting, MONEY)]
    assert money and set(money) == {(CREATE, "12", "10", True)}, deviant.stdout
    assert all(each["matters"] == (each["kind"] == MONEY) for each in differences(parting)), deviant.stdout
    assert not any(key in deviant.stdout for key, _, _ in WALLETS.values())


SCHEME = KeyScheme("X-API-Key")


def exchange(operation: str, path: str, status: int, answer: Any) -> Exchange:
    method = operation.split(" ", 1)[0]
    return Exchange("stateful", operation, method, path, "", {"x-api-key": "lc_wallet_key_000000000000"}, b"",
                    status, "application/json", answer)


def jobs(refunded_twice: bool, prefix: str) -> list[Exchange]:
    """A wallet of 100: a video (60) that fails and is refunded, then an image (10)."""
    return [exchange(CREATE, "/v1/generation/jobs", 202, {"id": f"{prefix}1", "wallet": 40, "cost": 60}),
            exchange("GET /v1/generation/jobs/{id}", f"/v1/generation/jobs/{prefix}1", 200,
                     {"id": f"{prefix}1", "status": "failed", "refunded": 60}),
            exchange(CREATE, "/v1/generation/jobs", 202,
                     {"id": f"{prefix}2", "wallet": 150 if refunded_twice else 90, "cost": 10})]


@pytest.mark.parametrize("refunded_twice", [False, True])
def test_money_is_what_a_request_moved_net_of_the_refunds_seen_landing_before_it(refunded_twice: bool) -> None:
    opening = {"lc_wallet_key_000000000000": 100.0}
    comparison = compare("lovlychat", SCHEME, {CREATE}, Side(jobs(refunded_twice, "job_t"), "http://t", opening),
                         Side(jobs(False, "job_m"), "http://m", opening), lengths=True)

    assert comparison.paired == 3 and comparison.ids == 2  # the poll pairs once the first job's id is mapped
    assert comparison.money_compared == 2
    money = [(each.target, each.mock) for each in comparison.differences if each.kind == MONEY]
    assert money == ([("-50", "10")] if refunded_twice else [])
