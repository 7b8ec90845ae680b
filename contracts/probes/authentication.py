"""Authentication under near misses (stateful layer, check `authentication`), for every operation of the spec that
requires credentials.

Each operation is sent as it can cost nothing: a read, or a write to an id that names nothing or with a body it
must refuse (`{}` where fields are required); a write that could be accepted as it is (no path id, no body to
refuse) is not sent. It is sent once without credentials and once with the run's own (which must not be refused:
else there is nothing to compare), then with every near miss of contracts/probes/credentials.py: the key (and a
login's token, where the API has logins) with a character changed, dropped or added, only half of it, its letters
in the other case; the other tenant's key altered; an empty value; no scheme word, or another one; the key in an
undeclared header or query parameter; a credential of a scheme the operation does not take; two key headers that
disagree; a token unsigned (`alg: none`) or carrying the other user's claims; the admin token. Each must be
refused (401 or 403): any other answer but a 429 is a finding. Where the request without credentials is not
refused either (a server that validates the body first), the operation is not judged.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from contracts.apis import REFUSED, profile
from contracts.client import NO_BODY, Reply
from contracts.curl import curl
from contracts.machines.common import LAYER
from contracts.probes.credentials import NearMiss, Presentation, Secrets, accepted, near_misses, presentations, valid
from contracts.probes.forms import fill, parameters
from contracts.probes.operations import Operation, nothing, operations, refused_empty
from contracts.probes.tenants import Tenant, made, token
from contracts.report import Finding
from contracts.session import Session
from contracts.target import Token

CHECK = "authentication"
BUSY = 429  # a rate limit says nothing of the credential
FULL = 3  # operations per set of accepted schemes that get every near miss


@dataclass(frozen=True)
class Probe:
    """An operation as it is sent: a path, query and body that cost nothing whoever is let in."""

    operation: Operation
    path: str
    params: dict[str, str]
    body: Any
    schemes: frozenset[str]


def run(session: Session) -> None:
    """The near-miss authentication property of every API's stateful layer.

    Every near miss goes to the first FULL operations of each set of schemes that operations accept (what a
    server's credential check gets wrong, it gets wrong wherever that check runs); every other operation gets the
    two that catch a route with a check of its own that checks nothing, or only that something is there: no
    credentials, and a key with its last character changed."""
    document = session.target.document()
    every = presentations(document, profile(session.target.api).login is not None)
    secrets = _secrets(session)
    probes, unsent = _probes(document)
    sent = judged = 0
    fully: Counter[frozenset[str]] = Counter()
    for probe in probes:
        misses = near_misses(every, probe.schemes, secrets, session.transcript.masks)
        if fully[probe.schemes] >= FULL:
            misses = misses[:2]
        fully[probe.schemes] += 1
        requests, judging = _judge(session, probe, every, secrets, misses)
        sent += requests
        judged += judging
    report = session.report
    report.count(LAYER, "near-miss credentials", sent)
    notes = [f"{judged} of {len(probes)} operation(s) judged (every near miss on {FULL} per set of schemes, "
             "no credentials and an altered key on the others)"]
    if unsent:
        notes.append(f"not sent (a write that could be accepted as it is): {', '.join(unsent)}")
    report.note(LAYER, f"{CHECK} near misses: {'; '.join(notes)}")


def _judge(session: Session, probe: Probe, every: list[Presentation], secrets: Secrets,
           misses: list[NearMiss]) -> tuple[int, bool]:
    """Send one operation with each near miss: the number of requests it took, and whether it was judged."""
    own = valid(every, probe.schemes, secrets)
    if own is None:
        return 0, False
    control, _ = _send(session, probe, own)
    if control.status in REFUSED:
        session.report.note(LAYER, f"{CHECK}: {probe.operation.label} refused the run's own credentials "
                                   f"({control.status}): its near misses were not judged")
        return 1, False
    first, line = _send(session, probe, misses[0])  # no credentials
    if first.status not in REFUSED and not 200 <= first.status < 300:
        return 2, False  # refused for something else first: the answer says nothing of the credentials
    let_in = [(misses[0], first, line)] if first.status not in REFUSED else []
    for miss in misses[1:]:
        reply, line = _send(session, probe, miss)
        if reply.status not in REFUSED and reply.status != BUSY:
            let_in.append((miss, reply, line))
    session.report.ran(LAYER, CHECK, operation=probe.operation.label)
    if let_in:
        message = [f"{len(let_in)} near miss(es) of a valid credential were not refused (401 or 403); the "
                   f"run's own credential answered {control.status}:",
                   *(f"  {miss.what}: {reply.status} {reply.text[:120]}" for miss, reply, _ in let_in)]
        session.report.add(Finding(LAYER, CHECK, probe.operation.label, "\n".join(message),
                                   "\n".join(line for _, _, line in let_in)))
    return len(misses) + 1, True


def _send(session: Session, probe: Probe, miss: NearMiss) -> tuple[Reply, str]:
    """The answer to `probe` with the near miss's credentials, and its curl line (which shows the header the
    near miss is in, declared or not)."""
    client, masks = session.client, session.transcript.masks
    added = {value: shown for value, shown in miss.shown.items() if value not in masks}
    masks.update(added)
    try:
        request = client.build(probe.operation.method, probe.path, key=None, body=probe.body,
                               headers=dict(miss.headers), params={**probe.params, **miss.params})
        reply = client.receive(request, client.exchange(request))
        shown = next((name for name in miss.headers if name.lower() not in ("authorization", "content-type")),
                     client.auth_header)
        return reply, f"{curl(request, masks, shown)}   # -> {reply.status}"
    finally:
        for value in added:
            del masks[value]


def _secrets(session: Session) -> Secrets:
    """The run's key and token, another tenant's (with an admin token one of the run's own, without credits),
    and the admin token."""
    target = session.target
    own = Tenant(str(target.key), account=session.account)
    if session.admin is not None and not session.guard.read_only:  # (--read-only: no admin writes either)
        other: Tenant | None = made(session, "other", 0)
    else:
        other = Tenant(target.second_key) if target.second_key else None
    own_token = target.key if isinstance(target.key, Token) else token(session, own)
    other_token = token(session, other, own=False) if other is not None else None
    return Secrets(None if isinstance(target.key, Token) else target.key, own_token,
                   other.key if other is not None else None, other_token, target.admin_token)


def _probes(document: dict[str, Any]) -> tuple[list[Probe], list[str]]:
    """Every operation that requires credentials, as sent (reads first, writes that may charge last, so that a
    guard's --max-spend stops only those); and the writes that could be accepted as they are."""
    probes, unsent = [], []
    for operation in operations(document):
        schemes = accepted(document, operation.spec)
        if schemes is None:
            continue
        names = parameters(operation.template)
        refused_body = refused_empty(document, operation)
        if not operation.safe and not names and not refused_body:
            unsent.append(operation.label)
            continue
        path_schemas = {parameter["name"]: parameter.get("schema", {}) for parameter in operation.parameters
                        if parameter.get("in") == "path"}
        path = fill(operation.template, {name: nothing(path_schemas.get(name, {})) for name in names})
        params = {parameter["name"]: nothing(parameter.get("schema", {})) for parameter in operation.required("query")}
        body = {} if refused_body else NO_BODY
        probes.append(Probe(operation, path, params, body, schemes))
    probes.sort(key=lambda probe: (not probe.operation.safe, probe.operation.paid))
    return probes, unsent
