"""AliveAI's catalogue and `/llm/*` handlers, called directly: every answer validates against its response schema
in specs/aliveai.yaml, pictures are served catalogue stills, custom items are per user, texts are deterministic."""

from __future__ import annotations

import asyncio
import json
import re
from types import SimpleNamespace
from typing import Any

import jsonschema_rs
import pytest
from starlette.requests import Request
from starlette.responses import Response

from mockserver.dialects.aliveai import catalogue, llm
from mockserver.engine import Engine
from mockserver.engine.assets import PNG, render_still
from mockserver.engine.tenants import Tenant
from mockserver.routing import Call
from mockserver.spec import load_document, resolve, to_json_schema

SPEC = "aliveai.yaml"
BASE_URL = "http://127.0.0.1:8101"
ASSET_FILE = re.compile(r"^(?P<id>[A-Za-z0-9_]+?)(?P<thumbnail>-thumbnail)?\.(png)$")  # the server's
CATALOGUE_LISTS = ("listPoses", "listClothes", "listTemplates", "listEditTemplates", "listEditTemplatesRealism",
                   "listVideoTemplates", "listLtxVideoTemplates")
TEMPLATE_TYPES = ("IMAGE", "IMAGE_EDIT_CREATIVE", "IMAGE_EDIT_REALISM", "VIDEO", "VIDEO_AUDIO", "ANIMA")
EXPLICIT = re.compile(r"\b(nude|naked|porn|sex|topless|lingerie|erotic|nsfw|breast|vagina)", re.I)
HANDLERS = {**catalogue.HANDLERS, **llm.HANDLERS}


def _operations() -> dict[str, dict[str, Any]]:
    return {operation["operationId"]: operation for item in load_document(SPEC)["paths"].values()
            for operation in item.values() if isinstance(operation, dict) and "operationId" in operation}


def check(operation_id: str, response: Response) -> Any:
    """The response's body, once its status is listed and the body valid against the schema declared for it."""
    document = load_document(SPEC)
    declared = _operations()[operation_id]["responses"]
    assert str(response.status_code) in declared, (operation_id, response.status_code)
    answer = resolve(document, declared[str(response.status_code)])
    if "content" not in answer:
        assert response.body == b""
        return None
    [(media_type, content)] = answer["content"].items()
    assert response.media_type == media_type or response.headers["content-type"] == media_type
    definitions = {name: to_json_schema(schema) for name, schema in document["components"]["schemas"].items()}
    validator = jsonschema_rs.Draft4Validator({**to_json_schema(content["schema"]), "definitions": definitions},
                                              validate_formats=True)
    body = json.loads(response.body)
    errors = [error.message for error in validator.iter_errors(body)]
    assert not errors, (operation_id, errors)
    return body


class Mock:
    def __init__(self) -> None:
        self.engine = Engine.open(":memory:", seed=1)
        self.context = SimpleNamespace(engine=self.engine)

    def user(self, name: str = "u", user_id: str | None = None) -> Tenant:
        attributes = {"account": {"userId": user_id}} if user_id else None
        tenant = self.engine.tenants.create("aliveai", name, [f"key-{name}"], attributes=attributes)
        catalogue.seed_custom_items(self.engine, tenant.id)
        return tenant

    def call(self, operation_id: str, user: Tenant, path: dict[str, Any] | None = None,
             query: dict[str, Any] | None = None, body: Any = None) -> Any:
        request = Request({"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b"",
                           "server": ("127.0.0.1", 8101), "scheme": "http"})
        call = Call(request, None, user, path or {}, query or {}, body, self.context)  # type: ignore[arg-type]
        response = asyncio.run(HANDLERS[operation_id](call))
        return response.status_code, check(operation_id, response)


@pytest.fixture
def mock() -> Mock:
    return Mock()


@pytest.fixture
def user(mock: Mock) -> Tenant:
    return mock.user()


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return [value] if isinstance(value, str) else []


def _urls(value: Any) -> list[str]:
    return [text for text in _strings(value) if text.startswith(BASE_URL)]


