"""The admin API (`specs/admin.yaml`): seed tenants, top up, read ledgers, drive the clock, arm faults."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mockserver.context import ApiContext
from mockserver.engine.clock import iso
from mockserver.engine.ledger import Entry, from_amount, to_amount
from mockserver.engine.tenants import DuplicateCredential, DuplicateLogin, Tenant
from mockserver.routing import Call, Handler, json_response
from mockserver.spec import Violation

ADMIN = object()  # the principal of every authenticated admin call
# a virtual clock stays in this range (seconds since the epoch), so that no timestamp the engine derives
# from it (a job's start or end, durations of at most a day later) can overflow a date
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC).timestamp()
LATEST = datetime(9000, 1, 1, tzinfo=UTC).timestamp()  # excluded
MAX_BALANCE = to_amount(10**12)  # a top-up may not take a balance beyond it: amounts stay far from 64 bits
_LEAP_SECOND = re.compile(r"(T\d\d:\d\d:)60")


def problem(status: int, title: str, detail: str, **extra: Any) -> Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    response = json_response(status, body)
    response.headers["content-type"] = "application/problem+json"
    return response


class ProblemErrors:
    def no_route(self, request: Request) -> Response:
        return problem(404, "Not Found", f"no admin operation at {request.url.path}")

    def method_not_allowed(self, request: Request, allowed: list[str]) -> Response:
        response = problem(405, "Method Not Allowed", f"{request.method} is not allowed here")
        response.headers["allow"] = ", ".join(allowed)
        return response

    def malformed_json(self, request: Request) -> Response:
        return problem(400, "Bad Request", "the body is not valid JSON")

    def unauthorized(self, request: Request) -> Response:
        return problem(401, "Unauthorized", "send the admin token that `genmock serve` printed as a Bearer token")

    def invalid(self, request: Request, violations: list[Violation]) -> Response:
        return problem(400, "Bad Request", "; ".join(f"{v.field or v.location}: {v.message}" for v in violations),
                       violations=[{"field": v.field, "in": v.location, "message": v.message} for v in violations])

    def limit_exceeded(self, request: Request, status: int, message: str) -> Response:
        return problem(status, HTTPStatus(status).phrase, message)

    def internal(self, request: Request) -> Response:
        return problem(500, "Internal Server Error", "the admin operation failed; see the server log")


def bad_field(field: str, message: str) -> Response:
    """A 400 naming one field of the body, shaped as the router's own validation problems."""
    return problem(400, "Bad Request", f"{field}: {message}",
                   violations=[{"field": field, "in": "body", "message": message}])


def tenant_view(context: ApiContext, tenant: Tenant) -> dict[str, Any]:
    engine = context.engine
    engine.jobs.settle(context.dialect.name)  # refunds of jobs that failed by now are in the balance
    view = {"id": tenant.id, "name": tenant.name, "balance": from_amount(engine.ledger.balance(tenant.id)),
            "credentials": engine.tenants.credentials(tenant)}
    if context.dialect.account is not None:
        view["account"] = context.dialect.account(tenant)
    return view


def entry_view(entry: Entry) -> dict[str, Any]:
    return {"seq": entry.seq, "kind": entry.kind, "amount": from_amount(entry.amount),
            "balanceAfter": from_amount(entry.balance_after), "reference": entry.reference, "at": iso(entry.at)}


def clock_view(context: ApiContext) -> dict[str, Any]:
    clock = context.engine.clock
    return {"mode": clock.mode, "now": iso(clock.now())}


def _tenant(call: Call) -> Tenant | None:
    return call.context.engine.tenants.get(call.context.dialect.name, call.path["tenantId"])


def _missing_tenant(call: Call) -> Response:
    return problem(404, "Not Found", f"no tenant {call.path['tenantId']} in {call.context.dialect.name}")


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


async def list_tenants(call: Call) -> Response:
    context: ApiContext = call.context
    tenants = context.engine.tenants.all(context.dialect.name)
    return json_response(200, {"tenants": [tenant_view(context, tenant) for tenant in tenants]})


async def create_tenant(call: Call) -> Response:
    context: ApiContext = call.context
    body = call.body or {}
    login = {key: body[key] for key in ("email", "password") if key in body}
    if login and context.dialect.create_tenant is None:
        return bad_field(next(iter(login)), f"{context.dialect.title} has no logins, only keys")
    # an API with its own tenants (AliveAI's users) makes its own kind of key when none is given
    credentials = body.get("credentials") or ([] if context.dialect.create_tenant else [context.new_credential()])
    repeated = _repeated(credentials)
    if repeated is not None:
        return bad_field("credentials", f"credential {repeated!r} is listed more than once")
    for credential in credentials:
        reason = context.dialect.credential_rule(credential)
        if reason:
            return problem(400, "Bad Request", f"credential {credential!r}: {reason}")
    try:
        tenant = context.create_tenant(body.get("name") or "tenant", credentials, body.get("balance", 0), login)
    except DuplicateCredential as duplicate:
        return problem(409, "Conflict", f"credential {duplicate} already belongs to a tenant")
    except DuplicateLogin as duplicate:
        return problem(409, "Conflict", f"email {duplicate} already belongs to a tenant")
    return json_response(201, tenant_view(context, tenant))


def _repeated(items: list[str]) -> str | None:
    """The first item listed a second time."""
    seen: set[str] = set()
    for item in items:
        if item in seen:
            return item
        seen.add(item)
    return None


async def get_tenant(call: Call) -> Response:
    tenant = _tenant(call)
    return json_response(200, tenant_view(call.context, tenant)) if tenant else _missing_tenant(call)


async def delete_tenant(call: Call) -> Response:
    tenant = _tenant(call)
    if tenant is None:
        return _missing_tenant(call)
    call.context.engine.store.delete_tenant(tenant.id)
    return Response(status_code=204)


async def top_up(call: Call) -> Response:
    tenant = _tenant(call)
    if tenant is None:
        return _missing_tenant(call)
    amount = to_amount(call.body["amount"])
    if amount <= 0:
        return problem(400, "Bad Request", "amount is below the smallest unit (0.001)")
    call.context.engine.jobs.settle(call.context.dialect.name)  # refunds due by now count
    if call.context.engine.ledger.balance(tenant.id) + amount > MAX_BALANCE:
        return bad_field("amount", f"the balance may not exceed {from_amount(MAX_BALANCE):.0f}")
    entry = call.context.engine.ledger.top_up(tenant.id, amount, call.body.get("reference") or "top-up")
    return json_response(201, entry_view(entry))


async def get_ledger(call: Call) -> Response:
    tenant = _tenant(call)
    if tenant is None:
        return _missing_tenant(call)
    call.context.engine.jobs.settle(call.context.dialect.name)  # entries due by now are in the ledger
    ledger = call.context.engine.ledger
    return json_response(200, {"tenantId": tenant.id, "balance": from_amount(ledger.balance(tenant.id)),
                               "entries": [entry_view(entry) for entry in ledger.entries(tenant.id)]})


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


def new_admin_token() -> str:
    return "gm_admin_" + secrets.token_urlsafe(24)


HANDLERS: dict[str, Handler] = {
    "getState": get_state, "reset": reset, "listTenants": list_tenants, "createTenant": create_tenant,
    "getTenant": get_tenant, "deleteTenant": delete_tenant, "topUp": top_up, "getLedger": get_ledger,
    "getClock": get_clock, "setClock": set_clock, "listFaults": list_faults, "armFault": arm_fault,
    "clearFaults": clear_faults, "getConfig": get_config, "updateConfig": update_config,
}
