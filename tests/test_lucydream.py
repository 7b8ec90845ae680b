"""LucyDream through its HTTP surface: the published example, model lifecycle, every documented error."""

from __future__ import annotations

import struct

import pytest

from tests.inprocess import InProcessMock

ROUTE = "/wp-json/apiservices/v1/generate"
EXAMPLE = {  # the published request body
    "prompt": "A beautiful blonde in lingerie at sunset",
    "tune_id": "12345",
    "safetensors_path": "https://your-bucket-url/12345.safetensors",
    "trigger_name": "woman",
    "api_mode": "spicy",
}
TUNE = {"title": "Anna", "name": "woman", "image_urls": [f"https://example.com/anna/{i}.jpg" for i in range(5)]}


@pytest.fixture
def mock() -> InProcessMock:
    return InProcessMock()


def png_size(content: bytes) -> tuple[int, int]:
    assert content[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", content[16:24])


def test_the_published_example_generates_a_real_png_and_debits(mock: InProcessMock) -> None:
    client = mock.client("lucydream", **{"X-API-Key": "your_api_key_here"})
    response = client.post(ROUTE, json=EXAMPLE)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["w"], body["h"], body["user_prompt"]) == (896, 1152, EXAMPLE["prompt"])
    assert body["balance"] == pytest.approx(4.9)
    assert body["message"] == "Image generated successfully"
    image = client.get(body["image_url"])
    assert image.headers["content-type"] == "image/png" and png_size(image.content) == (896, 1152)
    thumbnail = client.get(body["thumbnail_url"])
    width, height = png_size(thumbnail.content)
    assert width < 896 and height < 1152 and abs(width / height - 896 / 1152) < 0.02
    assert client.post(ROUTE, json={**EXAMPLE, "api_mode": "standard"}).json()["balance"] == pytest.approx(4.8)


def test_api_mode_defaults_and_scheme_less_paths_are_accepted(mock: InProcessMock) -> None:
    client = mock.client("lucydream", **{"X-API-Key": "your_api_key_here"})
    body = {key: value for key, value in EXAMPLE.items() if key != "api_mode"}
    body["safetensors_path"] = "your-bucket-url/12345.safetensors"
    assert client.post(ROUTE, json=body).status_code == 200


def test_a_model_is_usable_only_after_training(mock: InProcessMock) -> None:
    mock.admin("lucydream").patch("/__genmock/config", json={"durations": {"train": 60}})
    client = mock.client("lucydream", **{"X-API-Key": "your_api_key_here"})
    created = client.post(ROUTE, json={"tune": TUNE})
    assert created.status_code == 200, created.text
    model = created.json()
    assert model["status"] == "training" and model["safetensors_path"].endswith(f"/{model['tune_id']}.safetensors")
    assert model["ready_at"] == "2026-01-01T00:01:00.000Z"
    request = {**EXAMPLE, "tune_id": model["tune_id"], "safetensors_path": model["safetensors_path"]}
    early = client.post(ROUTE, json=request)
    assert (early.status_code, early.json()) == (409, {"error": "The model is still training"})
    mock.advance(60)
    assert client.post(ROUTE, json=request).status_code == 200
    wrong_file = client.post(ROUTE, json={**request, "safetensors_path": "https://your-bucket-url/12345.safetensors"})
    assert wrong_file.status_code == 404


def test_another_tenants_model_is_indistinguishable_from_a_missing_one(mock: InProcessMock) -> None:
    other = mock.new_tenant("lucydream", 5)
    client = mock.client("lucydream", **{"X-API-Key": other["credentials"][0]})
    foreign = client.post(ROUTE, json=EXAMPLE)
    missing = client.post(ROUTE, json={**EXAMPLE, "tune_id": "99999",
                                       "safetensors_path": "https://your-bucket-url/99999.safetensors"})
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json() == {"error": "Model not found"}
    assert mock.balance("lucydream", other["id"]) == 5


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**EXAMPLE, "trigger_name": "dog"}, "The trigger_name parameter must be either 'woman' or 'man'."),
        ({key: value for key, value in EXAMPLE.items() if key != "prompt"}, "The prompt parameter is required."),
        ({**EXAMPLE, "api_mode": "nsfw"}, "The api_mode parameter must be one of 'spicy', 'xxx', 'standard'."),
        ({**EXAMPLE, "tune": {"title": "x"}}, "Do not include a tune object when generating an image."),
        ({"prompt": "x", "tune": {**TUNE, "name": "dog"}}, "The tune.name parameter must be one of 'man', 'woman'."),
        ({"tune": {**TUNE, "image_urls": TUNE["image_urls"][:4]}},
         "The tune.image_urls parameter must contain exactly 5 image URLs."),
        ({"tune": {**TUNE, "title": "A title that is far too long"}}, None),
        ([1, 2], None),
    ],
)
def test_invalid_requests_get_400_in_the_plugins_format_and_cost_nothing(mock: InProcessMock, body, message) -> None:
    client = mock.client("lucydream", **{"X-API-Key": "your_api_key_here"})
    response = client.post(ROUTE, json=body)
    assert response.status_code == 400
    assert list(response.json()) == ["error"]
    if message:
        assert response.json()["error"] == message
    assert mock.balance("lucydream", mock.demo["lucydream"].id) == 5


