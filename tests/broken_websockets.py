"""Deliberately broken AliveAI websocket channels: each breaks one contract the suite must catch.

Registered in tests/broken.py (`python -m tests.broken <variant> serve ...`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from mockserver.dialects.aliveai import websockets
from mockserver.dialects.aliveai.websockets import Follower, Hub
from mockserver.routing import served_url


def _rewrite_prompt_frames(change: Callable[[Follower, dict[str, Any]], dict[str, Any]]) -> None:
    original = websockets._prompt_frame

    def frame(follower: Follower, job: Any, positions: dict[str, int], containers: dict) -> dict[str, Any]:
        return change(follower, original(follower, job, positions, containers))

    websockets._prompt_frame = frame


def _final(frame: dict[str, Any]) -> bool:
    return bool(frame.get("isComplete") or frame.get("isError"))


def progress_back() -> None:
    """A running prompt's progress counts down (99 - progress) instead of up."""
    _rewrite_prompt_frames(lambda follower, frame: frame if _final(frame) or not frame["progress"] else
                           {**frame, "progress": 99 - frame["progress"]})


def bad_frame() -> None:
    """Progress frames leave out the required `isComplete`."""
    _rewrite_prompt_frames(lambda follower, frame: frame if _final(frame) else
                           {key: value for key, value in frame.items() if key != "isComplete"})


def stale_container() -> None:
    """The final frame's container has no medias (GET /prompts/{id} has them)."""
    _rewrite_prompt_frames(lambda follower, frame: {**frame, "promptContainer": {**frame["promptContainer"],
                                                                                 "medias": []}}
                           if frame.get("isComplete") else frame)


def two_finals() -> None:
    """The final frame is sent twice before the close."""
    original = Follower.send

    def send(self: Follower, frame: Any, close_with: int | None = None) -> None:
        if close_with == 1000:
            original(self, frame)
        original(self, frame, close_with)

    Follower.send = send  # type: ignore[method-assign]


def fanout() -> None:
    """Of several subscribers to one prompt, only the first gets the progress frames."""
    original = Follower.send
    first: dict[str, Follower] = {}

    def send(self: Follower, frame: Any, close_with: int | None = None) -> None:
        owner = first.setdefault(self.prompt_id or "", self)
        shown = json.loads(frame) if isinstance(frame, str) else frame
        if owner is self or close_with is not None or shown.get("queuePosition"):
            original(self, frame, close_with)

    Follower.send = send  # type: ignore[method-assign]


def no_late_final() -> None:
    """A subscriber that connects after the prompt has finished is closed without its final frame."""
    original = Hub._admit

    def admit(self: Hub, websocket: Any, scope: Any) -> Any:
        follower, refusal = original(self, websocket, scope)
        if follower is not None and follower.prompt_id:
            row = self.context.engine.store.get_job("aliveai", follower.prompt_id)
            if row and row["status"] in ("completed", "failed"):
                return None, (1000, "finished")
        return follower, refusal

    Hub._admit = admit  # type: ignore[method-assign]


def foreign_token() -> None:
    """A prompt channel opened with another user's token is followed all the same."""
    original = Hub._admit

    def admit(self: Hub, websocket: Any, scope: Any) -> Any:
        follower, refusal = original(self, websocket, scope)
        if refusal and refusal[0] == websockets.UNKNOWN and scope["path"].startswith("/ws/prompts/"):
            row = self.context.engine.store.get_job("aliveai", scope["path"].rsplit("/", 1)[1])
            if row is not None:
                base_url = served_url(scope).replace("ws", "http", 1)
                return Follower(websocket, self.context, base_url, row["tenant_id"], row["id"]), None
        return follower, refusal

    Hub._admit = admit  # type: ignore[method-assign]


def user_leak() -> None:
    """A user's channel shows every user's queue."""
    original = websockets.queue_of

    def queue_of(jobs: list[Any], tenant_id: str) -> list[dict[str, Any]]:
        return [item for tenant in dict.fromkeys(job.tenant_id for job in jobs) for item in original(jobs, tenant)]

    websockets.queue_of = queue_of


def no_completion() -> None:
    """The user channel never sends COMPLETION."""
    original = Hub._user_frames

    def frames(self: Hub, follower: Follower, active: list[Any]) -> list[Any]:
        return [send for send in original(self, follower, active) if send[1].get("eventType") != "COMPLETION"]

    Hub._user_frames = frames  # type: ignore[method-assign]


VARIANTS: dict[str, Callable[[], None]] = {
    "aa-ws-progress-back": progress_back,
    "aa-ws-bad-frame": bad_frame,
    "aa-ws-stale-container": stale_container,
    "aa-ws-two-finals": two_finals,
    "aa-ws-fanout": fanout,
    "aa-ws-no-late-final": no_late_final,
    "aa-ws-foreign-token": foreign_token,
    "aa-ws-user-leak": user_leak,
    "aa-ws-no-completion": no_completion,
}
