"""`genmock check` as a user runs it, in a subprocess: progress on stderr, the target left as it was found,
refused keys as usage errors."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts.progress import LiveDisplay, LogLines, for_stream
from tests.servers import running_mock


def genmock_check(api: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mockserver.cli", "check", "--api", api, *args],
                          capture_output=True, text=True, timeout=timeout)


def admin_client(served: dict[str, Any], api: str) -> httpx.Client:
    return httpx.Client(base_url=served["apis"][api]["admin_url"],
                        headers={"authorization": f"Bearer {served['admin_token']}"})


def snapshot(admin: httpx.Client) -> dict[str, Any]:
    """What a check must leave as it found it: the tenants (and their balances), armed faults, the clock's mode."""
    return {"tenants": admin.get("/tenants").json()["tenants"], "faults": admin.get("/faults").json()["faults"],
            "clock": admin.get("/clock").json()["mode"]}


def test_a_check_with_an_admin_token_leaves_the_server_as_it_found_it(tmp_path: Path) -> None:
    with running_mock("--db", str(tmp_path / "state.sqlite3"), "--seed", "3") as served:
        lovlychat, lucydream = admin_client(served, "lovlychat"), admin_client(served, "lucydream")
        with lovlychat, lucydream:
            # someone's own state, which the check must neither spend nor remove
            mine = lovlychat.post("/tenants", json={"name": "mine", "balance": 40}).json()
            lovlychat.post("/faults", json={"operation": "job", "tenantId": mine["id"], "count": 3})
            before = {"lovlychat": snapshot(lovlychat), "lucydream": snapshot(lucydream)}
            assert before["lovlychat"]["clock"] == "real"

            first = genmock_check("lovlychat", "--base-url", served["apis"]["lovlychat"]["base_url"],
                                  "--admin-token", served["admin_token"], "--max-examples", "2", "--no-shrink")
            lucydream.post("/clock", json={"mode": "virtual"})  # one clock for both: the next finds it virtual
            before["lucydream"]["clock"] = before["lovlychat"]["clock"] = "virtual"
            second = genmock_check("lucydream", "--base-url", served["apis"]["lucydream"]["base_url"],
                                   "--admin-token", served["admin_token"], "--max-examples", "2", "--no-shrink")

            for result in (first, second):
                assert result.returncode == 0, result.stdout + result.stderr
                assert "removed the" in result.stdout and "tenant(s) the suite created" in result.stdout
            assert {"lovlychat": snapshot(lovlychat), "lucydream": snapshot(lucydream)} == before


def test_without_a_tty_each_layer_logs_a_line_as_it_starts_and_ends(mock_server: dict[str, Any]) -> None:
    api = mock_server["apis"]["lucydream"]
    result = genmock_check("lucydream", "--base-url", api["base_url"], "--admin-token", mock_server["admin_token"],
                           "--max-examples", "2", "--no-shrink")

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    for layer in ("schema", "responses", "stateful"):
        assert f"[{layer}] started" in lines, result.stderr
        assert any(line.startswith(f"[{layer}] done in ") and line.endswith(": 0 finding(s)") for line in lines)
    assert lines.index("[schema] started") < lines.index("[responses] started") < lines.index("[stateful] started")


@pytest.mark.parametrize(("api", "option"), [("lovlychat", "--key"), ("lovlychat", "--second-key"),
                                             ("lovlychat", "--race-key"), ("lucydream", "--key"),
                                             ("lucydream", "--second-key"), ("aliveai", "--key"),
                                             ("aliveai", "--second-key")])
def test_a_refused_key_is_a_usage_error(mock_server: dict[str, Any], api: str, option: str) -> None:
    served = mock_server["apis"][api]
    keys = {"--key": served["credentials"][0], option: "lc_not_a_key_of_anyone_000000"}
    result = genmock_check(api, "--base-url", served["base_url"], *(part for item in keys.items() for part in item),
                           timeout=60)

    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]  # one line
    assert f"refused {option}" in result.stderr and ("401" in result.stderr or "403" in result.stderr)


def test_an_aliveai_check_with_an_admin_token_leaves_the_server_as_it_found_it(mock_server: dict[str, Any]) -> None:
    with admin_client(mock_server, "aliveai") as aliveai:
        before = snapshot(aliveai)
        result = genmock_check("aliveai", "--base-url", mock_server["apis"]["aliveai"]["base_url"], "--admin-token",
                               mock_server["admin_token"], "--layers", "stateful", "--max-examples", "2",
                               "--no-shrink", timeout=120)

        assert result.returncode == 0, result.stdout + result.stderr
        assert "removed the" in result.stdout and "OK: every contract held" in result.stdout
        assert snapshot(aliveai) == before


def test_without_an_admin_token_a_key_is_needed(mock_server: dict[str, Any]) -> None:
    result = genmock_check("lovlychat", "--base-url", mock_server["apis"]["lovlychat"]["base_url"], timeout=60)

    assert result.returncode == 2 and "--key" in result.stderr


def test_a_model_id_needs_the_key_of_its_tenant(mock_server: dict[str, Any]) -> None:
    result = genmock_check("lucydream", "--base-url", mock_server["apis"]["lucydream"]["base_url"],
                           "--admin-token", mock_server["admin_token"], "--model-id", "12345",
                           "--safetensors-path", "https://your-bucket-url/12345.safetensors", timeout=60)

    assert result.returncode == 2 and "--key" in result.stderr


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_progress_is_a_live_display() -> None:
    terminal = Terminal()
    progress = for_stream(terminal)
    assert isinstance(progress, LiveDisplay) and isinstance(for_stream(io.StringIO()), LogLines)

    progress.layer("schema")
    progress.step("POST /v1/generation/jobs (fuzzing)", examples=12, findings=1)
    progress.done(1)
    progress.close()

    shown = terminal.getvalue()
    assert "[schema]" in shown and "12 examples" in shown and "1 finding(s)" in shown


def test_what_could_not_be_verified_fails_the_run_unless_accepted(mock_server: dict[str, Any], tmp_path: Path) -> None:
    """Without a second tenant's key, without --price and without an admin token, isolation, the exact price and
    model creation are not verified: the run is not a pass (exit 3) until the user accepts those gaps by name."""
    api = mock_server["apis"]["lucydream"]
    given = ("--base-url", api["base_url"], "--key", api["credentials"][0], "--model-id", "12345",
             "--safetensors-path", "https://your-bucket-url/12345.safetensors", "--max-examples", "5", "--no-shrink")

    gaps = genmock_check("lucydream", *given, "--json", str(tmp_path / "gaps.json"))
    accepted = genmock_check("lucydream", *given, "--allow-unverified", "tenant_isolation,model_creation",
                             "--allow-unverified", "exact_price", "--json", str(tmp_path / "accepted.json"))
    unknown = genmock_check("lucydream", *given, "--allow-unverified", "isolation")

    assert gaps.returncode == 3, gaps.stdout + gaps.stderr
    report = json.loads((tmp_path / "gaps.json").read_text())
    assert report["verdict"] == "not verified" and report["findings"] == []
    assert {(gap["property"], gap["accepted"]) for gap in report["gaps"]} == {
        ("tenant_isolation", False), ("exact_price", False), ("model_creation", False)}
    assert "NOT VERIFIED: exact_price, model_creation, tenant_isolation" in gaps.stdout
    assert "OK: every contract" not in gaps.stdout
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert json.loads((tmp_path / "accepted.json").read_text())["verdict"] == "held"
    assert "3 gap(s) accepted" in accepted.stdout
    assert unknown.returncode == 2 and "--allow-unverified: unknown isolation" in unknown.stderr
