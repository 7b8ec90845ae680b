"""LovlyChat's tour: provoke each documented answer of each operation once; `contracts.client` validates every
response strictly against the spec.

Besides that validation, each stop checks that the answer is the documented one (`documented_status`), that
an error carries its documented `error.code` (`error_code`), a 400 its `error.details` (`error_details`), a 405
an `Allow` header naming the path's methods (`allow_header`), a 402 the listed price and the balance
(`payment_required`), that a completed job's asset declares the size and duration the spec gives its variant
(`asset_variant`), and that the gallery lists each asset as its job's poll answers it, field for field
(`gallery_fields`). Every URL of every answer is downloaded and its bytes judged against what the answer
declares (`asset_download`, `asset_content`: contracts/wire/assets.py).

With an admin token the tour makes its own tenants (one with LoveCoins, one with none, for the 402) and
advances a virtual clock to finish jobs; without one it spends a few jobs of --key's wallet (two images, a
video, and a video that must fail and be refunded), waits for them in real time, and tours the 402 only if
that wallet is short of some price; --second-key adds the cross-tenant 400 and 404.
"""

from __future__ import annotations

from typing import Any

from contracts.client import NO_BODY, Reply
from contracts.machines.common import freeze_clock
from contracts.models import gallery
from contracts.session import Session
from contracts.tours.common import LAYER, Stops
from contracts.wire.assets import Inspected
from contracts.wire.common import Waiter
from contracts.wire.lovlychat import (
    CREATE,
    GALLERY,
    INVALID_JOBS,
    JOBS,
    LIST,
    MALFORMED,
    POLL,
    PRICES,
    PRICING,
    finish,
    image_job,
    job_path,
    price_list,
    undecodable_url,
    variant_problem,
    video_job,
)

UNKNOWN_JOB = "job_" + "0" * 24
UNKNOWN_KEY = "lc_not_a_key_0000000000000000"  # long enough to be a key, issued to no one
CHARACTER = "char_aiko"
UNDECLARED = (("DELETE", JOBS, "POST"), ("GET", JOBS, "POST"), ("PUT", PRICING, "GET"), ("POST", GALLERY, "GET"),
              ("DELETE", job_path(UNKNOWN_JOB), "GET"))
def run(session: Session) -> None:
    restore = (lambda: None) if session.admin is None else freeze_clock(session.admin)[1]
    try:
        _Tour(session).run()
    finally:
        restore()


