"""AliveAI's stateful layer: random sequences of creates, queue removals, deletions, bad credentials and time,
each answer checked against the reference credits (`contracts.models.credits`, on the prepaid wallet of
`contracts.models.prepaid`) and the reference prompts and queue (`contracts.models.queue`). After every step the
machine reads each user's credits (`GET /members/me`, public), queue and active prompts.

Properties (each a check name in the report):
- charge_per_prompt / refund_on_removal / refund_on_failure / refund_once / credits_balance: the credits equal
  the start, minus the price of each accepted create (the admin config's table, else learnt from the first debit
  of each kind and then held fixed), plus the refund of each prompt removed from the queue or failed; nothing
  else moves them.
- payment_required: a create the credits do not cover answers 402 and changes nothing (no debit, no prompt);
  one they cover is accepted.
- pending_limit: a create is refused 429 ("Max pending creations") exactly when the user's queue holds
  `maxPending` prompts, and the 429 changes nothing.
- pending_queue: `GET /prompts/pending` lists the model's queue, ids in acceptance order, 0 for the running
  ones then 1, 2, ..., never more running than the server's slots; one it leaves out is finished or gone.
- queue_removal: `DELETE /prompts/queue` (always 204) removes a waiting prompt (then 404, refunded) and nothing
  else: not a running, finished or another user's prompt.
- prompt_deletion: a finished prompt deleted answers 204, then 404, and its media names nothing; an unfinished
  one answers 409; a gone one 404.
- create_outcome / prompt_lookup / armed_fault / prompt_terminates / prompt_ids_unique: a valid create naming
  one's own media answers 200, 402 or 429, with a fresh id; one's own prompt answers 200 until it is gone, then
  404, and finishes with medias of its route's kind; a prompt nothing made fail never fails, one accepted while a
  "prompt" fault was armed for its user does; once the clock has moved past all work every prompt is finished.
- media_format / media_size / media_duration / media_frame_rate: a finished prompt's medias are what the spec
  promises the request its container echoes (contracts/wire/aliveai_media.py): PNG stills, and videos of the
  uploaded picture's aspect, 480 pixels on the short side, of their `videoLength` and `videoFrameRate`. (Every
  URL of every answer is downloaded and judged against what the answer declares: `asset_download` and
  `asset_content`, findings of the responses layer, contracts/wire/assets.py.)
- prompt_listing: the finished prompts are listed newest first.
- tenant_isolation: another user's prompt answers 404 (GET, DELETE), cannot be removed from the queue, and its
  media cannot be named (404, nothing charged).
- authentication: a create without credentials, with the key as a Bearer token, the bare key or a token in the
  Key scheme is 401 and changes nothing.

With an admin token every sequence gets two fresh users with small credits (so 402 is reachable), each with an
opening that reaches the rare states at once (finished and deleted prompts, a full queue, a removal, a prompt
bound to fail, a create it cannot pay for), and each first shows that a misused credential is refused; the
clock is virtual (frozen where it stands, advanced by rules) and faults are armed by rules: every fate is known
and the checks are exact. Without one the machine uses --key (and --second-key), waits in real time, lets a prompt fail
for reasons of its own (refunded), and judges a 429 only by what it says and changes (the queue may shrink at
any moment); no other client may use these users meanwhile.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NoReturn

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from contracts.apis import profile
from contracts.client import Reply
from contracts.machines.common import LAYER, Counted, Tally, answer, balance_checks, either, explore, freeze_clock
from contracts.media import read
from contracts.models.credits import FAILED, REMOVED, PriceTable, wallet
from contracts.models.prepaid import PrepaidWallet
from contracts.models.queue import ACTIVE, DELETED, FINISHED, Prompt, queue_problem
from contracts.session import Session, login_reply, renew_login, token_of
from contracts.target import Token
from contracts.wire.aliveai import (
    DELETE,
    FAR_SECONDS,
    GET_PENDING,
    LIST,
    POLL,
    PROMPTS,
    QUEUE,
    REMOVE,
    UNKNOWN,
    References,
    Route,
    body_for,
    credits,
    medias,
    misuses,
    pending,
    png,
    prompt_path,
    routes,
    too_many,
    upload,
)
from contracts.wire.aliveai_media import promise
from contracts.wire.assets import Inspected
from contracts.wire.common import Waiter

FIRST, ENHANCE, VIDEO = "IMAGE_DEFAULT", "EDIT_ENHANCE", "IMAGE_TO_VIDEO"
CREATES = ((FIRST, False), (ENHANCE, False), (VIDEO, False), (VIDEO, True))  # cheap routes; True: MEDIUM video
# what a fresh user starts with, so that rare states come early (Hypothesis tries the first choices first)
BUSY = ("two finished prompts, the older deleted; a create it cannot pay for (with few credits); then a full "
        "queue, and a create refused")
TURNOVER = "a full queue, its waiting prompt removed (and not its running one); then a prompt bound to fail"
POOR = "a create it cannot pay for"
OPENINGS = (BUSY, TURNOVER, POOR, "nothing else")
BAD_CREDENTIALS = tuple(sorted(misuses("key", Token("token")), key=lambda what: "no credentials" in what))
LOGIN = profile("aliveai").login
PICTURE = png(48, 64)  # what each user uploads: the source of its edits and videos


@dataclass
class Account:
    label: str  # "A" | "B"
    key: str
    tenant_id: str | None  # known with an admin token
    credits: PrepaidWallet
    login: dict[str, Any] | None = None  # {email, password}, when known
    image: str | None = None  # an uploaded picture, the source of edits and videos
    prompts: dict[str, Prompt] = field(default_factory=dict)  # in acceptance order
    faults: int = 0  # "prompt" faults armed for this user and not consumed by an accepted prompt yet
    token: Token | None = None

    def active(self) -> list[Prompt]:
        return [prompt for prompt in self.prompts.values() if prompt.active]

    def pending(self) -> int:
        return sum(prompt.refund_pending for prompt in self.prompts.values())

    def of(self, state: str) -> list[Prompt]:
        return [prompt for prompt in self.prompts.values() if prompt.state == state]


@dataclass
class World:
    """What outlives one sequence."""

    routes: dict[str, Route]
    prices: PriceTable
    limit: int | None  # maxPending (admin config)
    slots: int | None
    steps: list[float]  # clock advances (admin)
    strict: bool  # every fate known: the suite controls faults and the clock
    tally: Tally = field(default_factory=Tally)
    ids: set[str] = field(default_factory=set)  # every prompt id answered so far
    outcomes: Counter[str] = field(default_factory=Counter)


def blame(status: int, allowed: set[int]) -> str:
    """The property a valid create's unexpected answer breaks."""
    if 429 in (status, *allowed) and status != 402:
        return "pending_limit"
    return "payment_required" if status in (200, 402) else "create_outcome"


