"""AliveAI's websocket channels (`specs/aliveai.asyncapi.yaml`), judged against any server (stateful layer).

One scenario, on the wallet of the run's key: the user's channel is opened, a prompt is created and followed
by two subscribers at once (and, with a second user, by that user with their own token, and the second user's
channel listens too while that user creates a prompt of their own); the prompt runs to its end (on a virtual
clock moved by the admin API, else in real time); then a late subscriber connects. With an admin token a
second prompt is made to fail by an armed fault. Checks, each a finding when broken:

- `ws_frame_schema`: every frame validates against its message's payload schema.
- `ws_progress_order`: `progress` never decreases and `queuePosition` never increases.
- `ws_one_final`: exactly one final frame (`isComplete` or `isError`), the last one, then close 1000.
- `ws_final_matches_rest`: the final container equals `GET /prompts/{promptId}`; a failed prompt's frame has
  `errorType` and `message`, and the prompt is gone from the REST API.
- `ws_fanout`: two subscribers to one prompt get the same frames.
- `ws_late_final`: a subscriber that connects after the end gets the final frame at once, then the close.
- `ws_isolation`: another user's token on a prompt channel gets nothing of it (close 4404), and another user's
  token on a user channel is refused (close 4403); no user channel shows another user's prompt.
- `ws_user_events`: the user channel shows the prompt in a `QUEUE_CHANGE` and reports its `COMPLETION`.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from contracts.machines.common import LAYER, freeze_clock
from contracts.protocols import frames
from contracts.report import Finding
from contracts.session import Session

ASYNCAPI = "aliveai.asyncapi.yaml"
PROMPT_CHANNEL, USER_CHANNEL = "WS /ws/prompts/{promptId}", "WS /ws/users/{userId}"
PROMPT = {"name": "Contract", "appearance": "a lighthouse on a cliff at dusk, oil painting", "detailLevel": "MEDIUM"}
STEP_SECONDS = 2.0  # how far each turn moves a virtual clock
MAX_VIRTUAL_SECONDS = 900.0
QUIET = 0.3  # seconds a listener waits for one more frame before the driver looks again
NORMAL_CLOSE, FOREIGN_USER, NO_SUCH_PROMPT = 1000, 4403, 4404


@dataclass
class Listener:
    """One websocket connection and what came over it."""

    url: str
    frames: list[Any] = field(default_factory=list)
    close_code: int | None = None
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    after_close: int = 0  # frames received after the close frame (none should be)


async def listen(http: aiohttp.ClientSession, listener: Listener, timeout: float) -> None:
    try:
        async with http.ws_connect(listener.url, timeout=aiohttp.ClientWSTimeout(ws_close=timeout)) as websocket:
            async for message in websocket:
                if message.type == aiohttp.WSMsgType.TEXT:
                    try:
                        listener.frames.append(json.loads(message.data))
                    except ValueError:
                        listener.frames.append(message.data)
            listener.close_code = websocket.close_code
    except (TimeoutError, aiohttp.ClientError) as error:
        listener.frames.append(f"(connection failed: {error})")
    finally:
        listener.closed.set()


class Scenario:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.ws_root = session.target.root.replace("http", "ws", 1)
        self.findings: list[tuple[str, str, str]] = []  # (check, channel, message)
        self.advance: Callable[[], None] | None = None  # moves a virtual clock one step; None: real time

    def fail(self, check: str, channel: str, message: str) -> None:
        self.findings.append((check, channel, message))

    def ran(self, *checks: str) -> None:
        """Record checks that judged what a channel sent: the report lists every check that ran with its verdict."""
        self.session.report.ran(LAYER, *checks)

    def send(self, method: str, path: str, key: str | None, **kwargs: Any) -> Any:
        return self.session.client.send(method, path, key=key, **kwargs)

    async def call(self, method: str, path: str, key: str | None, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.send, method, path, key, **kwargs)

    async def until_closed(self, listeners: list[Listener]) -> bool:
        """Move time on until every listener's connection has closed; False if time ran out first."""
        deadline = time.monotonic() + self.session.target.job_timeout
        moved = 0.0
        while not all(listener.closed.is_set() for listener in listeners):
            if time.monotonic() > deadline or moved > MAX_VIRTUAL_SECONDS:
                self.fail("ws_one_final", PROMPT_CHANNEL, f"no final frame and close within "
                                                          f"{self.session.target.job_timeout:g} s (--job-timeout)"
                                                          + (f" and {moved:g} s of virtual time" if moved else ""))
                return False
            await asyncio.sleep(QUIET)
            if self.advance is not None:
                await asyncio.to_thread(self.advance)
                moved += STEP_SECONDS
        return True

    # -- the checks of one followed prompt ----------------------------------------------------------------
    def check_frames(self, listener: Listener, channel: str, message: str) -> None:
        for frame in listener.frames:
            self.ran("ws_frame_schema")
            wrong = frames.problems(ASYNCAPI, message, frame)
            if wrong:
                self.fail("ws_frame_schema", channel, f"{listener.url}: a frame breaks the payload schema "
                                                      f"{message}: {'; '.join(wrong[:3])}\nframe: {_short(frame)}")
                return

    def check_order(self, listener: Listener) -> None:
        shown = [frame for frame in listener.frames if isinstance(frame, dict)]
        for before, after in zip(shown, shown[1:], strict=False):
            self.ran("ws_progress_order")
            if _number(after, "progress") < _number(before, "progress"):
                self.fail("ws_progress_order", PROMPT_CHANNEL, f"progress went from {before.get('progress')} to "
                                                               f"{after.get('progress')}")
                return
            if _number(after, "queuePosition") > _number(before, "queuePosition"):
                self.fail("ws_progress_order", PROMPT_CHANNEL, f"queuePosition went up from "
                                                               f"{before.get('queuePosition')} to "
                                                               f"{after.get('queuePosition')}")
                return

    def check_final(self, listener: Listener) -> dict[str, Any] | None:
        """The final frame, if the channel kept the one-final-frame contract."""
        self.ran("ws_one_final")
        finals = [index for index, frame in enumerate(listener.frames) if _final(frame)]
        last_is_final = bool(finals) and finals[-1] == len(listener.frames) - 1
        if len(finals) != 1 or not last_is_final:
            self.fail("ws_one_final", PROMPT_CHANNEL, f"{listener.url}: {len(finals)} final frame(s) among "
                                                      f"{len(listener.frames)}, the last one "
                                                      f"{'final' if last_is_final else 'not final'}")
            return None
        if listener.close_code != NORMAL_CLOSE:
            self.fail("ws_one_final", PROMPT_CHANNEL, f"{listener.url}: after the final frame the close code was "
                                                      f"{listener.close_code}, not {NORMAL_CLOSE}")
        return listener.frames[-1]  # type: ignore[no-any-return]

    async def check_against_rest(self, final: dict[str, Any], prompt_id: str, key: str) -> None:
        self.ran("ws_final_matches_rest")
        reply = await self.call("GET", f"/prompts/{prompt_id}", key)
        if final.get("isComplete"):
            if reply.status != 200 or final.get("promptContainer") != reply.body:
                self.fail("ws_final_matches_rest", PROMPT_CHANNEL,
                          f"the final frame's promptContainer differs from GET /prompts/{prompt_id} "
                          f"({reply.status}):\nframe: {_short(final.get('promptContainer'))}\n"
                          f"REST: {_short(reply.body)}")
        elif not final.get("errorType") or not final.get("message"):
            self.fail("ws_final_matches_rest", PROMPT_CHANNEL, f"an isError frame without errorType and message: "
                                                               f"{_short(final)}")

    # -- the scenario ---------------------------------------------------------------------------------------
    async def follow(self, http: aiohttp.ClientSession, prompt_id: str, token: str | None,
                     subscribers: int = 1) -> list[Listener]:
        query = f"?token={token}" if token else ""
        listeners = [Listener(f"{self.ws_root}/ws/prompts/{prompt_id}{query}") for _ in range(subscribers)]
        for listener in listeners:
            asyncio.create_task(listen(http, listener, self.session.target.timeout))
        return listeners

    async def run(self, key: str, other_key: str | None, other_tenant: str | None) -> int:
        """Run the scenario; return the number of frames judged."""
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.session.target.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            me = await self.call("GET", "/members/me", key)
            user_id = me.field("id") if me.status == 200 else None
            users = [Listener(f"{self.ws_root}/ws/users/{user_id}?token={key}")] if user_id else []
            others: list[Listener] = []
            if other_key and user_id:
                others.append(Listener(f"{self.ws_root}/ws/users/{user_id}?token={other_key}"))  # foreign
                other_me = await self.call("GET", "/members/me", other_key)
                if other_me.status == 200:
                    others.append(Listener(f"{self.ws_root}/ws/users/{other_me.field('id')}?token={other_key}"))
            for listener in users + others:
                asyncio.create_task(listen(http, listener, self.session.target.timeout))
            await asyncio.sleep(QUIET)
            created = await self.call("POST", "/prompts", key, body=PROMPT)
            if created.status != 200:
                self.session.report.note(LAYER, f"websockets: POST /prompts answered {created.status}: the channels "
                                                "are not checked")
                return 0
            prompt_id = created.body["promptId"]
            followers = await self.follow(http, prompt_id, None, subscribers=2)
            foreign = await self.follow(http, prompt_id, other_key) if other_key else []
            other_prompt = (await self.call("POST", "/prompts", other_key, body=PROMPT)).field("promptId") \
                if other_key else None
            ended = await self.until_closed(followers + foreign)
            judged = self.judge_prompt(followers, foreign, prompt_id)
            final = self.check_final(followers[0]) if ended else None
            if final is not None:
                await self.check_against_rest(final, prompt_id, key)
                await self.check_late_subscriber(http, prompt_id, final)
            if other_key and other_tenant:
                judged += await self.failed_prompt(http, other_key, other_tenant)
            await asyncio.sleep(QUIET)  # the user channels' last events
            if self.advance is not None:
                await asyncio.to_thread(self.advance)
                await asyncio.sleep(QUIET)
            self.judge_users(users, others, prompt_id, other_prompt)
            return judged + sum(len(listener.frames) for listener in users + others)

    async def check_late_subscriber(self, http: aiohttp.ClientSession, prompt_id: str, final: dict[str, Any]) -> None:
        late = (await self.follow(http, prompt_id, None))[0]
        if not await self.until_closed([late]):
            return
        self.ran("ws_late_final")
        if [_timeless(frame) for frame in late.frames] != [_timeless(final)] or late.close_code != NORMAL_CLOSE:
            self.fail("ws_late_final", PROMPT_CHANNEL, f"a subscriber after the end got {len(late.frames)} frame(s) "
                                                       f"and close code {late.close_code}, not the final frame and "
                                                       f"{NORMAL_CLOSE}")

    def judge_prompt(self, followers: list[Listener], foreign: list[Listener], prompt_id: str) -> int:
        for listener in followers:
            self.check_frames(listener, PROMPT_CHANNEL, "PromptProgress")
            self.check_order(listener)
        self.ran("ws_fanout")
        if not _same_frames(*followers, frozen=self.advance is not None):
            self.fail("ws_fanout", PROMPT_CHANNEL, f"two subscribers to one prompt got different frames: "
                                                   f"{len(followers[0].frames)} and {len(followers[1].frames)}")
        for listener in foreign:
            self.ran("ws_isolation")
            leaked = [frame for frame in listener.frames if isinstance(frame, dict) and frame.get("promptId")]
            if leaked or listener.close_code != NO_SUCH_PROMPT:
                self.fail("ws_isolation", PROMPT_CHANNEL, f"another user's token on prompt {prompt_id} got "
                                                          f"{len(leaked)} frame(s) of it and close code "
                                                          f"{listener.close_code}, not {NO_SUCH_PROMPT}")
        return sum(len(listener.frames) for listener in followers + foreign)

    async def failed_prompt(self, http: aiohttp.ClientSession, key: str, tenant_id: str) -> int:
        await asyncio.to_thread(self.session.admin.arm_fault, "prompt", tenant_id)  # type: ignore[union-attr]
        created = await self.call("POST", "/prompts", key, body=PROMPT)
        if created.status != 200:
            return 0
        listeners = await self.follow(http, created.body["promptId"], key)
        ended = await self.until_closed(listeners)
        self.check_frames(listeners[0], PROMPT_CHANNEL, "PromptProgress")
        final = self.check_final(listeners[0]) if ended else None
        if final is not None:
            if not final.get("isError"):
                self.fail("ws_final_matches_rest", PROMPT_CHANNEL, f"a prompt failed by an armed fault ended with "
                                                                   f"{_short(final)}, not isError")
            else:
                await self.check_against_rest(final, created.body["promptId"], key)
        return len(listeners[0].frames)

    def judge_users(self, users: list[Listener], others: list[Listener], prompt_id: str,
                    other_prompt: str | None) -> None:
        for listener in users + others[1:]:
            self.check_frames(listener, USER_CHANNEL, "UserEvent")
        if users:
            self.ran("ws_user_events")
            events = [frame for frame in users[0].frames if isinstance(frame, dict)]
            listed = any(prompt_id in _queue_ids(event) for event in events)
            completed = {"eventType": "COMPLETION", "promptId": prompt_id} in events
            if not listed or not completed:
                self.fail("ws_user_events", USER_CHANNEL, f"the user's channel {'showed' if listed else 'never showed'}"
                                                          f" the prompt in a QUEUE_CHANGE and "
                                                          f"{'reported' if completed else 'never reported'} its "
                                                          f"COMPLETION ({len(events)} frame(s))")
            if other_prompt and any(other_prompt in _ids(event) for event in events):
                self.fail("ws_isolation", USER_CHANNEL, "a user's channel showed another user's prompt")
        if others:
            self.ran("ws_isolation")
            foreign = others[0]
            if foreign.frames or foreign.close_code != FOREIGN_USER:
                self.fail("ws_isolation", USER_CHANNEL, f"another user's token on a user channel got "
                                                        f"{len(foreign.frames)} frame(s) and close code "
                                                        f"{foreign.close_code}, not {FOREIGN_USER}")
            if len(others) > 1 and any(prompt_id in _ids(event) for event in others[1].frames):
                self.fail("ws_isolation", USER_CHANNEL, "a user's channel showed another user's prompt")