class _Tour:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.client = Inspected(session)
        self.stop = Stops(session, CREATE, "error_code", lambda reply: reply.error_code())
        self.waiter = Waiter(session)
        self.key = session.target.key
        self.other = session.target.second_key  # another tenant, if any
        self.prices: dict[tuple[str, str], int] = {}
        self.last_wallet: Any = None  # the balance the last job request answered
        self.refundable = 0  # what may have come back since: the cost of the job bound to fail
        self.assets: dict[str, dict[str, Any]] = {}  # of the completed jobs, by job id

    def run(self) -> None:
        self.unauthorized()
        self.routing()
        self.invalid()
        if self.pricing():
            if self.session.admin is not None:
                self.own_tenants()
            self.jobs()
        self.stop.summary()

    # --- answers that cost nothing ------------------------------------------------------------------------
    def unauthorized(self) -> None:
        body = image_job("standard", CHARACTER)
        for method, path, operation in (("POST", JOBS, CREATE), ("GET", job_path(UNKNOWN_JOB), POLL),
                                        ("GET", PRICING, PRICES), ("GET", GALLERY, LIST)):
            reply = self.client.send(method, path, key=None, body=body if method == "POST" else NO_BODY)
            self.stop(f"{method} without a key", reply, {401}, "unauthorized", operation)
        for what, headers in (
                ("a key shorter than 24 characters", {"x-api-key": "lc_short_key"}),
                ("an unknown key as Bearer", {"authorization": f"Bearer {UNKNOWN_KEY}"}),
                ("an unknown key as x-api-key", {"x-api-key": UNKNOWN_KEY}),
                ("the key in a Basic scheme", {"authorization": f"Basic {self.key}"}),
                ("a Bearer key and a different x-api-key", {"authorization": f"Bearer {self.key}",
                                                            "x-api-key": UNKNOWN_KEY})):
            self.stop(what, self.client.send("POST", JOBS, key=None, body=body, headers=headers), {401},
                      "unauthorized")

    def routing(self) -> None:
        reply = self.client.send("GET", "/v1/no-such-route", key=self.key, validate=False)
        self.stop("an unknown path", reply, {404}, "not_found", "GET /v1/no-such-route")
        for method, path, allowed in UNDECLARED:
            operation = f"{method} {path}"
            reply = self.client.send(method, path, key=self.key, validate=False)
            if self.stop(f"{method} on a path that does not declare it", reply, {405}, "method_not_allowed",
                         operation):
                self.stop.ran("allow_header", operation)
                named = {part.strip().upper() for part in reply.headers.get("allow", "").split(",") if part.strip()}
                if allowed not in named or named - {allowed, "HEAD", "OPTIONS"}:
                    self.stop.fail("allow_header", operation, f"Allow: {reply.headers.get('allow')!r}; the path "
                                                              f"supports {allowed}", reply)

    def invalid(self) -> None:
        for what, (body, field) in INVALID_JOBS.items():
            self.bad_request(what, self.client.send("POST", JOBS, key=self.key, body=body), field=field)
        self.bad_request("malformed JSON", self.client.send("POST", JOBS, key=self.key, raw=MALFORMED))
        for what, params in (("limit 0", {"limit": 0}), ("limit 101", {"limit": 101}),
                             ("a cursor the API never issued", {"cursor": "bm90LWEtY3Vyc29y"}),
                             ("a cursor outside the cursor alphabet", {"cursor": "a+b/c="})):
            self.bad_request(what, self.client.send("GET", GALLERY, key=self.key, params=params), LIST)

    def bad_request(self, what: str, reply: Reply, operation: str = CREATE, field: str | None = None) -> None:
        if not self.stop(what, reply, {400}, "invalid_request", operation):
            return
        self.stop.ran("error_details", operation)
        details = (reply.field("error") or {}).get("details")
        fields = {detail.get("field") for detail in details or [] if isinstance(detail, dict)}
        if not details:
            self.stop.fail("error_details", operation, f"{what}: a 400 lists at least one problem in "
                                                       f"error.details: {reply.text[:200]}", reply)
        elif field is not None and field not in fields:
            self.stop.fail("error_details", operation, f"{what}: error.details names {sorted(map(str, fields))}, "
                                                       f"not {field!r}", reply)

    def pricing(self) -> bool:
        self.stop("the price list (x-api-key)", self.client.send("GET", PRICING, key=self.key), {200},
                  operation=PRICES)
        reply = self.client.send("GET", PRICING, key=None, headers={"authorization": f"Bearer {self.key}"})
        self.stop("the price list (Bearer)", reply, {200}, operation=PRICES)
        self.prices = price_list(reply) or {}
        if not self.prices:
            self.session.report.cannot_verify(LAYER, "paid_job_tour", "no price list: the jobs, 402 and gallery "
                                                                 "were not toured")
        return bool(self.prices)

    # --- jobs ---------------------------------------------------------------------------------------------
    def own_tenants(self) -> None:
        """A tenant with LoveCoins for the tour's jobs, and one with none (the 402; another wallet's view)."""
        admin = self.session.admin
        assert admin is not None
        nonce = self.session.nonce
        balance = 2 * self.prices["image", "standard"] + 2 * self.prices["video", "standard"]
        self.key = admin.create_tenant("contract tour", balance, [f"lc_contract_tour_{nonce}_paid"])["credentials"][0]
        self.other = admin.create_tenant("contract tour, empty", 0, [f"lc_contract_tour_{nonce}_empty"])[
            "credentials"][0]
        reply = self.client.send("POST", JOBS, key=self.other, body=image_job("standard", CHARACTER))
        self.payment_required(reply, self.prices["image", "standard"], 0)

    def payment_required(self, reply: Reply, price: int, wallet: int | None) -> None:
        if not self.stop("a job the wallet does not cover", reply, {402}):
            return
        self.stop.ran("payment_required")
        if reply.field("required") != price or (wallet is not None and reply.field("wallet") != wallet):
            self.stop.fail("payment_required", CREATE, f"expected required {price} (the listed price)"
                                                       f"{'' if wallet is None else f' and wallet {wallet}'}: "
                                                       f"{reply.text[:200]}", reply)

    def jobs(self) -> None:
        first = self.accept("an image job (x-api-key)", image_job("standard", CHARACTER))
        second = self.accept("an image job (Bearer)", image_job("standard", "char_mika"), bearer=True)
        if first is None:
            self.session.report.cannot_verify(LAYER, "paid_job_tour", "the tour's first image job was not accepted: "
                                              "its polls, assets, gallery and the 402 were not toured")
            return
        self.stop("polling a queued job", self.client.send("GET", job_path(first["id"]), key=self.key), {200},
                  operation=POLL)
        for what, job_id in (("an unknown job", UNKNOWN_JOB), ("a malformed job id", "nope")):
            self.stop(what, self.client.send("GET", job_path(job_id), key=self.key), {404}, "not_found", POLL)
        if self.other:
            self.stop("another wallet's job", self.client.send("GET", job_path(first["id"]), key=self.other),
                      {404}, "not_found", POLL)
        done = self.finish([job["id"] for job in (first, second) if job])
        for job in (first, second):
            self.asset_of(job, done)
        image = self.assets.get(first["id"])
        if image is None:
            last = done.get(first["id"])
            status = last.field("status") if last is not None else None
            self.session.report.cannot_verify(LAYER, "paid_job_tour", f"the tour's first image job did not complete "
                                              f"(last seen {status or 'unfinished'}): the videos from its image, the "
                                              "gallery and the 402 were not toured")
            return
        if self.other:
            self.bad_request("another wallet's image as sourceAssetId", self.client.send(
                "POST", JOBS, key=self.other, body=video_job("standard", CHARACTER, asset_id=image["id"])),
                field="sourceAssetId")
        video = self.accept("a video job from an image asset", video_job("standard", CHARACTER,
                                                                         asset_id=image["id"]))
        failing = self.accept("a video job from a URL that is no image",
                              video_job("standard", CHARACTER, url=undecodable_url(self.session)))
        self.refundable = failing["cost"] if failing and isinstance(failing.get("cost"), int) else 0
        done = self.finish([job["id"] for job in (video, failing) if job])
        clip = self.asset_of(video, done)
        if clip is not None:
            self.bad_request("a video asset as sourceAssetId", self.client.send(
                "POST", JOBS, key=self.key, body=video_job("standard", CHARACTER, asset_id=clip["id"])),
                field="sourceAssetId")
        self.gallery()
        if self.session.admin is None:
            self.short_wallet()

    def accept(self, what: str, body: dict[str, Any], bearer: bool = False) -> dict[str, Any] | None:
        """The accepted job (202); without an admin token --key's wallet may not cover it (402: a stop too)."""
        reply = self.client.send("POST", JOBS, key=None if bearer else self.key, body=body,
                                 headers={"authorization": f"Bearer {self.key}"} if bearer else None)
        self.last_wallet = reply.field("wallet") if reply.status in (202, 402) else None
        if reply.status == 402 and self.session.admin is None:
            self.payment_required(reply, self.prices[body["kind"], body["variant"]], None)
            self.session.report.cannot_verify(LAYER, "paid_job_tour", f"the wallet of --key could not pay for "
                                                                 f"{what}: what follows from it is not toured")
            return None
        if not self.stop(what, reply, {202}) or not isinstance(reply.field("id"), str):
            return None
        return reply.body

    def finish(self, job_ids: list[str]) -> dict[str, Reply]:
        """Wait until the jobs are final; their last answers (each a stop)."""
        last, unfinished = finish(self.client, self.waiter, self.key, job_ids)
        self.stop.ran("job_terminates", POLL)
        for reply in last.values():
            self.stop(f"polling a {reply.field('status')} job", reply, {200}, operation=POLL)
        if unfinished:
            self.session.queued.extend(unfinished)
            seen = ", ".join(f"{job_id} {_state(last.get(job_id))}" for job_id in unfinished)
            self.stop.fail("job_terminates", POLL, f"jobs {', '.join(unfinished)} did not finish within "
                                                   f"{self.waiter.how_long()}; last seen: {seen}",
                           last[unfinished[0]])
        return last

    def asset_of(self, job: dict[str, Any] | None, done: dict[str, Reply]) -> dict[str, Any] | None:
        """The asset of a job seen completed (kept for the gallery), once it declares its variant's size."""
        reply = done.get(job["id"]) if job is not None else None
        assets = reply.field("assets") if reply is not None and reply.field("status") == "completed" else None
        if job is None or reply is None or not isinstance(assets, list) or not assets or \
                not isinstance(assets[0], dict):
            return None
        self.assets[job["id"]] = asset = assets[0]
        self.stop.ran("asset_variant", POLL)
        problem = variant_problem(asset, job["kind"], job["variant"])
        if problem is not None:
            self.stop.fail("asset_variant", POLL, problem, reply)
        return asset

    def gallery(self) -> None:
        reply = self.client.send("GET", GALLERY, key=self.key, params={"limit": 1})
        if self.stop("a gallery page of one", reply, {200}, operation=LIST):
            self.same_assets(reply)
            cursor = reply.field("nextCursor")
            if not cursor:
                self.stop.fail("gallery_paging", LIST, "the wallet has several assets, yet a page of one "
                                                       "answers no nextCursor", reply)
            else:
                after = self.client.send("GET", GALLERY, key=self.key, params={"limit": 1, "cursor": cursor})
                if self.stop("the next gallery page", after, {200}, operation=LIST):
                    self.same_assets(after)
        reply = self.client.send("GET", GALLERY, key=self.key, params={"characterId": "char_mika"})
        if self.stop("one character's gallery", reply, {200}, operation=LIST):
            self.same_assets(reply)

    def same_assets(self, page: Reply) -> None:
        """Each item of a gallery page of a job the tour saw completed is that job's asset, field for field."""
        for item in page.field("items") or []:
            asset = self.assets.get(item.get("jobId")) if isinstance(item, dict) else None
            if asset is not None:
                self.stop.ran("gallery_fields", LIST)
            differences = gallery.differences(item, asset) if asset is not None else []
            if differences:
                self.stop.fail("gallery_fields", LIST, f"item {item.get('id')} is not the asset job "
                                                       f"{item.get('jobId')} answers: {'; '.join(differences)}", page)

    def short_wallet(self) -> None:
        """Without an admin token, a 402 only if --key's wallet is short of some price (the dearest job)."""
        wallet = self.last_wallet + self.refundable if isinstance(self.last_wallet, int) else None
        dearer = [kind for kind, price in self.prices.items() if wallet is not None and price > wallet]
        if not dearer:
            self.session.report.cannot_verify(LAYER, "payment_required", "the wallet of --key covers every price: "
                                                                    "the 402 is not toured")
            return
        kind, variant = max(dearer, key=lambda pair: self.prices[pair])
        body = (image_job(variant, CHARACTER) if kind == "image" else
                video_job(variant, CHARACTER, url=undecodable_url(self.session)))  # if taken, it fails: refunded
        self.payment_required(self.client.send("POST", JOBS, key=self.key, body=body), self.prices[kind, variant],
                              None)


def _state(reply: Reply | None) -> str:
    """A job as its last poll showed it: its status and progress, or what answered instead."""
    if reply is None:
        return "never answered"
    if reply.status != 200:
        return f"answered {reply.status}"
    progress = reply.field("progress")
    return f"{reply.field('status')}" + (f" at progress {progress:g}" if isinstance(progress, int | float) else "")
