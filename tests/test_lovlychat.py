"""LovlyChat v1 through its HTTP surface: prepaid jobs, polling, pricing, gallery, errors."""

from __future__ import annotations

import io

import av
import pytest

from tests.inprocess import InProcessMock

DEMO_KEY = "lc_demo_key_0123456789abcdef"
IMAGE = {"kind": "image", "variant": "standard", "prompt": "Aiko on a rooftop at dusk", "characterId": "char_aiko"}


@pytest.fixture
def mock() -> InProcessMock:
    return InProcessMock()


@pytest.fixture
def client(mock: InProcessMock):
    return mock.client("lovlychat", authorization=f"Bearer {DEMO_KEY}")


def test_quickstart_queue_poll_embed(mock: InProcessMock, client) -> None:
    accepted = client.post("/v1/generation/jobs", json=IMAGE)
    assert accepted.status_code == 202, accepted.text
    job = accepted.json()
    assert (job["status"], job["cost"], job["wallet"], job["assets"]) == ("queued", 10, 490, [])
    assert job["id"].startswith("job_") and len(job["id"]) == 28
    mock.advance(3)
    running = client.get(f"/v1/generation/jobs/{job['id']}").json()
    assert running["status"] == "running" and 0 < running["progress"] < 1 and running["queuePosition"] is None
    mock.advance(10)
    done = client.get(f"/v1/generation/jobs/{job['id']}").json()
    assert done["status"] == "completed" and done["progress"] == 1 and done["completedAt"]
    [asset] = done["assets"]
    assert (asset["width"], asset["height"], asset["mimeType"]) == (832, 1216, "image/png")
    image = client.get(asset["url"])
    assert image.status_code == 200 and image.content[:8] == b"\x89PNG\r\n\x1a\n"
    gallery = client.get("/v1/generation/gallery").json()
    assert [item["id"] for item in gallery["items"]] == [asset["id"]] and gallery["nextCursor"] is None


def test_both_key_forms_work_and_bad_keys_are_401(mock: InProcessMock) -> None:
    assert mock.client("lovlychat", **{"x-api-key": DEMO_KEY}).get("/v1/pricing").status_code == 200
    for headers in ({}, {"x-api-key": "short-key"}, {"authorization": "Basic " + DEMO_KEY},
                    {"authorization": "Bearer " + "x" * 30},
                    {"authorization": f"Bearer {DEMO_KEY}", "x-api-key": DEMO_KEY[:-1] + "0"}):
        response = mock.client("lovlychat", **headers).get("/v1/pricing")
        assert response.status_code == 401, headers
        assert response.json()["error"]["code"] == "unauthorized"
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_keys_shorter_than_24_characters_cannot_be_issued(mock: InProcessMock) -> None:
    response = mock.admin("lovlychat").post("/__genmock/tenants", json={"credentials": ["x" * 23]})
    assert response.status_code == 400 and "24" in response.json()["detail"]


def test_the_price_charged_is_the_price_listed(mock: InProcessMock, client) -> None:
    mock.admin("lovlychat").patch("/__genmock/config", json={"prices": {"image.hd": 33}})
    pricing = client.get("/v1/pricing").json()
    assert pricing["currency"] == "LoveCoin" and pricing["prices"]["image"] == {"standard": 10, "hd": 33}
    job = client.post("/v1/generation/jobs", json={**IMAGE, "variant": "hd"}).json()
    assert (job["cost"], job["wallet"]) == (33, 467)


def test_402_has_the_documented_body_and_changes_nothing(mock: InProcessMock) -> None:
    tenant = mock.new_tenant("lovlychat", 15)
    client = mock.client("lovlychat", **{"x-api-key": tenant["credentials"][0]})
    assert client.post("/v1/generation/jobs", json=IMAGE).status_code == 202
    refused = client.post("/v1/generation/jobs", json=IMAGE)
    assert (refused.status_code, refused.json()) == (402, {"prepaidRequired": True, "required": 10, "wallet": 5})
    assert mock.balance("lovlychat", tenant["id"]) == 5
    assert len(mock.engine.jobs.of_tenant("lovlychat", tenant["id"])) == 1


def test_a_failed_job_is_refunded_through_the_ledger(mock: InProcessMock, client) -> None:
    mock.admin("lovlychat").post("/__genmock/faults", json={"operation": "job"})
    job = client.post("/v1/generation/jobs", json=IMAGE).json()
    assert job["wallet"] == 490
    mock.advance(1)
    failed = client.get(f"/v1/generation/jobs/{job['id']}").json()
    assert (failed["status"], failed["refunded"], failed["error"]["code"]) == ("failed", 10, "generation_failed")
    ledger = mock.admin("lovlychat").get(f"/__genmock/tenants/{mock.demo['lovlychat'].id}/ledger").json()
    assert [entry["kind"] for entry in ledger["entries"]] == ["top-up", "debit", "refund"]
    assert ledger["balance"] == 500
    assert client.get("/v1/generation/gallery").json()["items"] == []


def test_a_source_the_pipeline_cannot_decode_fails_the_job(mock: InProcessMock, client) -> None:
    video = {**IMAGE, "kind": "video", "sourceImageUrl": "https://example.com/not-an-image.txt"}
    job = client.post("/v1/generation/jobs", json=video).json()
    mock.advance(1)
    failed = client.get(f"/v1/generation/jobs/{job['id']}").json()
    assert (failed["status"], failed["error"]["code"], failed["refunded"]) == ("failed", "source_image_unavailable", 60)


