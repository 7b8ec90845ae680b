"""Deliberately broken AliveAI mocks (HTTP): each breaks one contract the suite must catch.

Registered in tests/broken.py (`python -m tests.broken <variant> serve ...`). The helpers of tests/broken.py are
imported inside the functions (tests/broken.py imports this module).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import Response

from mockserver.routing import Call

API = "aliveai"
Handler = Callable[[Call], Awaitable[Response]]


def _creates() -> list[str]:
    """The operationIds of the 21 create routes."""
    from mockserver.dialects.aliveai.prompts import ROUTES

    return list(ROUTES)


def _around_creates(handler: Callable[[Call, Handler], Awaitable[Response]]) -> None:
    from tests.broken import _around

    for operation_id in _creates():
        _around(API, operation_id, handler)


def _price(call: Call) -> int:
    """What the create being answered costs, in ledger units."""
    from mockserver.dialects.aliveai.prompts import ROUTES
    from mockserver.engine.ledger import UNIT

    route = ROUTES[call.operation.operation_id]
    medium = 2 if call.body.get("videoLength") == "MEDIUM" else 1
    return int(call.context.config()["prices"][route.prompt_type]) * medium * UNIT


def aa_double_charge() -> None:
    """Each accepted prompt is debited twice (when the credits allow the second debit)."""
    from mockserver.engine.ledger import InsufficientFunds

    async def create(call: Call, original: Handler) -> Response:
        response = await original(call)
        if response.status_code == 200:
            with contextlib.suppress(InsufficientFunds):
                call.context.engine.ledger.debit(call.principal.id, _price(call), "broken: charged again")
        return response

    _around_creates(create)


def aa_no_refund_on_removal() -> None:
    """A prompt removed from the queue keeps its credits: the refund is taken back at once."""
    from mockserver.engine.jobs import Jobs

    original = Jobs.remove_queued

    def remove_queued(self: Jobs, api: str, tenant_id: str, job_id: str, reason: str) -> Any:
        job = original(self, api, tenant_id, job_id, reason)
        if job is not None and api == API and job.cost:
            self._ledger.debit(tenant_id, job.cost, "broken: keeps the credits of a removed prompt")
        return job

    Jobs.remove_queued = remove_queued  # type: ignore[method-assign]


def aa_no_refund_on_failure() -> None:
    """A prompt that fails (an armed fault) is not refunded."""
    from mockserver.engine.jobs import Job, Jobs

    original = Jobs._finish

    def finish(self: Jobs, job: Job) -> Job:
        if job.api != API or not job.fail_with:
            return original(self, job)
        self._ledger.refund = lambda *args, **kwargs: None  # type: ignore[method-assign]  # for this one job
        try:
            return original(self, job)
        finally:
            del self._ledger.refund

    Jobs._finish = finish  # type: ignore[method-assign]


def aa_402_charges() -> None:
    """A create the credits do not cover is answered 402, and what is left of them is taken anyway."""

    async def create(call: Call, original: Handler) -> Response:
        response = await original(call)
        ledger = call.context.engine.ledger
        left = ledger.balance(call.principal.id)
        if response.status_code == 402 and left > 0:
            call.keep_writes()  # a server that does not undo what a refused request wrote
            ledger.debit(call.principal.id, left, "broken: a refused create")
        return response

    _around_creates(create)


def aa_pending_order() -> None:
    """The pending list comes newest first (its positions then run backwards too)."""
    from tests.broken import _rewritten, _wrap

    def after(call: Call, response: Response) -> Response:
        if response.status_code != 200:
            return response
        return _rewritten(response, lambda body: body["queue"].reverse())

    _wrap(API, "getPendingPrompts", after)


def aa_delete_keeps() -> None:
    """Deleting a finished prompt answers 204 but keeps it (and its medias)."""
    from mockserver.dialects.aliveai.lookups import own_prompt
    from mockserver.engine.jobs import COMPLETED
    from tests.broken import _around

    async def delete(call: Call, original: Handler) -> Response:
        job = own_prompt(call, call.path["promptId"])
        if job is not None and job.status == COMPLETED:
            return Response(status_code=204)
        return await original(call)

    _around(API, "deletePrompt", delete)


def aa_foreign_media() -> None:
    """A create may name any user's media (the owner check of a media reference is gone)."""
    from mockserver.dialects.aliveai import prompts
    from mockserver.engine.assets import Asset

    def own_media(call: Call, media_id: str) -> Asset | None:
        asset = call.context.engine.assets.get(media_id)
        return asset if asset is not None and asset.api == API else None

    prompts.own_media = own_media  # type: ignore[assignment]


def aa_bearer_takes_key() -> None:
    """`Authorization: Bearer <api key>` is accepted as if it were `Key <api key>`."""
    from mockserver.dialects.aliveai import DIALECT, accounts

    def authenticate(engine: Any, secret: str, scheme: str | None = None) -> Any:
        if scheme == accounts.TOKEN_SCHEME and secret.count(".") != 2:
            scheme = accounts.KEY_SCHEME
        return accounts.authenticate(engine, secret, scheme)

    object.__setattr__(DIALECT, "authenticate", authenticate)  # the dialect is a frozen dataclass


def aa_missing_field() -> None:
    """An accepted create's answer comes without the `seed` the spec requires."""
    from tests.broken import _rewritten

    async def create(call: Call, original: Handler) -> Response:
        response = await original(call)
        if response.status_code == 200:
            return _rewritten(response, lambda body: body.pop("seed"))
        return response

    _around_creates(create)


def aa_pending_limit() -> None:
    """Off by one: a user may have maxPending + 1 prompts queued and running before a create is refused 429."""
    from mockserver.engine.jobs import Jobs

    original = Jobs.count_active

    def count_active(self: Jobs, api: str, tenant_id: str) -> int:
        count = original(self, api, tenant_id)
        return max(0, count - 1) if api == API else count  # the limit check sees one prompt fewer

    Jobs.count_active = count_active  # type: ignore[method-assign]


def aa_removes_running() -> None:
    """`DELETE /prompts/queue` also removes (and refunds) the running prompt."""
    from mockserver.engine.jobs import QUEUED, RUNNING, Jobs

    original = Jobs.remove_queued

    def remove_queued(self: Jobs, api: str, tenant_id: str, job_id: str, reason: str) -> Any:
        job = self.get(api, tenant_id, job_id)
        if api == API and job is not None and job.status == RUNNING:
            self._store.update_job(api, job_id, status=QUEUED)  # as if it had never started
        return original(self, api, tenant_id, job_id, reason)

    Jobs.remove_queued = remove_queued  # type: ignore[method-assign]


VARIANTS: dict[str, Callable[[], None]] = {
    "aa-double-charge": aa_double_charge,
    "aa-no-refund-on-removal": aa_no_refund_on_removal,
    "aa-no-refund-on-failure": aa_no_refund_on_failure,
    "aa-402-charges": aa_402_charges,
    "aa-pending-order": aa_pending_order,
    "aa-delete-keeps": aa_delete_keeps,
    "aa-foreign-media": aa_foreign_media,
    "aa-bearer-takes-key": aa_bearer_takes_key,
    "aa-missing-field": aa_missing_field,
    "aa-pending-limit": aa_pending_limit,
    "aa-removes-running": aa_removes_running,
}
