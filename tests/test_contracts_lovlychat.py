"""The LovlyChat contract suite: the mock keeps every contract (with and without an admin token), and each broken
mock is caught by the check meant for it."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from contracts.models.gallery import disorder, expected
from contracts.models.jobs import Fate, JobModel
from contracts.models.prepaid import PrepaidWallet
from contracts.runner import Replay, main, run
from contracts.target import Target

BUDGET = 8  # schemathesis examples per operation, or state-machine sequences: small, for CI
SEQUENCES = 25  # state-machine sequences to find a broken contract in (it stops at the first one)
# without an admin token jobs run in real time: the test makes them short (through the admin API, as a set-up)
SHORT = {"image.standard": 0.05, "image.hd": 0.1, "video.standard": 0.15, "video.hd": 0.2}


def target_of(credentials: dict[str, Any], admin: bool = True, **overrides: Any) -> Target:
    api = credentials["apis"]["lovlychat"]
    return Target(api="lovlychat", base_url=api["base_url"], key=api["credentials"][0],
                  admin_token=credentials["admin_token"] if admin else None, **overrides)


def public_target(credentials: dict[str, Any]) -> Target:
    """What a user of a real server would bring (keys of three wallets, a real clock), made through the admin
    API: --key and --second-key with plenty of LoveCoins, --race-key with 45 (4 images and a half)."""
    api = credentials["apis"]["lovlychat"]
    admin = httpx.Client(base_url=api["admin_url"], headers={"authorization": f"Bearer {credentials['admin_token']}"})
    with admin:
        admin.post("/clock", json={"mode": "real"}).raise_for_status()
        admin.patch("/config", json={"durations": SHORT, "slots": 4}).raise_for_status()
        keys = []
        for name, balance in (("first", 100000), ("second", 100000), ("race", 45)):
            response = admin.post("/tenants", json={"name": name, "balance": balance,
                                                    "credentials": [f"lc_tests_{name}_key_0123456789"]})
            response.raise_for_status()
            keys.append(response.json()["credentials"][0])
    return Target(api="lovlychat", base_url=api["base_url"], key=keys[0], second_key=keys[1], race_key=keys[2],
                  job_timeout=10.0, poll_interval=0.05)


def test_the_mock_keeps_every_contract(mock_server: dict[str, Any]) -> None:
    # (the schema layer needs no admin token: genmock_check below runs it, without one)
    report = run(target_of(mock_server), ["responses", "stateful"], max_examples=12)

    assert report.ok, report.render()
    assert report.counts["responses"]["stops"] >= 45
    # the machine reached every outcome its properties speak about, so the pass is not vacuous
    counts = report.counts["stateful"]
    assert {"200", "202", "400", "401", "402", "404", "jobs completed", "jobs failed"} <= set(counts), counts
    assert counts["parallel requests"] == 5 * 12  # five rounds, each on a fresh tenant


def test_without_an_admin_token_the_suite_uses_only_the_public_api(mock_server: dict[str, Any]) -> None:
    report = run(public_target(mock_server), ["responses", "stateful"], max_examples=BUDGET)

    assert report.ok, report.render()
    assert report.counts["responses"]["stops"] >= 45
    counts = report.counts["stateful"]
    assert {"200", "202", "400", "401", "404", "jobs completed", "jobs failed"} <= set(counts), counts
    assert counts["parallel requests"] == 2 * 12  # rounds on the --race-key wallet: 45 = probe + hd + standard
    assert not any("clock" in line for line in report.render().splitlines() if "curl" in line)


BROKEN = [
    # variant, layers to run, budget, (layer, check) pairs that must name it
    ("lc-wrong-status", ["responses"], BUDGET,
     {("responses", "status_code_conformance"), ("responses", "documented_status")}),
    ("lc-missing-field", ["responses"], BUDGET, {("responses", "response_schema_conformance")}),
    ("lc-double-charge", ["stateful"], SEQUENCES, {("stateful", "charge_per_job")}),
    ("lc-no-refund", ["stateful"], SEQUENCES, {("stateful", "refund_on_failure")}),
    ("lc-refund-twice", ["stateful"], SEQUENCES, {("stateful", "refund_once")}),
    ("lc-402-queues", ["stateful"], SEQUENCES, {("stateful", "payment_required")}),
    ("lc-402-deducts", ["stateful"], SEQUENCES, {("stateful", "payment_required")}),
    ("cross-tenant", ["stateful"], SEQUENCES, {("stateful", "tenant_isolation")}),
    ("lc-gallery-leak", ["stateful"], SEQUENCES, {("stateful", "tenant_isolation")}),
    ("lc-gallery-order", ["stateful"], SEQUENCES, {("stateful", "gallery_order")}),
    ("lc-regress", ["stateful"], SEQUENCES, {("stateful", "job_lifecycle")}),
    # one request at a time it debits right: only requests at the same moment show it (the machine gets 1 sequence)
    ("lc-racy-debit", ["stateful"], 1, {("stateful", "concurrent_debit")}),
]


@pytest.mark.parametrize(("mock_server", "layers", "budget", "expected_checks"),
                         [(("-m", "tests.broken", variant), *rest) for variant, *rest in BROKEN],
                         ids=[variant for variant, *_ in BROKEN], indirect=["mock_server"])
def test_each_broken_mock_is_caught_by_its_check(mock_server: dict[str, Any], layers: list[str], budget: int,
                                                 expected_checks: set[tuple[str, str]]) -> None:
    report = run(target_of(mock_server), layers, max_examples=budget, shrink=False)

    found = {(finding.layer, finding.check) for finding in report.findings}
    assert expected_checks <= found, report.render()
    for finding in report.findings:
        assert "curl" in finding.reproduction, finding
        if finding.layer == "stateful" and finding.source == "machine":  # (a property's: its own requests)
            # the failing sequence, as Hypothesis says (unless a broken server, e.g. one that leaks every
            # wallet's assets, made its replay go another way: then the requests alone, and a note)
            assert "state = LovlyChatMachine()" in finding.reproduction or "replayed" in finding.message


@pytest.mark.parametrize("mock_server", [("-m", "tests.broken", "lc-wrong-status")], indirect=True)
def test_a_job_answered_neither_202_nor_402_is_not_blamed_on_the_402_rule(mock_server: dict[str, Any]) -> None:
    """Each finding names the property it breaks: an accepted job answered 200 breaks job_accepted, not
    payment_required (which is about 402s)."""
    report = run(target_of(mock_server), ["stateful"], max_examples=SEQUENCES, shrink=False)
    checks = {finding.check for finding in report.findings if finding.layer == "stateful"}
    assert "job_accepted" in checks and "payment_required" not in checks, report.render()


@pytest.mark.parametrize("mock_server", [("-m", "tests.broken", "lc-402-deducts")], indirect=True)
def test_a_shrunk_finding_whose_replay_drew_other_steps_is_still_named_by_its_property(
        mock_server: dict[str, Any]) -> None:
    """A 402 that deducts changes what later rules can do: Hypothesis' replay while shrinking draws other steps
    (FlakyStrategyDefinition). That is the broken property's finding, not a machine error of its own."""
    report = run(target_of(mock_server), ["stateful"], max_examples=25, shrink=True, only=Replay("machine"))
    checks = {finding.check for finding in report.findings}
    assert "payment_required" in checks and "machine_error" not in checks, report.render()


