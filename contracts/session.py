"""What the responses and stateful layers share for one run: the target, the strict client, the admin client."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from contracts.client import ContractClient
from contracts.curl import Transcript
from contracts.report import Report
from contracts.target import AdminClient, Target


@dataclass
class Session:
    target: Target
    report: Report
    transcript: Transcript  # every request since the last clear(), as curl lines
    client: ContractClient
    admin: AdminClient | None  # only with an admin token
    nonce: str  # makes the credentials of tenants this run creates unique
    queued: list[str] = field(default_factory=list)  # jobs earlier layers queued with --key, maybe unfinished

    def close(self) -> None:
        self.client.close()
        if self.admin is not None:
            self.admin.close()


def open_session(target: Target, report: Report) -> Session:
    transcript = Transcript(target.masks())
    client = ContractClient(target, report, transcript)
    transcript.auth_header = client.auth_header
    admin = AdminClient(target, transcript) if target.admin_token else None
    return Session(target, report, transcript, client, admin, secrets.token_hex(4))
