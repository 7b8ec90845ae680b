"""The `delay` fault: the next answer of a route (the fault's `message` names its operationId; none: any
route) is sent DELAY_SECONDS late, after its work is committed, so a client's timeouts can be tested."""

from __future__ import annotations

import asyncio

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from mockserver.dialects.aliveai.lookups import API
from mockserver.routing import Call, Handler

DELAY_SECONDS = 5.0


class Delayed(Response):
    def __init__(self, response: Response, seconds: float) -> None:
        super().__init__(status_code=response.status_code)
        self.response = response
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.sleep(self.seconds)
        await self.response(scope, receive, send)


def delayable(operation_id: str, handler: Handler) -> Handler:
    async def answer(call: Call) -> Response:
        response = await handler(call)
        if call.principal is None:
            return response
        fault = call.context.engine.faults.take(API, "delay", call.principal.id,
                                                lambda fault: fault.message in (None, "", operation_id))
        if fault is None:
            return response
        call.keep_writes()  # the fault is spent, whatever the answer
        return Delayed(response, DELAY_SECONDS)

    return answer