def test_handlers_are_exactly_the_operations_of_the_brief() -> None:
    operations = _operations()
    assert set(catalogue.HANDLERS) == {
        "listPoses", "listCustomPoses", "getCustomPose", "deleteCustomPose", "listClothes", "listCustomClothes",
        "getCustomClothes", "deleteCustomClothes", "listTemplates", "listEditTemplates", "listEditTemplatesRealism",
        "listVideoTemplates", "listLtxVideoTemplates", "listLorasByType", "getLora", "listProfiles"}
    assert set(llm.HANDLERS) == {operation_id for operation_id, operation in operations.items()
                                 if "Llm Resource" in operation["tags"]}
    assert set(HANDLERS) <= set(operations)


@pytest.mark.parametrize("operation_id", CATALOGUE_LISTS)
def test_catalogues_validate_and_are_the_same_for_everyone(mock: Mock, user: Tenant, operation_id: str) -> None:
    status, body = mock.call(operation_id, user)
    assert status == 200 and body
    assert mock.call(operation_id, mock.user("other")) == (200, body)
    assert not [text for text in _strings(body) if EXPLICIT.search(text) and text != "PORN"]  # (the enum value)


def test_poses_have_one_container_per_type_and_the_explicit_one_is_empty(mock: Mock, user: Tenant) -> None:
    _, body = mock.call("listPoses", user)
    assert {container["type"] for container in body.values()} == set(catalogue.POSE_TYPES)
    assert body["posesPorn"] == {"type": "PORN", "poses": []}
    others = [container for key, container in body.items() if key != "posesPorn"]
    assert all(3 <= len(container["poses"]) <= 20 and container["prompt"] for container in others)
    ids = [pose["id"] for container in others for pose in container["poses"]]
    assert len(ids) == len(set(ids)) == len(catalogue.PRESET_POSES)


def test_every_picture_is_a_cheap_catalogue_still_or_the_users_asset(mock: Mock, user: Tenant) -> None:
    answers = [mock.call(operation_id, user)[1] for operation_id in (*CATALOGUE_LISTS, "listCustomPoses",
                                                                     "listCustomClothes")]
    answers += [mock.call("listLorasByType", user, {"templateType": kind})[1] for kind in TEMPLATE_TYPES]
    answers.append(mock.call("listProfiles", user, query={"page": 0, "public": True})[1])
    names = [url.removeprefix(f"{BASE_URL}/media/") for url in _urls(answers)]
    assert len(names) > 70
    for name in names:
        found = ASSET_FILE.match(name)
        assert found and not found["thumbnail"], name
        still = catalogue.catalogue_media(found["id"])
        if still is None:  # a custom item: the user's own asset
            asset = mock.engine.assets.get(found["id"])
            assert asset is not None and asset.tenant_id == user.id and asset.media_type == PNG
            continue
        width, height, seed = still
        assert min(width, height) >= 64 and max(width, height) <= 512
        assert catalogue.catalogue_media(found["id"]) == still and seed >= 0
    assert catalogue.catalogue_media("nothing_here") is None and catalogue.catalogue_media("MMmgmr") is None
    assert render_still(*catalogue.catalogue_media(names[0].removesuffix(".png"))).startswith(b"\x89PNG")


def test_every_catalogue_picture_name_is_used_and_unique() -> None:
    assert len(catalogue._MEDIA) == (len(catalogue.PRESET_POSES) + len(catalogue.PUBLIC_CLOTHES) + len(catalogue.LORAS)
                                     + len(catalogue.PUBLIC_PROFILES) + len(catalogue._OWN_AVATARS))
    assert len(catalogue.PUBLIC_CLOTHES) == len(catalogue.CLOTHES_PROMPTS)
    assert len(catalogue.LORAS_BY_ID) == len(catalogue.LORAS)


@pytest.mark.parametrize(("thing", "listing", "kind", "key", "public"), [
    ("Pose", "listCustomPoses", "poseId", "id", next(iter(catalogue.PRESET_POSES))),
    ("Clothes", "listCustomClothes", "clothesId", "clothesId", next(iter(catalogue.PUBLIC_CLOTHES)))])