@pytest.mark.parametrize("mock_server", [("-m", "tests.broken", "lc-racy-debit")], indirect=True)
def test_a_property_broken_in_several_rounds_is_one_finding(mock_server: dict[str, Any]) -> None:
    report = run(target_of(mock_server), ["stateful"], max_examples=1, shrink=False,
                 only=Replay("contracts.races.lovlychat"))
    [finding] = [finding for finding in report.findings if finding.check == "concurrent_debit"]
    assert "rounds broke it" in finding.message and finding.message.count("\n- ") >= 2, finding.message


@pytest.mark.parametrize(("mock_server", "budget", "check"), [
    (("-m", "tests.broken", "lc-double-charge"), SEQUENCES, "charge_per_job"),
    (("-m", "tests.broken", "cross-tenant"), SEQUENCES, "tenant_isolation"),
    (("-m", "tests.broken", "lc-racy-debit"), 1, "concurrent_debit"),  # on the --race-key wallet
], ids=["double-charge", "cross-tenant", "racy-debit"], indirect=["mock_server"])
def test_without_an_admin_token_broken_mocks_are_caught_too(mock_server: dict[str, Any], budget: int,
                                                            check: str) -> None:
    report = run(public_target(mock_server), ["stateful"], max_examples=budget, shrink=False)

    assert check in report.checks("stateful"), report.render()


