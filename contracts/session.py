"""What the layers share for one run: the target, the strict client, the admin client, the progress display;
and, with an admin token, leaving the target as the run found it."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field, replace
from typing import Any

from contracts.apis import Login, profile
from contracts.client import ContractClient, Reply
from contracts.curl import Transcript
from contracts.guard import Guard
from contracts.pricing import Pricing, chargeable
from contracts.progress import Progress
from contracts.report import RUN, Report
from contracts.target import AdminClient, AdminError, Target, Token


class LoginRefused(Exception):
    """The server did not answer --email/--password with a token."""


class PricesUnknown(Exception):
    """--max-spend was given, but no price of the target's paid operations is known."""


@dataclass
class Session:
    target: Target  # its `key` always set: --key, or the key of a tenant the run made
    report: Report
    transcript: Transcript  # every request since the last clear(), as curl lines
    client: ContractClient
    admin: AdminClient | None  # only with an admin token
    nonce: str  # makes the credentials of tenants this run creates unique
    queued: list[str] = field(default_factory=list)  # jobs earlier layers queued with --key, maybe unfinished
    progress: Progress = field(default_factory=Progress)
    clock_mode: str | None = None  # with an admin token: the clock's mode when the run began
    # the login {email, password} of the user of `target.key`, when known (--email/--password, or the tenant the
    # run made on an API with logins)
    account: dict[str, Any] | None = None
    seed: int = 0  # --seed: what schemathesis and every state machine draw from (same seed, same sequences)
    # --replay of a state machine's finding: its failing example ("hypothesis-version:base64"), run alone
    reproduce: str | None = None

    @property
    def guard(self) -> Guard:
        return self.client.guard

    def close(self) -> None:
        """End the run: with an admin token, remove every tenant it created and put the clock's mode back."""
        self.guard.closing = True  # the clean-up goes on past the deadline
        try:
            if self.admin is not None:
                remove_tenants(self.admin, self.report)
                restore_clock(self.admin, self.report, self.clock_mode)
            else:
                remove_created(self.client, self.report)
        finally:
            self.client.close()
            if self.admin is not None:
                self.admin.close()


def open_session(target: Target, report: Report, progress: Progress | None = None) -> Session:
    """A session on `target`; without a key (an admin token is then needed) one on a tenant made for the run."""
    transcript = Transcript(target.masks())
    api = profile(target.api)
    guard = Guard(read_only=target.read_only, max_spend=target.max_spend, rate=target.rate,
                  deadline=None if target.deadline is None else time.monotonic() + target.deadline,
                  allowed_writes=frozenset({("POST", api.login.path)}) if api.login else frozenset())
    client = ContractClient(target, report, transcript, guard)
    transcript.auth_header = client.auth_header
    nonce = secrets.token_hex(4)
    admin = AdminClient(target, transcript, guard) if target.admin_token else None
    clock_mode = None
    account = {"email": target.email, "password": target.password} if target.email and target.password else None
    try:
        if admin is not None:
            clock_mode = admin.clock()["mode"]
        if target.key is None and account is not None:
            target = replace(target, key=log_in(client, account))
        elif target.key is None:
            if admin is None:
                raise ValueError("a target without a key needs an admin token or a login")
            key, account = own_key(admin, target, nonce, report)
            target = replace(target, key=key)
        transcript.masks.update(target.masks())
        guard.pricing = pricing(target, client, admin)
        if target.max_spend is not None and not guard.pricing.table and not guard.pricing.unlisted_free:
            raise PricesUnknown(f"--max-spend: no price of {target.api}'s paid operations is known "
                                f"({guard.pricing.source}); state them with --prices (or give --admin-token)")
    except BaseException:
        client.close()
        if admin is not None:
            remove_tenants(admin, report)
            admin.close()
        raise
    return Session(target, report, transcript, client, admin, nonce, progress=progress or Progress(),
                   clock_mode=clock_mode, account=account)


def pricing(target: Target, client: ContractClient, admin: AdminClient | None) -> Pricing:
    """The prices the run assumes for the target's paid operations: those stated with --prices (LucyDream's
    --price for a generation), else the admin API's config, else the target's published price list (LovlyChat's
    `GET /v1/pricing`), else none."""
    operations = chargeable(target.api, target.document())
    if target.prices is not None:
        return Pricing(operations, dict(target.prices), "--prices")
    if admin is not None:
        return Pricing(operations, {name: float(price) for name, price in admin.config()["prices"].items()},
                       "the admin API's config", unlisted_free=True)
    if target.api == "lovlychat":
        from contracts.wire.lovlychat import price_list  # (it imports this module)

        listed = price_list(client.send("GET", "/v1/pricing", key=target.key))
        if listed is not None:
            return Pricing(operations, {f"{kind}.{variant}": float(price) for (kind, variant), price in listed.items()},
                           "the target's GET /v1/pricing", complete=True)
    if target.price is not None:
        return Pricing(operations, {"generate": target.price}, "--price")
    return Pricing(operations, {}, "neither --prices nor --admin-token, and the API publishes none")


