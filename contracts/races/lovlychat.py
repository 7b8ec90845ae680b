"""LovlyChat's concurrency property (stateful layer, check `concurrent_debit`): job requests sent at the same
moment on a wallet that covers only some of them get exactly as many 202s as it covers and a 402 for each of the
others; the balance ends at the start minus the price of the accepted ones (never below zero), and exactly
those jobs exist (once finished, the gallery lists one asset for each, and nothing else).

A server that checks the balance and debits it in two steps may still pass one round by luck (its requests
did not interleave), so the property runs in rounds. With an admin token each round gets a fresh tenant
covering a different number of the REQUESTS jobs (COVERED). Without one the rounds spend the wallet of
--race-key (skipped without it): its balance is learnt from one job request, each round asks for the dearest
image the wallet covers fewer than REQUESTS times, the next round goes on with what is left, and jobs are waited
for in real time. Any job may fail there (refunded): the balance is judged, and the next round starts, only once
every job of the wallet is final, counting the refunds of those that failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from contracts.machines.common import LAYER, freeze_clock
from contracts.races import at_once
from contracts.report import Finding
from contracts.session import Session
from contracts.wire.common import Waiter
from contracts.wire.lovlychat import CREATE, JOBS, PRICING, finish, image_job, price_list, walk_gallery

CHECK = "concurrent_debit"
REQUESTS = 12
COVERED = (5, 1, 3, 2, 4)  # with an admin token: one round per entry, its wallet covering that many jobs
VARIANTS = ("hd", "standard")  # without one: the image variants a round may ask for, dearest first


@dataclass
class Wallet:
    key: str
    balance: int
    tenant_id: str | None = None  # with an admin token
    rounds: int = 0
    problems: list[str] = field(default_factory=list)


def run(session: Session) -> None:
    admin, report = session.admin, session.report
    if admin is None and not session.target.race_key:
        report.cannot_verify(LAYER, CHECK, "no --admin-token nor --race-key")
        return
    prices = price_list(session.client.send("GET", PRICING, key=session.target.key))
    if prices is None:
        report.cannot_verify(LAYER, CHECK, "no price list")
        return
    restore = (lambda: None) if admin is None else freeze_clock(admin)[1]
    session.transcript.clear()
    try:
        rounds, problems = _admin_rounds(session, prices) if admin is not None else _key_rounds(session, prices)
    finally:
        restore()
    if rounds:
        report.ran(LAYER, CHECK)
    report.count(LAYER, "parallel requests", REQUESTS * rounds)
    report.note(LAYER, f"{CHECK}: {rounds} round(s) of {REQUESTS} job requests at once on a wallet that covers "
                       f"fewer of them")
    if problems:  # one finding of the one property, however many rounds broke it
        said = problems[0] if len(problems) == 1 else f"{len(problems)} of {rounds} rounds broke it:\n" + \
            "\n".join(f"- {problem}" for problem in problems)
        report.add(Finding(LAYER, CHECK, CREATE, said, session.transcript.text()))


def _admin_rounds(session: Session, prices: dict[tuple[str, str], int]) -> tuple[int, list[str]]:
    admin = session.admin
    assert admin is not None
    price = prices["image", "standard"]
    problems = []
    for number, covered in enumerate(COVERED):
        tenant = admin.create_tenant("contract race", covered * price + price // 2,
                                     [f"lc_contract_race_{session.nonce}_{number}"])
        wallet = Wallet(tenant["credentials"][0], covered * price + price // 2, tenant["id"])
        problems += _round(session, wallet, "standard", price)
    return len(COVERED), problems


def _key_rounds(session: Session, prices: dict[tuple[str, str], int]) -> tuple[int, list[str]]:
    """Rounds on the --race-key wallet, as long as some image variant fits it."""
    wallet = Wallet(str(session.target.race_key), 0)
    learnt = _probe(session, wallet.key, "standard", prices["image", "standard"])
    if isinstance(learnt, str):
        session.report.cannot_verify(LAYER, CHECK, f"the --race-key wallet's balance could not be learnt ({learnt})")
        return 0, []
    wallet.balance = learnt[1]
    problems: list[str] = []
    while wallet.rounds < len(COVERED):
        fitting = [variant for variant in VARIANTS if 0 < wallet.balance // prices["image", variant] < REQUESTS]
        if not fitting:
            break
        problems += _round(session, wallet, fitting[0], prices["image", fitting[0]])
        if problems:
            break
    if not wallet.rounds:
        session.report.note(LAYER, f"the --race-key wallet holds {wallet.balance}: give one that covers at least "
                                   f"one image and fewer than {REQUESTS} for {CHECK}")
    return wallet.rounds, problems


def _round(session: Session, wallet: Wallet, variant: str, price: int) -> list[str]:
    """One round: REQUESTS requests at once; the wallet's balance afterwards in `wallet.balance`."""
    start, covered = wallet.balance, wallet.balance // price
    character = f"race{session.nonce}r{wallet.rounds}{wallet.tenant_id or ''}"[:64]
    wallet.rounds += 1
    session.progress.step(f"{CHECK}: round {wallet.rounds}")
    replies = at_once(session, [{"method": "POST", "path": JOBS, "key": wallet.key,
                                 "body": image_job(variant, character)}] * REQUESTS)
    accepted = [reply for reply in replies if reply.status == 202]
    refused = [reply for reply in replies if reply.status == 402]
    story = f"{REQUESTS} requests at once for a job of {price} on a wallet of {start}, which covers {covered}"
    problems = []
    if len(accepted) != covered or len(refused) != REQUESTS - covered:
        problems.append(f"{story}: {len(accepted)} were accepted (202), {len(refused)} refused (402), "
                        f"{REQUESTS - len(accepted) - len(refused)} answered otherwise")
    ids = [reply.field("id") for reply in accepted]
    if len(set(ids)) != len(ids):
        problems.append(f"{story}: the 202s repeat job ids: {ids}")
    wrong = [reply.text[:120] for reply in refused if reply.field("required") != price
             or not isinstance(reply.field("wallet"), int) or not 0 <= reply.field("wallet") < price]
    if wrong:
        problems.append(f"{story}: 402s must name the price and a balance short of it: {'; '.join(wrong)}")
    existing, failed = _existing(session, wallet.key, character, [job for job in ids if isinstance(job, str)], story)
    balance, wallet.balance = _final_balance(session, wallet, variant, price)
    expected = start - (covered - failed) * price
    if balance != expected:
        refunds = f" ({failed} accepted job(s) failed and were refunded)" if failed else ""
        problems.append(f"{story}: the balance ends at {balance}, not {expected}{refunds}")
    return problems + existing


