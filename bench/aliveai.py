"""AliveAI for `bench/run.py`: create a prompt, read a finished one, the user's queue, the current user.

Every route gets its own genmock on the default real clock. The pending limit is lifted for the bench user (a
real user may have 5 prompts waiting; a load of creates would be all 429s), and its credits are the admin
API's maximum, so every create is a paid, queued prompt: the queue piles up as LovlyChat's does.
"""

from __future__ import annotations

from typing import Any

from harness import Api, Check, Genmock, Load, Prepared, Route, Target, one_debit_per_answer, read_only

PROMPTS = "/prompts"
PENDING = "/prompts/pending"
ME = "/members/me"
DEMO_KEY = "5b0e7a52-3c8d-4f19-b6a2-e41d9c07f3b8"
IMAGE = {"name": "Marcielle Strongmaid", "detailLevel": "HIGH", "gender": "FEMALE", "model": "DEFAULT",
         "appearance": "a strong viking woman, blonde hair, hazel eyes, powerful face, wearing viking armour"}
BENCH_CREDITS = 1_000_000_000
WAITING = 20  # prompts in the queue of the pending route
# the ids the floor knows (bench/bare.py)
BARE_PROMPT = "3f1c9a52-7d4e-4b8a-9e21-6c0d5f7a8b13"


def key_header(key: str) -> dict[str, str]:
    return {"Authorization": f"Key {key}"}


def get(path: str, key: str = DEMO_KEY) -> Target:
    return Target("GET", path, headers=key_header(key))


def create(key: str = DEMO_KEY) -> Target:
    return Target("POST", PROMPTS, IMAGE, key_header(key))


def bench_user(genmock: Genmock, **config: Any) -> tuple[str, str]:
    genmock.admin("PATCH", "/config", {"limits": {"maxPending": 1_000_000}, **config})
    return genmock.new_tenant(BENCH_CREDITS)


def create_prompts(genmock: Genmock) -> Prepared:
    tenant_id, key = bench_user(genmock)
    target = create(key)
    genmock.call(target, 200)

    def verify(loads: list[Load], connections: int) -> list[Check]:
        ledger = genmock.ledger(tenant_id)
        debits = sum(1 for entry in ledger["entries"] if entry["kind"] == "debit") - 1
        waiting = len(genmock.call(get(PENDING, key), 200)["queue"])
        return [one_debit_per_answer(debits, loads, connections, "200"),
                Check(f"queue length reached: {waiting:,} prompts pending when the loads ended", None)]

    return Prepared(target, verify)


def finished_prompt(genmock: Genmock) -> Prepared:
    _, key = bench_user(genmock, durations={"IMAGE_DEFAULT": 0})
    prompt_id = genmock.call(create(key), 200)["promptId"]
    return read_only(genmock, get(f"{PROMPTS}/{prompt_id}", key), "the prompt is finished, with one media",
                     lambda container: len(container["medias"]) == 1)


def pending(genmock: Genmock) -> Prepared:
    _, key = bench_user(genmock, durations={"IMAGE_DEFAULT": 3600}, slots=1)
    for _ in range(WAITING):
        genmock.call(create(key), 200)
    return read_only(genmock, get(PENDING, key), f"the queue holds the {WAITING} prompts, one running",
                     lambda body: [item["queuePosition"] for item in body["queue"]] == list(range(WAITING)))


def current_user(genmock: Genmock) -> Prepared:
    _, key = bench_user(genmock)
    return read_only(genmock, get(ME, key), "the user has the bench's credits",
                     lambda user: user["credits"] == BENCH_CREDITS)


API = Api(
    name="aliveai", title="AliveAI routes", probe=get(ME), probe_status=200,
    routes=[
        Route(f"POST {PROMPTS} (6 s prompts pile up)", "credential lookup (a UUID key), validation, the pending "
              "count, settling the queue, a debit with its ledger entry, a queued prompt row echoing the request "
              "as stored; 200", create_prompts, bare=create()),
        Route(f"GET {PROMPTS}/{{promptId}} (finished)", "settling (nothing due), the prompt (cached once final), "
              "its media row; 200", finished_prompt, bare=get(f"{PROMPTS}/{BARE_PROMPT}")),
        Route(f"GET {PENDING} ({WAITING} prompts)", "settling (nothing due), the API's active prompts, the user's "
              "queue with positions and progress; 200", pending, bare=get(PENDING)),
        Route(f"GET {ME}", "credential lookup, settling, the user's credits and key; 200", current_user,
              bare=get(ME)),
    ],
)
