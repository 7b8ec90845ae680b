"""The admin API (`specs/admin.yaml`) in this process: removing tenants, reset, and inputs it must refuse."""

from __future__ import annotations

from typing import Any

import pytest

from mockserver.engine.ledger import to_amount
from mockserver.spec import load_document
from tests.inprocess import InProcessMock

KEY = "lc_admin_tests_key_0123456789"
IMAGE = {"kind": "image", "variant": "standard", "prompt": "Aiko on a rooftop at dusk", "characterId": "char_aiko"}


@pytest.fixture
def mock() -> InProcessMock:
    return InProcessMock()


def problem_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


def test_deleting_a_tenant_removes_it_and_everything_it_owns(mock: InProcessMock) -> None:
    admin = mock.admin("lovlychat")
    tenant = mock.new_tenant("lovlychat", 100, credentials=[KEY])
    client = mock.client("lovlychat", authorization=f"Bearer {KEY}")
    done = client.post("/v1/generation/jobs", json=IMAGE).json()
    mock.advance(60)
    asset = client.get(f"/v1/generation/jobs/{done['id']}").json()["assets"][0]
    client.post("/v1/generation/jobs", json=IMAGE)  # still queued when its tenant goes
    assert admin.post(f"/__genmock/tenants/{tenant['id']}/top-ups", json={"amount": 5}).status_code == 201
    assert admin.post("/__genmock/faults", json={"operation": "job", "tenantId": tenant["id"]}).status_code == 201
    everyone = admin.post("/__genmock/faults", json={"operation": "job", "count": 2}).json()
    others = admin.get("/__genmock/tenants").json()["tenants"]

    response = admin.delete(f"/__genmock/tenants/{tenant['id']}")

    assert response.status_code == 204 and response.content == b""
    problem_of(admin.get(f"/__genmock/tenants/{tenant['id']}"), 404)
    problem_of(admin.get(f"/__genmock/tenants/{tenant['id']}/ledger"), 404)
    assert admin.get("/__genmock/tenants").json()["tenants"] == [t for t in others if t["id"] != tenant["id"]]
    assert [fault["id"] for fault in admin.get("/__genmock/faults").json()["faults"]] == [everyone["id"]]
    assert client.get("/v1/pricing").status_code == 401  # its key is gone with it
    assert mock.client("lovlychat").get(asset["url"]).status_code == 404
    store = mock.engine.store
    assert store.get_tenant(tenant["id"]) is None
    assert (store.credentials_of(tenant["id"]), store.ledger_entries(tenant["id"]), store.jobs_of(tenant["id"]),
            store.assets_of(tenant["id"])) == ([], [], [], [])
    # the others are untouched: the demo tenant still works, a new tenant may take the freed key
    demo = mock.client("lovlychat", authorization="Bearer lc_demo_key_0123456789abcdef")
    assert demo.post("/v1/generation/jobs", json=IMAGE).status_code == 202
    assert mock.new_tenant("lovlychat", 1, credentials=[KEY])["credentials"] == [KEY]


def test_deleting_a_lucydream_tenant_removes_its_models(mock: InProcessMock) -> None:
    tenant = mock.new_tenant("lucydream", 1, credentials=["admin-tests-key"])
    client = mock.client("lucydream", **{"x-api-key": "admin-tests-key"})
    tune = {"title": "Anna", "name": "woman", "image_urls": [f"https://example.com/{n}.jpg" for n in range(5)]}
    assert client.post("/wp-json/apiservices/v1/generate", json={"tune": tune}).status_code == 200

    assert mock.admin("lucydream").delete(f"/__genmock/tenants/{tenant['id']}").status_code == 204

    assert mock.engine.store.jobs_of(tenant["id"]) == [] and mock.engine.store.assets_of(tenant["id"]) == []
    assert client.post("/wp-json/apiservices/v1/generate", json={"tune": tune}).status_code == 403


