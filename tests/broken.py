"""Deliberately broken mocks: each breaks one contract, which the contract suite must catch (the LovlyChat ones
are named `lc-...`, the AliveAI ones `aa-...` and live in tests/broken_aliveai.py and tests/broken_websockets.py).

    python -m tests.broken <variant> serve <genmock serve args...>

patches the mock in this process, then runs `genmock` with the remaining arguments.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import importlib
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.responses import Response

from mockserver.routing import Call, json_response

Handler = Callable[[Call], Awaitable[Response]]
LOVLYCHAT_JOB = "job "  # the ledger reference of a LovlyChat job's debit starts so ("job job_...")


def _around(api: str, operation_id: str, handler: Callable[[Call, Handler], Awaitable[Response]]) -> None:
    """Replace an operation's handler by `handler(call, original)` (the router looks handlers up at start-up)."""
    dialect = importlib.import_module(f"mockserver.dialects.{api}").DIALECT
    original: Handler = dialect.handlers[operation_id]

    async def replaced(call: Call) -> Response:
        return await handler(call, original)

    dialect.handlers[operation_id] = replaced


def _wrap(api: str, operation_id: str, after: Callable[[Call, Response], Response]) -> None:
    """Let `after` rewrite every answer of an operation."""

    async def handler(call: Call, original: Handler) -> Response:
        return after(call, await original(call))

    _around(api, operation_id, handler)


def _wrap_generate(after: Callable[[Call, Response], Response]) -> None:
    """Let `after` rewrite every answer of LucyDream's one route."""
    _wrap("lucydream", "generate", after)


def _rewritten(response: Response, change: Callable[[dict[str, Any]], None]) -> Response:
    """The response with its JSON body changed in place by `change`."""
    body: dict[str, Any] = json.loads(response.body)
    change(body)
    return json_response(response.status_code, body, {"allow": response.headers["allow"]}
                         if "allow" in response.headers else None)


def _is_image(response: Response) -> bool:
    return response.status_code == 200 and b'"image_url"' in response.body


def wrong_status() -> None:
    """A generated image answers 201, which the spec does not declare."""

    def after(call: Call, response: Response) -> Response:
        if _is_image(response):
            response.status_code = 201
        return response

    _wrap_generate(after)


def missing_field() -> None:
    """A generated image comes without its required `thumbnail_url`."""

    def after(call: Call, response: Response) -> Response:
        return _rewritten(response, lambda body: body.pop("thumbnail_url")) if _is_image(response) else response

    _wrap_generate(after)


def double_charge() -> None:
    """Each generation is debited twice (when the balance allows the second debit)."""
    from mockserver.engine.ledger import InsufficientFunds, Ledger

    original = Ledger.debit

    def debit(self: Ledger, tenant_id: str, amount: int, reference: str) -> Any:
        entry = original(self, tenant_id, amount, reference)
        if reference == "generation":
            with contextlib.suppress(InsufficientFunds):
                entry = original(self, tenant_id, amount, reference)
        return entry

    Ledger.debit = debit  # type: ignore[method-assign]


def charge_on_failure() -> None:
    """A generation failed by an armed "generate" fault (500) is debited all the same."""
    from mockserver.engine.ledger import InsufficientFunds, to_amount

    def after(call: Call, response: Response) -> Response:
        if response.status_code == 500:
            price = to_amount(call.context.config()["prices"]["generate"])
            with contextlib.suppress(InsufficientFunds):
                call.context.engine.ledger.debit(call.principal.id, price, "failed generation")
        return response

    _wrap_generate(after)


def cross_tenant() -> None:
    """Any tenant's model can be used by any other tenant (the tenant check of a job lookup is gone)."""
    from mockserver.engine.jobs import Job, Jobs

    def get(self: Jobs, api: str, tenant_id: str, job_id: str) -> Job | None:
        self.settle(api)
        row = self._store.get_job(api, job_id)
        return None if row is None else self._viewed(row)

    Jobs.get = get  # type: ignore[method-assign]


