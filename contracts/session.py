"""What the layers share for one run: the target, the strict client, the admin client, the progress display;
and, with an admin token, leaving the target as the run found it."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace

from contracts.apis import profile
from contracts.client import ContractClient
from contracts.curl import Transcript
from contracts.progress import Progress
from contracts.report import RUN, Report
from contracts.target import AdminClient, AdminError, Target


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

    def close(self) -> None:
        """End the run: with an admin token, remove every tenant it created and put the clock's mode back."""
        try:
            if self.admin is not None:
                remove_tenants(self.admin, self.report)
                restore_clock(self.admin, self.report, self.clock_mode)
        finally:
            self.client.close()
            if self.admin is not None:
                self.admin.close()


def open_session(target: Target, report: Report, progress: Progress | None = None) -> Session:
    """A session on `target`; without a key (an admin token is then needed) one on a tenant made for the run."""
    transcript = Transcript(target.masks())
    client = ContractClient(target, report, transcript)
    transcript.auth_header = client.auth_header
    nonce = secrets.token_hex(4)
    admin = AdminClient(target, transcript) if target.admin_token else None
    clock_mode = None
    try:
        if admin is not None:
            clock_mode = admin.clock()["mode"]
        if target.key is None:
            if admin is None:
                raise ValueError("a target without a key needs an admin token")
            target = replace(target, key=own_key(admin, target, nonce, report))
            transcript.masks.update(target.masks())
    except BaseException:
        client.close()
        if admin is not None:
            remove_tenants(admin, report)
            admin.close()
        raise
    return Session(target, report, transcript, client, admin, nonce, progress=progress or Progress(),
                   clock_mode=clock_mode)


def own_key(admin: AdminClient, target: Target, nonce: str, report: Report) -> str:
    """The key of a tenant made for the layers that need one, with the mock's demo balance."""
    key = f"contract_run_{nonce}_key_0000"  # long enough for every API's rule (LovlyChat: 24 characters)
    tenant = admin.create_tenant("contract run", profile(target.api).own_balance, [key])
    report.note(RUN, f"no --key: every layer ran on tenants the suite created; where one needs a key of the "
                     f"run, it used tenant {tenant['id']} (key {key}, shown as $KEY)")
    return key


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