def test_custom_items_are_per_user_and_deleted_ones_are_gone(mock: Mock, user: Tenant, thing: str, listing: str,
                                                             kind: str, key: str, public: str) -> None:
    getting, deleting = f"getCustom{thing}", f"deleteCustom{thing}"
    other = mock.user("other")
    _, mine = mock.call(listing, user)
    _, theirs = mock.call(listing, other)
    assert len(mine) == len(theirs) == 2 and not {item[key] for item in mine} & {item[key] for item in theirs}
    first, second = (item[key] for item in mine)
    assert mock.call(getting, user, {kind: first}) == (200, mine[0])
    assert mock.call(getting, other, {kind: first})[0] == 404
    assert mock.call(deleting, other, {kind: first})[0] == 404
    assert mock.call(getting, user, {kind: public})[0] == 404  # a public item is not a custom one
    assert mock.call(deleting, user, {kind: public})[0] == 404
    assert mock.call(deleting, user, {kind: first}) == (204, None)
    assert mock.call(getting, user, {kind: first})[0] == 404
    assert mock.call(deleting, user, {kind: first})[0] == 404
    assert [item[key] for item in mock.call(listing, user)[1]] == [second]
    assert len(mock.call(listing, other)[1]) == 2


def test_not_found_is_a_problem(mock: Mock, user: Tenant) -> None:
    status, body = mock.call("getCustomPose", user, {"poseId": "nope"})
    assert status == 404 and body["detail"] == "Pose not found" and body["status"] == 404


@pytest.mark.parametrize("template_type", TEMPLATE_TYPES)
def test_loras_by_type_and_by_id(mock: Mock, user: Tenant, template_type: str) -> None:
    _, loras = mock.call("listLorasByType", user, {"templateType": template_type})
    assert loras and all(lora["templateType"] == template_type and lora["isPublic"] is lora["public"] is True
                         for lora in loras)
    for lora in loras:
        assert mock.call("getLora", user, {"templateId": lora["id"]}) == (200, lora)


def test_deprecated_template_lists_are_the_loras_of_their_type(mock: Mock, user: Tenant) -> None:
    for operation_id, template_type in catalogue.TEMPLATE_LISTS.items():
        _, templates = mock.call(operation_id, user)
        _, loras = mock.call("listLorasByType", user, {"templateType": template_type})
        assert [(item["id"], item["name"]) for item in templates] == [(item["id"], item["name"]) for item in loras]
        assert all(item["ownerId"] == "system" for item in templates)
    assert mock.call("getLora", user, {"templateId": "tpl_8fK2mQ"})[0] == 404


def test_profiles_filter_sort_and_page(mock: Mock) -> None:
    user = mock.user("p", user_id="r9orK")
    _, own = mock.call("listProfiles", user, query={"page": 0})
    assert len(own["profiles"]) == 2 and own["hasNextPage"] is False
    assert all(profile["ownerId"] == "r9orK" and profile["privacy"] == "PRIVATE" for profile in own["profiles"])
    assert mock.call("listProfiles", user, query={"page": 0, "public": False}) == (200, own)
    assert mock.call("listProfiles", user, query={"page": 1}) == (200, {"profiles": [], "hasNextPage": False})
    pages = [mock.call("listProfiles", user, query={"page": page, "public": True, "sort": sort})[1]
             for sort in ("NEW", "TOP") for page in (0, 1)]
    new, top = pages[0]["profiles"] + pages[1]["profiles"], pages[2]["profiles"] + pages[3]["profiles"]
    assert [page["hasNextPage"] for page in pages] == [True, False, True, False]
    assert new[:2] == own["profiles"] and len(new) == len({profile["id"] for profile in new}) == 16
    assert sorted(profile["id"] for profile in new) == sorted(profile["id"] for profile in top)
    assert [profile["score"] for profile in top] == sorted((profile["score"] for profile in top), reverse=True)
    assert all(profile["characterProfile"] == ("characterType" in profile) for profile in new
               if not profile["userProfile"])
    other = mock.call("listProfiles", mock.user("q"), query={"page": 0})[1]["profiles"]
    assert not {profile["id"] for profile in other} & {profile["id"] for profile in own["profiles"]}


# --- llm ----------------------------------------------------------------------------------------------------

