"""The two websocket channels of `specs/aliveai.asyncapi.yaml`, fed from the engine's job state and clock.

One `Hub` per origin follows every connection: on each look it settles the queue once, builds each watched
prompt's frame once, and queues to each follower what changed for it; then it sleeps until the clock brings
the next visible change (a progress step, a start, an end) or until the engine says state moved (a prompt
submitted or removed, the clock set). Frames leave only after what they report is committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from mockserver.dialects.aliveai.lookups import API
from mockserver.dialects.aliveai.views import container, failure_message, percent, queue_of
from mockserver.engine.clock import iso
from mockserver.engine.jobs import COMPLETED, FAILED, RUNNING, Job
from mockserver.routing import served_url

PROMPT_CHANNEL = re.compile(r"^/ws/prompts/(?P<id>[^/]+)$")
USER_CHANNEL = re.compile(r"^/ws/users/(?P<id>[^/]+)$")
NO_TOKEN, FOREIGN, UNKNOWN = 4401, 4403, 4404  # close codes (the AsyncAPI document's)
DROPPED = 1011  # a connection cut by an armed fault
MIN_FRAME_INTERVAL = 0.1  # seconds between two progress frames of one prompt (on a real clock)
BACKLOG = 1000  # frames a follower may fall behind before it is dropped


@dataclass(eq=False)
class Follower:
    """One open connection: what it follows, and what it was last sent."""

    websocket: WebSocket
    context: Any
    base_url: str
    tenant_id: str
    prompt_id: str | None  # None: the user channel
    frames: asyncio.Queue[tuple[str, int] | None] = field(default_factory=lambda: asyncio.Queue(BACKLOG))
    last: Any = None  # the last frame, without its time
    progress: int = 0  # the prompt channel's progress so far (it never decreases)
    drop_after_first: bool = False  # an armed fault cuts this connection after its first frame

    def send(self, frame: Any, close_with: int | None = None) -> None:
        """Queue a frame (a dict, or its JSON text) and, with `close_with`, the close after it."""
        try:
            self.frames.put_nowait((frame if isinstance(frame, str) else json.dumps(frame, separators=(",", ":")), 0))
            if close_with is not None:
                self.frames.put_nowait(("", close_with))
        except asyncio.QueueFull:  # too slow to keep up: drop it rather than grow without bound
            self.frames = asyncio.Queue(1)
            self.frames.put_nowait(("", DROPPED))


class Hub:
    def __init__(self, context: Any) -> None:
        self.context = context
        self.followers: set[Follower] = set()
        self._task: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        await websocket.accept()  # refusals are close codes: browsers do not show a refused upgrade's status
        follower, refusal = self._admit(websocket, scope)
        if follower is None:
            await websocket.close(refusal[0], refusal[1])  # type: ignore[index]
            return
        self.followers.add(follower)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        self.context.engine.events.notify()  # the hub looks at once: the first frame goes out now
        try:
            await _serve(follower)
        finally:
            self.followers.discard(follower)

    def _admit(self, websocket: WebSocket, scope: Scope) -> tuple[Follower | None, tuple[int, str] | None]:
        engine = self.context.engine
        token = websocket.query_params.get("token")
        tenant = self.context.authenticate(token) if token else None
        if token and tenant is None:
            return None, (NO_TOKEN, "invalid token")
        base_url = self.context.public_url or served_url(scope).replace("ws", "http", 1)
        path = scope["path"]
        found = PROMPT_CHANNEL.match(path)
        if found:
            row = engine.store.get_job(API, found["id"])
            if row is None or (tenant is not None and row["tenant_id"] != tenant.id):
                return None, (UNKNOWN, "no such prompt")
            with engine.store.transaction():
                drop = engine.faults.take(API, "websocket", row["tenant_id"]) is not None
            return Follower(websocket, self.context, base_url, row["tenant_id"], found["id"],
                            drop_after_first=drop), None
        found = USER_CHANNEL.match(path)
        if found is None:
            return None, (UNKNOWN, "no such channel")
        if tenant is None:
            return None, (NO_TOKEN, "a token is required")
        if tenant.attributes.get("account", {}).get("userId") != found["id"]:
            return None, (FOREIGN, "this is another user's channel")
        return Follower(websocket, self.context, base_url, tenant.id, None), None

    async def _run(self) -> None:
        engine = self.context.engine
        while self.followers:
            version = engine.events.version
            sends, wake = self._look()
            await engine.store.durable()  # (settling may have written: it is committed before it is told)
            for follower, frame, close_with in sends:
                follower.send(frame, close_with)
            if engine.events.version == version:
                await engine.events.wait(wake)

    def _look(self) -> tuple[list[tuple[Follower, Any, int | None]], float | None]:
        """What each follower is to be sent now, and in how many seconds the clock next changes what they see
        (None: only a notification can)."""
        engine = self.context.engine
        active = engine.jobs.active(API)  # settles the queue first
        by_id: dict[str, Job | None] = {job.id: job for job in active}
        positions = _positions(active)
        sends: list[tuple[Follower, Any, int | None]] = []
        watched: set[str] = set()
        # each distinct frame is built and encoded once for all its followers (they differ only by origin)
        texts: dict[tuple[str, int, str], str] = {}
        containers: dict[tuple[str, str], dict[str, Any]] = {}
        created = iso(engine.clock.now())
        for follower in list(self.followers):
            if follower.prompt_id is None:
                sends.extend(self._user_frames(follower, active))
                watched.update(item["promptId"] for item in follower.last or [])
                continue
            prompt_id = follower.prompt_id
            watched.add(prompt_id)
            if prompt_id not in by_id:  # finished, or gone: one look for all its followers
                by_id[prompt_id] = engine.jobs.get(API, follower.tenant_id, prompt_id)
            frame = _prompt_frame(follower, by_id[prompt_id], positions, containers)
            if frame == follower.last:
                continue
            follower.last = frame
            final = frame.get("isComplete") or frame.get("isError")
            close_with = 1000 if final else DROPPED if follower.drop_after_first else None
            key = (prompt_id, frame["progress"], follower.base_url)
            if key not in texts:
                texts[key] = json.dumps({**frame, "created": created}, separators=(",", ":"))
            sends.append((follower, texts[key], close_with))
            if close_with is not None:
                self.followers.discard(follower)
        return sends, self._next_change(active, watched)

    def _user_frames(self, follower: Follower, active: list[Job]) -> list[tuple[Follower, Any, int | None]]:
        queue = queue_of(active, follower.tenant_id)
        if queue == follower.last:
            return []
        still = {item["promptId"] for item in queue}
        sends: list[tuple[Follower, Any, int | None]] = [
            (follower, {"eventType": "COMPLETION", "promptId": item["promptId"]}, None)
            for item in follower.last or [] if item["promptId"] not in still]
        follower.last = queue
        return [*sends, (follower, {"eventType": "QUEUE_CHANGE", "queue": queue}, None)]

    def _next_change(self, active: list[Job], watched: set[str]) -> float | None:
        clock = self.context.engine.clock
        if clock.mode != "real":
            return None  # virtual time moves only when set, and setting it notifies
        now = clock.now()
        moments = []
        for job in active:
            if job.status != RUNNING:
                continue
            start: float = job.started_at  # type: ignore[assignment]
            moments.append(start + job.run_time)  # it ends; the next one starts
            if job.id in watched and job.duration:
                step = start + job.duration * (percent(job) + 1) / 100
                moments.append(max(step, now + MIN_FRAME_INTERVAL))
        return max(0.0, min(moments) - now) + 0.001 if moments else None


def _prompt_frame(follower: Follower, job: Job | None, positions: dict[str, int],
                  containers: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    """The prompt channel's frame for this follower; `containers` keeps each finished prompt's container per
    origin, built once for all its followers."""
    prompt_id = follower.prompt_id
    if job is None or job.status == FAILED:
        reason = failure_message(job) if job else "The prompt no longer exists."
        return {"promptId": prompt_id, "progress": follower.progress, "isComplete": False, "isError": True,
                "errorType": "UNKNOWN", "message": reason, "queuePosition": 0}
    if job.status == COMPLETED:
        key = (job.id, follower.base_url)
        if key not in containers:
            containers[key] = container(follower, job)
        return {"promptId": prompt_id, "progress": 100, "isComplete": True, "queuePosition": 0,
                "promptContainer": containers[key]}
    follower.progress = max(follower.progress, percent(job))
    return {"promptId": prompt_id, "progress": follower.progress, "isComplete": False,
            "queuePosition": positions.get(job.id, 0)}


def _positions(active: list[Job]) -> dict[str, int]:
    """Each active prompt's place in its user's queue (as `queue_of` numbers them), for all users at once."""
    waiting: dict[str, int] = {}
    positions = {}
    for job in active:
        if job.status == RUNNING:
            positions[job.id] = 0
        else:
            waiting[job.tenant_id] = positions[job.id] = waiting.get(job.tenant_id, 0) + 1
    return positions


async def _serve(follower: Follower) -> None:
    """Send the follower's frames as they come, until a close or the client leaves."""
    websocket = follower.websocket

    async def sending() -> None:
        while True:
            item = await follower.frames.get()
            if item is None:
                continue
            text, close_with = item
            if close_with:
                await asyncio.sleep(0)  # the other followers' frames of this look go out before the closes
                await websocket.close(close_with)
                return
            await websocket.send_text(text)

    async def receiving() -> None:  # clients send nothing that matters; a disconnect ends the follow
        with contextlib.suppress(WebSocketDisconnect):
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass

    tasks = [asyncio.create_task(sending()), asyncio.create_task(receiving())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*tasks, return_exceptions=True)
