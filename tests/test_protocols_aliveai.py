"""The websocket contracts (contracts/protocols/websockets.py): the mock keeps them, with and without an admin
token, and each broken channel is caught by the check meant for it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from contracts.protocols import websockets
from contracts.report import Report
from contracts.session import open_session
from contracts.target import Target
from tests.servers import running_mock

VIRTUAL = ("--api", "aliveai", "--clock", "virtual")


def judge(served: dict[str, Any], admin: bool = True, **target: Any) -> Report:
    api = served["apis"]["aliveai"]
    session = open_session(Target(api="aliveai", base_url=api["base_url"], key=api["credentials"][0],
                                  admin_token=served["admin_token"] if admin else None, **target),
                           report := Report("aliveai", api["base_url"]))
    try:
        websockets.run(session)
    finally:
        session.close()
    return report


def test_the_mock_keeps_the_websocket_contracts() -> None:
    with running_mock(*VIRTUAL) as served:
        report = judge(served)
    assert report.ok, report.render()
    assert report.counts["stateful"]["websocket frames"] >= 10


def test_without_an_admin_token_the_channels_are_judged_in_real_time() -> None:
    with running_mock("--api", "aliveai") as served:
        api = served["apis"]["aliveai"]
        admin = httpx.Client(base_url=api["admin_url"], headers={"authorization": f"Bearer {served['admin_token']}"})
        with admin:  # set-up only: short prompts, and a second user for the isolation checks
            admin.patch("/config", json={"durations": {"IMAGE_DEFAULT": 1.0}}).raise_for_status()
            second = admin.post("/tenants", json={"balance": 10}).json()["credentials"][0]
        report = judge(served, admin=False, second_key=second, job_timeout=20)
    assert report.ok, report.render()
    assert not any("not checked" in note for note in report.notes.get("stateful", []))


@pytest.mark.parametrize(("variant", "check"), [
    ("aa-ws-progress-back", "ws_progress_order"),
    ("aa-ws-bad-frame", "ws_frame_schema"),
    ("aa-ws-stale-container", "ws_final_matches_rest"),
    ("aa-ws-two-finals", "ws_one_final"),
    ("aa-ws-fanout", "ws_fanout"),
    ("aa-ws-no-late-final", "ws_late_final"),
    ("aa-ws-foreign-token", "ws_isolation"),
    ("aa-ws-user-leak", "ws_isolation"),
    ("aa-ws-no-completion", "ws_user_events"),
])
def test_each_broken_channel_is_caught(variant: str, check: str) -> None:
    with running_mock(*VIRTUAL, launcher=("-m", "tests.broken", variant)) as served:
        report = judge(served, job_timeout=15)
    assert check in report.checks(), report.render()
