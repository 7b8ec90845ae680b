"""LovlyChat's stateful layer: random sequences of requests, each answer checked against the reference models
of the wallet (`contracts.models.prepaid`), the jobs (`contracts.models.jobs`) and the gallery
(`contracts.models.gallery`).

Properties (each a check name in the report):
- charge_per_job / refund_on_failure / refund_once / wallet_balance / balance_non_negative: the balance equals
  the start, minus the listed price of each accepted job, plus the cost of each failed one; nothing else moves it.
- payment_required: a job the balance does not cover answers 402 `{required: the listed price, wallet: the
  balance}` and changes nothing (no debit, no job); one it covers is not refused with 402.
- job_accepted: a valid job request answers 202 (or 402), nothing else (a 400, a 5xx, a 200).
- job_lifecycle / job_fields / refund_field / job_outcome: a job goes queued → running → completed | failed
  (queued → failed allowed), never leaves a final status, its progress never falls, and its fields fit its
  status (one asset when completed; an error and `refunded` = cost when failed).
- job_terminates: once the clock has moved past all work (two days of virtual time, or --job-timeout of real
  time), every job is final. Every sequence ends so (its teardown), then also comparing balances and galleries.
- armed_fault / source_image: a job accepted while a fault is armed for its tenant fails, as does a video
  whose source URL is no image (`source_image_unavailable`); both are refunded.
- gallery_contents / gallery_order / gallery_paging / gallery_fields: the gallery is the model's completed
  assets, newest first, filtered by characterId, each item field for field the asset its job's poll answered;
  walking every page yields that list exactly once.
- asset_variant: a completed job's asset declares the size and duration the spec gives its kind and variant.
  (Every URL of every answer is downloaded and judged against what the answer declares: `asset_download` and
  `asset_content`, findings of the responses layer, contracts/wire/assets.py.)
- tenant_isolation: another wallet's job answers 404, its assets never show in one's gallery, and its image
  cannot be a sourceAssetId (400).
- job_ids_unique / job_lookup / input_validation / authentication: fresh ids; one's own jobs answer 200,
  unknown ones 404; invalid bodies 400 and bad keys 401, both free.

With an admin token every sequence gets two fresh tenants with small balances (so 402 is reachable), the clock
is virtual (frozen where it stands, advanced by rules), faults are armed for one tenant by rules, and the
balance is read from the admin ledger after every step: every job's fate is known, so the checks are exact.
Without one the suite uses --key and --second-key, learns the balance from the answers to job requests
(`wallet`), waits for jobs in real time (up to --job-timeout), and lets a job fail for reasons of its own
(refunded) unless the contract says it must fail. Each sequence uses characterIds of its own, so the gallery
of a wallet with a history can still be compared exactly.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NoReturn

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from contracts.client import NO_BODY, Reply
from contracts.machines.common import LAYER, Counted, Tally, answer, balance_checks, either, explore, freeze_clock
from contracts.models import gallery
from contracts.models.jobs import COMPLETED, FAILED, Fate, JobModel
from contracts.models.prepaid import PrepaidWallet
from contracts.session import Session
from contracts.wire.assets import Inspected
from contracts.wire.common import FAR_SECONDS, Waiter
from contracts.wire.lovlychat import (
    CREATE,
    INVALID_JOBS,
    JOBS,
    LIST,
    MALFORMED,
    POLL,
    PRICING,
    finish,
    image_job,
    job_path,
    price_list,
    undecodable_url,
    variant_problem,
    video_job,
    walk_gallery,
)

FAULT = "an armed fault"
UNDECODABLE = "an undecodable source image"
OPENINGS = ("nothing else", FAULT)  # what a fresh tenant starts with, so that rare states come early
DEFECTS = (*INVALID_JOBS, "malformed JSON")
LIMITS = (None, 1, 2, 3)


@dataclass
class Account:
    label: str  # "A" | "B"
    key: str
    tenant_id: str | None  # known with an admin token
    wallet: PrepaidWallet
    jobs: dict[str, JobModel] = field(default_factory=dict)
    faults: int = 0  # "job" faults armed for this tenant and not consumed by an accepted job yet
    refusals: int = 0  # 402s answered

    def pending(self) -> int:
        return sum(job.refund_pending for job in self.jobs.values())

    def assets(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [job.asset for job in self.jobs.values() if job.asset and kind in (None, job.kind)]

    def active(self) -> list[JobModel]:
        return [job for job in self.jobs.values() if not job.terminal]


@dataclass
class World:
    """What outlives one sequence."""

    prices: dict[tuple[str, str], int]
    steps: list[float]  # clock advances (admin)
    strict: bool  # every fate known: the suite controls faults and the clock
    tally: Tally = field(default_factory=Tally)
    ids: set[str] = field(default_factory=set)  # every job id answered so far
    leftovers: dict[str, str] = field(default_factory=dict)  # no admin: job id -> key, of jobs maybe unfinished
    outcomes: Counter[str] = field(default_factory=Counter)  # how the jobs seen final ended, for the report


def blame(status: int, allowed: set[int]) -> str:
    """The property a valid job request's unexpected answer breaks: the 402 rule where only 202 and 402 are in
    question, else that a valid request is accepted."""
    return "payment_required" if {status, *allowed} <= {202, 402} else "job_accepted"


def prepare(session: Session) -> tuple[World | None, Callable[[], None]]:
    """The run's facts (the price list; with an admin token the durations) and, with an admin token, a
    frozen clock (restored afterwards). None when the price list cannot be read."""
    reply = session.client.send("GET", PRICING, key=session.target.key)
    prices = price_list(reply)
    if prices is None:
        session.report.note(LAYER, f"GET /v1/pricing answered {reply.status}: no price list, no state machine")
        return None, lambda: None
    if session.admin is None:
        return World(prices, [], strict=False, leftovers=dict.fromkeys(session.queued, session.target.key)), \
            lambda: None
    _, restore = freeze_clock(session.admin)
    durations = [float(value) for value in session.admin.config().get("durations", {}).values() if value] or [10.0]
    steps = sorted({1.0, min(durations) / 2, max(durations), FAR_SECONDS})
    return World(prices, steps, strict=True), restore


def build(session: Session, world: World) -> type[RuleBasedStateMachine]:
    """The state machine class for this run (rules close over the session and the world)."""
    admin, target = session.admin, session.target
    client = Inspected(session, Counted(session, world.tally))
    waiter = Waiter(session)
    labels = ("A", "B") if admin is not None or target.second_key else ("A",)
    price_unit = world.prices["video", "standard"]
    openings = st.tuples(st.integers(0, 4), st.booleans(), st.sampled_from(OPENINGS))
    variants = st.sampled_from(("standard", "hd"))

    def fail(check: str, message: str, operation: str | None = None) -> NoReturn:
        world.tally.fail(check, message, session.transcript.text(), operation)

    class LovlyChatMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            session.transcript.clear()
            self.accounts: dict[str, Account] = {}
            self.characters = ("", "")

        # --- setup -----------------------------------------------------------------------------------
        @initialize(a=openings, b=openings)
        def open_accounts(self, a: tuple[int, bool, str], b: tuple[int, bool, str]) -> None:
            sequence = world.tally.sequence()
            self.characters = (f"c{session.nonce}s{sequence}a", f"c{session.nonce}s{sequence}b")
            if admin is None:
                self.quiesce()
                self.accounts["A"] = Account("A", target.key, None, PrepaidWallet())
                if target.second_key:
                    self.accounts["B"] = Account("B", target.second_key, None, PrepaidWallet())
                return
            for label, (units, half, opening) in zip(labels, (a, b), strict=False):
                balance = units * price_unit + (world.prices["image", "standard"] // 2 if half else 0)
                key = f"lc_contract_{session.nonce}_{sequence}_{label}"
                tenant = admin.create_tenant(f"contract {label}{sequence}", balance, [key])
                self.accounts[label] = Account(label, key, tenant["id"], PrepaidWallet(start=balance))
                if opening == FAULT:
                    self.arm(self.accounts[label])
            self.audit()

        def quiesce(self) -> None:
            """Without an admin token: wait until the jobs earlier sequences and layers queued are final, so
            that no refund of theirs lands in this sequence's wallets."""
            for key in set(world.leftovers.values()):
                ids = [job_id for job_id, owner in world.leftovers.items() if owner == key]
                unfinished = finish(client, waiter, key, ids)[1]
                for job_id in set(ids) - set(unfinished):
                    del world.leftovers[job_id]

        # --- job requests ------------------------------------------------------------------------------
        @rule(label=st.sampled_from(labels), variant=variants, character=st.integers(0, 1))
        def create_image(self, label: str, variant: str, character: int) -> None:
            self.submit(self.accounts[label], image_job(variant, self.characters[character]))

        @rule(label=st.sampled_from(labels), pick=st.integers(0, 10**6), variant=variants)
        def create_video_from_own_image(self, label: str, pick: int, variant: str) -> None:
            account = self.accounts[label]
            images = account.assets("image")
            if not images:  # an image first (rules depend on no state: with real time, state is not replayable)
                self.submit(account, image_job(variant, self.characters[pick % 2]))
                return
            asset = images[pick % len(images)]
            self.submit(account, video_job(variant, asset["characterId"], asset_id=asset["id"]))

        @rule(label=st.sampled_from(labels), variant=variants, pick=st.integers(0, 10**6), decodable=st.booleans())
        def create_video_from_url(self, label: str, variant: str, pick: int, decodable: bool) -> None:
            """From a URL: an image asset's own `url` (any wallet's: it needs no credentials), or a URL the
            server can fetch but not decode, which must fail and be refunded."""
            images = [asset for account in self.accounts.values() for asset in account.assets("image")]
            url = images[pick % len(images)]["url"] if decodable and images else undecodable_url(session)
            self.submit(self.accounts[label], video_job(variant, self.characters[pick % 2], url=url),
                        url == undecodable_url(session))

        @rule(label=st.sampled_from(labels), defect=st.sampled_from(DEFECTS))
        def create_invalid(self, label: str, defect: str) -> None:
            account = self.accounts[label]
            body, _ = INVALID_JOBS.get(defect, (NO_BODY, None))
            reply = client.send("POST", JOBS, key=account.key, body=body,
                                raw=MALFORMED if defect == "malformed JSON" else None)
            self.expect(reply, 400, "input_validation", f"tenant {account.label} sent a job request with {defect}",
                        CREATE)
            account.wallet.refused(f"a 400 ({defect})")
            self.audit(account)

        @precondition(lambda self: len(self.accounts) == 2)
        @rule(pick=st.integers(0, 10**6))
        def create_video_from_another_wallets_image(self, pick: int) -> None:
            if not self.has_assets("image"):
                return
            owner, asset = self.owned_asset(pick, "image")
            intruder = self.other(owner)
            reply = client.send("POST", JOBS, key=intruder.key,
                                body=video_job("standard", self.characters[0], asset_id=asset["id"]))
            self.expect(reply, 400, "tenant_isolation", f"tenant {intruder.label} named image {asset['id']} of "
                                                        f"tenant {owner.label} as sourceAssetId", CREATE)
            self.expect_detail(reply, "sourceAssetId", "tenant_isolation")
            intruder.wallet.refused("a 400 (another wallet's image)")
            self.audit(intruder)

        @rule(pick=st.integers(0, 10**6))
        def create_video_from_a_video(self, pick: int) -> None:
            if not self.has_assets("video"):
                return
            account, asset = self.owned_asset(pick, "video")
            reply = client.send("POST", JOBS, key=account.key,
                                body=video_job("standard", asset["characterId"], asset_id=asset["id"]))
            self.expect(reply, 400, "input_validation", f"tenant {account.label} named its video {asset['id']} as "
                                                        f"sourceAssetId (a source must be an image)", CREATE)
            self.expect_detail(reply, "sourceAssetId", "input_validation")
            account.wallet.refused("a 400 (a video as source)")
            self.audit(account)

        @rule(label=st.sampled_from(labels), how=st.sampled_from(("no key", "short key", "unknown key",
                                                                   "two different keys")))
        def create_with_bad_key(self, label: str, how: str) -> None:
            account = self.accounts[label]
            other = self.other(account).key if len(self.accounts) == 2 else "lc_not_a_key_0000000000000000"
            headers = {"no key": {}, "short key": {"x-api-key": account.key[:23]},
                       "unknown key": {"authorization": "Bearer lc_not_a_key_0000000000000000"},
                       "two different keys": {"authorization": f"Bearer {account.key}", "x-api-key": other}}[how]
            reply = client.send("POST", JOBS, key=None, headers=headers, body=image_job("standard",
                                                                                       self.characters[0]))
            self.expect(reply, 401, "authentication", f"a job request with {how} (tenant {account.label})", CREATE)
            for each in self.accounts.values():
                each.wallet.refused("a 401")
            self.audit(*self.accounts.values())

        # --- polls ---------------------------------------------------------------------------------------
        @rule(pick=st.integers(0, 10**6))
        def poll_job(self, pick: int) -> None:
            if not self.has_jobs():
                return
            account, job = self.owned_job(pick)
            self.poll(account, job)
            self.audit(account)

        @precondition(lambda self: len(self.accounts) == 2)
        @rule(pick=st.integers(0, 10**6))
        def poll_another_wallets_job(self, pick: int) -> None:
            if not self.has_jobs():
                return
            owner, job = self.owned_job(pick)
            intruder = self.other(owner)
            self.expect(client.send("GET", job_path(job.id), key=intruder.key), 404, "tenant_isolation",
                        f"tenant {intruder.label} asked for job {job.id} of tenant {owner.label}", POLL)

        @rule(label=st.sampled_from(labels), job_id=st.sampled_from(("job_" + "0" * 24, "job_unknown", "0")))
        def poll_unknown_job(self, label: str, job_id: str) -> None:
            self.expect(client.send("GET", job_path(job_id), key=self.accounts[label].key), 404, "job_lookup",
                        f"tenant {label} asked for job {job_id!r}, which no one was given", POLL)

        @rule(label=st.sampled_from(labels), character=st.sampled_from((None, 0, 1)), limit=st.sampled_from(LIMITS))
        def list_gallery(self, label: str, character: int | None, limit: int | None) -> None:
            # without an admin token a wallet may have a history: only this sequence's characters compare
            chosen = self.characters[character or 0] if admin is None else \
                None if character is None else self.characters[character]
            self.check_gallery(self.accounts[label], chosen, limit)

        # --- time and faults ------------------------------------------------------------------------------
        @precondition(lambda self: admin is not None)
        @rule(seconds=st.sampled_from(world.steps or [FAR_SECONDS]))
        def advance_clock(self, seconds: float) -> None:
            if seconds >= FAR_SECONDS:
                self.settle()
                return
            admin.set_clock(advance_seconds=seconds)  # type: ignore[union-attr]
            for account in self.accounts.values():
                for job in account.active():
                    self.poll(account, job)
            self.audit()

        @precondition(lambda self: admin is None)
        @rule()
        def wait_for_jobs(self) -> None:
            self.settle()

        def teardown(self) -> None:
            """Every sequence ends with all its work done and judged (unless it failed already)."""
            if self.accounts and sys.exc_info()[0] is None:
                self.settle()

        def settle(self) -> None:
            """Let time pass until all work is done (two days of virtual time, or up to --job-timeout of real
            time): every job must then be final (and stay so), the balances exact, the galleries the models'."""
            jobs = {job.id: (account, job) for account in self.accounts.values() for job in account.active()}
            if admin is not None:
                admin.set_clock(advance_seconds=FAR_SECONDS)
                for account, job in jobs.values():
                    self.poll(account, job)
            else:
                waiter.wait(list(jobs), lambda job_id: self.poll(*jobs[job_id]).terminal)
            self.all_final(list(self.accounts.values()), f"after {waiter.how_long()}")
            for account, job in list(self.jobs()):
                self.poll(account, job)  # and final they stay
            for account in self.accounts.values():
                # without an admin token a wallet may have a history: only this sequence's characters compare
                self.check_gallery(account, None if admin is not None else self.characters[0], 20)
            world.tally.ran("gallery_paging", "gallery_order", "gallery_contents", "tenant_isolation")
            self.audit()

        @precondition(lambda self: admin is not None)
        @rule(label=st.sampled_from(labels))
        def arm_fault(self, label: str) -> None:
            self.arm(self.accounts[label])

        # --- helpers -------------------------------------------------------------------------------------
        def submit(self, account: Account, body: dict[str, Any], undecodable: bool = False) -> None:
            kind, variant = body["kind"], body["variant"]
            price = world.prices[kind, variant]
            affordable = account.wallet.affordable(price, account.pending())
            allowed = {202} if affordable else {402} if affordable is False else {202, 402}
            reply = client.send("POST", JOBS, key=account.key, body=body)
            # what an answer outside `allowed` would break (0: any other status) is what this answer is judged by
            world.tally.ran(*{blame(status, allowed) for status in {0, 202, 402} - allowed})
            if reply.status not in allowed:
                fail(blame(reply.status, allowed), f"tenant {account.label} asked for {kind} {variant} at "
                                                   f"{price} with a balance of {self.balance(account)}: expected "
                                                   f"{either(allowed)}, got {answer(reply)}", CREATE)
            if reply.status == 402:
                self.refused(account, reply, price)
            else:
                self.accepted(account, reply, body, price, undecodable)
            self.audit(account)

        def accepted(self, account: Account, reply: Reply, body: dict[str, Any], price: int,
                     undecodable: bool) -> None:
            job_id = reply.field("id")
            world.tally.ran("job_ids_unique")
            if not isinstance(job_id, str) or job_id in world.ids:
                fail("job_ids_unique", f"tenant {account.label} got job id {job_id!r}, already given "
                                       f"or no id at all", CREATE)
            world.ids.add(job_id)
            fault = account.faults > 0
            account.faults -= fault
            why = UNDECODABLE if undecodable else FAULT if fault else ""
            fate = Fate.FAILS if why else Fate.COMPLETES if world.strict else Fate.OPEN
            job = JobModel(job_id, account.label, body["kind"], body["variant"], body["characterId"], price, fate,
                           why, body.get("sourceAssetId"), body.get("sourceImageUrl"))
            account.jobs[job_id] = job
            if admin is None:
                world.leftovers[job_id] = account.key
            account.wallet.accepted(price)
            if reply.field("status") != "queued":
                fail("job_fields", f"job {job_id} was accepted {reply.field('status')!r}, not queued",
                     CREATE)
            self.raise_first(job.observe(reply.body), CREATE)
            # the balance right after this job's debit: its own refund cannot be in it yet
            self.observe_balance(account, reply.field("wallet"), f"the wallet the 202 of job {job_id} answered",
                                 account.pending() - job.refund_pending)

        def refused(self, account: Account, reply: Reply, price: int) -> None:
            account.refusals += 1
            if reply.field("required") != price:
                fail("payment_required", f"a 402 says required {reply.field('required')!r}; the "
                                         f"listed price is {price}", CREATE)
            wallet = reply.field("wallet")
            self.observe_balance(account, wallet, "the wallet a 402 answered")
            if isinstance(wallet, int) and wallet >= price:
                fail("payment_required", f"a 402 says the wallet holds {wallet}, which covers the "
                                         f"price {price}", CREATE)
            account.wallet.refused("a 402", price)  # after the answer's balance: the next must not have moved

        def poll(self, account: Account, job: JobModel) -> JobModel:
            reply = client.send("GET", job_path(job.id), key=account.key)
            self.expect(reply, 200, "job_lookup", f"tenant {account.label} polled its job {job.id}", POLL)
            world.tally.ran(*job.checks())
            was = job.status
            problems = job.observe(reply.body)
            variant = None
            if job.terminal and job.status != was:  # seen final for the first time
                world.outcomes[job.status] += 1
                world.leftovers.pop(job.id, None)
                if job.status == FAILED:
                    account.wallet.failed(job.cost)
                if job.status == COMPLETED and job.asset is not None:
                    world.tally.ran("asset_variant")
                    variant = variant_problem(job.asset, job.kind, job.variant)
            self.raise_first(problems, POLL)
            if variant is not None:
                fail("asset_variant", variant, POLL)
            return job

        def all_final(self, accounts: list[Account], when: str) -> None:
            unfinished = [f"{job.id} (last seen {job.status} at progress {job.progress:g})" for account in accounts
                          for job in account.active()]
            world.tally.ran("job_terminates")
            if unfinished:
                fail("job_terminates", f"{when}, jobs {', '.join(unfinished)} are not final", POLL)

        def check_gallery(self, account: Account, character: str | None, limit: int | None) -> None:
            # what has finished is in the model before the gallery is compared: with a frozen clock one poll
            # tells; on real time the jobs are waited for, so that the gallery has something to show
            active = {job.id: job for job in account.active()}
            if admin is None:
                waiter.wait(list(active), lambda job_id: self.poll(account, active[job_id]).terminal)
            else:
                for job in active.values():
                    self.poll(account, job)
            walk = walk_gallery(client, account.key, character, limit)
            what = f"tenant {account.label}'s gallery (characterId {character}, limit {limit})"
            if walk.refusal is not None:
                fail("gallery_paging", f"{what}: page {walk.pages} answered {answer(walk.refusal)}",
                     LIST)
            if walk.problem:
                fail("gallery_paging", f"{what}: {walk.problem}", LIST)
            for job_id in {item.get("jobId") for item in walk.items} & {job.id for job in account.active()}:
                self.poll(account, account.jobs[job_id])  # it finished since (real time)
            self.compare_gallery(account, character, walk.items, what)

        def compare_gallery(self, account: Account, character: str | None, items: list[dict[str, Any]],
                            what: str) -> None:
            # another wallet's: a job the suite had accepted for another tenant (this sequence or an earlier one)
            leaked = [str(item.get("id")) for item in items if item.get("jobId") in world.ids - set(account.jobs)]
            if leaked:
                fail("tenant_isolation", f"{what} lists {', '.join(leaked)} of another wallet", LIST)
            for item in items:
                job = account.jobs.get(str(item.get("jobId")))
                if job is not None and job.asset:
                    world.tally.ran("gallery_fields")
                differences = gallery.differences(item, job.asset) if job is not None and job.asset else []
                if differences:
                    fail("gallery_fields", f"{what}: item {item.get('id')} is not the asset job "
                                           f"{item.get('jobId')} answers: {'; '.join(differences)}", LIST)
            problem = gallery.disorder(items, character)
            if problem is not None:
                fail(problem[0], f"{what}: {problem[1]}", LIST)
            strangers = [item for item in items if item.get("jobId") not in account.jobs]
            if strangers and (world.strict or character in self.characters):  # a fresh wallet, or our character
                # whose? a job of this wallet answers it 200, another wallet's 404
                foreign = [str(item.get("id")) for item in strangers if client.send(
                    "GET", job_path(str(item.get("jobId"))), key=account.key).status != 200]
                if foreign:
                    fail("tenant_isolation", f"{what} lists {', '.join(foreign)} of another wallet", LIST)
                check = "payment_required" if account.refusals else "gallery_contents"
                fail(check, f"{what} lists {', '.join(str(item.get('id')) for item in strangers)} of jobs of "
                            f"this wallet that no 202 announced (refused with 402 and queued all the same? "
                            f"{account.refusals} 402s so far)", LIST)
            listed = [str(item.get("id")) for item in items if item.get("jobId") in account.jobs]
            expected = gallery.expected(account.assets(), character)
            if listed != expected:
                check = "gallery_order" if sorted(listed) == sorted(expected) else "gallery_contents"
                fail(check, f"{what} lists {listed}; the model expects {expected} (the assets of its "
                            f"completed jobs, newest first)", LIST)

        def arm(self, account: Account) -> None:
            """Arm a "job" fault for this tenant only: its next accepted job fails (and is refunded)."""
            admin.arm_fault("job", account.tenant_id)  # type: ignore[union-attr, arg-type]
            account.faults += 1

        def observe_balance(self, account: Account, value: Any, source: str, pending: int | None = None) -> None:
            if isinstance(value, bool) or not isinstance(value, int | float):
                return  # the responses layer reports a body without a balance
            world.tally.ran(*balance_checks(account.wallet))
            discrepancy = account.wallet.observe(value, account.pending() if pending is None else pending)
            if discrepancy is not None:
                fail(discrepancy.check, f"tenant {account.label}, {source}: {discrepancy.explanation}")

        def audit(self, *accounts: Account) -> None:
            """With an admin token: each account's balance in the admin ledger must be the model's. Its jobs are
            polled first, so that every refund the ledger may hold is of a job seen failed."""
            if admin is None:
                return
            for account in accounts or tuple(self.accounts.values()):
                for job in account.active():
                    self.poll(account, job)
                balance = admin.ledger(account.tenant_id)["balance"]  # type: ignore[arg-type]
                self.observe_balance(account, balance, "the admin ledger's balance")

        def expect(self, reply: Reply, status: int, check: str, what: str, operation: str) -> None:
            world.tally.ran(check)
            if reply.status != status:
                fail(check, f"{what}: expected {status}, got {answer(reply)}", operation)

        def expect_detail(self, reply: Reply, name: str, check: str) -> None:
            world.tally.ran(check)
            details = (reply.field("error") or {}).get("details") or []
            if name not in {detail.get("field") for detail in details if isinstance(detail, dict)}:
                fail(check, f"the 400 names no {name!r} in error.details: {reply.text[:200]}", CREATE)

        def raise_first(self, problems: list[Any], operation: str) -> None:
            if problems:
                fail(problems[0].check, problems[0].message, operation)

        def balance(self, account: Account) -> str:
            low = account.wallet.low()
            pending = account.pending()
            return "unknown" if low is None else f"{low}" if not pending else f"{low} to {low + pending}"

        def other(self, account: Account) -> Account:
            return next(each for each in self.accounts.values() if each is not account)

        def jobs(self) -> Iterator[tuple[Account, JobModel]]:
            for account in self.accounts.values():
                for job in account.jobs.values():
                    yield account, job

        def has_jobs(self) -> bool:
            return any(account.jobs for account in self.accounts.values())

        def has_assets(self, kind: str) -> bool:
            return any(account.assets(kind) for account in self.accounts.values())

        def owned_job(self, pick: int) -> tuple[Account, JobModel]:
            pairs = list(self.jobs())
            return pairs[pick % len(pairs)]

        def owned_asset(self, pick: int, kind: str) -> tuple[Account, dict[str, Any]]:
            pairs = [(account, asset) for account in self.accounts.values() for asset in account.assets(kind)]
            return pairs[pick % len(pairs)]

    return LovlyChatMachine


def run(session: Session, max_examples: int, steps: int = 25, shrink: bool = True) -> None:
    """Run `max_examples` sequences of up to `steps` rules; each broken property becomes a finding."""
    report, target = session.report, session.target
    if session.admin is None:
        report.note(LAYER, f"no --admin-token: the wallets of --key{' and --second-key' if target.second_key else ''} "
                           f"pay for the jobs, jobs are waited for in real time (up to --job-timeout "
                           f"{target.job_timeout:g} s), no faults are armed, and the balance is only seen in "
                           f"answers to job requests; no other client may use these wallets meanwhile")
        if not target.second_key:
            report.cannot_verify(LAYER, "tenant_isolation", "no --second-key")
    world, restore = prepare(session)
    if world is None:
        return
    try:
        explore(session, build(session, world), world.tally, CREATE, max_examples, steps, shrink)
    finally:
        restore()
    for status, count in world.outcomes.items():
        report.count(LAYER, f"jobs {status}", count)
