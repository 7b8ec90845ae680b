"""`genmock check` on a server whose money and patience are real: --read-only, --max-spend, --rate, --deadline
and an interrupted run. What the target was asked to do is counted on the target itself, from genmock's request
journal (every request it received, and the ledger entries and jobs each made), not read off the suite's code."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts.guard import Guard, Stop
from contracts.pricing import Pricing, chargeable
from contracts.target import Target
from mockserver.testing import Api, Genmock

JOURNAL = ("--journal-size", "100000")  # every request of a run is kept
READ = {"GET", "HEAD", "OPTIONS"}


@pytest.fixture(scope="module")
def genmock() -> Iterator[Genmock]:
    with Genmock.start(clock="virtual", seed=5, options=JOURNAL) as served:
        yield served


@pytest.fixture
def fresh(genmock: Genmock) -> Genmock:
    genmock.reset()
    for api in genmock.apis.values():
        api.clear_requests()
    return genmock


def check(api: str, base_url: str, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mockserver.cli", "check", "--api", api, "--base-url", base_url,
                           "--max-examples", "3", "--no-shrink", *args], capture_output=True, text=True,
                          timeout=timeout)


def journal(api: Api) -> list[dict[str, Any]]:
    """Every request the origin received since it was cleared, oldest first."""
    entries: list[dict[str, Any]] = []
    while True:
        page = api.requests(limit=10_000, **({"after": entries[-1]["id"]} if entries else {}))
        if not page:
            return entries
        entries += page


def debits(entries: list[dict[str, Any]]) -> float:
    """What the requests took from wallets: their debits, less the refunds they made."""
    return -sum(effect["entry"]["amount"] for entry in entries for effect in entry["effects"]
                if effect["kind"] == "ledger")


# -- --read-only -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("api_name", ["lovlychat", "lucydream", "aliveai"])
def test_read_only_sends_nothing_that_could_create_or_charge(fresh: Genmock, api_name: str) -> None:
    """(LucyDream's one route is a POST: a read-only run of it sends nothing at all, not even the key probe.)"""
    api = fresh.api(api_name)
    balance = api.balance(api.demo)
    result = check(api_name, api.base_url, "--key", api.demo.key, "--read-only", "--allow-unverified", "all")
    assert result.returncode == 0, result.stdout + result.stderr
    received = journal(api)
    assert (len(received) > 1) == (api_name != "lucydream"), received  # (all see the reachability probe, GET /)
    written = [f"{entry['method']} {entry['path']}" for entry in received
               if entry["method"] not in READ and entry["path"] != "/members/login"]
    assert written == []
    assert [entry for entry in received if entry["effects"]] == []
    assert api.balance(api.demo) == balance
    assert "read_only" in result.stdout and "not sent" in result.stdout


def test_read_only_with_an_admin_token_creates_no_tenant(fresh: Genmock) -> None:
    api = fresh.lovlychat
    before = api.call("GET", "/tenants")["tenants"]
    result = check("lovlychat", api.base_url, "--key", api.demo.key, "--admin-token", fresh.admin_token,
                   "--read-only", "--allow-unverified", "all")
    assert result.returncode == 0, result.stdout + result.stderr
    assert api.call("GET", "/tenants")["tenants"] == before
    assert all(entry["method"] in READ for entry in journal(api))


# -- --max-spend -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("api_name", "limit"), [("lovlychat", 600), ("aliveai", 15), ("lucydream", 0.5)])
def test_max_spend_is_never_exceeded(fresh: Genmock, api_name: str, limit: float) -> None:
    """With an admin token the suite pays on tenants of its own (removed at the end): the journal still holds
    every debit and refund each request made."""
    api = fresh.api(api_name)
    result = check(api_name, api.base_url, "--admin-token", fresh.admin_token, "--max-spend", str(limit),
                   "--layers", "responses,stateful")
    assert result.returncode in (0, 3), result.stdout + result.stderr
    spent = debits(journal(api))
    assert 0 < spent <= limit + 1e-9, result.stdout
    assert f"of at most {limit:g} (--max-spend)" in result.stdout


def test_max_spend_on_a_given_key_priced_from_the_published_list(fresh: Genmock) -> None:
    """Without an admin token the suite waits for jobs in real time: the mock's clock is real and its jobs short."""
    api = fresh.lovlychat
    fresh.real_time()
    api.call("PATCH", "/config", {"durations": dict.fromkeys(("image.standard", "image.hd", "video.standard",
                                                               "video.hd"), 0.2)})
    wallet = api.new_tenant(balance=10_000)
    result = check("lovlychat", api.base_url, "--key", wallet.key, "--max-spend", "600", "--poll-interval", "0.2",
                   "--allow-unverified", "all", "--layers", "responses,stateful")
    assert result.returncode == 0, result.stdout + result.stderr
    assert 0 < 10_000 - api.balance(wallet) <= 600
    assert "priced from the target's GET /v1/pricing" in result.stdout


def test_max_spend_without_known_prices_is_a_usage_error(fresh: Genmock) -> None:
    api = fresh.lucydream
    result = check("lucydream", api.base_url, "--key", api.demo.key, "--max-spend", "1")
    assert result.returncode == 2 and "--prices" in result.stderr
    assert [entry for entry in journal(api) if entry["effects"]] == []


# -- --rate, --deadline, interruptions ----------------------------------------------------------------------------
def test_rate_caps_the_requests_per_second(fresh: Genmock) -> None:
    api = fresh.lovlychat
    result = check("lovlychat", api.base_url, "--admin-token", fresh.admin_token, "--rate", "20",
                   "--layers", "responses", "--allow-unverified", "all")
    assert result.returncode == 0, result.stdout + result.stderr
    times = sorted(datetime.fromisoformat(entry["receivedAt"].replace("Z", "+00:00")).timestamp()
                   for entry in journal(api))
    assert len(times) > 20
    busiest = max(sum(1 for other in times if start <= other < start + 1.0) for start in times)
    assert busiest <= 20 + 1  # (a request may arrive a little early or late over the network)


def test_a_deadline_ends_the_run_with_the_report_of_what_ran(fresh: Genmock, tmp_path: Path) -> None:
    api = fresh.aliveai
    tenants = api.call("GET", "/tenants")["tenants"]
    report = tmp_path / "report.json"
    result = check("aliveai", api.base_url, "--admin-token", fresh.admin_token, "--deadline", "4",
                   "--max-examples", "50", "--json", str(report))
    assert result.returncode == 3, result.stdout + result.stderr
    written = json.loads(report.read_text())
    assert written["verdict"] == "not verified"
    assert any(gap["property"] == "deadline" and not gap["accepted"] for gap in written["gaps"])
    assert "removed the" in result.stdout  # its tenants are cleaned up past the deadline
    assert api.call("GET", "/tenants")["tenants"] == tenants


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_still_writes_its_report(fresh: Genmock, tmp_path: Path, how: signal.Signals) -> None:
    """Ctrl-C, or a CI job cancelled (SIGTERM), while the state machine runs its (many) sequences."""
    api = fresh.lovlychat
    report = tmp_path / "report.json"
    process = subprocess.Popen([sys.executable, "-m", "mockserver.cli", "check", "--api", "lovlychat", "--base-url",
                                api.base_url, "--admin-token", fresh.admin_token, "--max-examples", "1000",
                                "--layers", "responses,stateful", "--json", str(report)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if line.startswith("[stateful] started"):
                break
        process.send_signal(how)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 3, stdout + stderr
    written = json.loads(report.read_text())
    assert [gap["layer"] for gap in written["gaps"] if gap["property"] == "interrupted"] == ["run"]
    assert written["layers"] == ["responses", "stateful"] and "interrupted" in stdout
    assert "removed the" in stdout  # its tenants are cleaned up all the same
    assert api.call("GET", "/tenants")["tenants"] == [api.call("GET", f"/tenants/{api.demo.id}")]


def test_a_job_that_never_finishes_is_a_finding_with_its_last_state_not_a_hang(fresh: Genmock) -> None:
    """The mock's clock is frozen and the run has no admin token to move it: no job ever finishes. Each wait ends
    after --job-timeout, and the job is reported as it was last seen."""
    api = fresh.lovlychat
    result = check("lovlychat", api.base_url, "--key", api.demo.key, "--layers", "responses",
                   "--job-timeout", "1", "--poll-interval", "0.2", "--max-examples", "2", "--allow-unverified", "all")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "job_terminates" in result.stdout
    assert re.search(r"did not finish within 1 s; last seen: job_\w+ (queued|running) at progress 0", result.stdout)


# -- the guard itself, on a clock of its own -------------------------------------------------------------------
class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def request(method: str = "GET", path: str = "/v1/pricing", key: str = "k1", body: Any = None) -> httpx.Request:
    return httpx.Request(method, f"http://127.0.0.1:1{path}", headers={"x-api-key": key},
                         json=body if body is not None else None)


def lovlychat_pricing() -> Pricing:
    document = Target("lovlychat", "http://127.0.0.1:1").document()
    return Pricing(chargeable("lovlychat", document), {"image.standard": 10, "video.hd": 150}, "test",
                   complete=True)


def test_the_rate_spaces_requests_and_a_retry_after_holds_back_its_credential() -> None:
    clock = FakeClock()
    guard = Guard(rate=4, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        guard.admit(request())
    assert clock.slept == [0.25, 0.25]  # the first goes at once, then one every quarter second
    guard.answered(request(), 429, "3")
    guard.admit(request(key="k2"))  # another credential: only the rate holds it
    guard.admit(request())
    assert clock.slept[2:] == [0.25, 2.75]


def test_max_spend_counts_accepted_prices_and_refuses_what_could_pass_it() -> None:
    guard = Guard(max_spend=25, pricing=lovlychat_pricing())
    image = {"kind": "image", "variant": "standard"}
    for status in (202, 402):  # (each answered as the client and the races answer it: the request it admitted)
        sent = request("POST", "/v1/generation/jobs", body=image)
        guard.admit(sent)
        guard.answered(sent, status)  # a 402: refused, it cost nothing
    guard.admit(request("POST", "/v1/generation/jobs", body=image))
    assert guard.spent == 20
    with pytest.raises(Stop) as stopped:
        guard.admit(request("POST", "/v1/generation/jobs", body={"kind": "odd"}))  # outside the spec: the most
    assert stopped.value.gap == "max_spend" and guard.spent == 20
    guard.admit(request())  # what costs nothing still goes
    guard.share(2)
    with pytest.raises(Stop):  # a part's share: half of the 5 left
        guard.admit(request("POST", "/v1/generation/jobs", body=image))


def test_read_only_and_the_deadline_refuse_before_anything_is_sent() -> None:
    clock = FakeClock()
    guard = Guard(read_only=True, deadline=clock.now + 10, clock=clock, sleep=clock.sleep,
                  allowed_writes=frozenset({("POST", "/members/login")}))
    guard.admit(request())
    guard.admit(request("POST", "/members/login"))
    with pytest.raises(Stop) as stopped:
        guard.admit(request("DELETE", "/prompts/abc"))
    assert stopped.value.gap == "read_only"
    clock.now += 10
    with pytest.raises(Stop) as late:
        guard.admit(request())
    assert late.value.gap == "deadline"
    guard.closing = True
    guard.admit(request())  # the run's clean-up goes on
    assert guard.refused == {"read_only": 1, "deadline": 1}