def test_jobs_wait_for_a_free_slot_in_order(mock: InProcessMock, client) -> None:
    ids = [client.post("/v1/generation/jobs", json=IMAGE).json()["id"] for _ in range(4)]
    jobs = [client.get(f"/v1/generation/jobs/{job_id}").json() for job_id in ids]
    assert [job["status"] for job in jobs] == ["running", "running", "queued", "queued"]
    assert [job["queuePosition"] for job in jobs] == [None, None, 1, 2]
    mock.advance(8)
    jobs = [client.get(f"/v1/generation/jobs/{job_id}").json() for job_id in ids]
    assert [job["status"] for job in jobs] == ["completed", "completed", "running", "running"]


def test_video_from_an_own_image_asset_and_not_from_anothers(mock: InProcessMock, client) -> None:
    image_job = client.post("/v1/generation/jobs", json=IMAGE).json()
    mock.advance(10)
    [asset] = client.get(f"/v1/generation/jobs/{image_job['id']}").json()["assets"]
    video = {**IMAGE, "kind": "video", "prompt": "she waves", "sourceAssetId": asset["id"]}
    other = mock.new_tenant("lovlychat", 500)
    foreign = mock.client("lovlychat", **{"x-api-key": other["credentials"][0]}).post("/v1/generation/jobs", json=video)
    assert foreign.status_code == 400 and foreign.json()["error"]["details"][0]["field"] == "sourceAssetId"
    accepted = client.post("/v1/generation/jobs", json=video)
    assert accepted.status_code == 202 and accepted.json()["cost"] == 60
    mock.advance(60)
    [clip] = client.get(f"/v1/generation/jobs/{accepted.json()['id']}").json()["assets"]
    assert (clip["mimeType"], clip["width"], clip["height"], clip["durationSeconds"]) == ("video/mp4", 480, 832, 5.0625)
    video = av.open(io.BytesIO(client.get(clip["url"]).content))
    stream = video.streams.video[0]
    assert (stream.codec_context.width, stream.codec_context.height, stream.frames) == (480, 832, 81)
    thumbnail = client.get(clip["thumbnailUrl"])
    assert thumbnail.headers["content-type"] == "image/png"


def test_gallery_is_newest_first_filtered_and_paged(mock: InProcessMock, client) -> None:
    for character in ("a", "b", "a", "a", "b"):
        client.post("/v1/generation/jobs", json={**IMAGE, "characterId": character})
        mock.advance(20)  # one at a time, so completion order is submission order
    everything = client.get("/v1/generation/gallery").json()["items"]
    stamps = [item["createdAt"] for item in everything]
    assert len(everything) == 5 and stamps == sorted(stamps, reverse=True)
    pages, cursor = [], None
    while True:
        query = {"characterId": "a", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/generation/gallery", params=query).json()
        pages.append([item["id"] for item in page["items"]])
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert [len(page) for page in pages] == [2, 1]
    assert sum(pages, []) == [item["id"] for item in everything if item["characterId"] == "a"]
    bad = client.get("/v1/generation/gallery", params={"cursor": "@@@"})
    assert bad.status_code == 400 and bad.json()["error"]["details"][0]["field"] == "cursor"
    assert client.get("/v1/generation/gallery", params={"limit": 0}).status_code == 400


def test_another_wallets_job_is_indistinguishable_from_a_missing_one(mock: InProcessMock, client) -> None:
    job = client.post("/v1/generation/jobs", json=IMAGE).json()
    other = mock.new_tenant("lovlychat", 100)
    stranger = mock.client("lovlychat", **{"x-api-key": other["credentials"][0]})
    foreign = stranger.get(f"/v1/generation/jobs/{job['id']}")
    missing = stranger.get("/v1/generation/jobs/job_000000000000000000000000")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()
    assert stranger.get("/v1/generation/gallery").json()["items"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**IMAGE, "kind": "video"}, ""),
        ({**IMAGE, "variant": "ultra"}, "variant"),
        ({**IMAGE, "prompt": "   "}, "prompt"),
        ({**IMAGE, "surprise": 1}, "surprise"),
        ({key: value for key, value in IMAGE.items() if key != "characterId"}, "characterId"),
    ],
)
def test_invalid_jobs_are_400_with_details_and_cost_nothing(mock: InProcessMock, client, body, field) -> None:
    response = client.post("/v1/generation/jobs", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and error["details"][0]["field"] == field
    assert mock.balance("lovlychat", mock.demo["lovlychat"].id) == 500


def test_routing_errors(client) -> None:
    assert client.get("/v1/nothing").status_code == 404
    wrong_method = client.delete("/v1/pricing")
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "GET"
    malformed = client.post("/v1/generation/jobs", content=b"{", headers={"content-type": "application/json"})
    assert malformed.status_code == 400 and malformed.json()["error"]["code"] == "invalid_request"


def test_the_admin_ledger_shows_refunds_as_soon_as_the_clock_makes_them_due(mock: InProcessMock, client) -> None:
    mock.admin("lovlychat").post("/__genmock/faults", json={"operation": "job"})
    client.post("/v1/generation/jobs", json=IMAGE)
    admin = mock.admin("lovlychat")
    admin.post("/__genmock/clock", json={"advanceSeconds": 1})
    ledger = admin.get(f"/__genmock/tenants/{mock.demo['lovlychat'].id}/ledger").json()
    assert ledger["balance"] == 500 and ledger["entries"][-1]["kind"] == "refund"