def test_genmock_check_runs_every_layer_without_an_admin_token(mock_server: dict[str, Any],
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    target = public_target(mock_server)
    code = genmock_check("--base-url", target.base_url, "--key", target.key, "--second-key", str(target.second_key),
                         "--race-key", str(target.race_key), "--job-timeout", "10", "--poll-interval", "0.05",
                         "--max-examples", "2", "--no-shrink", "--allow-unverified", "payment_required")

    out = capsys.readouterr().out
    assert code == 0, out
    # the demo wallet covers every price: without an admin token the tour cannot provoke a 402, and says so
    assert "not verified (accepted): payment_required: the wallet of --key covers every price" in out
    assert "[schema] passed" in out and "[responses] passed" in out
    schema_requests = re.search(r"note: (\d+) requests; fuzzing budget", out)
    # schemathesis' requests over the 3 operations that cannot charge; it never spends the wallet of --key
    assert schema_requests and int(schema_requests[1]) > 100
    assert "the 1 paid operations were not sent" in out
    assert "[stateful] passed" in out and "concurrent_debit: 2 round(s) of 12 job requests" in out
    assert target.key not in out  # shown as $KEY


@pytest.mark.parametrize(("args", "says"), [(("--job-timeout", "0"), "--job-timeout"),
                                            (("--poll-interval", "-1"), "--poll-interval")])
def test_genmock_check_refuses_a_wait_that_cannot_end(args: tuple[str, ...], says: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert genmock_check("--base-url", "http://127.0.0.1:9", "--key", "k" * 24, *args) == 2
    assert says in capsys.readouterr().err


def genmock_check(*args: str) -> int:
    """`genmock check --api lovlychat ARGS` in this process (the CLI forwards `check` to this function)."""
    return main(["--api", "lovlychat", *args])


def test_the_wallet_model_bounds_unseen_refunds_and_blames_the_right_request() -> None:
    wallet = PrepaidWallet()
    wallet.accepted(10)
    assert wallet.observe(490, pending=0) is None  # learns the start: 500
    wallet.accepted(60)
    assert wallet.observe(430, pending=60) is None  # a job that may fail: 430 to 490 are all right
    assert wallet.observe(490, pending=60) is None
    wallet.failed(60)
    discrepancy = wallet.observe(430, pending=0)  # seen failed, yet not refunded
    assert discrepancy is not None and discrepancy.check == "refund_on_failure"
    wallet.failed(0)
    wallet.accepted(10)
    discrepancy = wallet.observe(470, pending=0)  # 480 expected: charged twice
    assert discrepancy is not None and discrepancy.check == "charge_per_job"
    wallet.refused("a 402", 150)
    discrepancy = wallet.observe(630, pending=0)  # 480 expected: the refused job was queued and refunded
    assert discrepancy is not None and discrepancy.check == "payment_required"
    assert PrepaidWallet(start=10).affordable(10, 0) is True
    assert PrepaidWallet(start=5).affordable(10, 0) is False
    assert PrepaidWallet(start=5).affordable(10, 60) is None


def test_the_job_model_allows_only_forward_moves() -> None:
    job = JobModel("job_1", "A", "image", "standard", "c", 10, Fate.OPEN)
    view = {"id": "job_1", "kind": "image", "variant": "standard", "characterId": "c", "sourceAssetId": None,
            "sourceImageUrl": None, "cost": 10, "refunded": 0, "queuePosition": None, "startedAt": "t",
            "completedAt": None, "assets": [], "error": None}
    assert job.observe({**view, "status": "running", "progress": 0.5}) == []
    problems = job.observe({**view, "status": "running", "progress": 0.25})
    assert [problem.check for problem in problems] == ["job_lifecycle"]  # progress fell
    asset = {"id": "ast_1", "jobId": "job_1", "kind": "image", "characterId": "c", "mimeType": "image/png",
             "createdAt": "2026-01-01T00:00:00Z"}
    assert job.observe({**view, "status": "completed", "progress": 1, "completedAt": "t", "assets": [asset]}) == []
    problems = job.observe({**view, "status": "queued", "progress": 1, "queuePosition": 1, "startedAt": None})
    assert "job_lifecycle" in {problem.check for problem in problems} and job.status == "completed"


def test_the_gallery_model_is_newest_first_then_by_id() -> None:
    assets = [{"id": "ast_a", "characterId": "x", "createdAt": "2026-01-01T00:00:01Z"},
              {"id": "ast_b", "characterId": "y", "createdAt": "2026-01-01T00:00:01Z"},
              {"id": "ast_c", "characterId": "x", "createdAt": "2026-01-01T00:00:00Z"}]
    assert expected(assets) == ["ast_b", "ast_a", "ast_c"]
    assert expected(assets, "x") == ["ast_a", "ast_c"]
    assert disorder(assets) is not None and disorder(assets)[0] == "gallery_order"  # type: ignore[index]
    assert disorder([assets[1], assets[0], assets[2]]) is None
    assert disorder([assets[0], assets[0]]) == ("gallery_paging", "the pages repeat ast_a")
    assert disorder([assets[1]], "x") is not None
