"""Tenant isolation under near misses (stateful layer, check `tenant_isolation`), for every operation of the spec
whose path names the owner's things, and every request field that takes their ids.

One tenant (the owner: with an admin token one of the run's own, else --second-key) makes what the API lets it
make (contracts/probes/<api>.py); another (the intruder: with an admin token a tenant of the run's without
credits, else --key) then sends every operation whose path parameters name the owner's things with those ids in
near-miss forms (contracts/probes/forms.py: letter case, whitespace, percent-encoding, a trailing or double slash,
dot segments sent as they are, a query naming the owner's tenant, user or key), and every request that takes an
id in a field (a source asset, a media, a character, a cursor) with the owner's id, its letter case changed and
padded with whitespace. A near miss may be answered anything, 404 or 400 or even 2xx, but never with the owner's
things (an answer of 2xx carrying the owner's ids or texts), never by accepting the owner's thing for the
intruder's own request (2xx, or 402 or 409, which a request only gets once its reference held), and never by
changing them (the owner reads them again after every operation that writes).

Near misses a broken server could charge (an operation that declares 402) are sent only by an intruder without
credits; streamed answers are left to contracts/protocols/chat_isolation.py.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from contracts.client import NO_BODY, Reply
from contracts.machines.common import LAYER, freeze_clock
from contracts.probes.forms import fill, parameters, path_forms, value_forms
from contracts.probes.operations import Operation, example, nothing, operations
from contracts.probes.owned import Owned, kind_of, lookup
from contracts.probes.sending import as_is
from contracts.probes.tenants import Pair, pair
from contracts.report import Finding
from contracts.session import Session

CHECK = "tenant_isolation"
TAKEN = (402, 409)  # besides 2xx: what a request gets only once the id it names was taken as the sender's


def run(session: Session) -> None:
    """The near-miss isolation property of every API's stateful layer."""
    restore = freeze_clock(session.admin)[1] if session.admin is not None else (lambda: None)
    try:
        tenants = pair(session)
        if tenants is None:
            session.report.cannot_verify(LAYER, CHECK, "no --second-key nor --admin-token")
            return
        session.transcript.clear()
        owned = importlib.import_module(f"contracts.probes.{session.target.api}").make(session, tenants)
        probe = _Probe(session, tenants, owned)
        probe.paths()
        probe.references()
        probe.conclude()
    finally:
        restore()


@dataclass
class _Probe:
    session: Session
    tenants: Pair
    owned: Owned
    sent: int = 0
    judged: int = 0
    costly: list[str] = field(default_factory=list)  # what a broken server could charge, not sent

    def __post_init__(self) -> None:
        self.before = self.seen()

    def paths(self) -> None:
        """Every operation whose path parameters all name the owner's things: reads first, deletions last
        (inner things before what holds them)."""
        document = self.session.target.document()
        order = {"DELETE": 2}
        every = sorted(operations(document), key=lambda operation: (
            0 if operation.safe else order.get(operation.method, 1),
            -len(parameters(operation.template)) if operation.method == "DELETE" else 0))
        for operation in every:
            names = parameters(operation.template)
            values = {name: lookup(self.owned.ids, kind_of(operation.template, name)) for name in names}
            if not names or operation.streamed or None in values.values():
                continue
            if operation.paid and not self.tenants.broke:
                self.costly.append(operation.label)
                continue
            self.operation(operation, {name: str(value) for name, value in values.items()}, document)

    def operation(self, operation: Operation, values: dict[str, str], document: dict[str, Any]) -> None:
        query = {parameter["name"]: lookup(self.owned.ids, kind_of("", parameter["name"]))
                 or nothing(parameter.get("schema", {})) for parameter in operation.required("query")}
        body = example(document, operation)
        lines, leaks = [], []
        for form in path_forms(operation.template, values, self.tenants.names):
            reply, line = as_is(self.session, operation.method, form.target, key=self.tenants.intruder.key,
                                body=NO_BODY if body is None else body, params={**query, **form.params},
                                validate=form.same_route)
            self.sent += 1
            lines.append(line)
            if self.leaks(reply):
                leaks.append((f"{form.what}: {reply.status} {reply.text[:160]}", line))
        self.judge(operation.label, fill(operation.template, values), leaks, [] if operation.safe else lines)

    def references(self) -> None:
        """Every request that names one of the owner's ids in a field, in its near-miss forms."""
        for reference in self.owned.references:
            if reference.paid and not self.tenants.broke:
                self.costly.append(f"{reference.operation} ({reference.field})")
                continue
            lines, leaks = [], []
            for what, value in value_forms(reference.value):
                sent = reference.request(value)
                reply = self.session.client.send(sent.pop("method"), sent.pop("path"),
                                                 key=self.tenants.intruder.key, **sent)
                self.sent += 1
                line = f"{reply.curl}   # -> {reply.status}"
                lines.append(line)
                if self.leaks(reply) or (reference.creates and self.taken(reply)):
                    leaks.append((f"{reference.field} = {what}: {reply.status} {reply.text[:160]}", line))
            safe = reference.request(reference.value)["method"] == "GET"
            self.judge(reference.operation, f"{reference.field} {reference.value}", leaks, [] if safe else lines)

    def judge(self, operation: str, named: str, leaks: list[tuple[str, str]], writes: list[str]) -> None:
        """Record what one operation's near misses of `named` showed; after writes, what the owner sees now."""
        self.judged += 1
        self.session.report.ran(LAYER, CHECK, operation=operation)
        problems = [f"the intruder's near misses of the owner's {named} reached it:",
                    *(f"  {what}" for what, _ in leaks)] if leaks else []
        lines = [line for _, line in leaks]
        if writes:
            after = self.seen()
            if after != self.before:
                problems.append(f"the owner's things changed after the intruder's near misses of {named}: "
                                f"{_difference(self.owned.reads, self.before, after)}")
                lines = writes
                self.before = after
        if problems:
            self.session.report.add(Finding(LAYER, CHECK, operation, "\n".join(problems), "\n".join(lines)))

    def conclude(self) -> None:
        report = self.session.report
        report.count(LAYER, "near-miss isolation requests", self.sent)
        notes = list(self.owned.notes)
        if self.costly:
            notes.append(f"near misses a broken server could charge were not sent (they need --admin-token, for "
                         f"an intruder without credits): {', '.join(self.costly)}")
        if not self.judged:
            notes.append("nothing of the owner's to name")
        if notes:
            report.note(LAYER, f"{CHECK} near misses: {'; '.join(notes)}")

    def seen(self) -> list[tuple[int, str]]:
        """What the owner reads of its things."""
        replies = [self.session.client.send("GET", path, key=self.tenants.owner.key) for path in self.owned.reads]
        return [(reply.status, reply.text) for reply in replies]

    def leaks(self, reply: Reply) -> bool:
        return 200 <= reply.status < 300 and any(mark in reply.text for mark in self.owned.marks)

    @staticmethod
    def taken(reply: Reply) -> bool:
        return 200 <= reply.status < 300 or reply.status in TAKEN


def _difference(paths: list[str], before: list[tuple[int, str]], after: list[tuple[int, str]]) -> str:
    changed = [f"GET {path}: {old[0]} {old[1][:120]} -> {new[0]} {new[1][:120]}"
               for path, old, new in zip(paths, before, after, strict=True) if old != new]
    return "; ".join(changed)