def prepare(session: Session) -> tuple[World, Callable[[], None]]:
    """The run's facts; with an admin token the server's config and a frozen clock (restored afterwards), moved
    past all earlier work."""
    found = routes(session.target)
    if session.admin is None:  # the prices the user stated (--prices) are held to; else each is learnt
        stated = {kind: int(price) for kind, price in (session.target.prices or {}).items()}
        return World(found, PriceTable(stated), None, None, [], strict=False), lambda: None
    _, restore = freeze_clock(session.admin)
    config = session.admin.config()
    session.admin.set_clock(advance_seconds=FAR_SECONDS)  # what earlier layers queued is over
    durations = [float(config["durations"][kind]) for kind, _ in CREATES]
    steps = sorted({1.0, min(durations) / 2, max(durations), FAR_SECONDS}, reverse=True)  # all done first
    prices = PriceTable({kind: int(price) for kind, price in config["prices"].items()})
    return World(found, prices, int(config["limits"]["maxPending"]), int(config["slots"]), steps, strict=True), \
        restore


def build(session: Session, world: World) -> type[RuleBasedStateMachine]:
    """The state machine class for this run (rules close over the session and the world)."""
    admin, target = session.admin, session.target
    client = Inspected(session, Counted(session, world.tally))
    source = read(PICTURE)
    waiter = Waiter(session, FAR_SECONDS)
    labels = ("A", "B") if admin is not None or target.second_key else ("A",)
    # user B's choices start one further, so that the simplest sequence already holds two openings
    openings = [st.tuples(st.integers(0, 24), st.sampled_from(OPENINGS[shift:] + OPENINGS[:shift])) for shift in (0, 1)]

    def fail(check: str, message: str, operation: str | None = None) -> NoReturn:
        world.tally.fail(check, message, session.transcript.text(), operation)

    class AliveAIMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            session.transcript.clear()
            self.accounts: dict[str, Account] = {}

        # --- setup -----------------------------------------------------------------------------------
        @initialize(a=openings[0], b=openings[1], misused=st.sampled_from(BAD_CREDENTIALS))
        def open_accounts(self, a: tuple[int, str], b: tuple[int, str], misused: str) -> None:
            sequence = world.tally.sequence()
            if admin is None:
                keys = {"A": target.key, "B": target.second_key}
                for label in labels:
                    login = session.account if label == "A" else None
                    self.accounts[label] = account = Account(label, keys[label] or "", None, wallet(), login)
                    self.quiesce(account)
                    self.ready(account, misused)
                return
            plans = dict(zip(labels, (a, b), strict=False))
            for label, (units, opening) in plans.items():
                balance = units + self.paid_by(opening) * (world.prices.price(FIRST) or 0)  # the opening on top
                tenant = admin.create_tenant(f"contract {label}{sequence}", balance)
                account = Account(label, tenant["credentials"][0], tenant["id"], wallet(), tenant.get("account"))
                account.credits.start = balance
                self.accounts[label] = account
                self.ready(account, misused)
            self.finished_first([self.accounts[label] for label, (_, opening) in plans.items() if opening == BUSY])
            # a turnover first: its prompts get the slots, so that it has a running one to (fail to) remove
            for label, (_, opening) in sorted(plans.items(), key=lambda plan: plan[1][1] != TURNOVER):
                self.open(self.accounts[label], opening)
            if len(self.accounts) == 2:
                self.use_another_users_prompt(0)  # A looks at B's newest prompt

        def finished_first(self, accounts: list[Account]) -> None:
            """What a busy opening starts with: two finished prompts, the older deleted, and a video that costs
            more than the few credits it has left for it."""
            for account in accounts:
                self.create(account, FIRST, False)
                self.create(account, FIRST, False)
            if accounts:
                self.settle()
            for account in accounts:
                self.delete(account, FINISHED, oldest=True)
                self.create(account, VIDEO, True)

        def paid_by(self, opening: str) -> int:
            """How many prompts of the first route an opening pays for."""
            # BUSY: two finished, a full queue, and one more, refused for the full queue rather than the credits
            return {BUSY: 3 + (world.limit or 0), TURNOVER: 1 + (world.limit or 0)}.get(opening, 0)

        def open(self, account: Account, opening: str) -> None:
            if opening in (BUSY, TURNOVER):
                for _ in range(world.limit or 0):
                    self.create(account, FIRST, False)
            if opening == BUSY:
                self.create(account, FIRST, False)  # refused: 429
            elif opening == TURNOVER:
                self.remove(account, "waiting")
                self.remove(account, "running")  # stays
                self.arm(account)
                self.create(account, FIRST, False)
            elif opening == POOR:
                self.create(account, VIDEO, True)
            self.audit(account)

        def ready(self, account: Account, misused: str) -> None:
            """An uploaded picture (the source of edits and videos), and a misused credential refused."""
            reply = upload(client, account.key, PICTURE)
            if reply.status != 200 or not isinstance(reply.field("mediaId"), str):
                fail("prompt_lookup", f"user {account.label} uploaded a PNG: {answer(reply)}", "POST /upload")
            account.image = reply.field("mediaId")
            self.misuse(account, misused)

        def quiesce(self, account: Account) -> None:
            """Without an admin token: wait until the user's queue is empty (earlier layers' prompts)."""

            def empty(_: str) -> bool:
                queue, reply = pending(client, account.key)
                if queue is None:
                    fail("pending_queue", f"user {account.label}'s queue: {answer(reply)}", GET_PENDING)
                return not queue

            if waiter.wait(["queue"], empty):
                fail("prompt_terminates", f"user {account.label}'s queue was not empty after {waiter.how_long()}",
                     GET_PENDING)

        # --- creates --------------------------------------------------------------------------------------
        @rule(label=st.sampled_from(labels), create=st.sampled_from(CREATES))
        def create_prompt(self, label: str, create: tuple[str, bool]) -> None:
            self.create(self.accounts[label], *create)

        def create(self, account: Account, kind: str, medium: bool) -> None:
            route = world.routes[kind]
            price = world.prices.price(kind, medium)
            if price is None and account.pending():
                self.settle()  # the first debit of a kind must be seen exactly, to learn the price
            allowed = self.allowed(account, price)
            reply = client.send("POST", route.path, key=account.key,
                                body=body_for(route, References(image=account.image), medium))
            # what an answer outside `allowed` would break (0: any other status) is what this answer is judged by
            world.tally.ran(*{blame(status, allowed) for status in {0, 200, 402, 429} - allowed})
            if reply.status not in allowed:
                fail(blame(reply.status, allowed),
                     f"user {account.label} asked for {kind}{' MEDIUM' if medium else ''} at "
                     f"{price if price is not None else 'an unknown price'} with credits {self.balance(account)} and "
                     f"{len(account.active())} prompt(s) in its queue (limit {world.limit}): expected "
                     f"{either(allowed)}, got {answer(reply)}", route.operation)
            if reply.status == 200:
                self.accepted(account, kind, medium, reply, price)
            else:
                account.credits.refused(f"a {reply.status}", price if reply.status == 402 and price else 0)
                if reply.status == 429 and not too_many(reply):
                    fail("pending_limit", f"a 429 says \"Max pending creations\": {answer(reply)}", route.operation)
            self.audit(account)
            if reply.status == 429 and not world.strict and not pending(client, account.key)[0]:
                fail("pending_limit", f"user {account.label} was refused 429 with an empty queue", route.operation)

        def allowed(self, account: Account, price: int | None) -> set[int]:
            """What a valid create may answer, given the model."""
            affordable = None if price is None else account.credits.affordable(price, account.pending())
            paid = {200} if affordable else {402} if affordable is False else {200, 402}
            if not world.strict:
                return paid | {429}  # the queue may hold other prompts, or have shrunk meanwhile
            if len(account.active()) >= (world.limit or 0):
                return {429} if affordable else {402, 429}  # either refusal may come first
            return paid

        def accepted(self, account: Account, kind: str, medium: bool, reply: Reply, price: int | None) -> None:
            prompt_id = reply.field("promptId")
            world.tally.ran("prompt_ids_unique")
            if not isinstance(prompt_id, str) or prompt_id in world.ids:
                fail("prompt_ids_unique", f"user {account.label} got prompt id {prompt_id!r}, already given or no "
                                          f"id at all", world.routes[kind].operation)
            world.ids.add(prompt_id)
            if price is None:  # learnt from the first debit of its kind (nothing else is pending: settled)
                actual = self.read_credits(account)
                low = account.credits.low()
                learnt = world.prices.learn(kind, medium, (low or 0) - actual) if low is not None else None
                if learnt is not None:
                    fail(learnt.check, f"user {account.label}: {learnt.explanation}", world.routes[kind].operation)
                price = world.prices.price(kind, medium) or 0
            fault = account.faults > 0
            account.faults -= fault
            account.prompts[prompt_id] = Prompt(prompt_id, account.label, kind, price, fails=fault,
                                                open_fate=not world.strict)
            account.credits.accepted(price)

        @rule(label=st.sampled_from(labels), how=st.sampled_from(BAD_CREDENTIALS))
        def create_with_a_bad_credential(self, label: str, how: str) -> None:
            self.misuse(self.accounts[label], how)

        def misuse(self, account: Account, how: str) -> None:
            token = account.key if isinstance(account.key, Token) else self.token(account)
            wrong = misuses(account.key, token)
            how = how if how in wrong else "no credentials"  # this account has no such credential to misuse
            route = world.routes[FIRST]
            reply = client.send("POST", route.path, key=None, body=body_for(route, References(image=account.image)),
                                headers={"authorization": wrong[how]} if wrong[how] else None)  # type: ignore[dict-item]
            world.tally.ran("authentication")
            if reply.status != 401:
                fail("authentication", f"a create with {how} (user {account.label}): expected 401, got "
                                       f"{answer(reply)}", route.operation)
            account.credits.refused("a 401")
            self.audit(account)

        # --- the queue and the prompt manager ---------------------------------------------------------
        @precondition(lambda self: self.has_prompts())
        @rule(label=st.sampled_from(labels), which=st.sampled_from(("waiting", "running", "finished", "unknown")))
        def remove_from_queue(self, label: str, which: str) -> None:
            self.remove(self.accounts[label], which)

        def remove(self, account: Account, which: str) -> None:
            listed, _ = pending(client, account.key)
            waiting = [item.get("promptId") for item in listed or [] if item.get("queuePosition") not in (0, None)]
            running = [item.get("promptId") for item in listed or [] if item.get("queuePosition") == 0]
            chosen = {"waiting": waiting[-1:] or running[:1], "running": running[:1],
                      "finished": [prompt.id for prompt in account.of(FINISHED)][-1:]}.get(which, [UNKNOWN])
            if not chosen or chosen[0] not in (*account.prompts, UNKNOWN):
                return
            prompt_id = str(chosen[0])
            was_waiting = prompt_id in waiting
            reply = client.send("DELETE", QUEUE, key=account.key, params={"promptId": prompt_id})
            world.tally.ran("queue_removal")
            if reply.status != 204:
                fail("queue_removal", f"removing {which} prompt {prompt_id}: expected 204, got {answer(reply)}",
                     REMOVE)
            if prompt_id in account.prompts:
                self.after_removal(account, account.prompts[prompt_id], was_waiting)
            self.audit(account)

        def after_removal(self, account: Account, prompt: Prompt, was_waiting: bool) -> None:
            reply = client.send("GET", prompt_path(prompt.id), key=account.key)
            gone = reply.status == 404
            if world.strict and gone != was_waiting:
                fail("queue_removal", f"after removing {'a waiting' if was_waiting else 'a running or finished'} "
                                      f"prompt {prompt.id}, it answers {answer(reply)}: a waiting prompt is gone, "
                                      f"any other stays", REMOVE)
            if gone and prompt.active:
                prompt.state = REMOVED
                account.credits.refund(REMOVED, prompt.cost)
                world.outcomes[REMOVED] += 1
            else:
                self.learn(account, prompt, reply)

        @precondition(lambda self: self.has_prompts())
        @rule(label=st.sampled_from(labels), which=st.sampled_from((FINISHED, ACTIVE, "gone", "unknown")))
        def delete_prompt(self, label: str, which: str) -> None:
            self.delete(self.accounts[label], which)

        def delete(self, account: Account, which: str, oldest: bool = False) -> None:
            candidates = [prompt for prompt in account.prompts.values() if prompt.state == which or
                          (which == "gone" and prompt.state in (FAILED, REMOVED, DELETED))]
            prompt = candidates[0 if oldest else -1] if candidates else None
            if which != "unknown" and prompt is None:
                return
            reply = client.send("DELETE", prompt_path(prompt.id if prompt else UNKNOWN), key=account.key)
            expected = {FINISHED: {204}, ACTIVE: {409} if world.strict else {204, 409}}.get(which, {404})
            world.tally.ran("prompt_deletion")
            if reply.status not in expected:
                fail("prompt_deletion", f"deleting {which} prompt {prompt.id if prompt else UNKNOWN} of user "
                                        f"{account.label}: expected {either(expected)}, got {answer(reply)}", DELETE)
            if prompt is not None and reply.status == 204:
                self.deleted(account, prompt)
            self.audit(account)

        def deleted(self, account: Account, prompt: Prompt) -> None:
            """A deleted prompt answers 404 and its medias name nothing (a create naming one is a free 404)."""
            after = client.send("GET", prompt_path(prompt.id), key=account.key)
            if after.status != 404:
                fail("prompt_deletion", f"prompt {prompt.id} was deleted (204), yet answers {answer(after)}", POLL)
            prompt.state = DELETED
            route = world.routes[ENHANCE]
            for media in prompt.medias[:1]:
                reply = client.send("POST", route.path, key=account.key,
                                    body=body_for(route, References(image=str(media.get("id")))))
                if reply.status != 404:
                    fail("prompt_deletion", f"the media {media.get('id')} of deleted prompt {prompt.id} can still be "
                                            f"named: {answer(reply)}", route.operation)
                account.credits.refused("a 404")

        @precondition(lambda self: len(self.accounts) == 2 and self.has_prompts())
        @rule(pick=st.integers(0, 10**6))
        def use_another_users_prompt(self, pick: int) -> None:
            pairs = [(account, prompt) for account in self.accounts.values() for prompt in account.prompts.values()]
            if not pairs:
                return
            owner, prompt = pairs[-1 - pick % len(pairs)]
            intruder = next(account for account in self.accounts.values() if account is not owner)
            what = f"user {intruder.label} with prompt {prompt.id} ({prompt.state}) of user {owner.label}"
            world.tally.ran("tenant_isolation", "queue_removal")
            for method, path, operation in (("GET", prompt_path(prompt.id), POLL),
                                            ("DELETE", prompt_path(prompt.id), DELETE)):
                reply = client.send(method, path, key=intruder.key)
                if reply.status != 404:
                    fail("tenant_isolation", f"{method}: {what}: expected 404, got {answer(reply)}", operation)
            reply = client.send("DELETE", QUEUE, key=intruder.key, params={"promptId": prompt.id})
            if reply.status != 204:
                fail("queue_removal", f"removing from the queue: {what}: expected 204, got {answer(reply)}", REMOVE)
            route = world.routes[ENHANCE]
            for media in [{"id": owner.image}, *prompt.medias[:1]]:
                reply = client.send("POST", route.path, key=intruder.key,
                                    body=body_for(route, References(image=str(media.get("id")))))
                if reply.status != 404:
                    fail("tenant_isolation", f"{what}: naming its user's media {media.get('id')} answered "
                                             f"{answer(reply)}, not 404", route.operation)
                intruder.credits.refused("a 404 (another user's media)")
            self.audit(intruder, owner)

        # --- time and faults ------------------------------------------------------------------------------
        @precondition(lambda self: admin is not None)
        @rule(seconds=st.sampled_from(world.steps or [FAR_SECONDS]))
        def advance_clock(self, seconds: float) -> None:
            if seconds >= FAR_SECONDS:
                self.settle()
                return
            admin.set_clock(advance_seconds=seconds)  # type: ignore[union-attr]
            self.audit(moved=True)

        @precondition(lambda self: admin is None)
        @rule()
        def wait_for_prompts(self) -> None:
            self.settle()

        @precondition(lambda self: admin is not None)
        @rule(label=st.sampled_from(labels))
        def arm_fault(self, label: str) -> None:
            self.arm(self.accounts[label])

        def arm(self, account: Account) -> None:
            """Arm a "prompt" fault for this user only: its next accepted prompt fails (and is refunded)."""
            admin.arm_fault("prompt", account.tenant_id)  # type: ignore[union-attr, arg-type]
            account.faults += 1

        def teardown(self) -> None:
            """Every sequence ends with all its work done and judged (unless it failed already)."""
            if self.accounts and sys.exc_info()[0] is None:
                self.settle()

        def settle(self) -> None:
            """Let time pass until all work is done: every prompt must be finished (or gone), the credits exact,
            the listing the model's."""
            active = {prompt.id: (account, prompt) for account in self.accounts.values()
                      for prompt in account.active()}
            if admin is not None:
                admin.set_clock(advance_seconds=FAR_SECONDS)
            waiter.wait(list(active), lambda prompt_id: not self.poll(*active[prompt_id]).active)
            world.tally.ran("prompt_terminates")
            unfinished = [prompt.id + (f" (last seen at queue position {prompt.position})"
                                       if prompt.position is not None else " (last seen pending)")
                          for account in self.accounts.values() for prompt in account.active()]
            if unfinished:
                fail("prompt_terminates", f"after {waiter.how_long()}, prompts {', '.join(unfinished)} are not "
                                          f"finished", POLL)
            self.audit(moved=True)
            for account in self.accounts.values():
                self.check_listing(account)

        # --- what every step is judged by -----------------------------------------------------------------
        def audit(self, *accounts: Account, moved: bool = False) -> None:
            """Each user's active prompts, queue and credits must be the model's. A frozen clock that did not
            move (`moved`) finishes nothing: then only the prompts bound to fail (as they start) are polled."""
            for account in accounts or tuple(self.accounts.values()):
                for prompt in account.active():
                    if moved or not world.strict or prompt.fails:
                        self.poll(account, prompt)
                self.check_queue(account)
                self.observe(account, self.read_credits(account))

        def poll(self, account: Account, prompt: Prompt) -> Prompt:
            self.learn(account, prompt, client.send("GET", prompt_path(prompt.id), key=account.key))
            return prompt

        def learn(self, account: Account, prompt: Prompt, reply: Reply) -> None:
            """What a GET of one's own prompt tells: finished (medias of its kind), still active, or gone."""
            world.tally.ran(*(("prompt_lookup", "armed_fault") if prompt.fails else ("prompt_lookup",)))
            if reply.status == 404 and prompt.active:
                if not (prompt.fails or prompt.open_fate):
                    fail("prompt_lookup", f"prompt {prompt.id} of user {account.label} answers 404 although "
                                          f"nothing made it fail (no fault armed)", POLL)
                prompt.state = FAILED
                account.credits.refund(FAILED, prompt.cost)
                world.outcomes[FAILED] += 1
            elif reply.status != 200 and prompt.state != DELETED:
                fail("prompt_lookup", f"user {account.label} polled its prompt {prompt.id} ({prompt.state}): "
                                      f"expected 200, got {answer(reply)}", POLL)
            elif reply.status == 200 and medias(reply) and prompt.active:
                if prompt.fails:
                    fail("armed_fault", f"prompt {prompt.id} finished although a fault armed for user "
                                        f"{account.label} bound it to fail", POLL)
                kinds = {media.get("mediaType") for media in medias(reply)}
                if kinds != {world.routes[prompt.prompt_type].media_type}:
                    fail("prompt_lookup", f"prompt {prompt.id} ({prompt.prompt_type}) finished with medias "
                                          f"{sorted(map(str, kinds))}", POLL)
                prompt.state, prompt.medias = FINISHED, medias(reply)
                world.outcomes[FINISHED] += 1
                self.promised(prompt, reply)
            elif reply.status == 200 and not prompt.active and prompt.state != FINISHED:
                fail("prompt_lookup", f"prompt {prompt.id} of user {account.label} is {prompt.state}, yet answers "
                                      f"{answer(reply)}", POLL)

        def promised(self, prompt: Prompt, reply: Reply) -> None:
            """A finished prompt's medias (each downloaded as its answer came) are what the spec promises."""
            route = world.routes[prompt.prompt_type]
            echo = reply.field(route.container_field)
            promised = promise(route, echo if isinstance(echo, dict) else {}, source)
            for item in prompt.medias:
                found = client.inspector.media(item.get("mediaUrl"))
                world.tally.ran(*(promised.checks if promised is not None and found and not found.problem else ()))
                broken = promised.broken_by(found) if promised is not None and found and not found.problem else []
                if broken:
                    fail(broken[0][0], f"prompt {prompt.id} ({prompt.prompt_type}), media {item.get('id')} "
                                       f"({item.get('mediaUrl')}): {broken[0][1]}", POLL)

        def check_queue(self, account: Account) -> None:
            listed, reply = pending(client, account.key)
            world.tally.ran("pending_queue")
            if listed is None:
                fail("pending_queue", f"user {account.label}'s queue: {answer(reply)}", GET_PENDING)
            active = [prompt.id for prompt in account.active()]
            problem = queue_problem(listed, active, world.slots)
            if problem is None:
                shown = {item.get("promptId") for item in listed}
                for prompt in [prompt for prompt in account.active() if prompt.id not in shown]:
                    if self.poll(account, prompt).active:  # left out, yet neither finished nor gone
                        problem = f"it leaves out prompt {prompt.id}, which is neither finished nor gone"
            if problem is not None:
                fail("pending_queue", f"user {account.label}'s queue: {problem} ({reply.text[:300]})", GET_PENDING)

        def check_listing(self, account: Account) -> None:
            reply = client.send("GET", PROMPTS, key=account.key, params={"page": 0, "pageSize": 20})
            world.tally.ran("prompt_listing")
            listed = [item.get("promptId") for item in reply.field("prompts") or [] if isinstance(item, dict)]
            ours = [prompt_id for prompt_id in listed if prompt_id in account.prompts]
            finished = [prompt.id for prompt in reversed(account.of(FINISHED))][:20]
            expected = finished if world.strict else [prompt_id for prompt_id in finished if prompt_id in ours]
            if reply.status != 200 or ours != expected or (world.strict and listed != ours):
                fail("prompt_listing", f"user {account.label}'s first page lists {listed}; its finished prompts, "
                                       f"newest first, are {finished}", LIST)

        def read_credits(self, account: Account) -> int:
            value, reply = credits(client, account.key)
            world.tally.ran("credits_balance")
            if value is None:
                fail("credits_balance", f"user {account.label}'s credits: {answer(reply)}", "GET /members/me")
            return value

        def observe(self, account: Account, value: int) -> None:
            world.tally.ran(*balance_checks(account.credits))
            discrepancy = account.credits.observe(value, account.pending())
            if discrepancy is not None:
                fail(discrepancy.check, f"user {account.label}: {discrepancy.explanation}", "GET /members/me")

        def token(self, account: Account) -> Token | None:
            if account.token is None and account.login is not None and LOGIN is not None:
                account.token = token_of(login_reply(session.client, LOGIN, account.login), LOGIN)
                if account.token is not None:
                    session.transcript.masks[account.token] = "$TOKEN"
            return account.token

        def balance(self, account: Account) -> str:
            low, pending_refunds = account.credits.low(), account.pending()
            return "unknown" if low is None else f"{low}" if not pending_refunds else \
                f"{low} to {low + pending_refunds}"

        def has_prompts(self) -> bool:
            return any(account.prompts for account in self.accounts.values())

        def all_prompts(self) -> Iterator[tuple[Account, Prompt]]:
            for account in self.accounts.values():
                for prompt in account.prompts.values():
                    yield account, prompt

    return AliveAIMachine


