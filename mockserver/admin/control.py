"""What the mock does next: its state, reset, the clock, armed faults and tunables."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.responses import Response

from mockserver.admin.problems import bad_field, problem
from mockserver.admin.tenants import tenant_view
from mockserver.context import ApiContext
from mockserver.engine.clock import iso
from mockserver.routing import Call, json_response

# a virtual clock stays in this range (seconds since the epoch), so that no timestamp the engine derives
# from it (a job's start or end, durations of at most a day later) can overflow a date
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC).timestamp()
LATEST = datetime(9000, 1, 1, tzinfo=UTC).timestamp()  # excluded
_LEAP_SECOND = re.compile(r"(T\d\d:\d\d:)60")


def clock_view(context: ApiContext) -> dict[str, Any]:
    clock = context.engine.clock
    return {"mode": clock.mode, "now": iso(clock.now())}


async def get_state(call: Call) -> Response:
    context: ApiContext = call.context
    return json_response(200, {"api": context.dialect.name, "clock": clock_view(context),
                               "seed": context.engine.ids.seed, "config": context.config(),
                               "faultOperations": context.dialect.fault_operations})


async def reset(call: Call) -> Response:
    context: ApiContext = call.context
    context.reset()
    context.engine.clock.use_real()  # a clock left frozen would keep every new job queued
    return json_response(200, tenant_view(context, context.create_demo_tenant()))


async def get_clock(call: Call) -> Response:
    return json_response(200, clock_view(call.context))


async def set_clock(call: Call) -> Response:
    clock = call.context.engine.clock
    body = call.body
    start = instant(body["now"]) if "now" in body else None
    if "now" in body and (start is None or not EARLIEST <= start < LATEST):
        return bad_field("now", f"{body['now'][:40]!r} is no date-time from 1970-01-01T00:00:00Z up to "
                                "9000-01-01T00:00:00Z")
    mode = body.get("mode") or clock.mode
    advance = body.get("advanceSeconds") or 0
    if advance and mode != "virtual":
        return problem(409, "Conflict", "only a virtual clock can be advanced; set mode to virtual first")
    now = start if body.get("mode") == "virtual" and start is not None else clock.now()
    if now + advance >= LATEST:
        return bad_field("advanceSeconds", "the clock would reach 9000-01-01T00:00:00Z")
    if body.get("mode") == "real":
        clock.use_real()
    elif body.get("mode") == "virtual":
        clock.use_virtual(start)
    if advance:
        clock.advance(advance)
    call.context.engine.jobs.settle(call.context.dialect.name)  # what the new time makes due happens now
    call.context.engine.events.notify()  # followers of the state (websockets, held answers) look again
    return json_response(200, clock_view(call.context))


async def list_faults(call: Call) -> Response:
    context: ApiContext = call.context
    faults = context.engine.faults.armed(context.dialect.name)
    return json_response(200, {"faults": [fault_view(fault) for fault in faults]})


async def arm_fault(call: Call) -> Response:
    context: ApiContext = call.context
    body = call.body
    if body["operation"] not in context.dialect.fault_operations:
        known = ", ".join(sorted(context.dialect.fault_operations))
        return problem(400, "Bad Request", f"unknown operation {body['operation']!r}; known: {known}")
    tenant_id = body.get("tenantId")
    if tenant_id is not None and context.engine.tenants.get(context.dialect.name, tenant_id) is None:
        return problem(404, "Not Found", f"no tenant {tenant_id} in {context.dialect.name}")
    fault = context.engine.faults.arm(context.dialect.name, body["operation"], body.get("count", 1), tenant_id,
                                      message=body.get("message"))
    return json_response(201, fault_view(fault))


def instant(text: str) -> float | None:
    """An RFC 3339 date-time as seconds since the epoch (a leap second is the next second, as in POSIX
    time); None when Python's dates cannot hold it."""
    text = text.upper()
    leap = _LEAP_SECOND.search(text)
    if leap:
        text = text[:leap.start()] + leap[1] + "59" + text[leap.end():]
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00")) + timedelta(seconds=1 if leap else 0)
    except (ValueError, OverflowError):
        return None
    return moment.timestamp() if moment.tzinfo is not None else None


def fault_view(fault: Any) -> dict[str, Any]:
    return {"id": fault.seq, "operation": fault.operation, "remaining": fault.remaining,
            "tenantId": fault.tenant_id, "message": fault.message}


async def clear_faults(call: Call) -> Response:
    call.context.engine.faults.clear(call.context.dialect.name)
    return Response(status_code=204)


async def get_config(call: Call) -> Response:
    return json_response(200, call.context.config())


async def update_config(call: Call) -> Response:
    context: ApiContext = call.context
    defaults = context.dialect.defaults
    for group in ("prices", "durations", "limits"):
        unknown = set(call.body.get(group, {})) - set(defaults.get(group, {}))
        if unknown:
            return problem(400, "Bad Request", f"unknown {group}: {', '.join(sorted(unknown))}; "
                                               f"known: {', '.join(sorted(defaults.get(group, {}))) or 'none'}")
    context.update_config(call.body)
    return json_response(200, context.config())
