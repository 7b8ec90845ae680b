"""What every request shares: one transaction (undone on any error), limits on the body, JSON that can be
stored, short error messages, the admin gate, links from the address served, CORS, and a clock that jumps."""

from __future__ import annotations

import asyncio
import json

import pytest

from mockserver import routing
from mockserver.engine.ledger import to_amount
from tests.inprocess import ADMIN_TOKEN, InProcessMock

LUCYDREAM = "/wp-json/apiservices/v1/generate"
LUCYDREAM_KEY = {"X-API-Key": "your_api_key_here"}
LUCYDREAM_EXAMPLE = {"prompt": "A beautiful blonde in lingerie at sunset", "tune_id": "12345",
                     "safetensors_path": "https://your-bucket-url/12345.safetensors", "trigger_name": "woman",
                     "api_mode": "spicy"}
LOVLYCHAT_JOBS = "/v1/generation/jobs"
LOVLYCHAT_KEY = {"authorization": "Bearer lc_demo_key_0123456789abcdef"}
LOVLYCHAT_JOB = {"kind": "image", "variant": "standard", "prompt": "Aiko on a rooftop", "characterId": "char_aiko"}
TUNE = {"title": "Anna", "name": "woman", "image_urls": [f"https://example.com/anna/{i}.jpg" for i in range(5)]}


@pytest.fixture
def mock() -> InProcessMock:
    return InProcessMock()


def ledger(mock: InProcessMock, api: str) -> list:
    return mock.engine.ledger.entries(mock.demo[api].id)


def raw_post(mock: InProcessMock, api: str, path: str, raw: bytes, **headers: str):
    return mock.client(api, **headers).post(path, content=raw, headers={"content-type": "application/json"})


# -- one transaction per request ----------------------------------------------------------------------
def test_a_handler_that_raises_after_charging_leaves_no_trace(mock: InProcessMock, monkeypatch) -> None:
    before = ledger(mock, "lucydream")

    def broken_renderer(*args, **kwargs):
        raise RuntimeError("the asset store is down")

    monkeypatch.setattr(mock.engine.assets, "create", broken_renderer)
    response = mock.client("lucydream", **LUCYDREAM_KEY).post(LUCYDREAM, json=LUCYDREAM_EXAMPLE)
    assert response.status_code == 500 and response.json() == {"error": "Failed to generate image"}
    assert ledger(mock, "lucydream") == before  # the debit made before the failure is undone
    assert mock.balance("lucydream", mock.demo["lucydream"].id) == 5


def test_a_refusal_after_a_write_undoes_the_write(mock: InProcessMock) -> None:
    """A training price above the balance is a 402 (not a 500), and the armed fault it took is not spent."""
    admin = mock.admin("lucydream")
    assert admin.patch("/__genmock/config", json={"prices": {"train": 50}}).status_code == 200
    assert admin.post("/__genmock/faults", json={"operation": "train"}).status_code == 201
    response = mock.client("lucydream", **LUCYDREAM_KEY).post(LUCYDREAM, json={"tune": TUNE})
    assert response.status_code == 402 and response.json() == {"error": "Insufficient balance"}
    assert [fault["remaining"] for fault in admin.get("/__genmock/faults").json()["faults"]] == [1]
    assert len(ledger(mock, "lucydream")) == 1


def test_an_armed_fault_that_fires_is_spent_and_costs_nothing(mock: InProcessMock) -> None:
    admin = mock.admin("lucydream")
    admin.post("/__genmock/faults", json={"operation": "generate"})
    client = mock.client("lucydream", **LUCYDREAM_KEY)
    assert client.post(LUCYDREAM, json=LUCYDREAM_EXAMPLE).status_code == 500
    assert admin.get("/__genmock/faults").json()["faults"] == []
    assert client.post(LUCYDREAM, json=LUCYDREAM_EXAMPLE).status_code == 200
    assert mock.balance("lucydream", mock.demo["lucydream"].id) == pytest.approx(4.9)


def test_nested_transactions_undo_only_their_own_writes(mock: InProcessMock) -> None:
    engine = mock.engine
    tenant = mock.demo["lovlychat"].id
    with engine.store.transaction():
        engine.ledger.top_up(tenant, 1_000, "kept")
        with pytest.raises(RuntimeError), engine.store.transaction():
            engine.ledger.top_up(tenant, 7_000, "undone")
            raise RuntimeError
    assert [entry.reference for entry in engine.ledger.entries(tenant)][-1] == "kept"
    assert engine.ledger.balance(tenant) == to_amount(500) + 1_000


# -- JSON that cannot be stored, and bodies too deep, too large, too slow --------------------------------
@pytest.mark.parametrize("raw", [
    b'{"prompt": "\\ud800"}', b'{"\\udfff": 1}', b'["\\ud800x"]', b'"\xed\xa0\x80"',  # lone surrogates
    b"[" * 5000 + b"]" * 5000, b'{"a":' * 500 + b"1" + b"}" * 500, b"[" * 65 + b"]" * 65,  # too deep
    b"NaN", b'{"n": Infinity}', b"1e400", b"-1e400", b"9" * 5000,  # not numbers, or out of range
])
def test_json_that_cannot_be_stored_is_malformed(raw: bytes) -> None:
    with pytest.raises(ValueError):
        routing.parse_json(raw)