def _text(mock: Mock, operation_id: str, user: Tenant, body: Any = None, path: dict[str, Any] | None = None) -> str:
    status, answer = mock.call(operation_id, user, path, body=body)
    assert status == 200, answer
    text = answer["promptText"]
    assert re.fullmatch(r"[A-Z].*[.!?]", text) and "  " not in text and " ," not in text and ".." not in text, text
    assert not EXPLICIT.search(text)
    return text


def test_generate_prompt_is_deterministic_and_follows_its_input(mock: Mock, user: Tenant) -> None:
    body = {"model": "REALISM", "inputPrompt": "A blonde viking woman at dawn"}
    text = _text(mock, "generatePrompt", user, body)
    assert text.startswith("A photorealistic photograph of a blonde viking woman at dawn, ")
    assert _text(mock, "generatePrompt", mock.user("other"), dict(body)) == text
    assert _text(mock, "generatePrompt", user, {**body, "model": "ANIME"}).startswith("An anime-style illustration")
    texts = {_text(mock, "generatePrompt", user, {**body, "inputPrompt": f"a lighthouse keeper number {n}"})
             for n in range(12)}
    assert len(texts) == 12 and len({text.split(", ", 1)[1] for text in texts}) > 3  # the phrases vary too


def test_builder_prompts(mock: Mock, user: Tenant) -> None:
    attributes = {"hairColor": "BLONDE", "eyeColor": "green", "bodyShape": "athletic", "favouriteHobby": "sailing"}
    text = _text(mock, "generateCharacterBuilderPrompt", user, {"model": "QWEN3_8B", "attributes": attributes})
    assert "with an athletic build, green eyes, sailing favourite hobby and blonde hair" in text
    assert text == _text(mock, "generateCharacterBuilderPrompt", user,
                         {"model": "QWEN3_8B", "attributes": dict(reversed(attributes.items()))})
    assert _text(mock, "generateCharacterBuilderPrompt", user, {"model": "RAW", "attributes": attributes}) == \
        "An athletic build, green eyes, sailing favourite hobby, blonde hair."
    assert "an original character" in _text(mock, "generateCharacterBuilderPrompt", user, {"model": "GROK"})
    for key in ("x", "k" * 251):
        status, problem = mock.call("generateCharacterBuilderPrompt", user,
                                    body={"model": "GROK", "attributes": {key: "v"}})
        assert status == 400 and problem["violations"][0]["field"] == "attributes"


def test_update_prompt_keeps_the_old_text_and_adds_the_new(mock: Mock, user: Tenant) -> None:
    old = "A character portrait of an original character with green eyes."
    new = {"model": "MISTRAL", "attributes": {"hairColor": "red"}}
    text = _text(mock, "generateUpdatePrompt", user, {"model": "MISTRAL", "oldRequest": old, "newRequest": new})
    assert text.startswith(old + " Updated to have red hair, keeping the rest of the look unchanged")
    assert _text(mock, "generateUpdatePrompt", user, {"model": "RAW", "oldRequest": old, "newRequest": new}) == \
        "A character portrait of an original character with green eyes, red hair."
    assert _text(mock, "generateUpdatePrompt", user,
                 {"model": "MISTRAL", "oldRequest": old, "newRequest": {"model": "MISTRAL"}}) == old
    fresh = _text(mock, "generateUpdatePrompt", user, {"model": "MISTRAL", "oldRequest": " ", "newRequest": new})
    assert fresh.startswith("An expressive character study of an original character with red hair.")
    status, problem = mock.call("generateUpdatePrompt", user, body={"model": "RAW", "oldRequest": old, "newRequest": {
        "model": "RAW", "attributes": {"a": "b"}}})
    assert status == 400 and problem["violations"][0]["field"] == "newRequest.attributes"