def method_not_allowed() -> None:
    """An undeclared method answers 405 (RFC 9110) where WordPress answers 404 `rest_no_route`."""
    from mockserver.dialects.lucydream.errors import LucyDreamErrors, error

    def answer(self: LucyDreamErrors, request: Any, allowed: list[str]) -> Response:
        response = error(405, "Method not allowed")
        response.headers["allow"] = ", ".join(allowed)
        return response

    LucyDreamErrors.method_not_allowed = answer  # type: ignore[method-assign]


# --- LovlyChat ----------------------------------------------------------------------------------------------


def lc_wrong_status() -> None:
    """An accepted job answers 200 instead of the documented 202."""

    def after(call: Call, response: Response) -> Response:
        if response.status_code == 202:
            response.status_code = 200
        return response

    _wrap("lovlychat", "createGenerationJob", after)


def lc_missing_field() -> None:
    """An accepted job's answer comes without the balance (`wallet`) the spec requires."""

    def after(call: Call, response: Response) -> Response:
        return _rewritten(response, lambda body: body.pop("wallet")) if response.status_code == 202 else response

    _wrap("lovlychat", "createGenerationJob", after)


def lc_double_charge() -> None:
    """Each accepted job is debited twice (when the balance allows the second debit)."""
    from mockserver.engine.ledger import InsufficientFunds, Ledger

    original = Ledger.debit

    def debit(self: Ledger, tenant_id: str, amount: int, reference: str) -> Any:
        entry = original(self, tenant_id, amount, reference)
        if reference.startswith(LOVLYCHAT_JOB):
            with contextlib.suppress(InsufficientFunds):
                entry = original(self, tenant_id, amount, reference)
        return entry

    Ledger.debit = debit  # type: ignore[method-assign]


def _patch_refund(times: int) -> None:
    """A failed job is refunded `times` times instead of once."""
    from mockserver.engine.ledger import Ledger

    original = Ledger.refund

    def refund(self: Ledger, tenant_id: str, amount: int, reference: str, at: float | None = None) -> Any:
        entry = None
        for _ in range(times):
            entry = original(self, tenant_id, amount, reference, at)
        return entry

    Ledger.refund = refund  # type: ignore[method-assign]


def lc_no_refund() -> None:
    """A failed job keeps its LoveCoins: charged although it failed."""
    _patch_refund(0)


def lc_refund_twice() -> None:
    """A failed job is refunded twice."""
    _patch_refund(2)


def _price(call: Call) -> int:
    from mockserver.engine.ledger import UNIT

    return int(call.context.config()["prices"][f"{call.body['kind']}.{call.body['variant']}"]) * UNIT


def lc_402_queues() -> None:
    """A job the wallet does not cover is answered 402, yet queued (for free) all the same."""

    async def create(call: Call, original: Handler) -> Response:
        response = await original(call)
        if response.status_code == 402:
            call.keep_writes()  # a server that does not undo what a refused request wrote
            engine = call.context.engine
            engine.ledger.top_up(call.principal.id, _price(call), "broken: pays for a refused job")
            engine.faults.take = lambda *args: None  # the hidden job takes no armed fault
            try:
                await original(call)
            finally:
                del engine.faults.take
        return response

    _around("lovlychat", "createGenerationJob", create)


def lc_402_deducts() -> None:
    """A job the wallet does not cover is answered 402, and what is left in the wallet is taken anyway."""

    async def create(call: Call, original: Handler) -> Response:
        response = await original(call)
        ledger = call.context.engine.ledger
        left = ledger.balance(call.principal.id)
        if response.status_code == 402 and left > 0:
            call.keep_writes()  # a server that does not undo what a refused request wrote
            ledger.debit(call.principal.id, left, "broken: a refused job")
        return response

    _around("lovlychat", "createGenerationJob", create)


def lc_gallery_order() -> None:
    """Every gallery page lists its assets oldest first."""

    def after(call: Call, response: Response) -> Response:
        return _rewritten(response, lambda body: body["items"].reverse()) if response.status_code == 200 else response

    _wrap("lovlychat", "listGallery", after)