def run(session: Session, max_examples: int, steps: int = 20, shrink: bool = True) -> None:
    """Run `max_examples` sequences of up to `steps` rules; each broken property becomes a finding."""
    report, target = session.report, session.target
    if session.admin is None:
        prices = "those of --prices" if target.prices else "learnt from the first debit of each kind"
        report.note(LAYER, f"no --admin-token: the credits of --key{' and --second-key' if target.second_key else ''} "
                           f"pay for the prompts, which are waited for in real time (up to --job-timeout "
                           f"{target.job_timeout:g} s); prices are {prices}; no "
                           f"faults are armed and a 429 is judged only by what it says and changes; no other client "
                           f"may use these users meanwhile")
        if not target.second_key:
            report.cannot_verify(LAYER, "tenant_isolation", "no --second-key")
        if not target.prices:
            report.cannot_verify(LAYER, "exact_price", "no --prices: AliveAI publishes no prices, so each is learnt "
                                                       "from its first debit and a constant overcharge cannot be told "
                                                       "from the price")
    world, restore = prepare(session)
    try:
        explore(session, build(session, world), world.tally, world.routes[FIRST].operation, max_examples, steps,
                shrink)
    finally:
        restore()
        renew_login(session)
    for outcome, count in world.outcomes.items():
        report.count(LAYER, f"prompts {outcome}", count)
