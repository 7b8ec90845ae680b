"""`genmock check` judges any LovlyChat server, not only genmock's mock: tests/foreign/lovlychat.py, written from
the spec alone (no genmock code, no admin API), keeps every contract; started with one deliberate deviation it is
caught by the one property the deviation breaks, with a reproduction that replays it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from mockserver.testing import stop

ROOT = Path(__file__).resolve().parents[1]
# the three wallets a user of a real server would bring: two that pay for the tour's and the machine's jobs (and
# keep each other's apart), one of 45 LoveCoins for the concurrency property (a probe, then two rounds: hd, standard)
WALLETS = {"--key": ("lc_foreign_first_key_0123456789", 100000, "KEY"),
           "--second-key": ("lc_foreign_second_key_012345678", 100000, "SECOND_KEY"),
           "--race-key": ("lc_foreign_race_key_0123456789", 45, "RACE_KEY")}
# Without an admin token the tour provokes its 402 only if --key's wallet, after paying for the jobs of the layers
# before it and its own, is short of some price: how much those spend is the suite's to decide (the schema layer's
# spending changes with its version and seed), so no fixed balance is both enough for the run and short after the
# tour. (The concurrency property still judges the 402s of the --race-key wallet.)
UNVERIFIABLE = ("payment_required",)
DEVIATION = "stale-image-price"  # a standard image is debited 12 LoveCoins while the price list says 10
BUDGET = ("--max-examples", "5", "--no-shrink")  # shrinking a sequence on real time replays it many times


@contextmanager
def foreign_server(*args: str) -> Iterator[str]:
    """The base URL of a fresh foreign server holding the three wallets, on 127.0.0.1; stopped by its PID."""
    wallets = [part for key, balance, _ in WALLETS.values() for part in ("--wallet", f"{key}={balance}")]
    process = subprocess.Popen([sys.executable, "-m", "tests.foreign.lovlychat", "--port", "0", *wallets, *args],
                               cwd=ROOT, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        said = process.stdout.readline() if process.stdout else ""
        assert said.startswith("listening on "), f"the foreign server did not start: {said!r}"
        yield said.removeprefix("listening on ").strip()
    finally:
        stop(process)


def genmock_check(base_url: str, report: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`genmock check --api lovlychat ARGS` as a user runs it: the three keys, no admin token, short real-time
    waits."""
    keys = [part for option, (key, _, _) in WALLETS.items() for part in (option, key)]
    accepted = [part for name in UNVERIFIABLE for part in ("--allow-unverified", name)]
    return subprocess.run([sys.executable, "-m", "mockserver.cli", "check", "--api", "lovlychat", "--base-url",
                           base_url, *keys, "--job-timeout", "10", "--poll-interval", "0.05", *BUDGET, *accepted,
                           "--json", str(report), *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_a_server_written_from_the_spec_keeps_every_contract(tmp_path: Path) -> None:
    with foreign_server() as base_url:
        result = genmock_check(base_url, tmp_path / "report.json")

    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["verdict"] == "held" and report["findings"] == []
    assert {(gap["property"], gap["accepted"]) for gap in report["gaps"]} == {(name, True) for name in UNVERIFIABLE}
    assert report["layers"] == ["schema", "responses", "stateful"]
    # every layer judged the server's answers, so the pass is not vacuous
    assert report["counts"]["responses"]["stops"] >= 45
    stateful = report["counts"]["stateful"]
    assert {"202", "400", "401", "jobs completed", "jobs failed"} <= set(stateful), stateful
    assert stateful["parallel requests"] == 2 * 12  # two rounds on the --race-key wallet
    assert not any(key in result.stdout for key, _, _ in WALLETS.values())


def test_jobs_that_fail_and_are_refunded_break_no_contract(tmp_path: Path) -> None:
    """The spec lets any job fail after it was accepted (refunded in full): the stateful layer, the concurrency
    property's rounds on the --race-key wallet included, must not take such refunds for wrong debits."""
    with foreign_server("--fail-every", "1") as base_url:
        result = genmock_check(base_url, tmp_path / "report.json", "--layers", "stateful")

    assert result.returncode == 0, result.stdout + result.stderr
    stateful = json.loads((tmp_path / "report.json").read_text())["counts"]["stateful"]
    assert stateful["jobs failed"] and "jobs completed" not in stateful, stateful
    assert stateful["parallel requests"] >= 2 * 12


def test_a_tour_whose_jobs_all_fail_says_what_it_could_not_tour(tmp_path: Path) -> None:
    """Every job fails (as the spec allows): the tour's gallery, videos and 402 have nothing to work on, which is
    reported as not verified, never as held."""
    with foreign_server("--fail-every", "1") as base_url:
        result = genmock_check(base_url, tmp_path / "report.json", "--layers", "responses")

    assert result.returncode == 3, result.stdout + result.stderr
    gaps = json.loads((tmp_path / "report.json").read_text())["gaps"]
    [toured] = [gap for gap in gaps if gap["property"] == "paid_job_tour"]
    assert not toured["accepted"] and "did not complete (last seen failed)" in toured["reason"]


def test_a_deviation_is_reported_alone_by_the_property_it_breaks_and_replays(tmp_path: Path) -> None:
    with foreign_server("--deviation", DEVIATION) as base_url:
        result = genmock_check(base_url, tmp_path / "report.json")

    assert result.returncode == 1, result.stdout + result.stderr
    findings = json.loads((tmp_path / "report.json").read_text())["findings"]
    assert [(finding["layer"], finding["check"]) for finding in findings] == [("stateful", "charge_per_job")], \
        result.stdout
    assert "cost 12, but the listed price of image standard was 10" in findings[0]["message"]
    reproduction = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith("curl ")]
    assert reproduction and not any(key in result.stdout for key, _, _ in WALLETS.values())

    with foreign_server("--deviation", DEVIATION) as deviant:
        seen = replay(reproduction, base_url, deviant)
    with foreign_server() as correct:
        unseen = replay(reproduction, base_url, correct)

    assert overcharged(seen), seen
    assert any((job["kind"], job["variant"]) == ("image", "standard") for job in unseen), unseen
    assert not overcharged(unseen), unseen


def replay(reproduction: list[str], recorded: str, base_url: str) -> list[dict[str, Any]]:
    """Run the curl lines (recorded against `recorded`) against `base_url`, each key in its shell variable; the
    jobs the server accepted, each with the price it lists for the job's kind and variant."""
    prices = httpx.get(f"{base_url}/v1/pricing", headers={"x-api-key": WALLETS["--key"][0]}).json()["prices"]
    environment = {**os.environ, **{variable: key for key, _, variable in WALLETS.values()}}
    accepted = []
    for line in reproduction:
        answer = subprocess.run(["bash", "-c", line.replace(recorded, base_url)], env=environment,
                                capture_output=True, timeout=30).stdout
        try:
            job = json.loads(answer)
        except ValueError:  # an asset's bytes
            continue
        if isinstance(job, dict) and {"wallet", "cost", "kind", "variant"} <= set(job):
            accepted.append({**job, "listed": prices[job["kind"]][job["variant"]]})
    return accepted


def overcharged(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [job for job in jobs if job["cost"] != job["listed"]]
