"""The AliveAI mock over real HTTP and websockets: accounts, credits, the create routes, the queue, blocking
answers, the prompt manager, uploads and both websocket channels, on a virtual clock moved by the admin API."""

from __future__ import annotations

import io
import json
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import av
import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.servers import running_mock

IMAGE = {"name": "Ava", "appearance": "a woman in a green raincoat, city street", "detailLevel": "MEDIUM"}


@pytest.fixture(scope="module")
def served() -> Iterator[dict[str, Any]]:
    with running_mock("--api", "aliveai", "--seed", "3", "--clock", "virtual") as credentials:
        yield credentials["apis"]["aliveai"] | {"admin_token": credentials["admin_token"]}


@pytest.fixture
def admin(served: dict[str, Any]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served["admin_url"], headers={"authorization": f"Bearer {served['admin_token']}"},
                      timeout=30) as client:
        client.post("/reset").raise_for_status()
        client.post("/clock", json={"mode": "virtual"}).raise_for_status()
        yield client


class User:
    def __init__(self, served: dict[str, Any], tenant: dict[str, Any]) -> None:
        self.tenant = tenant
        self.key = tenant["credentials"][0]
        self.account = tenant["account"]
        self.http = httpx.Client(base_url=served["base_url"], headers={"authorization": f"Key {self.key}"},
                                 timeout=60)
        self.ws_url = served["base_url"].replace("http", "ws", 1)

    def credits(self) -> int:
        return self.http.get("/members/me").json()["credits"]

    def create(self, path: str = "/prompts", body: dict[str, Any] | None = None, **headers: str) -> httpx.Response:
        return self.http.post(path, json=IMAGE if body is None else body, headers=headers)

    def prompt(self, prompt_id: str) -> httpx.Response:
        return self.http.get(f"/prompts/{prompt_id}")


def new_user(served: dict[str, Any], admin: httpx.Client, balance: float = 100, **login: str) -> User:
    response = admin.post("/tenants", json={"name": "user", "balance": balance, **login})
    assert response.status_code == 201, response.text
    return User(served, response.json())


def advance(admin: httpx.Client, seconds: float) -> None:
    admin.post("/clock", json={"advanceSeconds": seconds}).raise_for_status()


def finished(user: User, admin: httpx.Client, prompt_id: str, seconds: float = 120) -> dict[str, Any]:
    advance(admin, seconds)
    container = user.prompt(prompt_id).json()
    assert container["medias"], container
    return container


