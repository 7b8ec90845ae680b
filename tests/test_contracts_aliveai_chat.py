"""The chat contracts (contracts/protocols/streams.py, contracts/machines/aliveai_chat.py,
contracts/protocols/chat_isolation.py): the mock keeps them, with an admin token (virtual clock) and with keys
only (real clock, the reply pacing set to 0 through the admin API as a set-up), and each broken chat route is
caught by the check meant for it."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import httpx
import pytest

from contracts.machines import aliveai_chat
from contracts.protocols import chat_isolation, streams
from contracts.report import Report
from contracts.session import open_session
from contracts.target import Target
from tests.servers import running_mock

VIRTUAL = ("--api", "aliveai", "--clock", "virtual")
MODULES: tuple[ModuleType, ...] = (streams, aliveai_chat, chat_isolation)


def judge(served: dict[str, Any], modules: tuple[ModuleType, ...] = MODULES, admin: bool = True,
          **target: Any) -> Report:
    api = served["apis"]["aliveai"]
    session = open_session(Target(api="aliveai", base_url=api["base_url"], key=api["credentials"][0],
                                  admin_token=served["admin_token"] if admin else None, **target),
                           report := Report("aliveai", api["base_url"]))
    try:
        for module in modules:
            module.run(session)
    finally:
        session.close()
    return report


@pytest.fixture(scope="module")
def real_time() -> Iterator[dict[str, Any]]:
    """A mock on a real clock whose replies are not paced, and a second user's key (admin API: a set-up)."""
    with running_mock("--api", "aliveai") as served:
        api = served["apis"]["aliveai"]
        admin = httpx.Client(base_url=api["admin_url"], headers={"authorization": f"Bearer {served['admin_token']}"})
        with admin:
            admin.patch("/config", json={"durations": {"CHAT_FIRST_TOKEN": 0, "CHAT_TOKEN": 0}}).raise_for_status()
            second = admin.post("/tenants", json={"balance": 10}).json()["credentials"][0]
        yield served | {"second_key": second}


def test_the_mock_keeps_the_chat_contracts_with_an_admin_token() -> None:
    with running_mock(*VIRTUAL) as served:
        report = judge(served)
    assert report.ok, report.render()
    counts = report.counts["stateful"]
    assert counts["streams"] >= 5 and counts["stream lines"] >= 50 and counts["sequences"] >= 5, counts
    assert {"200", "204", "409"} <= set(counts), counts
    assert any("time to first token" in note for note in report.notes["stateful"])


def test_with_keys_only_the_chat_contracts_are_judged_in_real_time(real_time: dict[str, Any]) -> None:
    report = judge(real_time, admin=False, second_key=real_time["second_key"])
    assert report.ok, report.render()
    # without an admin token no fault can be armed: that one property is not verified, and says so
    assert [(gap.property, gap.reason) for gap in report.gaps] == [
        ("stream_error_consistent", "no --admin-token to arm the chatError fault")]


@pytest.mark.parametrize(("variant", "modules", "check"), [
    ("aa-chat-deltas", (streams,), "stream_text_adds_up"),
    ("aa-chat-after-terminal", (streams,), "stream_one_terminal"),
    ("aa-chat-no-init", (streams,), "stream_init_first"),
    ("aa-chat-stored-differs", (streams,), "stream_stored_candidate"),
    ("aa-chat-error-keeps-user", (streams,), "stream_error_consistent"),
    ("aa-chat-regenerate-any", (aliveai_chat,), "chat_regenerate_latest"),
    ("aa-chat-delete-keeps-later", (aliveai_chat,), "chat_delete_from"),
    ("aa-chat-two-defaults", (aliveai_chat,), "chat_personas"),
    ("aa-chat-foreign-chat", (chat_isolation,), "chat_isolation"),
    ("aa-chat-content-type", (streams,), "stream_content_type"),
    ("aa-chat-delete-keeps-character", (aliveai_chat,), "chat_soft_delete"),
    ("aa-chat-init-schema", (streams,), "stream_event_schema"),
    ("aa-chat-broken-line", (streams,), "stream_lines"),
    ("aa-chat-order", (aliveai_chat,), "chat_model"),
])
def test_each_broken_chat_route_is_caught(variant: str, modules: tuple[ModuleType, ...], check: str) -> None:
    with running_mock(*VIRTUAL, launcher=("-m", "tests.broken", variant)) as served:
        report = judge(served, modules)
    assert check in report.checks(), report.render()