def test_character_prompt_needs_a_profile_the_user_may_use(mock: Mock, user: Tenant) -> None:
    public = catalogue.PUBLIC_PROFILES[0]
    body = {"profileId": public.id, "theme": "beach", "outfit": "a linen shirt", "additionalDetails": "Smiling."}
    text = _text(mock, "generateCharacterPrompt", user, body)
    assert text.startswith(f"{public.name} in a beach setting, wearing a linen shirt, smiling. ")
    [own, _] = catalogue.own_profiles(user)
    assert _text(mock, "generateCharacterPrompt", user, {**body, "profileId": own.id}).startswith(own.name)
    for profile_id in ("prf_missing", catalogue.own_profiles(mock.user("other"))[0].id):
        assert mock.call("generateCharacterPrompt", user, body={**body, "profileId": profile_id})[0] == 404


def test_clothes_description_of_public_and_custom_clothes(mock: Mock, user: Tenant) -> None:
    clothes_id, item = next(iter(catalogue.PUBLIC_CLOTHES.items()))
    text = _text(mock, "getClothesDescription", user, path={"clothesId": clothes_id})
    assert text.startswith(f"An outfit of {item['clothesPrompt']}. Made of ")
    [custom, _] = mock.call("listCustomClothes", user)[1]
    assert custom["clothesPrompt"] in _text(mock, "getClothesDescription", user,
                                            path={"clothesId": custom["clothesId"]})
    assert mock.call("getClothesDescription", mock.user("other"), {"clothesId": custom["clothesId"]})[0] == 404


def test_video_prompt(mock: Mock, user: Tenant) -> None:
    media = mock.engine.assets.create("aliveai", user.id, PNG, 832, 1216, id_length=6)
    body = {"model": "AUDIO", "userInput": "She waves and walks towards the camera", "mediaId": media.id,
            "frameCount": 81.7}
    status, answer = mock.call("generateVideoPrompt", user, body=body)
    assert status == 200 and answer["promptText"].startswith("She waves and walks towards the camera. The camera")
    assert "in portrait framing over 81 frames." in answer["promptText"] and len(answer["negPrompt"].split(", ")) == 6
    assert mock.call("generateVideoPrompt", user, body=dict(body)) == (200, answer)
    silent = mock.call("generateVideoPrompt", user, body={**body, "model": "DEFAULT"})[1]["promptText"]
    assert not any(sound in silent for sound in llm.SOUND)
    assert mock.call("generateVideoPrompt", mock.user("other"), body=body)[0] == 404


def test_vision_prompt_describes_the_prompt_that_made_the_media(mock: Mock, user: Tenant) -> None:
    request = {"name": "Ada", "appearance": "A woman with short grey hair in a red coat", "background": "a harbour"}
    job = mock.engine.jobs.submit("aliveai", user.id, "3f1c9a52-7d4e-4b8a-9e21-6c0d5f7a8b13", "IMAGE_DEFAULT",
                                  {"request": request, "field": "createPromptRequest"}, duration=10, cost=0)
    made = mock.engine.assets.create("aliveai", user.id, PNG, 1216, 832, job_id=job.id, id_length=6)
    text = _text(mock, "generateVisionPrompt", user, {"mediaId": made.id})
    assert text.startswith("A landscape image of a woman with short grey hair in a red coat, a harbour in the "
                           "background. Lit by ")
    uploaded = mock.engine.assets.create("aliveai", user.id, PNG, 512, 512, id_length=6)
    assert _text(mock, "generateVisionPrompt", user, {"mediaId": uploaded.id}).startswith("A square image of a")
    assert mock.call("generateVisionPrompt", mock.user("other"), body={"mediaId": made.id})[0] == 404
    assert mock.call("generateVisionPrompt", user, body={"mediaId": "MMmgmr"})[0] == 404


def test_odd_input_still_reads_as_text(mock: Mock, user: Tenant) -> None:
    attributes = {"{weird}Key": "{0}", "mood": "  "}
    text = _text(mock, "generateCharacterBuilderPrompt", user, {"model": "QWEN3_8B", "attributes": attributes})
    assert "with {0} {weird}key." in text  # blank values are left out, braces are kept as they are
    media = mock.engine.assets.create("aliveai", user.id, PNG, 512, 512, id_length=6)
    answer = mock.call("generateVideoPrompt", user, body={"model": "GROK", "userInput": "     ", "mediaId": media.id})
    assert answer[1]["promptText"].startswith("The camera") or answer[1]["promptText"].startswith("A smooth")
