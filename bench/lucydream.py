"""LucyDream for `bench/run.py`: the generation route, valid and invalid, against the bare floor."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from harness import Api, Check, Genmock, Load, Prepared, Route, Target, one_debit_per_answer

ROUTE = "/wp-json/apiservices/v1/generate"
DEMO_KEY = "your_api_key_here"
DEMO_BODY = {"prompt": "A beautiful blonde in lingerie at sunset", "tune_id": "12345",
             "safetensors_path": "https://your-bucket-url/12345.safetensors", "trigger_name": "woman",
             "api_mode": "spicy"}
BENCH_BALANCE = 1_000_000_000  # the admin API's maximum: 10^10 generations at the default 0.1


def generate(body: Any, key: str) -> Target:
    return Target("POST", ROUTE, body, {"X-API-Key": key})


def bench_tenant(genmock: Genmock) -> tuple[str, Target]:
    """A tenant with the maximum balance (so no 402s) and a ready model of its own; its generation request."""
    tenant_id, key = genmock.new_tenant(BENCH_BALANCE)
    # a model that is ready at once: training takes no time (the price of training is 0 by default)
    genmock.admin("PATCH", "/config", {"durations": {"train": 0}})
    model = genmock.call(generate({"tune": {"title": "Bench", "name": "woman", "image_urls": [
        f"https://example.com/bench/{n}.jpg" for n in range(1, 6)]}}, key), 200)
    target = generate({**DEMO_BODY, "tune_id": model["tune_id"], "safetensors_path": model["safetensors_path"]}, key)
    genmock.call(target, 200)  # the generation works before any load
    return tenant_id, target


def generations(genmock: Genmock, tenant_id: str) -> int:
    """Debits for generations in the tenant's ledger."""
    return sum(1 for entry in genmock.ledger(tenant_id)["entries"]
               if entry["kind"] == "debit" and entry["reference"] == "generation")


def valid(genmock: Genmock) -> Prepared:
    tenant_id, target = bench_tenant(genmock)
    before = generations(genmock, tenant_id)

    def verify(loads: list[Load], connections: int) -> list[Check]:
        return [one_debit_per_answer(generations(genmock, tenant_id) - before, loads, connections, "200")]

    return Prepared(target, verify)


def invalid(genmock: Genmock) -> Prepared:
    tenant_id, target = bench_tenant(genmock)
    before = generations(genmock, tenant_id)

    def verify(loads: list[Load], connections: int) -> list[Check]:
        return [Check("invalid requests debited nothing", generations(genmock, tenant_id) == before)]

    return Prepared(replace(target, body={**target.body, "trigger_name": "robot"}), verify)


API = Api(
    name="lucydream", title="LucyDream generation route", probe=generate(DEMO_BODY, DEMO_KEY), probe_status=200,
    routes=[
        Route(f"POST {ROUTE}", "credential lookup, validation, a debit with its ledger entry and an asset row; 200",
              valid, bare=generate(DEMO_BODY, DEMO_KEY)),
        Route(f"POST {ROUTE} (invalid: 400)", "the same body with `trigger_name: robot`: credential lookup and "
              "validation, no writes; a 400 (no floor: the ratio is for the valid route)", invalid, bare=None,
              expect_errors=True),
    ],
)