def png_size(content: bytes) -> tuple[int, int]:
    assert content[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", content[16:24])


# -- accounts --------------------------------------------------------------------------------------------------


def test_login_gives_a_bearer_token_that_expires(served: dict[str, Any], admin: httpx.Client) -> None:
    user = new_user(served, admin, email="Ana@Example.com", password="s3cret pass")
    login = user.http.post("/members/login", json={"email": "ana@example.com", "password": "s3cret pass"},
                           headers={"authorization": ""})
    assert login.status_code == 200
    token = login.json()["accessToken"]
    bearer = {"authorization": f"Bearer {token}"}
    me = user.http.get("/members/me", headers=bearer).json()
    assert me["id"] == user.account["userId"] and me["email"] == "ana@example.com" and me["credits"] == 100
    assert me["apiKey"] == user.key
    advance(admin, 24 * 3600 + 1)
    expired = user.http.get("/members/me", headers=bearer)
    assert expired.status_code == 401 and expired.headers["content-type"] == "application/problem+json"
    assert expired.json()["status"] == 401 and expired.json()["detail"]


@pytest.mark.parametrize("authorization", ["", "Key", "Key not-a-key", "Bearer a.b.c", "Basic xyz", "{key}",
                                           "Bearer {key}", "Key {token}", "Key  {key}x"])
def test_wrong_credentials_get_the_401_problem(served: dict[str, Any], admin: httpx.Client,
                                               authorization: str) -> None:
    user = new_user(served, admin)
    token = user.http.post("/members/login", json={"email": user.account["email"],
                                                   "password": user.account["password"]}).json()["accessToken"]
    header = authorization.format(key=user.key, token=token)
    answer = user.http.get("/members/me", headers={"authorization": header})
    assert answer.status_code == 401 and answer.json()["title"] == "Unauthorized"


def test_a_wrong_password_is_refused(served: dict[str, Any], admin: httpx.Client) -> None:
    user = new_user(served, admin)
    answer = user.http.post("/members/login", json={"email": user.account["email"], "password": "nope"})
    assert answer.status_code == 401 and "password" in answer.json()["detail"]


def test_admin_refuses_a_taken_email_and_keys_that_are_no_uuids(served: dict[str, Any], admin: httpx.Client) -> None:
    new_user(served, admin, email="same@example.com")
    assert admin.post("/tenants", json={"email": "same@example.com"}).status_code == 409
    assert admin.post("/tenants", json={"credentials": ["gm_not_a_uuid_key_0123456789"]}).status_code == 400


# -- money -----------------------------------------------------------------------------------------------------


def test_a_create_charges_its_price_and_a_short_balance_gets_402_with_nothing_done(
        served: dict[str, Any], admin: httpx.Client) -> None:
    prices = admin.get("/config").json()["prices"]
    user = new_user(served, admin, balance=prices["IMAGE_DEFAULT"] + 1)
    assert user.create().status_code == 200
    assert user.credits() == 1
    refused = user.create()
    assert refused.status_code == 402 and refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["detail"] == f"Not enough credits: this request costs {prices['IMAGE_DEFAULT']}, 1 left"
    assert user.credits() == 1 and len(user.http.get("/prompts/pending").json()["queue"]) == 1


def test_a_medium_video_costs_twice_a_short_one(served: dict[str, Any], admin: httpx.Client) -> None:
    price = admin.get("/config").json()["prices"]["IMAGE_TO_VIDEO"]
    user = new_user(served, admin, balance=1000)
    image = finished(user, admin, user.create().json()["promptId"])["medias"][0]["id"]
    before = user.credits()
    body = {"videoModel": "DEFAULT", "mediaId": image, "text": "she turns and smiles", "videoLength": "MEDIUM"}
    assert user.create("/prompts/image-to-video", body).status_code == 200
    assert before - user.credits() == 2 * price


def test_a_failed_prompt_is_refunded_and_gone(served: dict[str, Any], admin: httpx.Client) -> None:
    user = new_user(served, admin)
    admin.post("/faults", json={"operation": "prompt"}).raise_for_status()
    prompt_id = user.create().json()["promptId"]
    advance(admin, 1)
    assert user.credits() == 100 and user.prompt(prompt_id).status_code == 404
    ledger = admin.get(f"/tenants/{user.tenant['id']}/ledger").json()["entries"]
    assert [entry["kind"] for entry in ledger] == ["top-up", "debit", "refund"]


# -- the create routes and their medias ------------------------------------------------------------------------


def test_an_image_prompt_fills_its_medias_with_a_png_of_the_requested_size(
        served: dict[str, Any], admin: httpx.Client) -> None:
    user = new_user(served, admin)
    answer = user.create(body={**IMAGE, "aspectRatio": "LANDSCAPE", "cfg": 7.9, "unknownField": 1})
    assert answer.status_code == 200
    prompt_id, seed = answer.json()["promptId"], answer.json()["seed"]
    assert seed.isdigit() and len(seed) <= 18
    waiting = user.prompt(prompt_id).json()
    assert waiting["medias"] == [] and waiting["originalPrompt"]["seed"] == seed
    echoed = waiting["originalPrompt"]
    assert echoed["cfg"] == 7 and "unknownField" not in echoed  # as the server binds it: truncated, unknown dropped
    assert echoed["faceModel"] == "REALISM" and echoed["faceImproveStrength"] == 5  # server-filled defaults
    media = finished(user, admin, prompt_id)["medias"][0]
    assert media["mediaType"] == "IMAGE" and len(media["id"]) == 6 and media["id"].isalnum()
    assert png_size(httpx.get(media["mediaUrl"]).content) == (1216, 832)


def test_image_to_video_gives_an_mp4_with_the_requested_rate_and_length(
        served: dict[str, Any], admin: httpx.Client) -> None:
    user = new_user(served, admin, balance=1000)
    image = finished(user, admin, user.create().json()["promptId"])["medias"][0]
    body = {"videoModel": "DEFAULT", "mediaId": image["id"], "text": "she waves", "videoFrameRate": "LOW"}
    prompt_id = user.create("/prompts/image-to-video", body).json()["promptId"]
    container = finished(user, admin, prompt_id)
    echoed = container["imageToVideoRequest"]
    assert echoed["videoLength"] == "SHORT" and echoed["motionStrength"] == 2  # filled in by the server
    media = container["medias"][0]
    assert media["mediaType"] == "VIDEO" and media["mediaUrl"].endswith(".mp4")
    with av.open(io.BytesIO(httpx.get(media["mediaUrl"], timeout=60).content)) as video:
        stream = video.streams.video[0]
        assert stream.codec_context.name == "h264" and round(float(stream.average_rate)) == 16
        assert video.duration / av.time_base == pytest.approx(5.0, abs=0.2)
        assert (stream.codec_context.width, stream.codec_context.height) == (480, 702)
        assert sum(1 for _ in video.decode(stream)) == 80


def test_an_upscale_is_larger_than_its_source(served: dict[str, Any], admin: httpx.Client) -> None:
    user = new_user(served, admin)
    source = user.create().json()["promptId"]
    image = finished(user, admin, source)["medias"][0]
    body = {"mediaId": image["id"], "createdFromPromptId": source, "restoreFace": True}
    upscaled = finished(user, admin, user.create("/prompts/edit-upscale", body).json()["promptId"])["medias"][0]
    assert png_size(httpx.get(upscaled["mediaUrl"]).content) == (1664, 2432)


def test_references_must_name_the_users_own_things(served: dict[str, Any], admin: httpx.Client) -> None:
    owner, stranger = new_user(served, admin), new_user(served, admin)
    source = owner.create().json()["promptId"]
    image = finished(owner, admin, source)["medias"][0]["id"]
    for body in ({"mediaId": image, "createdFromPromptId": source, "text": "blue eyes"},
                 {"mediaId": "nothing", "createdFromPromptId": source, "text": "blue eyes"}):
        refused = stranger.create("/prompts/edit-eyes", body)
        assert refused.status_code == 404 and refused.json()["title"] == "Not Found"
    assert stranger.credits() == 100 and stranger.http.get("/prompts/pending").json()["queue"] == []
    own_media_foreign_prompt = owner.create("/prompts/edit-eyes", {"mediaId": image, "createdFromPromptId":
                                                                   "0b7e2d6c-1a9f-4e3b-8c5d-2f0a7e9b4c61", "text": "x"})
    assert own_media_foreign_prompt.status_code == 404
    video_wanted = owner.create("/prompts/upscale-video", {"videoUpscaleModel": "DEFAULT", "mediaId": image})
    assert video_wanted.status_code == 400 and video_wanted.json()["violations"][0]["field"] == "mediaId"


def test_a_finished_clothes_prompt_is_a_custom_clothes_item(served: dict[str, Any], admin: httpx.Client) -> None:
    user = new_user(served, admin)
    image = finished(user, admin, user.create().json()["promptId"])["medias"][0]["id"]
    before = {item["clothesId"] for item in user.http.get("/clothes/custom").json()}
    clothes = finished(user, admin, user.create("/prompts/create-clothes", {"mediaId": image}).json()["promptId"])
    added = {item["clothesId"] for item in user.http.get("/clothes/custom").json()} - before
    assert added == {clothes["medias"][0]["id"]}
    assert user.http.get(f"/clothes/custom/{clothes['medias'][0]['id']}").status_code == 200


@pytest.mark.parametrize("page", ["2147483648", "-1", "1.5"])
def test_a_query_integer_outside_its_format_is_refused(served: dict[str, Any], admin: httpx.Client,
                                                       page: str) -> None:
    answer = new_user(served, admin).http.get("/prompts", params={"page": page})
    assert answer.status_code == 400 and answer.json()["violations"][0]["field"] == "page"


def test_validation_names_each_violated_field(served: dict[str, Any], admin: httpx.Client) -> None:
    user = new_user(served, admin)
    answer = user.create("/prompts/image-to-video", {"text": "x" * 1501, "motionStrength": 9})
    assert answer.status_code == 400
    fields = {violation["field"] for violation in answer.json()["violations"]}
    assert {"videoModel", "mediaId", "text", "motionStrength"} <= fields
    assert user.credits() == 100


# -- the queue -------------------------------------------------------------------------------------------------


def test_the_queue_positions_removal_refund_and_the_pending_limit(served: dict[str, Any], admin: httpx.Client) -> None:
    admin.patch("/config", json={"slots": 1, "limits": {"maxPending": 3}}).raise_for_status()
    user = new_user(served, admin)
    ids = [user.create().json()["promptId"] for _ in range(3)]
    limited = user.create()
    assert limited.status_code == 429 and "Max pending creations" in limited.json()["detail"]
    advance(admin, 1)
    queue = user.http.get("/prompts/pending").json()["queue"]
    assert [(item["promptId"], item["queuePosition"]) for item in queue] == list(zip(ids, [0, 1, 2], strict=True))
    assert queue[0]["progress"] > 0 and queue[1]["progress"] == 0 and not queue[0]["video"]
    paid = user.credits()
    assert user.http.delete("/prompts/queue", params={"promptId": ids[0]}).status_code == 204  # running: stays
    assert user.http.delete("/prompts/queue", params={"promptId": ids[1]}).status_code == 204
    assert user.credits() == paid + admin.get("/config").json()["prices"]["IMAGE_DEFAULT"]
    assert user.prompt(ids[1]).status_code == 404
    assert [item["promptId"] for item in user.http.get("/prompts/pending").json()["queue"]] == [ids[0], ids[2]]
    assert [item["queuePosition"] for item in user.http.get("/prompts/pending").json()["queue"]] == [0, 1]


def test_blocking_holds_the_answer_until_the_clock_passes_the_prompt(served: dict[str, Any],
                                                                       admin: httpx.Client) -> None:
    user = new_user(served, admin)
    answers: list[httpx.Response] = []
    holder = threading.Thread(target=lambda: answers.append(user.create(**{"x-aliveai-request-blocking": "true"})))
    holder.start()
    holder.join(1.0)
    assert holder.is_alive()  # held: the virtual clock has not moved
    advance(admin, 60)
    holder.join(10)
    answer = answers[0].json()
    assert answer["promptContainer"]["medias"] and answer["promptContainer"] == user.prompt(answer["promptId"]).json()


# -- the prompt manager ----------------------------------------------------------------------------------------


def test_listing_filtering_paging_and_deleting_prompts(served: dict[str, Any], admin: httpx.Client) -> None:
    user = new_user(served, admin)
    ids = [user.create(body={**IMAGE, "appearance": f"look {index}"}).json()["promptId"] for index in range(3)]
    running = user.create().json()["promptId"]
    assert user.http.delete(f"/prompts/{running}").status_code == 409
    advance(admin, 120)
    listed = user.http.get("/prompts", params={"page": 0, "pageSize": 2}).json()
    assert [prompt["promptId"] for prompt in listed["prompts"]] == [running, ids[2]]
    assert listed["hasNextPage"] and listed["totalPageCount"] == 2
    found = user.http.get("/prompts", params={"page": 0, "query": "LOOK 1"}).json()["prompts"]
    assert [prompt["promptId"] for prompt in found] == [ids[1]]
    assert user.http.get("/prompts", params={"page": 0, "promptType": "IMAGE_TO_VIDEO"}).json()["prompts"] == []
    media_url = user.prompt(ids[0]).json()["medias"][0]["mediaUrl"]
    assert user.http.delete(f"/prompts/{ids[0]}").status_code == 204
    assert user.prompt(ids[0]).status_code == 404 and httpx.get(media_url).status_code == 404


# -- uploads ---------------------------------------------------------------------------------------------------


def test_an_upload_is_a_media_of_the_user(served: dict[str, Any], admin: httpx.Client) -> None:
    user = new_user(served, admin)
    picture = httpx.get(finished(user, admin, user.create().json()["promptId"])["medias"][0]["mediaUrl"]).content
    uploaded = user.http.post("/upload", files={"image": ("me.png", picture, "image/png")}, data={"name": "me"})
    assert uploaded.status_code == 200 and uploaded.json()["mediaType"] == "IMAGE"
    body = {"videoModel": "DEFAULT", "mediaId": uploaded.json()["mediaId"], "text": "a slow turn"}
    assert user.create("/prompts/image-to-video", body).status_code == 200
    for files in ({"image": ("x.png", b"\x89PNG\r\n\x1a\n not really", "image/png")}, {"other": ("x", b"1", "a/b")}):
        refused = user.http.post("/upload", files=files)
        assert refused.status_code == 400 and refused.json()["violations"][0]["field"] == "image"


# -- websockets ------------------------------------------------------------------------------------------------


def frames_of(url: str, until_closed: bool = True, count: int = 0, timeout: float = 10) -> list[dict[str, Any]]:
    frames = []
    with connect(url, open_timeout=timeout) as websocket:
        try:
            while until_closed or len(frames) < count:
                frames.append(json.loads(websocket.recv(timeout=timeout)))
        except ConnectionClosed:
            pass
    return frames


def test_the_prompt_channel_sends_progress_then_one_final_frame(served: dict[str, Any], admin: httpx.Client) -> None:
    admin.patch("/config", json={"slots": 1}).raise_for_status()
    user = new_user(served, admin)
    first, second = (user.create().json()["promptId"] for _ in range(2))
    frames: list[dict[str, Any]] = []
    listener = threading.Thread(target=lambda: frames.extend(frames_of(f"{user.ws_url}/ws/prompts/{second}")))
    listener.start()
    for _ in range(8):
        threading.Event().wait(0.2)
        advance(admin, 2)
    advance(admin, 60)
    listener.join(15)
    assert frames[0]["queuePosition"] == 1 and frames[0]["progress"] == 0
    progress = [frame["progress"] for frame in frames]
    assert progress == sorted(progress) and frames[-1]["progress"] == 100
    assert [frame.get("isComplete", False) for frame in frames].count(True) == 1 and frames[-1]["isComplete"]
    assert frames[-1]["promptContainer"] == user.prompt(second).json()
    late = frames_of(f"{user.ws_url}/ws/prompts/{first}")
    assert len(late) == 1 and late[0]["isComplete"]


def test_a_removed_prompt_ends_its_channel_with_an_error(served: dict[str, Any], admin: httpx.Client) -> None:
    admin.patch("/config", json={"slots": 1}).raise_for_status()
    user = new_user(served, admin)
    ids = [user.create().json()["promptId"] for _ in range(2)]
    user.http.delete("/prompts/queue", params={"promptId": ids[1]})
    frames = frames_of(f"{user.ws_url}/ws/prompts/{ids[1]}")
    assert len(frames) == 1 and frames[0]["isError"] and frames[0]["message"]


def test_channels_refuse_wrong_and_foreign_tokens(served: dict[str, Any], admin: httpx.Client) -> None:
    owner, stranger = new_user(served, admin), new_user(served, admin)
    prompt_id = owner.create().json()["promptId"]

    def close_code(path: str) -> int | None:
        with connect(f"{owner.ws_url}{path}") as websocket, pytest.raises(ConnectionClosed) as closed:
            websocket.recv(timeout=5)
        return closed.value.rcvd.code if closed.value.rcvd else None

    assert close_code(f"/ws/prompts/{prompt_id}?token={stranger.key}") == 4404
    assert close_code("/ws/prompts/0b7e2d6c-1a9f-4e3b-8c5d-2f0a7e9b4c61") == 4404
    assert close_code(f"/ws/prompts/{prompt_id}?token=wrong") == 4401
    assert close_code(f"/ws/users/{owner.account['userId']}") == 4401
    assert close_code(f"/ws/users/{owner.account['userId']}?token={stranger.key}") == 4403


def test_the_user_channel_sends_queue_changes_and_completions(served: dict[str, Any], admin: httpx.Client) -> None:
    user, stranger = new_user(served, admin), new_user(served, admin)
    token = user.http.post("/members/login", json={"email": user.account["email"],
                                                   "password": user.account["password"]}).json()["accessToken"]
    url = f"{user.ws_url}/ws/users/{user.account['userId']}?token={token}"
    with connect(url) as websocket:
        assert json.loads(websocket.recv(timeout=5)) == {"eventType": "QUEUE_CHANGE", "queue": []}
        stranger.create()
        prompt_id = user.create().json()["promptId"]
        added = json.loads(websocket.recv(timeout=5))
        assert added["eventType"] == "QUEUE_CHANGE" and [item["promptId"] for item in added["queue"]] == [prompt_id]
        advance(admin, 60)
        events = [json.loads(websocket.recv(timeout=5)) for _ in range(2)]
    assert events == [{"eventType": "COMPLETION", "promptId": prompt_id}, {"eventType": "QUEUE_CHANGE", "queue": []}]


def test_an_armed_fault_cuts_a_prompt_channel(served: dict[str, Any], admin: httpx.Client) -> None:
    user = new_user(served, admin)
    prompt_id = user.create().json()["promptId"]
    admin.post("/faults", json={"operation": "websocket"}).raise_for_status()
    with connect(f"{user.ws_url}/ws/prompts/{prompt_id}") as websocket:
        assert not json.loads(websocket.recv(timeout=5)).get("isComplete")
        with pytest.raises(ConnectionClosed) as closed:
            websocket.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011


def test_an_armed_delay_holds_one_answer_of_its_route(served: dict[str, Any], admin: httpx.Client) -> None:
    user = new_user(served, admin)
    admin.post("/faults", json={"operation": "delay", "message": "getPendingPrompts"}).raise_for_status()
    assert user.http.get("/members/me").elapsed.total_seconds() < 2  # another route: on time
    started = time.monotonic()
    assert user.http.get("/prompts/pending").status_code == 200
    assert time.monotonic() - started >= 5
    assert user.http.get("/prompts/pending").elapsed.total_seconds() < 2  # spent

