"""LovlyChat v1 for `bench/run.py`: queue a job, poll a completed and a queued job, the price map, the gallery.

Every route gets its own genmock on the default real clock and 2 slots. The job route is loaded twice:
- with the default 8 s per image, jobs pile up (2 slots run 0.25 jobs/s; nearly every accepted job waits):
  a legitimate stress of the scheduler, whose queue length the report gives. A virtual clock would not stop
  the pile-up (nothing would run at all) and would hide the cost of settling the queue when a slot frees.
- with 0 s per image, each job completes when the next request settles the queue: the whole life of a job
  (accept, start, complete with its asset) per request, on a queue that stays empty.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness import Api, Check, Genmock, Load, Prepared, Route, Target, one_debit_per_answer, read_only

JOBS = "/v1/generation/jobs"
GALLERY = "/v1/generation/gallery?limit=20"
PRICING = "/v1/pricing"
DEMO_KEY = "lc_demo_key_0123456789abcdef"
IMAGE = {"kind": "image", "variant": "standard", "characterId": "char_aiko",
         "prompt": "Aiko on a rooftop at dusk, city lights behind her, soft rim light, looking over her shoulder"}
BENCH_BALANCE = 1_000_000_000  # the admin API's maximum: 10^8 standard images
GALLERY_JOBS = 50
# the ids the floor knows (bench/bare.py)
BARE_COMPLETED_JOB = "job_kY9pF34Qy6nB3Wwd25rq4f5z"
BARE_QUEUED_JOB = "job_r3QA7YeEEBY3ABp3e2zS8iq9"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def get(path: str, key: str = DEMO_KEY) -> Target:
    return Target("GET", path, headers=bearer(key))


def create_job(body: dict[str, Any], key: str = DEMO_KEY) -> Target:
    return Target("POST", JOBS, body, bearer(key))


def queue_jobs(seconds: float | None) -> Callable[[Genmock], Prepared]:
    """The job route, each image taking `seconds` (None: the default duration)."""

    def prepare(genmock: Genmock) -> Prepared:
        tenant_id, key = genmock.new_tenant(BENCH_BALANCE)
        if seconds is not None:
            genmock.admin("PATCH", "/config", {"durations": {"image.standard": seconds}})
        target = create_job(IMAGE, key)
        price = genmock.call(target, 202)["cost"]  # the route works before any load

        def verify(loads: list[Load], connections: int) -> list[Check]:
            ledger = genmock.ledger(tenant_id)
            debits = sum(1 for entry in ledger["entries"] if entry["kind"] == "debit") - 1  # less the one above
            spent = BENCH_BALANCE - ledger["balance"]
            waiting = genmock.call(target, 202)["queuePosition"] - 1  # the queue as one more job finds it
            return [
                one_debit_per_answer(debits, loads, connections, "202"),
                Check(f"the wallet paid {price} LoveCoins per debit and never ran dry (no 402): {spent:,.0f} spent",
                      spent == price * (debits + 1)),
                Check(f"queue length reached: {waiting:,} jobs waiting when the loads ended", None),
            ]

        return Prepared(target, verify)

    return prepare


def completed_jobs(genmock: Genmock) -> tuple[str, list[str]]:
    """A tenant with GALLERY_JOBS completed standard images: its key and the jobs' ids."""
    _, key = genmock.new_tenant(BENCH_BALANCE)
    genmock.admin("PATCH", "/config", {"durations": {"image.standard": 0}})  # done at the next settle
    jobs = [genmock.call(create_job(IMAGE, key), 202)["id"] for _ in range(GALLERY_JOBS)]
    genmock.call(get(GALLERY, key), 200)  # settles the queue
    return key, jobs


def poll(genmock: Genmock, key: str, job_id: str, status: str) -> Prepared:
    return read_only(genmock, get(f"{JOBS}/{job_id}", key), f"the job is {status}",
                     lambda job: job["status"] == status)


def poll_completed(genmock: Genmock) -> Prepared:
    key, jobs = completed_jobs(genmock)
    return poll(genmock, key, jobs[len(jobs) // 2], "completed")


def poll_queued(genmock: Genmock) -> Prepared:
    _, key = genmock.new_tenant(BENCH_BALANCE)
    # HD images that take an hour: the first two hold both slots (the start-up probe's 8 s job aside)
    genmock.admin("PATCH", "/config", {"durations": {"image.hd": 3600}})
    jobs = [genmock.call(create_job({**IMAGE, "variant": "hd"}, key), 202)["id"] for _ in range(3)]
    return poll(genmock, key, jobs[-1], "queued")


def pricing(genmock: Genmock) -> Prepared:
    _, key = genmock.new_tenant(BENCH_BALANCE)
    return read_only(genmock, get(PRICING, key), "the price map is the default one",
                     lambda body: body["prices"] == {"image": {"standard": 10, "hd": 25},
                                                     "video": {"standard": 60, "hd": 150}})


def gallery(genmock: Genmock) -> Prepared:
    key, _ = completed_jobs(genmock)
    return read_only(genmock, get(GALLERY, key), f"the page holds 20 of the wallet's {GALLERY_JOBS} assets",
                     lambda page: len(page["items"]) == 20 and page["nextCursor"] is not None)


API = Api(
    name="lovlychat", title="LovlyChat v1 routes", probe=create_job(IMAGE), probe_status=202,
    routes=[
        Route(f"POST {JOBS} (8 s jobs pile up)", "credential lookup, validation of the `oneOf` body, settling the "
              "queue (the running jobs and the head of the queue, whenever a slot frees), a debit with its "
              "ledger entry, a queued job row and its queue position; 202", queue_jobs(None), bare=create_job(IMAGE)),
        Route(f"POST {JOBS} (0 s jobs: no queue)", "the same, but settling completes the previous job first (its "
              "asset row and status), so the queue stays empty; 202", queue_jobs(0), bare=create_job(IMAGE)),
        Route(f"GET {JOBS}/{{id}} (completed)", "settling (nothing due), the job (cached once final), its asset "
              "row; 200", poll_completed, bare=get(f"{JOBS}/{BARE_COMPLETED_JOB}")),
        Route(f"GET {JOBS}/{{id}} (queued)", "settling (nothing due), the job row and its queue position; 200",
              poll_queued, bare=get(f"{JOBS}/{BARE_QUEUED_JOB}")),
        Route(f"GET {PRICING}", "credential lookup, the cached price map, when it last changed; 200", pricing,
              bare=get(PRICING)),
        Route(f"GET {GALLERY}", f"settling (nothing due), one indexed query for the newest 21 of a wallet of "
              f"{GALLERY_JOBS} assets, 20 rendered; 200", gallery, bare=get(GALLERY)),
    ],
)