def own_key(admin: AdminClient, target: Target, nonce: str, report: Report) -> tuple[str, dict[str, Any] | None]:
    """The key of a tenant made for the layers that need one, with the mock's demo balance, and its login (on an
    API with logins)."""
    api = profile(target.api)
    # long enough for every API's rule (LovlyChat: 24 characters); an API with keys of its own form issues one
    chosen = None if api.issued_keys else [f"contract_run_{nonce}_key_0000"]
    tenant = admin.create_tenant("contract run", api.own_balance, chosen)
    key = str(tenant["credentials"][0])
    report.note(RUN, f"no --key: every layer ran on tenants the suite created; where one needs a key of the "
                     f"run, it used tenant {tenant['id']} (key {key}, shown as $KEY)")
    return key, tenant.get("account")


def renew_login(session: Session) -> None:
    """After a virtual clock moved far (a token lives 24 hours on the server's clock): a fresh token for the
    run's own login, if the run uses one."""
    if isinstance(session.target.key, Token) and session.account is not None:
        session.target = replace(session.target, key=log_in(session.client, session.account))


def broke_key(session: Session) -> str | None:
    """With an admin token, the key of a tenant the run makes without any credits (None without one)."""
    if session.admin is None:
        return None
    chosen = None if profile(session.target.api).issued_keys else [f"contract_run_{session.nonce}_broke_0000"]
    return str(session.admin.create_tenant("contract run, no credits", 0, chosen)["credentials"][0])


def login_reply(client: ContractClient, login: Login, account: dict[str, Any]) -> Reply:
    """The answer to logging in with `account` {email, password} (no credentials sent)."""
    return client.send("POST", login.path, key=None, body={"email": account["email"],
                                                           "password": account["password"]})


def token_of(reply: Reply, login: Login) -> Token | None:
    """The bearer token a login's answer carries, if it is a 200 with one."""
    token = reply.field(login.token_field) if reply.status == 200 else None
    return Token(token) if isinstance(token, str) and token else None


def log_in(client: ContractClient, account: dict[str, Any]) -> Token:
    """A bearer token for `account` (shown as $TOKEN in reproductions); LoginRefused when the server answers none."""
    login = profile(client.api).login
    if login is None:
        raise LoginRefused(f"{client.api} has no logins")
    reply = login_reply(client, login, account)
    token = token_of(reply, login)
    if token is None:
        raise LoginRefused(f"POST {login.path} answered {reply.status}")
    client.transcript.masks[token] = "$TOKEN"
    return token


def remove_tenants(admin: AdminClient, report: Report) -> None:
    """Remove the tenants the run created (and so their jobs, assets, ledger entries and faults)."""
    created = len(admin.created)
    try:
        for tenant_id in list(admin.created):
            admin.delete_tenant(tenant_id)
    except AdminError as error:
        report.note(RUN, f"{len(admin.created)} of the {created} tenant(s) the suite created are left: {error}")
        return
    if created:
        report.note(RUN, f"removed the {created} tenant(s) the suite created, with their jobs, assets, ledger "
                         "entries and faults")


def remove_created(client: ContractClient, report: Report) -> None:
    """Without an admin token: delete what the run created with the keys it was given, where the API allows."""
    if not client.created.items:
        return
    deleted, left = client.created.remove(
        lambda path, credentials: client.send("DELETE", path, key=None, headers=credentials).status)
    report.note(RUN, f"deleted the {deleted} item(s) the run created that the API can delete"
                     + (f"; could not delete {len(left)}: {', '.join(left[:5])}" if left else ""))


def restore_clock(admin: AdminClient, report: Report, mode: str | None) -> None:
    """Put the clock back in the mode the run found it in (a virtual clock stays where the run took it: time
    does not go back)."""
    if mode is None:
        return
    try:
        if admin.clock()["mode"] != mode:
            admin.set_clock(mode=mode)
    except AdminError as error:
        report.note(RUN, f"the clock could not be put back to {mode} time: {error}")
