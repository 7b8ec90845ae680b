"""The AliveAI contract suite: the mock keeps every contract (with an admin token, and with only a key or a login),
and each broken mock is caught by the check meant for it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest

from contracts.apis import profile
from contracts.models.credits import PriceTable, wallet
from contracts.models.queue import queue_problem
from contracts.runner import Replay, main, run
from contracts.schema import auth_for, passes, unchecked
from contracts.target import Target, Token
from contracts.wire.aliveai import References, body_for, media_problem, png, png_size, routes

BUDGET = 1  # schemathesis examples per operation: its coverage phase alone sends thousands of requests
SEQUENCES = 5  # state-machine sequences: the correct mock's budget, and a broken one's to be caught in
SHORT = 0.05  # without an admin token prompts run in real time: the test makes them short (admin API, a set-up)


def admin_target(credentials: dict[str, Any]) -> Target:
    """Only an admin token: the suite makes its own users."""
    return Target(api="aliveai", base_url=credentials["apis"]["aliveai"]["base_url"],
                  admin_token=credentials["admin_token"])


def public_target(credentials: dict[str, Any], login: bool = True) -> Target:
    """What a user of a real server brings (a login or a key, another user's key, a real clock), made through the
    admin API: a login (or the key) of the demo user and a second user's key."""
    api = credentials["apis"]["aliveai"]
    admin = httpx.Client(base_url=api["admin_url"], headers={"authorization": f"Bearer {credentials['admin_token']}"})
    with admin:
        durations = admin.get("/config").json()["durations"]
        admin.post("/clock", json={"mode": "real"}).raise_for_status()
        admin.patch("/config", json={"durations": dict.fromkeys(durations, SHORT)}).raise_for_status()
        second = admin.post("/tenants", json={"name": "second", "balance": 1000})
        second.raise_for_status()
    account = api["account"]
    who = {"email": account["email"], "password": account["password"]} if login else {"key": api["credentials"][0]}
    return Target(api="aliveai", base_url=api["base_url"], second_key=second.json()["credentials"][0],
                  job_timeout=20.0, poll_interval=0.02, **who)


def unexpected(report: Any) -> set[tuple[str, str, str]]:
    return {(finding.layer, finding.check, finding.operation) for finding in report.findings}


def test_the_mock_keeps_every_contract(mock_server: dict[str, Any]) -> None:
    schema = run(admin_target(mock_server), ["schema"], max_examples=BUDGET, shrink=False)
    report = run(admin_target(mock_server), ["responses", "stateful"], max_examples=SEQUENCES, shrink=False)

    assert not unexpected(schema), schema.render()
    assert schema.counts["schema"]["requests"] > 2000  # the paid operations too (on a user without credits)
    assert not unexpected(report), report.render()
    assert report.counts["responses"]["stops"] >= 95
    # the machine reached every outcome its properties speak about, so the pass is not vacuous
    counts = report.counts["stateful"]
    assert {"200", "204", "401", "402", "404", "409", "429", "prompts finished", "prompts failed",
            "prompts removed"} <= set(counts), counts
    assert not unchecked(admin_target(mock_server), profile("aliveai"))  # every operation is sent, chat too
    assert "not verified" not in report.render()


def test_with_only_a_login_the_suite_uses_only_the_public_api(mock_server: dict[str, Any]) -> None:
    # (the schema layer, the same without an admin token but for the paid operations, runs in the test above)
    report = run(public_target(mock_server), ["responses", "stateful"], max_examples=3, shrink=False)

    assert not unexpected(report), report.render()
    assert report.counts["responses"]["stops"] >= 95
    assert {"200", "204", "401", "prompts finished"} <= set(report.counts["stateful"])
    assert not any("__genmock" in line for line in report.render().splitlines() if "curl" in line)


def test_the_schema_layer_sends_each_credential_as_its_scheme_takes_it() -> None:
    target = Target(api="aliveai", base_url="http://127.0.0.1:9", key="k-1")
    document = target.document()
    assert auth_for(document, "k-1") == {"ApiKeyScheme": {"api_key": "Key k-1"}}  # a key is no JWT
    assert auth_for(document, Token("t.o.k")) == {"SecurityScheme": {"bearer": "t.o.k"}}
    assert [run.label for run in passes(target, profile("aliveai"))] == ["free"]  # no wallet to spend
    free, paid = passes(target, profile("aliveai"), broke_key="broke")
    kept = {run.label: set(run.operations["exclude-operation-id"]) for run in (free, paid)}
    declaring_402 = {operation["operationId"] for item in document["paths"].values() for operation in item.values()
                     if isinstance(operation, dict) and "402" in operation.get("responses", {})}
    # every operation that can charge (its spec declares a 402: the 21 prompt routes, chat pictures and replies,
    # the LLM helpers) runs only on the tenant without credits
    assert paid.key == "broke" and kept["paid"] == declaring_402 and len(kept["paid"]) == 34
    assert not kept["free"] & kept["paid"]
    assert {"createPrompt", "listChats", "login"} & kept["free"] == {"login", "listChats"}


def test_genmock_check_with_only_a_key(mock_server: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    target = public_target(mock_server, login=False)
    code = main(["--api", "aliveai", "--base-url", target.base_url, "--key", str(target.key), "--second-key",
                 str(target.second_key), "--layers", "stateful", "--max-examples", "3", "--no-shrink",
                 "--job-timeout", "20", "--poll-interval", "0.02", "--allow-unverified", "stream_error_consistent",
                 "--allow-unverified", "exact_price"])

    out = capsys.readouterr().out
    assert code == 0, out
    # without an admin token no fault can be armed: that property is listed as not verified, and accepted
    assert "not verified (accepted): stream_error_consistent" in out
    assert "[stateful] passed" in out and str(target.key) not in out  # shown as $KEY


@pytest.mark.parametrize("mock_server", [("-m", "tests.broken", "aa-double-charge")], indirect=True)
def test_without_an_admin_token_stated_prices_pin_a_constant_overcharge(mock_server: dict[str, Any]) -> None:
    """AliveAI publishes no prices: without --prices each is learnt from its first debit, so a server that always
    charges double is consistent with itself (said as the gap exact_price); with the prices stated it is caught."""
    target = public_target(mock_server)
    machine_only = Replay("machine")  # (the channel and chat properties have nothing to say of prices)
    learnt = run(target, ["stateful"], max_examples=2, shrink=False, only=machine_only)
    assert "exact_price" in {gap.property for gap in learnt.gaps}, learnt.render()
    config = httpx.get(mock_server["apis"]["aliveai"]["admin_url"] + "/config",
                       headers={"authorization": f"Bearer {mock_server['admin_token']}"}).json()
    stated = run(replace(target, prices={kind: float(price) for kind, price in config["prices"].items()}),
                 ["stateful"], max_examples=2, shrink=False, only=machine_only)
    assert "charge_per_prompt" in {finding.check for finding in stated.findings}, stated.render()
    assert "exact_price" not in {gap.property for gap in stated.gaps}


def test_a_refused_login_is_a_usage_error(mock_server: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    base_url = mock_server["apis"]["aliveai"]["base_url"]
    for args, says in ((("--email", "dev@example.com", "--password", "not-the-password"),
                        "refused --email/--password: POST /members/login answered 401"),
                       (("--email", "dev@example.com"), "--email and --password go together")):
        assert main(["--api", "aliveai", "--base-url", base_url, *args]) == 2
        captured = capsys.readouterr()
        assert says in captured.err and captured.out == ""
    assert main(["--api", "lucydream", "--base-url", base_url, "--email", "a@b.c", "--password", "x"]) == 2
    assert "lucydream has no logins" in capsys.readouterr().err


BROKEN = [
    # variant, (layer, check) that must name it, state-machine sequences (it stops at the first broken property),
    # the part of the stateful layer that must catch it (None: the whole layer, whichever property)
    ("aa-double-charge", ("stateful", "charge_per_prompt"), SEQUENCES, "machine"),
    ("aa-no-refund-on-removal", ("stateful", "refund_on_removal"), SEQUENCES, "machine"),
    ("aa-no-refund-on-failure", ("stateful", "refund_on_failure"), SEQUENCES, "machine"),
    ("aa-402-charges", ("stateful", "payment_required"), SEQUENCES, "machine"),
    ("aa-pending-order", ("stateful", "pending_queue"), SEQUENCES, "machine"),
    ("aa-pending-limit", ("stateful", "pending_limit"), SEQUENCES, "machine"),
    ("aa-removes-running", ("stateful", "queue_removal"), SEQUENCES, "machine"),
    ("aa-delete-keeps", ("stateful", "prompt_deletion"), SEQUENCES, "machine"),
    ("aa-foreign-media", ("stateful", "tenant_isolation"), SEQUENCES, None),
    ("aa-bearer-takes-key", ("stateful", "authentication"), SEQUENCES, None),
    # the stateful layer's answers are validated strictly too: a schema finding is a responses finding (and does
    # not stop the machine, hence a budget of its own)
    ("aa-missing-field", ("responses", "response_schema_conformance"), 1, "machine"),
]


@pytest.mark.parametrize(("mock_server", "expected", "budget", "part"),
                         [(("-m", "tests.broken", variant), *rest) for variant, *rest in BROKEN],
                         ids=[variant for variant, *_ in BROKEN], indirect=["mock_server"])
def test_each_broken_mock_is_caught_by_its_check(mock_server: dict[str, Any], expected: tuple[str, str],
                                                 budget: int, part: str | None) -> None:
    report = run(admin_target(mock_server), ["stateful"], max_examples=budget, shrink=False,
                 only=Replay(part) if part else None)

    assert expected in {(finding.layer, finding.check) for finding in report.findings}, report.render()
    for finding in report.findings:
        assert "curl" in finding.reproduction, finding
        if finding.layer == "stateful" and finding.source == "machine":  # (a property's: its own requests)
            assert "state = AliveAIMachine()" in finding.reproduction, finding


def test_valid_bodies_prices_and_queues_are_what_the_models_say() -> None:
    target = Target(api="aliveai", base_url="http://127.0.0.1:9")
    found = routes(target)
    assert len(found) == 21 and {route.source for route in found.values()} == {"IMAGE", "VIDEO"}
    body = body_for(found["IMAGE_TO_VIDEO"], References(image="img"), medium=True)
    assert body["mediaId"] == "img" and body["videoLength"] == "MEDIUM" and body["videoFrameRate"] == "LOW"
    assert body_for(found["EXTEND_VIDEO"], References(image="img", video="vid"))["mediaId"] == "vid"
    assert body_for(found["AFTER_FACE_SWAP"], References(image="img"))["faceSwap"]["mediaIds"] == ["img"]
    assert png_size(png(7, 5)) == (7, 5) and media_problem(png(7, 5), "IMAGE") is None
    assert media_problem(b"\0\0\0\x18ftypisom", "VIDEO") is None and media_problem(png(), "VIDEO") is not None
    prices = PriceTable({"IMAGE_TO_VIDEO": 10})
    assert prices.price("IMAGE_TO_VIDEO", medium=True) == 20
    learnt = PriceTable()
    assert learnt.learn("IMAGE_DEFAULT", False, 2) is None and learnt.price("IMAGE_DEFAULT") == 2
    assert learnt.learn("IMAGE_DEFAULT", False, 0) is not None
    credits = wallet()
    credits.start = 10
    credits.accepted(2)
    credits.refund("removed", 2)
    discrepancy = credits.observe(8, pending=0)  # a removal that was not refunded
    assert discrepancy is not None and discrepancy.check == "refund_on_removal"
    queue = [{"promptId": "a", "queuePosition": 0}, {"promptId": "b", "queuePosition": 1}]
    assert queue_problem(queue, ["a", "b"], slots=1) is None
    assert queue_problem(queue[::-1], ["a", "b"]) is not None
    assert queue_problem([{"promptId": "c", "queuePosition": 0}], ["a"]) is not None
    assert queue_problem([{"promptId": "a", "queuePosition": 0}, {"promptId": "b", "queuePosition": 0}], ["a", "b"],
                         slots=1) is not None
