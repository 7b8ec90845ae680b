"""The two tenants a near-miss probe needs: with an admin token two of the run's own (the intruder without credits,
so that no near miss a broken server accepts can be charged), else --key and --second-key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from contracts.apis import profile
from contracts.session import LoginRefused, Session, log_in
from contracts.target import Token


@dataclass(frozen=True)
class Tenant:
    key: str
    tenant_id: str | None = None  # with an admin token
    account: dict[str, Any] | None = None  # its login, where the API has logins and the run knows it


@dataclass(frozen=True)
class Pair:
    owner: Tenant
    intruder: Tenant
    broke: bool  # the intruder holds no credits
    # query parameters that name the owner (its tenant or user id, its key), for the intruder to try
    names: dict[str, str] = field(default_factory=dict)


def made(session: Session, role: str, balance: float) -> Tenant:
    """A tenant of the run's own (an admin token is needed), with `balance`."""
    assert session.admin is not None
    api = profile(session.target.api)
    chosen = None if api.issued_keys else [f"contract_run_{session.nonce}_{role}_0000"]
    tenant = session.admin.create_tenant(f"contract run, near misses ({role})", balance, chosen)
    return Tenant(str(tenant["credentials"][0]), tenant["id"], tenant.get("account"))


def pair(session: Session) -> Pair | None:
    """An owner and an intruder; None without an admin token or --second-key."""
    target = session.target
    if session.admin is not None:
        owner = made(session, "owner", profile(target.api).own_balance)
        intruder = made(session, "intruder", 0)
        broke = True
    elif target.second_key and target.key:
        owner, intruder, broke = Tenant(target.second_key), Tenant(target.key, account=session.account), False
    else:
        return None
    return Pair(owner, intruder, broke, names(session, owner))


def names(session: Session, owner: Tenant) -> dict[str, str]:
    """What a query may name the owner by: its tenant id, its user id (the `id` its own key probe answers, where
    that is a read), its key."""
    probe = profile(session.target.api).key_probe
    user = None
    if probe.method == "GET":
        answered = session.client.send("GET", probe.path, key=owner.key).field("id")
        user = str(answered) if isinstance(answered, str | int) and not isinstance(answered, bool) else None
    found = {"tenantId": owner.tenant_id, "tenant_id": owner.tenant_id, "userId": user, "user_id": user,
             "owner": user or owner.tenant_id, "api_key": owner.key, "key": owner.key}
    return {name: value for name, value in found.items() if value}


def token(session: Session, tenant: Tenant, own: bool = True) -> Token | None:
    """A login's token for the tenant (the API has logins and its login is known), else None. Only the run's
    `own` token is shown as $TOKEN in reproductions; another is one of the run's own tenants'."""
    if isinstance(tenant.key, Token):
        return tenant.key
    if profile(session.target.api).login is None or not tenant.account:
        return None
    try:
        found = log_in(session.client, tenant.account)
    except LoginRefused:
        return None
    if not own:
        session.transcript.masks.pop(found, None)
    return found
