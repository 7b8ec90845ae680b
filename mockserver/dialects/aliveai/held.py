"""`x-aliveai-request-blocking: true`: an answer held until its prompt is finished, at most HOLD_SECONDS.

The prompt is accepted (committed) first; the waiting happens as the answer is sent, outside the request's
transaction. On a real clock the answer wakes when the prompt's estimated end comes; on a virtual clock, when
the clock is moved. At the limit, or when the prompt fails, the answer is sent without `promptContainer` and
the prompt is followed as usual (documented in specs/aliveai.yaml, parameter RequestBlocking).
"""

from __future__ import annotations

import time
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from mockserver.dialects.aliveai.lookups import API
from mockserver.dialects.aliveai.views import container
from mockserver.engine.jobs import COMPLETED
from mockserver.routing import Call, json_response

HOLD_SECONDS = 40.0  # real seconds, whatever the clock


class HeldAnswer(Response):
    def __init__(self, call: Call, prompt_id: str, answer: dict[str, Any]) -> None:
        super().__init__(status_code=200, media_type="application/json")
        self.call = call
        self.prompt_id = prompt_id
        self.answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        engine = self.call.context.engine
        deadline = time.monotonic() + HOLD_SECONDS
        while True:
            job = engine.jobs.get(API, self.call.principal.id, self.prompt_id)
            left = deadline - time.monotonic()
            if job is None or job.finished or left <= 0:
                break
            wake = None
            if engine.clock.mode == "real":
                finish = engine.jobs.finish_estimate(API, self.prompt_id)
                wake = None if finish is None else max(0.0, finish - engine.clock.now())
            await engine.events.wait(left if wake is None else min(left, wake + 0.001))
        answer = dict(self.answer)
        if job is not None and job.status == COMPLETED:
            answer["promptContainer"] = container(self.call, job)
        await engine.store.durable()  # what settling the prompt wrote, before it is told
        response = json_response(200, answer)
        await response(scope, receive, send)
