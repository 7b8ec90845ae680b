"""`genmock check --replay REPORT`: each finding of an earlier run's JSON report is looked for again by running
only the part of the run that found it (a state machine's recorded failing example alone), on the same or
another server: exit 1 while one recurs, 0 once none does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from contracts.runner import Replay
from tests.servers import running_mock

SERVE = ("--db", ":memory:", "--seed", "1", "--clock", "virtual")


def check(api: str, served: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    origin = served["apis"][api]
    return subprocess.run([sys.executable, "-m", "mockserver.cli", "check", "--api", api, "--base-url",
                           origin["base_url"], "--admin-token", served["admin_token"], *args],
                          capture_output=True, text=True, timeout=300)


def recorded(path: Path) -> list[dict[str, Any]]:
    findings: list[dict[str, Any]] = json.loads(path.read_text())["findings"]
    return findings


def test_a_state_machine_finding_replays_its_one_sequence_where_it_recurs_and_not_where_it_was_fixed(
        tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    with running_mock(*SERVE, "--api", "lovlychat", launcher=("-m", "tests.broken", "lc-double-charge")) as broken:
        first = check("lovlychat", broken, "--layers", "stateful", "--max-examples", "5", "--json", str(report))
        assert first.returncode == 1, first.stdout + first.stderr
        findings = recorded(report)
        number = next(index for index, finding in enumerate(findings, 1) if finding["check"] == "charge_per_job")
        machine = findings[number - 1]
        assert machine["source"] == "machine" and machine["blob"].count(":") == 1  # hypothesis version:example

        again = check("lovlychat", broken, "--replay", str(report), "--finding", str(number))
        assert again.returncode == 1, again.stdout + again.stderr
        assert f"{number}. charge_per_job on POST /v1/generation/jobs: REPRODUCED" in again.stdout
        assert "1 sequences run" in again.stdout  # the recorded example alone, not a new search

    with running_mock(*SERVE, "--api", "lovlychat") as fixed:
        after = check("lovlychat", fixed, "--replay", str(report))
        assert after.returncode == 0, after.stdout + after.stderr
        assert after.stdout.count(": not reproduced") == len(findings) and "REPRODUCED" not in after.stdout


def test_a_schema_finding_replays_its_operation_with_the_recorded_seed(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    with running_mock(*SERVE, "--api", "lucydream", launcher=("-m", "tests.broken", "method-not-allowed")) as broken:
        first = check("lucydream", broken, "--layers", "schema", "--max-examples", "3", "--seed", "4",
                      "--json", str(report))
        assert first.returncode == 1, first.stdout + first.stderr
        [found] = [finding for finding in recorded(report) if finding["check"] == "UndeclaredMethodAnswer"]
        assert found["source"] == "schema"
        again = check("lucydream", broken, "--replay", str(report))
        assert again.returncode == 1 and "UndeclaredMethodAnswer on POST /wp-json/apiservices/v1/generate: " \
                                          "REPRODUCED" in again.stdout, again.stdout + again.stderr
        assert "seed 4" in again.stdout  # the recorded seed, not the default


@pytest.mark.parametrize(("report", "finding", "says"), [
    ({"api": "lucydream", "findings": []}, None, "no report of an --api lovlychat run"),
    ({"api": "lovlychat", "findings": [{"layer": "responses", "check": "x", "operation": "GET /"}]}, "2",
     "--finding 2: the report has 1 finding(s)"),
])
def test_replay_refuses_a_report_it_cannot_replay(tmp_path: Path, report: dict[str, Any], finding: str | None,
                                                  says: str) -> None:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    with running_mock(*SERVE, "--api", "lovlychat") as served:
        result = check("lovlychat", served, "--replay", str(path), *(("--finding", finding) if finding else ()))
    assert result.returncode == 2 and says in result.stderr, result.stdout + result.stderr


def test_what_each_finding_replays() -> None:
    assert Replay.of({"layer": "schema", "check": "c", "operation": "GET /v1/pricing", "source": "schema"}) == \
        Replay("schema", frozenset({"GET /v1/pricing"}))
    machine = Replay.of({"layer": "responses", "check": "c", "operation": "o", "source": "machine", "blob": "6:AB"})
    assert (machine.layer, machine.blob) == ("stateful", "6:AB")  # a response the machine's requests drew
    race = Replay.of({"layer": "stateful", "check": "c", "operation": "o", "source": "contracts.races.lovlychat"})
    assert (race.layer, race.blob, race.operations) == ("stateful", None, None)
    assert Replay.of({"layer": "responses", "check": "c", "operation": "o"}).source == "tour"  # an older report