def _final_balance(session: Session, wallet: Wallet, variant: str, price: int) -> tuple[Any, int]:
    """The balance after a round (once its jobs are final): the admin ledger's, or (without an admin token) what
    one more request for the round's job answers; and the balance the next round starts from."""
    if session.admin is not None and wallet.tenant_id is not None:
        balance = session.admin.ledger(wallet.tenant_id)["balance"]
        balance = int(balance) if isinstance(balance, float) and balance.is_integer() else balance
        return balance, balance if isinstance(balance, int) else 0
    learnt = _probe(session, wallet.key, variant, price)
    return (None, 0) if isinstance(learnt, str) else learnt


def _probe(session: Session, key: str, variant: str, price: int) -> tuple[int, int] | str:
    """Without an admin token: the balance of the wallet of `key` as one request for an image of `variant` (of
    `price`) tells it, before the request (a 402's `wallet`, or a 202's plus the price it took) and after it, once
    its job, if accepted, is final (it may fail, and be refunded); else why it does not tell."""
    reply = session.client.send("POST", JOBS, key=key, body=image_job(variant, f"probe{session.nonce}"))
    balance, job_id = reply.field("wallet"), reply.field("id")
    if reply.status not in (202, 402) or not isinstance(balance, int):
        return f"a job request answered {reply.status} without a balance"
    if reply.status == 402:
        return balance, balance
    waiter = Waiter(session)
    last, unfinished = finish(session.client, waiter, key, [str(job_id)])
    if unfinished:
        return f"its job {job_id} did not finish within {waiter.how_long()}"
    return balance + price, balance + (price if last[str(job_id)].field("status") == "failed" else 0)


def _existing(session: Session, key: str, character: str, ids: list[str], story: str) -> tuple[list[str], int]:
    """Once the accepted jobs are final, the gallery of the round's character lists exactly the assets of the
    ones that completed; and how many of them failed."""
    waiter = Waiter(session)
    last, unfinished = finish(session.client, waiter, key, ids)
    if unfinished:
        return [f"{story}: jobs {', '.join(unfinished)} did not finish within {waiter.how_long()}"], 0
    completed = sorted(job_id for job_id, reply in last.items() if reply.field("status") == "completed")
    failed = sum(reply.field("status") == "failed" for reply in last.values())
    walk = walk_gallery(session.client, key, character, 100)
    listed = sorted(str(item.get("jobId")) for item in walk.items)
    if walk.refusal is not None or walk.problem or listed != completed:
        return [f"{story}: the gallery of the round's character lists assets of jobs {listed}; the completed "
                f"accepted jobs are {completed}{f' ({walk.problem})' if walk.problem else ''}"], failed
    return [], failed