def lc_gallery_leak() -> None:
    """Each gallery page also lists what the same page of every other wallet's gallery lists."""

    async def gallery(call: Call, original: Handler) -> Response:
        response = await original(call)
        if response.status_code != 200:
            return response
        others = [tenant for tenant in call.context.engine.tenants.all(call.context.dialect.name)
                  if tenant.id != call.principal.id]
        leaked = [item for tenant in others
                  for item in json.loads((await original(dataclasses.replace(call, principal=tenant))).body)["items"]]
        return _rewritten(response, lambda body: body["items"].extend(leaked))

    _around("lovlychat", "listGallery", gallery)


def lc_racy_debit() -> None:
    """Check-then-act: the handler reads the balance, yields to the event loop, then debits without checking
    again, so concurrent requests spend the same LoveCoins (the balance goes below zero)."""
    from mockserver.engine.ledger import Ledger

    original_debit = Ledger.debit
    checked: contextvars.ContextVar[bool] = contextvars.ContextVar("checked", default=False)  # one per request

    def debit(self: Ledger, tenant_id: str, amount: int, reference: str) -> Any:
        if checked.get():  # the handler checked the balance, a while ago
            return self._append(tenant_id, "debit", -amount, reference)
        return original_debit(self, tenant_id, amount, reference)

    async def create(call: Call, original: Handler) -> Response:
        if call.context.engine.ledger.balance(call.principal.id) < _price(call):  # check...
            return await original(call)  # (refused as usual)
        await asyncio.sleep(0)  # ... another request runs here ...
        token = checked.set(True)
        try:
            return await original(call)  # ... then act
        finally:
            checked.reset(token)

    Ledger.debit = debit  # type: ignore[method-assign]
    _around("lovlychat", "createGenerationJob", create)


def lc_regress() -> None:
    """A completed job, polled again, answers that it is running."""
    completed: set[str] = set()

    def regress(body: dict[str, Any]) -> None:
        body.update(status="running", progress=0.5, completedAt=None, assets=[])

    def after(call: Call, response: Response) -> Response:
        if response.status_code != 200 or json.loads(response.body)["status"] != "completed":
            return response
        job_id = call.path["id"]
        if job_id not in completed:
            completed.add(job_id)
            return response
        return _rewritten(response, regress)

    _wrap("lovlychat", "getGenerationJob", after)


VARIANTS: dict[str, Callable[[], None]] = {
    "wrong-status": wrong_status,
    "missing-field": missing_field,
    "double-charge": double_charge,
    "charge-on-failure": charge_on_failure,
    "cross-tenant": cross_tenant,
    "method-not-allowed": method_not_allowed,
    "lc-wrong-status": lc_wrong_status,
    "lc-missing-field": lc_missing_field,
    "lc-double-charge": lc_double_charge,
    "lc-no-refund": lc_no_refund,
    "lc-refund-twice": lc_refund_twice,
    "lc-402-queues": lc_402_queues,
    "lc-402-deducts": lc_402_deducts,
    "lc-gallery-order": lc_gallery_order,
    "lc-gallery-leak": lc_gallery_leak,
    "lc-racy-debit": lc_racy_debit,
    "lc-regress": lc_regress,
}


def _aliveai_variants() -> dict[str, Callable[[], None]]:
    """AliveAI's broken variants (named `aa-...`) live in their own modules."""
    from tests import broken_aliveai, broken_chat, broken_websockets

    return {**broken_aliveai.VARIANTS, **broken_websockets.VARIANTS, **broken_chat.VARIANTS}


VARIANTS.update(_aliveai_variants())


def _asset_variants() -> dict[str, Callable[[], None]]:
    """The broken assets and gallery items of both APIs live in their own module."""
    from tests import broken_assets

    return broken_assets.VARIANTS


VARIANTS.update(_asset_variants())
VARIANTS.update(importlib.import_module("tests.broken_probes").VARIANTS)  # near misses: tests/broken_probes.py


def main(argv: Sequence[str]) -> int:
    if not argv or argv[0] not in VARIANTS:
        print(f"usage: python -m tests.broken {{{','.join(VARIANTS)}}} serve [genmock serve args...]", file=sys.stderr)
        return 2
    VARIANTS[argv[0]]()
    from mockserver.cli import main as genmock

    return genmock(list(argv[1:]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