@pytest.mark.parametrize("raw", [b'{"a": "\\ud83d\\ude00"}', b"[" * 64 + b"]" * 64, b'{"x": -0.0, "y": 1e300}'])
def test_json_that_can_be_stored_is_taken(raw: bytes) -> None:
    routing.parse_json(raw)


def test_a_lone_surrogate_is_a_400_in_each_apis_format_and_costs_nothing(mock: InProcessMock) -> None:
    prompt = json.dumps(LUCYDREAM_EXAMPLE).replace("at sunset", "at \\ud800").encode()
    response = raw_post(mock, "lucydream", LUCYDREAM, prompt, **LUCYDREAM_KEY)
    assert (response.status_code, response.json()["code"]) == (400, "rest_invalid_json")
    key = json.dumps(LOVLYCHAT_JOB).replace('"prompt"', '"\\udfff": 1, "prompt"').encode()
    response = raw_post(mock, "lovlychat", LOVLYCHAT_JOBS, key, **LOVLYCHAT_KEY)
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_request")
    response = mock.admin("lovlychat").post("/__genmock/tenants", content=b'{"name": "\\ud800"}',
                                            headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.headers["content-type"] == "application/problem+json"
    assert len(ledger(mock, "lucydream")) == 1 and len(ledger(mock, "lovlychat")) == 1


def test_credentials_are_checked_before_the_body_is_read(mock: InProcessMock) -> None:
    chunks_read = []

    def body():
        for _ in range(50):
            chunks_read.append(1)
            yield b"x" * 1_000_000

    response = mock.client("lucydream").post(LUCYDREAM, content=body())
    assert response.status_code == 403 and response.json() == {"error": "Invalid API key"}
    assert len(chunks_read) < 50


def test_a_body_over_the_operations_limit_is_413_in_the_apis_format(mock: InProcessMock) -> None:
    huge = b'{"prompt": "' + b"x" * 2_000_000 + b'"}'
    response = raw_post(mock, "lucydream", LUCYDREAM, huge, **LUCYDREAM_KEY)
    assert response.status_code == 413 and "limit" in response.json()["error"]
    response = raw_post(mock, "lovlychat", LOVLYCHAT_JOBS, huge, **LOVLYCHAT_KEY)
    assert (response.status_code, response.json()["error"]["code"]) == (413, "payload_too_large")
    assert len(ledger(mock, "lucydream")) == 1


def test_a_body_that_never_ends_is_408() -> None:
    async def slow_receive():
        await asyncio.sleep(0.05)
        return {"type": "http.request", "body": b"{", "more_body": True}

    class Request:
        headers: dict[str, str] = {}  # noqa: RUF012
        scope: dict[str, object] = {}  # noqa: RUF012
        receive = staticmethod(slow_receive)

    with pytest.raises(routing.BodyRefused) as refused:
        asyncio.run(routing.read_body(Request(), limit=1_000_000, timeout=0.3))  # type: ignore[arg-type]
    assert refused.value.status == 408


def test_a_400_quotes_only_a_short_prefix_of_the_offending_value(mock: InProcessMock) -> None:
    response = mock.client("lovlychat", **LOVLYCHAT_KEY).post(LOVLYCHAT_JOBS, json={**LOVLYCHAT_JOB,
                                                                                   "prompt": "x" * 500_000})
    assert response.status_code == 400 and len(response.content) < 1_000, response.text[:300]


# -- the admin gate, links, browsers -------------------------------------------------------------------
@pytest.mark.parametrize("token", ["é" * 20, ADMIN_TOKEN + "ÿ"])
def test_an_admin_token_with_non_ascii_characters_is_refused_not_a_crash(mock: InProcessMock, token: str) -> None:
    client = mock.client("lovlychat")
    response = client.get("/__genmock/state", headers={"authorization": f"Bearer {token}".encode("latin-1")})
    assert response.status_code == 401 and response.json()["status"] == 401


def test_asset_links_ignore_the_host_header_and_follow_the_public_url() -> None:
    mock = InProcessMock()
    response = mock.client("lucydream", **LUCYDREAM_KEY).post(LUCYDREAM, json=LUCYDREAM_EXAMPLE,
                                                              headers={"host": "evil.example"})
    assert response.json()["image_url"].startswith("http://127.0.0.1:8102/generated/")
    mock.apps["lucydream"].context.public_url = "https://mock.example/lucy"
    response = mock.client("lucydream", **LUCYDREAM_KEY).post(LUCYDREAM, json=LUCYDREAM_EXAMPLE)
    assert response.json()["image_url"].startswith("https://mock.example/lucy/generated/")


def test_browsers_on_localhost_may_call_the_api(mock: InProcessMock) -> None:
    client = mock.client("lovlychat")
    preflight = client.options(LOVLYCHAT_JOBS, headers={"origin": "http://localhost:5173",
                                                        "access-control-request-method": "POST",
                                                        "access-control-request-headers": "authorization,content-type"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    answer = client.get("/v1/pricing", headers={"origin": "http://127.0.0.1:3000", **LOVLYCHAT_KEY})
    assert answer.headers["access-control-allow-origin"] == "http://127.0.0.1:3000"
    elsewhere = client.get("/v1/pricing", headers={"origin": "https://evil.example", **LOVLYCHAT_KEY})
    assert "access-control-allow-origin" not in elsewhere.headers
    refused = client.options(LOVLYCHAT_JOBS, headers={"origin": "https://evil.example",
                                                      "access-control-request-method": "POST"})
    assert refused.status_code == 405 and refused.json()["error"]["code"] == "method_not_allowed"
    assert "access-control-allow-origin" not in refused.headers


# -- the clock may jump either way ------------------------------------------------------------------------
def test_jobs_keep_moving_when_the_clock_is_set_back(mock: InProcessMock) -> None:
    admin = mock.admin("lovlychat")
    client = mock.client("lovlychat", **LOVLYCHAT_KEY)
    admin.post("/__genmock/clock", json={"mode": "virtual", "now": "2030-01-01T00:00:00Z"})
    jobs = [client.post(LOVLYCHAT_JOBS, json=LOVLYCHAT_JOB).json()["id"] for _ in range(3)]  # 2 slots, 8 s each
    admin.post("/__genmock/clock", json={"advanceSeconds": 4})
    admin.post("/__genmock/clock", json={"mode": "virtual", "now": "2026-06-01T00:00:00Z"})
    running = client.get(f"{LOVLYCHAT_JOBS}/{jobs[0]}").json()
    assert running["status"] == "running" and running["progress"] == pytest.approx(0.5)
    admin.post("/__genmock/clock", json={"advanceSeconds": 4})
    assert client.get(f"{LOVLYCHAT_JOBS}/{jobs[0]}").json()["status"] == "completed"
    assert client.get(f"{LOVLYCHAT_JOBS}/{jobs[2]}").json()["status"] == "running"
    later = client.post(LOVLYCHAT_JOBS, json=LOVLYCHAT_JOB).json()["id"]
    admin.post("/__genmock/clock", json={"advanceSeconds": 30})
    assert client.get(f"{LOVLYCHAT_JOBS}/{later}").json()["status"] == "completed"


def test_progress_stays_in_range_when_state_was_written_ahead_of_the_clock(mock: InProcessMock) -> None:
    admin = mock.admin("lovlychat")
    client = mock.client("lovlychat", **LOVLYCHAT_KEY)
    admin.post("/__genmock/clock", json={"mode": "virtual", "now": "2030-01-01T00:00:00Z"})
    job = client.post(LOVLYCHAT_JOBS, json=LOVLYCHAT_JOB).json()["id"]
    admin.post("/__genmock/clock", json={"advanceSeconds": 2})
    mock.engine.jobs._latest_now.clear()  # as after a restart: only the stored times tell
    admin.post("/__genmock/clock", json={"mode": "real"})
    polled = client.get(f"{LOVLYCHAT_JOBS}/{job}").json()
    assert polled["status"] == "running" and 0 <= polled["progress"] <= 1


def test_an_operation_without_a_request_body_ignores_one(mock: InProcessMock) -> None:
    response = mock.client("lovlychat", **LOVLYCHAT_KEY).request("GET", "/v1/pricing", content=b"{not json")
    assert response.status_code == 200 and response.json()["currency"] == "LoveCoin"


def test_every_limit_the_router_answers_is_in_the_spec() -> None:
    from mockserver.spec import load_document

    for name, operation in (("lovlychat.yaml", ("/v1/generation/jobs", "post")),
                            ("lucydream.yaml", ("/wp-json/apiservices/v1/generate", "post"))):
        responses = load_document(name)["paths"][operation[0]][operation[1]]["responses"]
        assert {"408", "413"} <= set(responses), name


def test_a_bug_around_the_handler_still_answers_in_the_apis_format(mock: InProcessMock, monkeypatch) -> None:
    def broken(request):
        raise RuntimeError("a bug in query parsing")

    monkeypatch.setattr(routing, "_query", broken)
    response = mock.client("lovlychat", **LOVLYCHAT_KEY).get("/v1/generation/gallery?limit=2")
    assert response.status_code == 500 and response.json()["error"]["code"] == "internal_error"


@pytest.mark.parametrize("query", ["limit=5_0", "limit=%D9%A3", "cursor=bmFu", "cursor=aW5mfGFzdF94"])
def test_numbers_and_cursors_only_an_http_client_would_send_are_taken(mock: InProcessMock, query: str) -> None:
    response = mock.client("lovlychat", **LOVLYCHAT_KEY).get(f"/v1/generation/gallery?{query}")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_request"