def test_deleting_an_unknown_tenant_answers_404(mock: InProcessMock) -> None:
    admin = mock.admin("lovlychat")
    before = admin.get("/__genmock/tenants").json()
    assert "tn_nobody" in problem_of(admin.delete("/__genmock/tenants/tn_nobody"), 404)["detail"]
    lucydream_demo = mock.demo["lucydream"].id  # another API's tenant is no tenant of this one
    problem_of(admin.delete(f"/__genmock/tenants/{lucydream_demo}"), 404)
    assert admin.get("/__genmock/tenants").json() == before
    assert mock.admin("lucydream").get(f"/__genmock/tenants/{lucydream_demo}").status_code == 200


def test_reset_returns_the_clock_to_real_time(mock: InProcessMock) -> None:
    admin = mock.admin("lovlychat")
    assert admin.post("/__genmock/clock", json={"mode": "virtual"}).json()["mode"] == "virtual"

    assert admin.post("/__genmock/reset").status_code == 200

    assert admin.get("/__genmock/clock").json()["mode"] == "real"


def test_a_credential_listed_twice_is_a_400_naming_it(mock: InProcessMock) -> None:
    admin = mock.admin("lovlychat")
    before = admin.get("/__genmock/tenants").json()

    response = admin.post("/__genmock/tenants", json={"credentials": [KEY, "lc_other_key_0123456789abc", KEY]})

    assert KEY in problem_of(response, 400)["detail"]
    assert admin.get("/__genmock/tenants").json() == before


@pytest.mark.parametrize(("now", "expected"), [
    ("1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000Z"),
    ("8999-12-31T23:59:59Z", "8999-12-31T23:59:59.000Z"),
    ("2026-06-30T23:59:60Z", "2026-07-01T00:00:00.000Z"),  # a leap second: POSIX time has the next second
    ("2026-01-01t12:00:00z", "2026-01-01T12:00:00.000Z"),  # RFC 3339 allows lower-case t and z
    ("2026-01-01T12:00:00+02:00", "2026-01-01T10:00:00.000Z"),
])
def test_the_clock_can_be_set_anywhere_in_its_range(mock: InProcessMock, now: str, expected: str) -> None:
    response = mock.admin("lovlychat").post("/__genmock/clock", json={"mode": "virtual", "now": now})

    assert response.status_code == 200, response.text
    assert response.json() == {"mode": "virtual", "now": expected}


@pytest.mark.parametrize("now", ["1969-12-31T23:59:59Z", "9000-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
                                 "9999-12-31T23:59:60Z", "0001-01-01T00:00:00Z", "0000-01-01T00:00:00Z",
                                 "not a date", "2026-02-30T00:00:00Z", "2026-01-01T00:00:00"])
def test_a_clock_outside_its_range_or_no_date_time_is_a_400(mock: InProcessMock, now: str) -> None:
    admin = mock.admin("lovlychat")
    before = admin.get("/__genmock/clock").json()

    response = admin.post("/__genmock/clock", json={"mode": "virtual", "now": now})

    assert "now" in problem_of(response, 400)["detail"]
    assert admin.get("/__genmock/clock").json() == before


def test_advancing_the_clock_stops_short_of_the_year_9000(mock: InProcessMock) -> None:
    admin = mock.admin("lovlychat")
    admin.post("/__genmock/clock", json={"mode": "virtual", "now": "8999-12-31T23:00:00Z"})
    tenant = mock.new_tenant("lovlychat", 100, credentials=[KEY])
    client = mock.client("lovlychat", authorization=f"Bearer {KEY}")
    job = client.post("/v1/generation/jobs", json=IMAGE).json()

    problem = problem_of(admin.post("/__genmock/clock", json={"advanceSeconds": 3600}), 400)

    assert "advanceSeconds" in problem["detail"]
    assert admin.get("/__genmock/clock").json()["now"] == "8999-12-31T23:00:00.000Z"
    assert admin.post("/__genmock/clock", json={"advanceSeconds": 3599}).status_code == 200
    assert client.get(f"/v1/generation/jobs/{job['id']}").json()["status"] == "completed"
    assert mock.balance("lovlychat", tenant["id"]) == 90


def test_a_price_beyond_10_to_the_9_is_a_400(mock: InProcessMock) -> None:
    admin = mock.admin("lovlychat")
    response = admin.patch("/__genmock/config", json={"prices": {"image.standard": 1e300}})

    assert "image.standard" in problem_of(response, 400)["detail"]
    assert admin.get("/__genmock/config").json()["prices"]["image.standard"] == 10
    assert admin.patch("/__genmock/config", json={"prices": {"image.standard": 10**9}}).status_code == 200


