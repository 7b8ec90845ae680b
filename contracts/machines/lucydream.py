"""LucyDream's stateful layer: random sequences of requests, each answer checked against the reference models.

Properties (each a check name in the report):
- charge_per_generation / failure_is_free / creation_is_free / wallet_balance / balance_non_negative: the
  balance equals the start minus the price of each successful generation; nothing else moves it.
- insufficient_balance: a generation the balance does not cover answers 402, one it covers does not.
- tenant_isolation: a tenant generating with another tenant's model gets 404, never 200 (nor a 409 that
  would betray that the model exists), and pays nothing.
- unknown_model / model_file / authentication / input_validation: the documented refusals (404, 404, 403, 400).
- usable_only_after_training / usable_after_training / failed_model_unusable: 409 before `ready_at`, usable
  once training is certainly over, never usable when training failed.
- armed_fault: with an armed "generate" fault the next generation answers 500 (and costs nothing).
- model_creation / model_ids_unique: creation answers a fresh model in training.

With an admin token every sequence gets two fresh tenants with small known balances (so 402 is reachable),
each with one trained model; the clock is virtual and advanced by rules; faults are armed by rules; the
balance is read from the admin ledger after every step as well as from each generation's answer. Without one
the suite uses `--key` (its tenant's ready `--model-id`), `--second-key` for isolation, and learns the balance
and (unless `--price` is given) the price from the answers; it never creates models (training costs the
provider GPU time), never needs the clock and never arms faults.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, NoReturn

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from contracts.client import NO_BODY, Reply
from contracts.machines.common import LAYER, Tally, answer, either, explore, freeze_clock, parse_time
from contracts.models.training import Model, Readiness
from contracts.models.wallet import Wallet, money
from contracts.session import Session

ROUTE = "/wp-json/apiservices/v1/generate"
OPERATION = f"POST {ROUTE}"
BUCKET = "https://your-bucket-url"  # the docs' placeholder bucket, for models that do not exist
MODELS_PER_TENANT = 3
FAR_SECONDS = 86400.0  # an advance this long drains any plausible training queue
PROMPTS = ("A beautiful blonde in lingerie at sunset", "a lighthouse in a storm, oil painting", "x")
MODES = (None, "spicy", "xxx", "standard")
TITLES = ("Anna", "Contract", "Fifteen chars!!")
# what a fresh tenant starts with besides a trained model, so that rare states come early in a sequence
OPENINGS = ("nothing else", "a model whose training fails", "a model in training", "an armed generation fault")
# what an observed balance is judged by (the one a difference breaks depends on what happened since)
BALANCE = ("charge_per_generation", "failure_is_free", "creation_is_free", "wallet_balance", "balance_non_negative")
DEFECTS = ("no prompt", "empty prompt", "bad trigger_name", "bad tune_id", "no safetensors_path",
           "bad api_mode", "not an object", "malformed JSON", "four reference images")


@dataclass
class Account:
    label: str  # "A" | "B"
    key: str
    tenant_id: str | None  # known with an admin token
    wallet: Wallet
    models: list[Model] = field(default_factory=list)
    generate_faults: int = 0  # armed for this tenant and not fired yet
    train_faults: int = 0


@dataclass
class World:
    """What outlives one sequence: the price, the clock, the model the target was given."""

    price: Decimal | None
    train_seconds: float
    now: datetime | None  # the virtual clock (admin) or None (the server's own time)
    given: Model | None  # `--model-id`: a ready model of the tenant of `--key`
    tally: Tally = field(default_factory=Tally)


def allowed_statuses(readiness: Readiness, affordable: bool | None, fault: bool, strict: bool) -> set[int]:
    """What a generation with one's own model may answer, given the models' state."""
    if readiness in (Readiness.TRAINING, Readiness.FAILED):
        return {409}
    if fault:
        outcomes = {500} if affordable else {402, 500}  # whether a fault or the balance check comes first
    else:
        outcomes = {200} if affordable else {402} if affordable is False else {200, 402}
        if not strict:
            outcomes.add(500)  # a real server may fail a generation (for free); the mock only when told
    if readiness is Readiness.MAYBE_READY:
        outcomes.add(409)
    return outcomes


def blame(readiness: Readiness, fault: bool, status: int) -> str:
    """The property a generation's unexpected answer breaks."""
    if readiness is Readiness.TRAINING:
        return "usable_only_after_training"
    if readiness is Readiness.FAILED:
        return "failed_model_unusable"
    if status == 409:
        return "usable_after_training"
    if fault:
        return "armed_fault"
    if status in (200, 402):
        return "insufficient_balance"
    return "generation_outcome"


