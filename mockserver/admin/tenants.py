"""Tenants: seed them, top them up, read their ledgers, remove them with all they own."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from mockserver.admin.problems import bad_field, problem
from mockserver.context import ApiContext
from mockserver.engine.clock import iso
from mockserver.engine.ledger import Entry, from_amount, to_amount
from mockserver.engine.tenants import DuplicateCredential, DuplicateLogin, Tenant
from mockserver.routing import Call, json_response

MAX_BALANCE = to_amount(10**12)  # a top-up may not take a balance beyond it: amounts stay far from 64 bits


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


def tenant_of(call: Call) -> Tenant | None:
    return call.context.engine.tenants.get(call.context.dialect.name, call.path["tenantId"])


def missing_tenant(call: Call) -> Response:
    return problem(404, "Not Found", f"no tenant {call.path['tenantId']} in {call.context.dialect.name}")


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
    tenant = tenant_of(call)
    return json_response(200, tenant_view(call.context, tenant)) if tenant else missing_tenant(call)


async def delete_tenant(call: Call) -> Response:
    tenant = tenant_of(call)
    if tenant is None:
        return missing_tenant(call)
    call.context.engine.store.delete_tenant(tenant.id)
    return Response(status_code=204)


async def top_up(call: Call) -> Response:
    tenant = tenant_of(call)
    if tenant is None:
        return missing_tenant(call)
    amount = to_amount(call.body["amount"])
    if amount <= 0:
        return problem(400, "Bad Request", "amount is below the smallest unit (0.001)")
    call.context.engine.jobs.settle(call.context.dialect.name)  # refunds due by now count
    if call.context.engine.ledger.balance(tenant.id) + amount > MAX_BALANCE:
        return bad_field("amount", f"the balance may not exceed {from_amount(MAX_BALANCE):.0f}")
    entry = call.context.engine.ledger.top_up(tenant.id, amount, call.body.get("reference") or "top-up")
    return json_response(201, entry_view(entry))


async def get_ledger(call: Call) -> Response:
    tenant = tenant_of(call)
    if tenant is None:
        return missing_tenant(call)
    call.context.engine.jobs.settle(call.context.dialect.name)  # entries due by now are in the ledger
    ledger = call.context.engine.ledger
    return json_response(200, {"tenantId": tenant.id, "balance": from_amount(ledger.balance(tenant.id)),
                               "entries": [entry_view(entry) for entry in ledger.entries(tenant.id)]})
