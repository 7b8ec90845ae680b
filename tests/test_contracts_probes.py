"""The near-miss probes (contracts/probes): every API's mock keeps them, with an admin token and with keys only,
and each broken mock of tests/broken_probes.py, which keeps the exact form of its contract, is caught by the check
meant for it, with a reproduction."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import httpx
import pytest

from contracts.apis import PROBES, PROFILES
from contracts.probes import authentication, isolation
from contracts.probes.authentication import FULL
from contracts.probes.credentials import Secrets, accepted, altered, near_misses, presentations
from contracts.probes.forms import path_forms
from contracts.report import Report
from contracts.session import open_session
from contracts.target import Target
from tests.conftest import SERVE_ARGS
from tests.servers import running_mock

APIS = ("lovlychat", "aliveai", "lucydream")
MODULES: tuple[ModuleType, ...] = (authentication, isolation)
# without an admin token jobs run in real time: the set-up makes them short (through the admin API)
SHORT = 0.05


def judge(served: dict[str, Any], api: str, modules: tuple[ModuleType, ...] = MODULES, admin: bool = True,
          **target: Any) -> Report:
    """Run the probes on one API of a served mock (with its admin token, or with the keys given)."""
    base_url = served["apis"][api]["base_url"]
    options = {"admin_token": served["admin_token"]} if admin else target
    session = open_session(Target(api=api, base_url=base_url, **options), report := Report(api, base_url))
    try:
        for module in modules:
            module.run(session)
    finally:
        session.close()
    return report


def held(report: Report, check: str) -> set[str]:
    return {str(verdict.operation) for verdict in report.verdicts() if verdict.check == check
            and verdict.verdict == "held"}


@pytest.fixture(scope="module")
def served() -> Iterator[dict[str, Any]]:
    with running_mock(*SERVE_ARGS) as credentials:
        yield credentials


@pytest.fixture(scope="module")
def keys_only() -> Iterator[dict[str, Any]]:
    """A mock on a real clock with short jobs, and for each API the key of the demo tenant and of a second one
    (made through the admin API, as a set-up: a user of a real server brings them)."""
    with running_mock("--seed", "1") as credentials:
        keys = {}
        for api, served in credentials["apis"].items():
            with httpx.Client(base_url=served["admin_url"],
                              headers={"authorization": f"Bearer {credentials['admin_token']}"}) as admin:
                durations = admin.get("/config").json()["durations"]
                admin.patch("/config", json={"durations": dict.fromkeys(durations, SHORT)}).raise_for_status()
                chosen = [] if api == "aliveai" else [f"tests_probes_{api}_second_key"]
                second = admin.post("/tenants", json={"name": "second", "balance": 1000, "credentials": chosen})
                second.raise_for_status()
            keys[api] = {"key": served["credentials"][0], "second_key": second.json()["credentials"][0]}
        yield credentials | {"keys": keys}


@pytest.mark.parametrize("api", APIS)
def test_the_mock_keeps_the_probes_with_an_admin_token(served: dict[str, Any], api: str) -> None:
    report = judge(served, api)

    assert report.ok, report.render()
    assert not report.gaps, report.gaps
    # every operation that requires credentials was judged, and every one that names the owner's things
    assert len(held(report, "authentication")) == {"lovlychat": 4, "aliveai": 75, "lucydream": 1}[api]
    assert len(held(report, "tenant_isolation")) >= {"lovlychat": 3, "aliveai": 20, "lucydream": 1}[api]
    counts = report.counts["stateful"]
    judged = len(held(report, "authentication"))  # every near miss on FULL of them, two on the others
    assert counts["near-miss credentials"] >= 25 * min(judged, FULL) + 2 * max(judged - FULL, 0), counts
    assert counts["near-miss isolation requests"] >= 8, counts


@pytest.mark.parametrize("api", APIS)
def test_with_keys_only_the_probes_use_the_second_key(keys_only: dict[str, Any], api: str) -> None:
    report = judge(keys_only, api, admin=False, job_timeout=20.0, poll_interval=0.02, **keys_only["keys"][api])

    assert report.ok, report.render()
    assert held(report, "authentication")
    if api == "lucydream":  # no models are made without an admin token, and a generation could be charged
        assert not held(report, "tenant_isolation")
        assert any("models are made only with --admin-token" in note for note in report.notes["stateful"])
    else:
        assert "GET /v1/generation/jobs/{id}" in held(report, "tenant_isolation") if api == "lovlychat" else \
            "GET /prompts/{promptId}" in held(report, "tenant_isolation")
        # what a broken server could charge is left out without an intruder that holds no credits
        assert any("could charge were not sent" in note for note in report.notes["stateful"])


def test_without_a_second_tenant_isolation_is_not_verified(served: dict[str, Any]) -> None:
    report = judge(served, "lovlychat", admin=False, key=served["apis"]["lovlychat"]["credentials"][0])

    assert [(gap.property, gap.reason) for gap in report.gaps] == [
        ("tenant_isolation", "no --second-key nor --admin-token")]
    assert len(held(report, "authentication")) == 4


BROKEN = [
    # variant, API, module, check, operation that must be named
    ("lc-job-case", "lovlychat", isolation, "tenant_isolation", "GET /v1/generation/jobs/{id}"),
    ("lc-gallery-foreign-cursor", "lovlychat", isolation, "tenant_isolation", "GET /v1/generation/gallery"),
    ("lc-key-in-query", "lovlychat", authentication, "authentication", "GET /v1/pricing"),
    ("lc-first-header-wins", "lovlychat", authentication, "authentication", "GET /v1/generation/gallery"),
    ("aa-prompt-trailing-slash", "aliveai", isolation, "tenant_isolation", "GET /prompts/{promptId}"),
    ("aa-character-dot-segment", "aliveai", isolation, "tenant_isolation", "GET /chat-characters/{id}"),
    ("aa-owner-query", "aliveai", isolation, "tenant_isolation", "GET /chats/{chatId}"),
    ("aa-jwt-unsigned", "aliveai", authentication, "authentication", None),  # on those that get every near miss
    # a route past those that get every near miss still gets no credentials and an altered key
    ("aa-route-unguarded", "aliveai", authentication, "authentication", "GET /chats"),
    ("ld-key-prefix", "lucydream", authentication, "authentication", "POST /wp-json/apiservices/v1/generate"),
    ("ld-bearer-header", "lucydream", authentication, "authentication", "POST /wp-json/apiservices/v1/generate"),
    ("ld-model-leading-zero", "lucydream", isolation, "tenant_isolation", "POST /wp-json/apiservices/v1/generate"),
]


@pytest.mark.parametrize(("mock_server", "api", "module", "check", "operation"),
                         [(("-m", "tests.broken", variant), *rest) for variant, *rest in BROKEN],
                         ids=[variant for variant, *_ in BROKEN], indirect=["mock_server"])
def test_each_broken_mock_is_caught_by_its_near_miss(mock_server: dict[str, Any], api: str, module: ModuleType,
                                                     check: str, operation: str | None) -> None:
    report = judge(mock_server, api, (module,))

    found = {(finding.check, finding.operation) for finding in report.findings}
    assert (check, operation) in found if operation else check in {name for name, _ in found}, report.render()
    for finding in report.findings:
        assert finding.layer == "stateful" and finding.check == check, finding
        assert finding.reproduction.startswith("curl") and "# -> " in finding.reproduction, finding


def test_every_api_runs_the_probes() -> None:
    assert all(set(PROBES) <= set(api.property_modules) for api in PROFILES.values())


@pytest.mark.parametrize("api", APIS)
def test_no_near_miss_is_a_way_the_spec_accepts(api: str) -> None:
    """The scheme word in another case, a header name in another case and each declared header are accepted ways
    of sending the key (RFC 9110, the specs): none of them is a near miss."""
    document = Target(api=api, base_url="http://127.0.0.1:9").document()
    every = presentations(document, PROFILES[api].login is not None)
    key = "5b0e7a52-3c8d-4f19-b6a2-e41d9c07f3b8" if api == "aliveai" else "lc_probe_key_0123456789abcdef"
    ways = {(presentation.name.lower(), _word_in_lower_case(presentation.prefix + key)) for presentation in every
            if presentation.takes == "key"}
    schemes = accepted(document, next(iter(next(iter(document["paths"].values())).values())))
    assert schemes is not None
    for miss in near_misses(every, schemes, Secrets(key, other_key="other_key_0123456789abcdef"), {}):
        sent = {(name.lower(), _word_in_lower_case(value)) for name, value in miss.headers.items()}
        assert not (len(sent) == 1 and sent <= ways), miss
        assert len(sent) < 2 or len({value.split()[-1] for _, value in sent}) == 2, miss  # two headers disagree


def _word_in_lower_case(value: str) -> str:
    word, space, rest = value.partition(" ")
    return f"{word.lower()} {rest}" if space else value


def test_a_reproduction_shows_an_altered_key_as_an_expression_of_its_variable() -> None:
    key = "lc_probe_key_0123456789abcdef"
    for what, value, shown in altered(key, {key: "$KEY"}):
        expression = shown[value]
        assert key not in expression and key[:10] not in expression, what
        evaluated = subprocess.run(["bash", "-c", f'KEY={key}; printf %s "{expression}"'], capture_output=True,
                                   text=True, check=True).stdout
        assert evaluated == value, what


def test_path_forms_keep_every_character_as_written() -> None:
    forms = {form.what: form for form in path_forms("/chats/{chatId}/messages/{messageId}",
                                                     {"chatId": "cht_a", "messageId": "msg_b"}, {"userId": "u1"})}
    assert forms["{chatId} after a `x/../` segment"].target == "/chats/x/../cht_a/messages/msg_b"
    assert forms["{messageId} in the other letter case"].target == "/chats/cht_a/messages/MSG_B"
    assert forms["{chatId} with its first character percent-encoded"].target == "/chats/%63ht_a/messages/msg_b"
    assert forms["a trailing slash"].target == "/chats/cht_a/messages/msg_b/"
    assert not forms["a trailing slash"].same_route and forms["{messageId} before a space"].same_route
    assert forms["a query naming the owner (userId)"].params == {"userId": "u1"}
