"""The request journal and the live event stream of an origin."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import Response, StreamingResponse

from mockserver.admin.control import clock_view, instant
from mockserver.admin.problems import bad_field
from mockserver.admin.tenants import entry_view
from mockserver.context import ApiContext
from mockserver.engine.ledger import from_amount
from mockserver.journal import Record
from mockserver.routing import Call, json_response


def effect_view(kind: str, value: Any) -> dict[str, Any]:
    if kind == "ledger":
        return {"kind": "ledger", "entry": {**entry_view(value), "tenantId": value.tenant_id}}
    return {"kind": "job", "job": {"id": value.id, "tenantId": value.tenant_id, "kind": value.kind,
                                   "status": value.status, "cost": from_amount(value.cost)}}


def journal_entry(context: ApiContext, record: Record, bodies: bool = True) -> dict[str, Any]:
    view = context.journal.view(record, bodies)
    view["effects"] = [effect_view(kind, value) for kind, value in list(record.effects)]
    return view


async def list_requests(call: Call) -> Response:
    context: ApiContext = call.context
    query = call.query
    since = None
    if "since" in query:
        since = instant(query["since"])
        if since is None:
            return bad_field("since", f"{query['since'][:40]!r} is no date-time")
    records = context.journal.matching(tenant_id=query.get("tenantId"), method=query.get("method"),
                                       path=query.get("path"), status=query.get("status"), since=since,
                                       after=query.get("after"), limit=query["limit"])
    return json_response(200, {"requests": [journal_entry(context, record) for record in records],
                               "size": context.journal.size, "dropped": context.journal.dropped})


async def clear_requests(call: Call) -> Response:
    call.context.journal.clear()
    return Response(status_code=204)


STATE_INTERVAL = 0.25  # seconds: how often the event stream looks whether state moved
ACTIVE_INTERVAL = 1.0  # seconds between state events while a job is active (its progress moves)
KEEP_ALIVE = 15.0  # seconds between comment lines on a quiet stream


async def follow_events(call: Call) -> Response:
    return StreamingResponse(_events(call.context), media_type="text/event-stream",
                             headers={"cache-control": "no-store", "x-accel-buffering": "no"})


def _event(name: str, data: Any) -> str:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'), ensure_ascii=False)}\n\n"


async def _events(context: ApiContext) -> AsyncIterator[str]:
    """Server-sent events: each journal record once answered, and state whenever it may have moved."""
    engine = context.engine
    async with context.journal.follow() as answered:
        seen_version, last_state, last_sent = None, 0.0, time.monotonic()
        yield ": genmock events\n\n"
        while True:
            try:
                records = [await asyncio.wait_for(answered.get(), STATE_INTERVAL)]
                while not answered.empty():
                    records.append(answered.get_nowait())
            except TimeoutError:
                records = []
            chunks = [_event("request", journal_entry(context, record, bodies=False)) for record in records]
            now = time.monotonic()
            moved = engine.events.version != seen_version or bool(records)
            if moved or now - last_state >= ACTIVE_INTERVAL:
                with engine.store.transaction():
                    active = len(engine.jobs.active(context.dialect.name))  # settles what is due first
                await engine.store.durable()
                if moved or active:
                    seen_version, last_state = engine.events.version, now
                    chunks.append(_event("state", {"clock": clock_view(context), "activeJobs": active}))
            if not chunks and now - last_sent >= KEEP_ALIVE:
                chunks.append(": keep-alive\n\n")
            if chunks:
                last_sent = now
                yield "".join(chunks)