def test_bad_keys_get_403(mock: InProcessMock) -> None:
    for headers in ({}, {"X-API-Key": "nope"}, {"X-API-Key": ""}):
        response = mock.client("lucydream", **headers).post(ROUTE, json=EXAMPLE)
        assert (response.status_code, response.json()) == (403, {"error": "Invalid API key"})


def test_wordpress_answers_around_the_route(mock: InProcessMock) -> None:
    client = mock.client("lucydream", **{"X-API-Key": "your_api_key_here"})
    for method, path in (("GET", ROUTE), ("POST", "/wp-json/apiservices/v1/nothing"), ("DELETE", ROUTE)):
        response = client.request(method, path)
        assert response.status_code == 404
        assert response.json()["code"] == "rest_no_route" and response.json()["data"] == {"status": 404}
    malformed = client.post(ROUTE, content=b"{not json", headers={"content-type": "application/json"})
    assert malformed.status_code == 400 and malformed.json()["code"] == "rest_invalid_json"


def test_insufficient_balance_is_402_and_takes_nothing(mock: InProcessMock) -> None:
    mock.admin("lucydream").patch("/__genmock/config", json={"prices": {"generate": 2}})
    client = mock.client("lucydream", **{"X-API-Key": "your_api_key_here"})
    assert [client.post(ROUTE, json=EXAMPLE).status_code for _ in range(3)] == [200, 200, 402]
    assert client.post(ROUTE, json=EXAMPLE).json() == {"error": "Insufficient balance"}
    assert mock.balance("lucydream", mock.demo["lucydream"].id) == 1


def test_an_armed_failure_answers_500_and_costs_nothing(mock: InProcessMock) -> None:
    armed = mock.admin("lucydream").post("/__genmock/faults", json={"operation": "generate"})
    assert armed.status_code == 201
    client = mock.client("lucydream", **{"X-API-Key": "your_api_key_here"})
    failed = client.post(ROUTE, json=EXAMPLE)
    assert (failed.status_code, failed.json()) == (500, {"error": "Failed to generate image"})
    ledger = mock.admin("lucydream").get(f"/__genmock/tenants/{mock.demo['lucydream'].id}/ledger").json()
    assert ledger["balance"] == 5 and [entry["kind"] for entry in ledger["entries"]] == ["top-up"]
    assert client.post(ROUTE, json=EXAMPLE).status_code == 200  # the fault fired once


def test_a_model_whose_training_fails_is_never_usable(mock: InProcessMock) -> None:
    mock.admin("lucydream").post("/__genmock/faults", json={"operation": "train"})
    client = mock.client("lucydream", **{"X-API-Key": "your_api_key_here"})
    model = client.post(ROUTE, json={"tune": TUNE}).json()
    mock.advance(3600)
    response = client.post(ROUTE, json={**EXAMPLE, "tune_id": model["tune_id"],
                                        "safetensors_path": model["safetensors_path"]})
    assert (response.status_code, response.json()) == (409, {"error": "The model failed to train"})


def test_unknown_assets_are_404(mock: InProcessMock) -> None:
    client = mock.client("lucydream")
    assert client.get("/generated/doesnotexist.png").status_code == 404


def test_ready_at_counts_the_models_queued_for_training_before(mock: InProcessMock) -> None:
    mock.admin("lucydream").patch("/__genmock/config", json={"durations": {"train": 100}, "slots": 2})
    client = mock.client("lucydream", **{"X-API-Key": "your_api_key_here"})
    models = [client.post(ROUTE, json={"tune": TUNE}).json() for _ in range(3)]
    assert [model["ready_at"][11:19] for model in models] == ["00:01:40", "00:01:40", "00:03:20"]
    mock.advance(100)
    third = {**EXAMPLE, "tune_id": models[2]["tune_id"], "safetensors_path": models[2]["safetensors_path"]}
    assert client.post(ROUTE, json=third).status_code == 409
    mock.advance(100)
    assert client.post(ROUTE, json=third).status_code == 200