def body_for(model: Model, prompt: str = PROMPTS[0], mode: str | None = None,
             path: str | None = None) -> dict[str, Any]:
    body = {"prompt": prompt, "tune_id": model.tune_id, "safetensors_path": path or model.safetensors_path,
            "trigger_name": model.trigger}
    if mode:
        body["api_mode"] = mode
    return body


def prepare(session: Session) -> tuple[World, Callable[[], None]]:
    """Learn the run's facts; with an admin token, make the clock virtual (restored afterwards)."""
    target, admin = session.target, session.admin
    given = None
    if target.model_id and target.safetensors_path:
        given = Model(target.model_id, target.safetensors_path, target.trigger_name)
    stated = target.price if target.price is not None else (target.prices or {}).get("generate")
    price = money(stated) if stated is not None else None
    if admin is None:
        return World(price, 0.0, None, given), lambda: None
    now, restore = freeze_clock(admin)
    config = admin.config()
    return World(money(config["prices"]["generate"]), float(config["durations"]["train"]), now, given), restore


def build(session: Session, world: World) -> type[RuleBasedStateMachine]:
    """The state machine class for this run (rules close over the session and the world)."""
    client, admin, target = session.client, session.admin, session.target
    labels = ("A", "B") if admin is not None or target.second_key else ("A",)
    strict = admin is not None
    steps = sorted({1.0, world.train_seconds / 2, world.train_seconds, FAR_SECONDS} - {0.0})
    # per fresh tenant: its balance in whole generations (plus half a price?) and what else it starts with
    openings = st.tuples(st.integers(0, 4), st.booleans(), st.sampled_from(OPENINGS))

    def fail(check: str, message: str) -> NoReturn:
        world.tally.fail(check, message, session.transcript.text())

    class LucyDreamMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            session.transcript.clear()
            self.accounts: dict[str, Account] = {}

        # --- setup -----------------------------------------------------------------------------------
        @initialize(a=openings, b=openings)
        def open_accounts(self, a: tuple[int, bool, str], b: tuple[int, bool, str]) -> None:
            world.tally.sequence()
            if admin is None:
                self.accounts["A"] = Account("A", target.key, None, Wallet(price=world.price),
                                             [world.given] if world.given else [])
                if target.second_key:
                    self.accounts["B"] = Account("B", target.second_key, None, Wallet(price=world.price))
                return
            price = world.price or Decimal(0)
            plans = dict(zip(labels, (a, b), strict=False))
            for label, (units, half, _) in plans.items():
                balance = price * units + (price / 2 if half else 0) if price else Decimal(1)
                key = f"contract-{session.nonce}-{world.tally.sequences}-{label}"
                tenant = admin.create_tenant(f"contract {label}{world.tally.sequences}", float(balance), [key])
                account = Account(label, key, tenant["id"], Wallet(anchor=balance, price=world.price))
                self.accounts[label] = account
                self.create(account, TITLES[0], "woman")  # every sequence can generate from its first step
                if plans[label][2] == "a model whose training fails":
                    self.arm(account, "train")
                    self.create(account, TITLES[1], "man")
            self.advance(FAR_SECONDS)  # all trained (or failed) by now
            for label, (_, _, extra) in plans.items():
                if extra == "a model in training":
                    self.create(self.accounts[label], TITLES[2], "man")
                elif extra == "an armed generation fault":
                    self.arm(self.accounts[label], "generate")
            self.audit(*self.accounts.values())

        # --- generations -----------------------------------------------------------------------------
        @precondition(lambda self: self.has_models())
        @rule(pick=st.integers(0, 10**6), prompt=st.sampled_from(PROMPTS), mode=st.sampled_from(MODES),
              bare=st.booleans())
        def generate(self, pick: int, prompt: str, mode: str | None, bare: bool) -> None:
            self.generation(*self.owned(pick), prompt, mode, bare)

        def teardown(self) -> None:
            """With an admin token every sequence ends with one more generation per tenant that has a trained
            model, so each one judges the balance (a tenant that cannot pay answers 402) and any armed fault
            (500), whichever rules ran before (unless the sequence failed already)."""
            if admin is None or sys.exc_info()[0] is not None:
                return
            for account in self.accounts.values():
                usable = [model for model in account.models if model.readiness(world.now) is Readiness.READY]
                if usable:
                    self.generation(account, usable[0], PROMPTS[0], None, False)

        def generation(self, account: Account, model: Model, prompt: str, mode: str | None, bare: bool) -> None:
            readiness = model.readiness(world.now)
            fault = account.generate_faults > 0
            allowed = allowed_statuses(readiness, account.wallet.affordable(), fault, strict)
            # the docs show safetensors_path with and without its scheme; both name the same file
            path = model.safetensors_path.split("://", 1)[-1] if bare else None
            reply = self.send(account.key, body_for(model, prompt, mode, path))
            # what an answer outside `allowed` would break (0: any other status) is what this answer is judged by
            world.tally.ran(*{blame(readiness, fault, status) for status in {0, 200, 402, 409, 500} - allowed})
            if reply.status not in allowed:
                fail(blame(readiness, fault, reply.status),
                     f"tenant {account.label}, model {model.tune_id} ({readiness.value}, balance "
                     f"{self.balance_text(account)}, generate fault armed: {fault}): expected "
                     f"{either(allowed)}, got {answer(reply)}")
            if reply.status == 200:
                model.answered = True
                account.wallet.generated()
                self.observe(account, reply.field("balance"), "the balance the generation answered")
            else:
                account.wallet.free_request(f"a generation answered {reply.status}")
                if reply.status == 500 and fault:
                    account.generate_faults -= 1
            self.audit(account)

        @rule(label=st.sampled_from(labels), number=st.integers(10**9, 10**12 - 1))
        def generate_with_unknown_model(self, label: str, number: int) -> None:
            account = self.accounts[label]
            while str(number) in self.known_ids():
                number += 1
            model = Model(str(number), f"{BUCKET}/{number}.safetensors", "woman")
            self.expect(self.send(account.key, body_for(model)), 404, "unknown_model",
                        f"tenant {account.label} named a model that does not exist ({number})")
            account.wallet.free_request("an unknown model answered 404")
            self.audit(account)

        @precondition(lambda self: self.has_models())
        @rule(pick=st.integers(0, 10**6), how=st.sampled_from(("other file", "other bucket")))
        def generate_with_wrong_file(self, pick: int, how: str) -> None:
            account, model = self.owned(pick)
            if how == "other file":
                path = model.safetensors_path.replace(".safetensors", "-other.safetensors")
            else:
                path = f"https://other-bucket.example/{model.tune_id}.safetensors"
            self.expect(self.send(account.key, body_for(model, path=path)), 404, "model_file",
                        f"tenant {account.label} named model {model.tune_id} with another file ({path})")
            account.wallet.free_request("a wrong safetensors_path answered 404")
            self.audit(account)

        @rule(pick=st.integers(0, 10**6), key=st.sampled_from((None, "", "not-a-key")))
        def generate_with_bad_key(self, pick: int, key: str | None) -> None:
            account, model = self.owned_or_unknown(pick)
            self.expect(self.send(key, body_for(model)), 403, "authentication",
                        f"a request with {'no' if key is None else repr(key) + ' as'} API key")
            account.wallet.free_request("a bad key answered 403")  # its model was named: still costs nothing
            self.audit(account)

        @rule(pick=st.integers(0, 10**6), defect=st.sampled_from(DEFECTS))
        def generate_with_invalid_input(self, pick: int, defect: str) -> None:
            account, model = self.owned_or_unknown(pick)
            body: Any = body_for(model)
            raw = None
            if defect == "no prompt":
                del body["prompt"]
            elif defect == "empty prompt":
                body["prompt"] = ""
            elif defect == "bad trigger_name":
                body["trigger_name"] = "cat"
            elif defect == "bad tune_id":
                body["tune_id"] = "model-" + model.tune_id
            elif defect == "no safetensors_path":
                del body["safetensors_path"]
            elif defect == "bad api_mode":
                body["api_mode"] = "extreme"
            elif defect == "not an object":
                body = [body]
            elif defect == "malformed JSON":
                raw = b'{"prompt": "unterminated'
            else:
                body = {"tune": {"title": "Short", "name": "woman",
                                 "image_urls": [f"https://example.com/ref/{index}.jpg" for index in range(4)]}}
            reply = self.send(account.key, body if raw is None else NO_BODY, raw)
            self.expect(reply, 400, "input_validation", f"tenant {account.label} sent a body with {defect}")
            account.wallet.free_request(f"{defect} answered 400")
            self.audit(account)

        @precondition(lambda self: len(self.accounts) == 2 and self.has_models())
        @rule(pick=st.integers(0, 10**6))
        def generate_with_another_tenants_model(self, pick: int) -> None:
            owner, model = self.owned(pick)
            intruder = next(account for account in self.accounts.values() if account is not owner)
            self.expect(self.send(intruder.key, body_for(model)), 404, "tenant_isolation",
                        f"tenant {intruder.label} named model {model.tune_id} of tenant {owner.label}")
            intruder.wallet.free_request("another tenant's model answered 404")
            self.audit(intruder, owner)

        @precondition(lambda self: admin is not None and world.given is not None)
        @rule(label=st.sampled_from(labels))
        def generate_with_the_given_model(self, label: str) -> None:
            """The model of `--key`'s tenant is another tenant's model for the fresh tenants."""
            account = self.accounts[label]
            model = world.given
            assert model is not None
            self.expect(self.send(account.key, body_for(model)), 404, "tenant_isolation",
                        f"fresh tenant {account.label} named model {model.tune_id} of the tenant of --key")
            account.wallet.free_request("another tenant's model answered 404")
            self.audit(account)

        # --- admin-only: models, clock, faults ---------------------------------------------------------
        @precondition(lambda self: admin is not None and self.has_room())
        @rule(label=st.sampled_from(labels), title=st.sampled_from(TITLES), trigger=st.sampled_from(("man", "woman")))
        def create_model(self, label: str, title: str, trigger: str) -> None:
            account = self.accounts[label]
            if len(account.models) < MODELS_PER_TENANT:
                self.create(account, title, trigger)
                self.audit(account)

        @precondition(lambda self: admin is not None)
        @rule(seconds=st.sampled_from(steps))
        def advance_clock(self, seconds: float) -> None:
            self.advance(seconds)

        @precondition(lambda self: admin is not None)
        @rule(label=st.sampled_from(labels))
        def arm_generation_fault(self, label: str) -> None:
            self.arm(self.accounts[label], "generate")

        @precondition(lambda self: admin is not None)
        @rule(label=st.sampled_from(labels))
        def arm_training_fault(self, label: str) -> None:
            self.arm(self.accounts[label], "train")

        # --- helpers -----------------------------------------------------------------------------------
        def send(self, key: str | None, body: Any, raw: bytes | None = None) -> Reply:
            reply = client.send("POST", ROUTE, key=key, body=body, raw=raw)
            world.tally.answers[reply.status] += 1
            return reply

        def expect(self, reply: Reply, status: int, check: str, what: str) -> None:
            world.tally.ran(check)
            if reply.status != status:
                fail(check, f"{what}: expected {status}, got {answer(reply)}")

        def create(self, account: Account, title: str, trigger: str) -> None:
            tune = {"title": title, "name": trigger,
                    "image_urls": [f"https://example.com/contract/{index}.jpg" for index in range(1, 6)]}
            reply = self.send(account.key, {"tune": tune})
            if reply.status != 200:
                fail("model_creation", f"tenant {account.label} created a model: expected 200, got "
                                       f"{answer(reply)}")
            tune_id, path = reply.field("tune_id"), reply.field("safetensors_path")
            ready_at = parse_time(reply.field("ready_at"))
            if not isinstance(tune_id, str) or not isinstance(path, str) or ready_at is None:
                fail("model_creation", f"the answer names no usable model: {reply.text[:300]}")
            if tune_id in self.known_ids():
                fail("model_ids_unique", f"tenant {account.label} got model id {tune_id} again")
            if reply.field("status") != "training" or reply.field("name") != trigger:
                fail("model_creation", f"expected a {trigger!r} model in training: {reply.text[:300]}")
            if world.now is not None and ready_at < world.now:
                fail("model_creation", f"ready_at {ready_at} is before the clock's {world.now}")
            world.tally.ran("model_creation", "model_ids_unique")
            fails = account.train_faults > 0
            account.train_faults -= fails
            account.models.append(Model(tune_id, path, trigger, ready_at, fails))
            account.wallet.free_request("creating a model")

        def arm(self, account: Account, operation: str) -> None:
            """Arm a fault for this tenant only: "generate" (the next generation fails) or "train"."""
            admin.arm_fault(operation, account.tenant_id)  # type: ignore[union-attr, arg-type]
            if operation == "generate":
                account.generate_faults += 1
            else:
                account.train_faults += 1

        def advance(self, seconds: float) -> None:
            clock = admin.set_clock(advance_seconds=seconds)  # type: ignore[union-attr]
            world.now = parse_time(clock["now"])
            if seconds >= FAR_SECONDS:
                for model in self.models():
                    model.settle()

        def observe(self, account: Account, value: Any, source: str) -> None:
            if isinstance(value, bool) or not isinstance(value, int | float):
                return  # the responses layer reports a body without a balance
            # with no balance to expect yet it learns one (or the price): then only the sign is judged
            world.tally.ran(*BALANCE if account.wallet.expected() is not None else BALANCE[-1:])
            discrepancy = account.wallet.observe(money(value))
            if world.price is None and account.wallet.price is not None:
                world.price = account.wallet.price  # learnt: later sequences start knowing it
            if discrepancy is not None:
                fail(discrepancy.check, f"tenant {account.label}, {source}: {discrepancy.explanation}")

        def audit(self, *accounts: Account) -> None:
            """With an admin token: the ledger's balance of each account must be the model's."""
            if admin is None:
                return
            for account in accounts:
                self.observe(account, admin.ledger(account.tenant_id)["balance"],  # type: ignore[arg-type]
                             "the admin ledger's balance")

        def balance_text(self, account: Account) -> str:
            expected = account.wallet.expected()
            return "unknown" if expected is None else str(expected)

        def models(self) -> Iterator[Model]:
            for account in self.accounts.values():
                yield from account.models

        def known_ids(self) -> set[str]:
            ids = {model.tune_id for model in self.models()}
            return ids | {world.given.tune_id} if world.given else ids

        def has_models(self) -> bool:
            return any(account.models for account in self.accounts.values())

        def has_room(self) -> bool:
            return any(len(account.models) < MODELS_PER_TENANT for account in self.accounts.values())

        def owned(self, pick: int) -> tuple[Account, Model]:
            pairs = [(account, model) for account in self.accounts.values() for model in account.models]
            return pairs[pick % len(pairs)]

        def owned_or_unknown(self, pick: int) -> tuple[Account, Model]:
            if self.has_models():
                return self.owned(pick)
            account = self.accounts["A"]
            return account, Model("999999999999", f"{BUCKET}/999999999999.safetensors", "woman")

    return LucyDreamMachine


def run(session: Session, max_examples: int, steps: int = 25, shrink: bool = True) -> None:
    """Run `max_examples` sequences of up to `steps` rules; each broken property becomes a finding."""
    report, target = session.report, session.target
    if session.admin is None:
        if not target.model_id:
            report.cannot_verify(LAYER, "paid_generation", "no --model-id/--safetensors-path: successful "
                                 "generations (and so the balance properties) are not exercised")
        if not target.second_key:
            report.cannot_verify(LAYER, "tenant_isolation", "no --second-key")
        if target.price is None and "generate" not in (target.prices or {}):
            report.cannot_verify(LAYER, "exact_price", "no --price: the price is learnt from the first two "
                                 "balances, so a constant overcharge cannot be told from the price")
    world, restore = prepare(session)
    try:
        explore(session, build(session, world), world.tally, OPERATION, max_examples, steps, shrink)
    finally:
        restore()
