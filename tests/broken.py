"""Deliberately broken LucyDream mocks: each breaks one contract, which the contract suite must catch.

    python -m tests.broken <variant> serve <genmock serve args...>

patches the mock in this process, then runs `genmock` with the remaining arguments.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.responses import Response

from mockserver.routing import Call, json_response

Handler = Callable[[Call], Awaitable[Response]]


def _wrap_generate(after: Callable[[Call, Response], Response]) -> None:
    """Let `after` rewrite every answer of LucyDream's one route (the router looks handlers up at start-up)."""
    from mockserver.dialects.lucydream import DIALECT

    original: Handler = DIALECT.handlers["generate"]

    async def generate(call: Call) -> Response:
        return after(call, await original(call))

    DIALECT.handlers["generate"] = generate


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
        if not _is_image(response):
            return response
        body: dict[str, Any] = json.loads(response.body)
        del body["thumbnail_url"]
        return json_response(200, body)

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
        return None if row is None else self._with_queue_view(Job(**row))

    Jobs.get = get  # type: ignore[method-assign]


def method_not_allowed() -> None:
    """An undeclared method answers 405 (RFC 9110) where WordPress answers 404 `rest_no_route`."""
    from mockserver.dialects.lucydream.errors import LucyDreamErrors, error

    def answer(self: LucyDreamErrors, request: Any, allowed: list[str]) -> Response:
        response = error(405, "Method not allowed")
        response.headers["allow"] = ", ".join(allowed)
        return response

    LucyDreamErrors.method_not_allowed = answer  # type: ignore[method-assign]


VARIANTS: dict[str, Callable[[], None]] = {
    "wrong-status": wrong_status,
    "missing-field": missing_field,
    "double-charge": double_charge,
    "charge-on-failure": charge_on_failure,
    "cross-tenant": cross_tenant,
    "method-not-allowed": method_not_allowed,
}


def main(argv: Sequence[str]) -> int:
    if not argv or argv[0] not in VARIANTS:
        print(f"usage: python -m tests.broken {{{','.join(VARIANTS)}}} serve [genmock serve args...]", file=sys.stderr)
        return 2
    VARIANTS[argv[0]]()
    from mockserver.cli import main as genmock

    return genmock(list(argv[1:]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