def test_a_top_up_cannot_take_a_balance_beyond_10_to_the_12(mock: InProcessMock) -> None:
    admin = mock.admin("lovlychat")
    tenant = mock.new_tenant("lovlychat", 0)
    mock.engine.ledger.top_up(tenant["id"], to_amount(10**12 - 1))
    assert admin.post(f"/__genmock/tenants/{tenant['id']}/top-ups", json={"amount": 1}).status_code == 201

    response = admin.post(f"/__genmock/tenants/{tenant['id']}/top-ups", json={"amount": 0.001})

    assert "amount" in problem_of(response, 400)["detail"]
    assert mock.balance("lovlychat", tenant["id"]) == 10**12


def test_every_number_an_admin_request_takes_is_bounded() -> None:
    """No admin input can overflow what the engine stores (64-bit thousandths, timestamps before 9999)."""
    document = load_document("admin.yaml")
    unbounded = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                name = node["$ref"].rsplit("/", 1)[-1]
                walk(document["components"]["schemas"][name], f"{where}->{name}")
                return
            if node.get("type") in ("number", "integer") and "maximum" not in node:
                unbounded.append(where)
            for key, value in node.items():
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}[{index}]")

    for path, item in document["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "requestBody" in operation:
                walk(operation["requestBody"], f"{method.upper()} {path}")
    assert unbounded == []


def test_the_job_list_shows_the_queue_with_progress_then_finished_jobs_with_their_assets(
        mock: InProcessMock) -> None:
    admin = mock.admin("lovlychat")
    assert admin.patch("/__genmock/config", json={"slots": 1}).status_code == 200
    tenant = mock.new_tenant("lovlychat", 100, credentials=[KEY])
    other = mock.new_tenant("lovlychat", 100, credentials=[KEY + "_other"])
    client = mock.client("lovlychat", authorization=f"Bearer {KEY}")
    first, second = (client.post("/v1/generation/jobs", json=IMAGE).json() for _ in range(2))
    mock.client("lovlychat", authorization=f"Bearer {KEY}_other").post("/v1/generation/jobs", json=IMAGE)
    duration = admin.get("/__genmock/config").json()["durations"]["image.standard"]
    mock.advance(duration / 2)
    queue = admin.get("/__genmock/jobs", params={"status": "active", "tenantId": tenant["id"]}).json()["jobs"]
    assert [(job["id"], job["status"], job["queuePosition"]) for job in queue] == \
        [(first["id"], "running", 0), (second["id"], "queued", 1)]
    assert 0 < queue[0]["progress"] < 1 and queue[0]["cost"] == first["cost"] and queue[0]["assets"] == []
    assert len(admin.get("/__genmock/jobs", params={"status": "active"}).json()["jobs"]) == 3
    mock.advance(3 * duration)
    assert admin.get("/__genmock/jobs", params={"status": "active"}).json()["jobs"] == []
    finished = admin.get("/__genmock/jobs", params={"tenantId": tenant["id"], "limit": 1}).json()["jobs"]
    assert [(job["id"], job["status"], job["progress"]) for job in finished] == [(second["id"], "completed", 1)]
    [asset] = finished[0]["assets"]
    assert client.get(asset["thumbnailUrl"]).headers["content-type"] == "image/png"
    assert client.get(asset["url"]).content[:4] == b"\x89PNG"
    everyone = admin.get("/__genmock/jobs", params={"status": "finished"}).json()["jobs"]
    assert {job["tenantId"] for job in everyone} == {tenant["id"], other["id"]} and len(everyone) == 3
    assets = admin.get(f"/__genmock/tenants/{tenant['id']}/assets").json()
    assert [item["jobId"] for item in assets["assets"]] == [second["id"], first["id"]]  # newest first
    assert assets["assets"][0] == asset
    problem_of(admin.get("/__genmock/tenants/nobody/assets"), 404)
    problem_of(admin.get("/__genmock/jobs", params={"status": "sleeping"}), 400)
