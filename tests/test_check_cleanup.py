"""Without an admin token, `genmock check` deletes at its end what it created with the keys it was given, where
the API has a way to (AliveAI's prompts, characters, personas and chats); what it could not delete is reported."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import httpx

from contracts.cleanup import Deletable, deletables
from contracts.target import Target
from mockserver.testing import Genmock


def listed(base_url: str, key: str, path: str) -> list[Any]:
    answer = httpx.get(base_url + path, headers={"authorization": f"Key {key}"})
    assert answer.status_code == 200, answer.text
    return list(answer.json())


def test_what_the_run_created_with_a_key_is_deleted_at_its_end() -> None:
    with Genmock.start(apis=("aliveai",), clock="real", seed=3) as genmock:
        api = genmock.aliveai
        durations = api.call("GET", "/config")["durations"]
        api.call("PATCH", "/config", {"durations": dict.fromkeys(durations, 0.05)})  # real time, but short
        wallet = api.new_tenant(balance=1000)
        result = subprocess.run([sys.executable, "-m", "mockserver.cli", "check", "--api", "aliveai", "--base-url",
                                 api.base_url, "--key", wallet.key, "--layers", "stateful", "--max-examples", "2",
                                 "--no-shrink", "--job-timeout", "30", "--poll-interval", "0.05",
                                 "--allow-unverified", "all"], capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "item(s) the run created that the API can delete" in result.stdout
        assert api.jobs(wallet) == []  # its prompts
        assert listed(api.base_url, wallet.key, "/chat-characters") == []
        assert listed(api.base_url, wallet.key, "/chats") == []
        # a user keeps one persona (the only one is not deleted): the run says so rather than leaving it unsaid
        personas = listed(api.base_url, wallet.key, "/chat-personas")
        assert len(personas) <= 1
        if personas:
            assert f"DELETE /chat-personas/{personas[0]['id']}: 409" in result.stdout


def test_the_spec_says_what_can_be_deleted_and_which_answer_names_it() -> None:
    aliveai = {kind.delete: kind for kind in deletables(Target("aliveai", "http://127.0.0.1:1").document())}
    assert aliveai["/prompts/{promptId}"].created("POST", "/prompts/image-to-video", {"promptId": "p1"}) == "p1"
    assert aliveai["/chat-characters/{id}"].created("POST", "/chat-characters", {"chatCharacterId": "c1"}) == "c1"
    assert aliveai["/chat-personas/{id}"].created("POST", "/chat-personas", {"id": "per1", "name": "Sam"}) == "per1"
    assert aliveai["/chats/{chatId}"].created("POST", "/chats", {"chatId": "cht1", "chatCharacterId": "c1"}) == "cht1"
    assert aliveai["/chat-characters/{id}"].created("POST", "/chat-characters/character-from-image",
                                                    {"name": "a draft"}) is None  # nothing made
    assert aliveai["/chats/{chatId}"].path_of("cht1") == "/chats/cht1"
    assert deletables(Target("lovlychat", "http://127.0.0.1:1").document()) == ()  # its jobs stay
    assert Deletable("/x", "/x/{id}", ("id",)).created("GET", "/x", {"id": "1"}) is None
