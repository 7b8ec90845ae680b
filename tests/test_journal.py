"""The request journal (`GET/DELETE /__genmock/requests`) and the live event stream (`GET /__genmock/events`)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import pytest
from starlette.websockets import WebSocketDisconnect

from mockserver import dialects
from mockserver.dialects.lovlychat import DIALECT as LOVLYCHAT
from mockserver.engine.clock import iso
from mockserver.server import ApiApp
from tests.inprocess import ADMIN_TOKEN, InProcessMock
from tests.servers import running_mock

KEY = "lc_journal_tests_key_0123456789"
IMAGE = {"kind": "image", "variant": "standard", "prompt": "Aiko on a rooftop at dusk", "characterId": "char_aiko"}


@pytest.fixture
def mock() -> InProcessMock:
    return InProcessMock()


def journal(mock: InProcessMock, api: str = "lovlychat", **filters: Any) -> list[dict[str, Any]]:
    response = mock.admin(api).get("/__genmock/requests", params=filters)
    assert response.status_code == 200, response.text
    return response.json()["requests"]


def test_a_paid_job_is_recorded_with_its_answer_its_tenant_and_what_it_did(mock: InProcessMock) -> None:
    tenant = mock.new_tenant("lovlychat", 100, credentials=[KEY])
    client = mock.client("lovlychat", authorization=f"Bearer {KEY}")
    job = client.post("/v1/generation/jobs?trace=1", json=IMAGE).json()
    [entry] = journal(mock)
    assert (entry["method"], entry["path"], entry["query"], entry["status"]) == \
        ("POST", "/v1/generation/jobs", "trace=1", 202)
    assert json.loads(entry["body"]) == IMAGE and entry["bodyTruncated"] is False
    assert json.loads(entry["response"]["body"]) == job
    assert entry["response"]["headers"]["content-type"] == "application/json"
    assert entry["tenantId"] == tenant["id"] and entry["complete"] is True and entry["durationMs"] > 0
    assert entry["headers"]["authorization"] == "Bearer lc_j…"  # the key is masked, its start shown
    assert KEY not in json.dumps(entry)
    ledger, created = entry["effects"]
    assert ledger["kind"] == "ledger" and ledger["entry"]["kind"] == "debit"
    assert ledger["entry"]["amount"] == -job["cost"] and ledger["entry"]["tenantId"] == tenant["id"]
    assert ledger["entry"]["balanceAfter"] == job["wallet"]
    assert created == {"kind": "job", "job": {"id": job["id"], "tenantId": tenant["id"], "kind": "image",
                                              "status": "queued", "cost": job["cost"]}}


def test_a_refused_request_is_recorded_and_did_nothing(mock: InProcessMock, monkeypatch: pytest.MonkeyPatch) -> None:
    """A handler that writes, then answers an error, is rolled back: the journal shows no effect."""
    original = LOVLYCHAT.handlers["createGenerationJob"]

    async def charges_then_refuses(call: Any) -> Any:
        await original(call)
        return LOVLYCHAT.errors.malformed_json(call.request)

    monkeypatch.setitem(LOVLYCHAT.handlers, "createGenerationJob", charges_then_refuses)
    refusing = InProcessMock()
    tenant = refusing.new_tenant("lovlychat", 100, credentials=[KEY])
    answer = refusing.client("lovlychat", authorization=f"Bearer {KEY}").post("/v1/generation/jobs", json=IMAGE)
    assert answer.status_code == 400
    [entry] = journal(refusing)
    assert entry["status"] == 400 and entry["tenantId"] == tenant["id"]
    assert entry["effects"] == []
    assert refusing.balance("lovlychat", tenant["id"]) == 100


def test_unauthenticated_and_unknown_requests_are_recorded_without_a_tenant(mock: InProcessMock) -> None:
    client = mock.client("lovlychat", authorization="Bearer not-a-key-of-anyone-at-all")
    assert client.get("/v1/pricing").status_code == 401
    assert mock.client("lovlychat").get("/nowhere").status_code == 404
    entries = journal(mock)
    assert [(entry["path"], entry["status"], entry["tenantId"]) for entry in entries] == \
        [("/v1/pricing", 401, None), ("/nowhere", 404, None)]
    assert entries[0]["headers"]["authorization"] == "Bearer not-…"


def test_the_journal_filters_by_tenant_method_path_status_time_and_position(mock: InProcessMock) -> None:
    first = mock.new_tenant("lovlychat", 100, credentials=[KEY])
    second = mock.new_tenant("lovlychat", 0, credentials=[KEY + "_2"])
    one = mock.client("lovlychat", authorization=f"Bearer {KEY}")
    two = mock.client("lovlychat", **{"x-api-key": KEY + "_2"})
    job = one.post("/v1/generation/jobs", json=IMAGE).json()
    assert two.post("/v1/generation/jobs", json=IMAGE).status_code == 402
    one.get(f"/v1/generation/jobs/{job['id']}")
    two.get("/v1/pricing")
    everything = journal(mock)
    assert len(everything) == 4 and [entry["id"] for entry in everything] == sorted(e["id"] for e in everything)
    assert everything[1]["headers"]["x-api-key"] == "lc_j…"  # the API's own key header is masked too

    def paths(**filters: Any) -> list[tuple[str, str]]:
        return [(entry["method"], entry["path"]) for entry in journal(mock, **filters)]

    assert paths(tenantId=first["id"]) == [("POST", "/v1/generation/jobs"), ("GET", f"/v1/generation/jobs/{job['id']}")]
    assert paths(tenantId=second["id"], method="get") == [("GET", "/v1/pricing")]
    assert paths(path="/v1/generation/jobs/*") == [("GET", f"/v1/generation/jobs/{job['id']}")]
    assert paths(path="/v1/generation/jobs") == [("POST", "/v1/generation/jobs")] * 2
    assert paths(status="402") == [("POST", "/v1/generation/jobs")]
    assert paths(status="2xx") == [("POST", "/v1/generation/jobs"), ("GET", f"/v1/generation/jobs/{job['id']}"),
                                   ("GET", "/v1/pricing")]
    assert paths(after=everything[2]["id"]) == [("GET", "/v1/pricing")]
    assert paths(limit=1) == [("GET", "/v1/pricing")]  # the newest
    assert paths(since=iso(time.time() + 60)) == []
    assert len(paths(since=everything[0]["receivedAt"])) == 4
    bad = mock.admin("lovlychat").get("/__genmock/requests", params={"status": "7xx"})
    assert bad.status_code == 400 and bad.headers["content-type"] == "application/problem+json"


def test_the_journal_keeps_the_last_n_and_clears(mock: InProcessMock) -> None:
    app = ApiApp(dialects.load("lovlychat"), mock.engine, ADMIN_TOKEN, journal_size=3)
    mock.apps["lovlychat"] = app
    client = mock.client("lovlychat")
    for number in range(5):
        client.get(f"/missing/{number}")
    listed = mock.admin("lovlychat").get("/__genmock/requests").json()
    assert [entry["path"] for entry in listed["requests"]] == ["/missing/2", "/missing/3", "/missing/4"]
    assert (listed["size"], listed["dropped"]) == (3, 2)
    assert mock.admin("lovlychat").delete("/__genmock/requests").status_code == 204
    assert mock.admin("lovlychat").get("/__genmock/requests").json() == {"requests": [], "size": 3, "dropped": 0}


def test_admin_calls_are_not_recorded_and_size_zero_records_nothing(mock: InProcessMock) -> None:
    mock.admin("lovlychat").get("/__genmock/tenants")
    mock.admin("lovlychat").post("/__genmock/clock", json={"advanceSeconds": 1})
    assert journal(mock) == []
    mock.apps["lovlychat"] = ApiApp(dialects.load("lovlychat"), mock.engine, ADMIN_TOKEN, journal_size=0)
    mock.client("lovlychat").get("/v1/pricing")
    assert mock.admin("lovlychat").get("/__genmock/requests").json() == {"requests": [], "size": 0, "dropped": 0}


def test_bodies_are_capped_and_binary_ones_shown_as_base64(mock: InProcessMock) -> None:
    mock.new_tenant("lovlychat", 100, credentials=[KEY])
    client = mock.client("lovlychat", authorization=f"Bearer {KEY}")
    job = client.post("/v1/generation/jobs", json=IMAGE).json()
    mock.advance(60)
    asset = client.get(f"/v1/generation/jobs/{job['id']}").json()["assets"][0]
    content = client.get(asset["url"]).content
    assert len(content) > 16 * 1024
    download = journal(mock, path=httpx.URL(asset["url"]).path)[0]["response"]
    assert download["bodyEncoding"] == "base64" and download["bodyTruncated"] is True
    assert base64.b64decode(download["body"]) == content[:16 * 1024]


def test_a_request_body_is_kept_up_to_the_cap_also_when_it_is_refused(mock: InProcessMock) -> None:
    client = mock.client("lovlychat", authorization=f"Bearer {dialects.load('lovlychat').demo.credentials[0]}")
    long = json.dumps({**IMAGE, "prompt": "x" * 20_000})  # longer than the cap, refused by the schema (400)
    assert client.post("/v1/generation/jobs", content=long, headers={"content-type": "application/json"}
                       ).status_code == 400
    declared = b'{"prompt": "' + b"y" * 2_000_000 + b'"}'  # its length past the operation's limit: 413 unread
    assert client.post("/v1/generation/jobs", content=declared, headers={"content-type": "application/json"}
                       ).status_code == 413
    streamed = (b"z" * 65_536 for _ in range(40))  # no length given: read until past the limit, then 413
    assert client.post("/v1/generation/jobs", content=streamed, headers={"content-type": "application/json"}
                       ).status_code == 413
    refused, unread, cut = journal(mock)
    assert refused["bodyTruncated"] is True and refused["body"] == long[:16 * 1024]
    assert (unread["status"], unread["body"], unread["bodyTruncated"]) == (413, None, False)
    assert (cut["status"], cut["body"], cut["bodyTruncated"]) == (413, "z" * 16 * 1024, True)


def test_a_streamed_answer_is_recorded_whole(mock: InProcessMock) -> None:
    """A chat reply is sent line by line as it is written: the journal keeps every line of it."""
    key = dialects.load("aliveai").demo.credentials[0]
    mock.admin("aliveai").patch("/__genmock/config", json={"durations": {"CHAT_FIRST_TOKEN": 0, "CHAT_TOKEN": 0}})
    client = mock.client("aliveai", authorization=f"Key {key}")
    character = client.post("/chat-characters", json={
        "name": "Mira", "bio": "A lighthouse keeper who loves storms and old maps.", "shortBio": "Keeper",
        "firstMessage": "The lamp is lit."}).json()["chatCharacterId"]
    persona = client.post("/chat-personas", json={"name": "Sam", "bio": "A sailor", "isDefault": True}).json()
    chat = client.post("/chats", json={"chatCharacterId": character, "firstMessage": "",
                                       "personaId": persona["id"]}).json()
    reply = client.post(f"/chats/{chat['chatId']}/messages", json={"userMessage": "What map is the oldest?"})
    assert reply.status_code == 200 and reply.text.count("\n") > 3
    [entry] = journal(mock, "aliveai", path=f"/chats/{chat['chatId']}/messages")
    assert entry["status"] == 200 and entry["response"]["body"] == reply.text
    assert entry["response"]["headers"]["content-type"].startswith("application/x-ndjson")
    assert json.loads(entry["body"]) == {"userMessage": "What map is the oldest?"}


def test_a_browser_call_is_recorded_with_the_cors_headers_it_was_answered(mock: InProcessMock) -> None:
    origin = "http://localhost:5173"
    client = mock.client("lovlychat", origin=origin)
    preflight = client.options("/v1/pricing", headers={"access-control-request-method": "GET",
                                                      "access-control-request-headers": "authorization"})
    assert preflight.status_code == 200
    key = dialects.load("lovlychat").demo.credentials[0]
    assert client.get("/v1/pricing", headers={"authorization": f"Bearer {key}"}).status_code == 200
    asked, called = journal(mock)
    assert (asked["method"], asked["status"], called["status"]) == ("OPTIONS", 200, 200)
    assert asked["response"]["headers"]["access-control-allow-origin"] == origin
    assert called["response"]["headers"]["access-control-allow-origin"] == origin
    assert json.loads(called["response"]["body"]) == client.get(
        "/v1/pricing", headers={"authorization": f"Bearer {key}"}).json()


def test_a_websocket_is_recorded_with_how_it_ended_and_its_token_masked(mock: InProcessMock) -> None:
    demo = mock.demo["aliveai"]
    other = mock.new_tenant("aliveai", 0)
    key = other["credentials"][0]
    user = mock.admin("aliveai").get(f"/__genmock/tenants/{demo.id}").json()["account"]["userId"]
    with pytest.raises(WebSocketDisconnect) as refused, \
            mock.client("aliveai").websocket_connect(f"/ws/users/{user}?token={key}") as socket:
        socket.receive_text()
    [entry] = journal(mock, "aliveai")
    assert entry["websocket"] is True and entry["path"] == f"/ws/users/{user}"
    assert entry["closeCode"] == refused.value.code == 4403 and entry["complete"] is True
    assert entry["query"] == f"token={key[:4]}…" and key not in json.dumps(entry)


def test_the_event_stream_tells_each_request_and_each_change_of_state() -> None:
    with running_mock("--clock", "virtual", "--seed", "1") as served:
        lovlychat = served["apis"]["lovlychat"]
        base, admin = lovlychat["base_url"], {"authorization": f"Bearer {served['admin_token']}"}
        assert httpx.get(f"{base}/__genmock/events").status_code == 401
        with httpx.stream("GET", f"{base}/__genmock/events", headers=admin, timeout=10) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            events = _events(lines)
            assert next(events)[0] == "state"
            key = lovlychat["credentials"][0]
            created = httpx.post(f"{base}/v1/generation/jobs", json=IMAGE, headers={"x-api-key": key}).json()
            name, data = next(event for event in events if event[0] == "request")
            assert (data["method"], data["path"], data["status"]) == ("POST", "/v1/generation/jobs", 202)
            assert data["body"] is None and data["effects"][1]["job"]["id"] == created["id"]
            httpx.post(f"{base}/__genmock/clock", json={"advanceSeconds": 5}, headers=admin)
            name, data = next(event for event in events if event[0] == "state")
            assert data["clock"]["mode"] == "virtual"


def _events(lines: Any) -> Any:
    name, data = None, []
    for line in lines:
        if line.startswith("event: "):
            name = line[len("event: "):]
        elif line.startswith("data: "):
            data.append(line[len("data: "):])
        elif not line and name:
            yield name, json.loads("\n".join(data))
            name, data = None, []