def run(session: Session) -> None:
    """The websocket property module of AliveAI's stateful layer."""
    report, admin = session.report, session.admin
    other_key, other_tenant = session.target.second_key, None
    if admin is not None:  # a user of the run's own, whose prompts an armed fault may fail
        other_key = str(uuid.uuid4())
        other_tenant = admin.create_tenant("contract run, websockets", 100, [other_key])["id"]
    if other_key is None:
        report.cannot_verify(LAYER, "ws_isolation", "no --second-key nor --admin-token")
    scenario = Scenario(session)
    restore = lambda: None  # noqa: E731
    if admin is not None:
        restore = freeze_clock(admin)[1]
        scenario.advance = lambda: admin.set_clock(advance_seconds=STEP_SECONDS) and None
    session.transcript.clear()
    try:
        judged = asyncio.run(scenario.run(session.target.key or "", other_key, other_tenant))
    finally:
        restore()
    report.count(LAYER, "websocket frames", judged)
    reproduction = session.transcript.text()
    for check, channel, message in scenario.findings:
        report.add(Finding(LAYER, check, channel, message, reproduction))


def _same_frames(first: Listener, second: Listener, frozen: bool) -> bool:
    """Whether two subscribers of one prompt saw the same frames. On a frozen clock both connect before anything
    moves: all their frames are the same. On a real clock each starts with the state at its own connection, so
    only what followed both first frames must be the same."""
    one, other = ([_timeless(frame) for frame in listener.frames] for listener in (first, second))
    if frozen:
        return one == other
    shared = min(len(one), len(other)) - 1
    return shared < 0 or one[len(one) - shared:] == other[len(other) - shared:]


def _final(frame: Any) -> bool:
    return isinstance(frame, dict) and bool(frame.get("isComplete") or frame.get("isError"))


def _number(frame: dict[str, Any], name: str) -> float:
    value = frame.get(name)
    return value if isinstance(value, int | float) else 0


def _timeless(frame: Any) -> Any:
    """A frame without its send time (`created`), which two subscribers may see differ."""
    return {key: value for key, value in frame.items() if key != "created"} if isinstance(frame, dict) else frame


def _queue_ids(event: dict[str, Any]) -> set[str]:
    queue = event.get("queue") if event.get("eventType") == "QUEUE_CHANGE" else None
    return {item.get("promptId") for item in queue if isinstance(item, dict)} if isinstance(queue, list) else set()


def _ids(event: Any) -> set[str]:
    if not isinstance(event, dict):
        return set()
    return _queue_ids(event) | ({event["promptId"]} if isinstance(event.get("promptId"), str) else set())


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= 400 else text[:400] + "…"
