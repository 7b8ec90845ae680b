"""AliveAI's tour: provoke each documented answer of the served operations once; `contracts.client` validates
every response strictly against the spec (the chat routes are not served yet: not toured).

Besides that validation, each stop checks that the answer is the documented one (`documented_status`), and:
- `problem_detail`: a 400 names the wrong field in `violations`; a 429 of a full queue says "Max pending
  creations"; a 405 has an `Allow` header naming the path's methods.
- `prompt_echo`: a prompt's container echoes the request that made it, in its route's field.
- `media_type`: a finished prompt holds medias of its route's kind.
- `media_format` / `media_size` / `media_duration` / `media_frame_rate`: each media is what the spec promises
  the request its container echoes (contracts/wire/aliveai_media.py): a PNG still of its `aspectRatio`'s size, an
  edit of its source's size (`edit-upscale` doubles it), an MP4 video of its source's aspect, length and frame
  rate.
- `asset_download` / `asset_content`: every URL of every answer (medias, catalogue pictures) downloads what the
  answer declares (contracts/wire/assets.py).
- `queue_removal`: a waiting prompt removed from the queue is gone (404), a running one stays.
- `prompt_deletion`: a deleted prompt answers 404, and its medias can no longer be named.
- `prompt_listing`: listing pages newest first, `pageSize` at a time, filtered by `promptType`.
- `blocking_answer`: with `x-aliveai-request-blocking: true` the answer waits for the finished container.
- `prompt_terminates`: every prompt finishes.

Every create route is toured once with valid references made on the way (an uploaded image; the video of a
finished image-to-video for the routes that edit a video; the tour's first prompt as `createdFromPromptId`).
With an admin token the tour makes its own users (one with credits for all of it, one without any for the 402,
another for the 404s of another user's ids), moves a virtual clock, fills the queue (429, removals) and tours an
expired token and a blocking answer; without one it spends about a hundred credits of --key's (one create per
route, at the mock's prices), waits in real time, and needs --second-key for another user's ids. The Bearer
scheme is toured with a login: --email/--password, or the login of a user the tour made.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

from contracts.apis import profile
from contracts.client import Reply
from contracts.machines.common import freeze_clock
from contracts.media import Media, read
from contracts.schema import METHODS, unchecked
from contracts.session import Session, login_reply, renew_login, token_of
from contracts.target import Token
from contracts.tours.common import LAYER, Stops
from contracts.wire.aliveai import (
    DELETE,
    FAR_SECONDS,
    GET_ME,
    GET_PENDING,
    LIST,
    ME,
    PENDING,
    POLL,
    PROMPTS,
    QUEUE,
    REMOVE,
    TOKEN_SECONDS,
    UNKNOWN,
    UPLOAD,
    UPLOAD_OP,
    References,
    Route,
    body_for,
    finish,
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

FIRST = "IMAGE_DEFAULT"  # createPrompt: needs no reference, so it comes first
ENHANCE = "EDIT_ENHANCE"  # a cheap route that names one media: for the 404s of references
TRAINED_FROM = "EDIT_IMPROVE_FACE"  # names a media and `createdFromPromptId`
VIDEO = "IMAGE_TO_VIDEO"
SOURCE = (64, 96)  # the uploaded picture every image edit starts from
ASPECT = {"aspectRatio": "LANDSCAPE"}  # the first prompt's: a size no default has
TOUR_CREDITS = 400  # covers one create per route, the removed ones again, at any plausible prices
BLOCKING = {"x-aliveai-request-blocking": "true"}
LOGIN = profile("aliveai").login
LOGIN_OP = "POST /members/login"
EXAMPLES = ("/prompts/websocket-example-prompt-event", "/prompts/websocket-example-user-event")  # ApiKeyScheme only


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
        self.stop = Stops(session, GET_ME, "problem_detail", lambda reply: reply.field("detail"))
        self.waiter = Waiter(session, FAR_SECONDS)
        self.routes = routes(session.target)
        self.key: str = session.target.key or ""  # a key, or a `Token`
        self.account = session.account  # the login of the user of `key`, if known
        self.other = session.target.second_key  # another user, if any
        self.broke: str | None = None  # a user without credits (admin)
        self.references = References()
        self.sent: dict[str, tuple[Route, dict[str, Any]]] = {}  # accepted prompts: their route and request
        self.outstanding: list[str] = []  # accepted, not seen finished yet
        self.finished: list[str] = []  # seen finished, in the order they were created
        self.results: dict[str, list[dict[str, Any]]] = {}  # their medias
        self.sources: dict[str, Media] = {}  # what the uploads and finished medias are, by media id
        self.full = False  # the queue was seen full (429) once

    def run(self) -> None:
        if self.session.admin is not None:
            self.own_users()
        self.authentication()
        self.routing()
        self.invalid()
        self.catalogue()
        if self.uploads():
            self.prompts()
        if self.session.admin is not None and self.account is not None:
            self.expiry()
        self.stop.summary()

    def own_users(self) -> None:
        """A user with credits for the tour, one without any (402), another (404s of another user's ids)."""
        admin = self.session.admin
        assert admin is not None
        tenant = admin.create_tenant("contract tour", TOUR_CREDITS)
        self.key, self.account = tenant["credentials"][0], tenant.get("account")
        self.other = admin.create_tenant("contract tour, another user", 10)["credentials"][0]
        self.broke = admin.create_tenant("contract tour, no credits", 0)["credentials"][0]

    # --- credentials ------------------------------------------------------------------------------------
    def authentication(self) -> None:
        me = self.client.send("GET", ME, key=self.key)
        self.stop("the current user", me, {200}, operation=GET_ME)
        logged_in = self.login(me) if self.account is not None else None
        # with a login's token for a credential, the user's key is the one the current user shows (if any)
        key, token = (me.field("apiKey"), self.key) if isinstance(self.key, Token) else (self.key, logged_in)
        for what, value in misuses(key if isinstance(key, str) else None, token).items():
            self.stop(what, self.client.send("GET", ME, key=None, headers={"authorization": value} if value else {}),
                      {401}, operation=GET_ME)
        first = self.routes[FIRST]
        self.stop("a create without credentials", self.client.send(
            "POST", first.path, key=None, body=body_for(first, References())), {401}, operation=first.operation)
        for example in EXAMPLES:
            if isinstance(key, str):
                self.stop("a websocket example with the key", self.client.send("GET", example, key=key), {200},
                          operation=f"GET {example}")
            if token is not None:
                self.stop("a websocket example with a Bearer token (it takes ApiKeyScheme only)",
                          self.client.send("GET", example, key=token), {401}, operation=f"GET {example}")
        if self.account is None:
            self.session.report.note(LAYER, "no login (--email/--password, or an admin token): the Bearer scheme "
                                            "and the 200 of POST /members/login are not toured")

    def login(self, me: Reply) -> Token | None:
        """The login's answers; its token, once shown to name the current user."""
        account = self.account
        assert account is not None and LOGIN is not None
        self.stop("a wrong password", login_reply(self.session.client, LOGIN, {**account, "password": "not-it"}), {401},
                  operation=LOGIN_OP)
        self.bad_request("a login without password", self.client.send(
            "POST", LOGIN.path, key=None, body={"email": account["email"]}), LOGIN_OP, "password")
        reply = login_reply(self.session.client, LOGIN, account)
        self.stop("a login", reply, {200}, operation=LOGIN_OP)
        token = token_of(reply, LOGIN)
        if token is None:
            return None
        self.session.transcript.masks[token] = "$TOKEN"
        mine = self.client.send("GET", ME, key=token)
        if self.stop("the current user with a Bearer token", mine, {200}, operation=GET_ME) and \
                mine.field("id") != me.field("id"):
            self.stop.fail("documented_status", GET_ME, f"the login's token names user {mine.field('id')!r}, the "
                                                        f"run's credential user {me.field('id')!r}", mine)
        return token

    def expiry(self) -> None:
        """A token is refused once its 24 hours have passed on the server's clock (the session's own login, if it
        has one, is then renewed)."""
        admin = self.session.admin
        assert admin is not None and self.account is not None and LOGIN is not None
        token = token_of(login_reply(self.session.client, LOGIN, self.account), LOGIN)
        if token is None:
            return
        self.session.transcript.masks[token] = "$TOKEN"
        admin.set_clock(advance_seconds=TOKEN_SECONDS + 1)
        self.stop("a token 24 hours after its login", self.client.send("GET", ME, key=token), {401},
                  operation=GET_ME)
        renew_login(self.session)

    # --- answers that cost nothing ------------------------------------------------------------------------
    def routing(self) -> None:
        reply = self.client.send("GET", "/no-such-route", key=self.key, validate=False)
        self.stop("an unknown path", reply, {404}, operation="GET /no-such-route")
        spec = self.session.target.document()
        for method, path in (("PUT", ME), ("DELETE", UPLOAD), ("POST", PENDING)):
            operation = f"{method} {path}"
            reply = self.client.send(method, path, key=self.key, validate=False)
            if not self.stop(f"{method} on a path that does not declare it", reply, {405}, operation=operation):
                continue
            allowed = {name.upper() for name in spec["paths"][path] if name in METHODS}
            self.stop.ran("problem_detail", operation)
            named = {part.strip().upper() for part in reply.headers.get("allow", "").split(",") if part.strip()}
            if not allowed <= named or named - allowed - {"HEAD", "OPTIONS"}:
                self.stop.fail("problem_detail", operation, f"Allow: {reply.headers.get('allow')!r}; the path has "
                                                            f"{', '.join(sorted(allowed))}", reply)

    def invalid(self) -> None:
        first = self.routes[FIRST]
        self.bad_request("a create without its required fields", self.client.send(
            "POST", first.path, key=self.key, body={}), first.operation, *first.schema.get("required", []))
        self.bad_request("malformed JSON", self.client.send("POST", first.path, key=self.key, raw=b'{"name": '),
                         first.operation)
        for what, params, field in (("a listing without page", {}, "page"),
                                    ("a page size over 20", {"page": 0, "pageSize": 21}, "pageSize")):
            self.bad_request(what, self.client.send("GET", PROMPTS, key=self.key, params=params), LIST, field)
        self.bad_request("a queue removal without promptId", self.client.send("DELETE", QUEUE, key=self.key),
                         REMOVE, "promptId")
        self.bad_request("an upload that is no picture", upload(self.client, self.key, b"not a picture"), UPLOAD_OP,
                         "image")

    def bad_request(self, what: str, reply: Reply, operation: str, *fields: str) -> None:
        if not self.stop(what, reply, {400}, operation=operation):
            return
        self.stop.ran("problem_detail", operation)
        named = {violation.get("field") for violation in reply.field("violations") or []
                 if isinstance(violation, dict)}
        missing = [field for field in fields if field not in named]
        if missing:
            self.stop.fail("problem_detail", operation, f"{what}: the 400's violations name "
                                                        f"{sorted(map(str, named))}, not {missing}", reply)

    def catalogue(self) -> None:
        """Every served GET that takes no required parameter answers 200."""
        skipped = set(unchecked(self.session.target, profile(self.session.target.api)))
        for path, item in self.session.target.document()["paths"].items():
            operation, label = item.get("get"), f"GET {path}"
            if operation is None or label in skipped or "{" in path or path in (ME, PENDING, *EXAMPLES) or any(
                    "$ref" in parameter or parameter.get("required") for parameter in operation.get("parameters", [])):
                continue
            self.stop("a list", self.client.send("GET", path, key=self.key), {200}, operation=label)

    # --- prompts ------------------------------------------------------------------------------------------
    def uploads(self) -> bool:
        picture = png(*SOURCE)
        reply = upload(self.client, self.key, picture)
        if not self.stop("an uploaded PNG", reply, {200}, operation=UPLOAD_OP):
            return False
        if reply.field("mediaType") != "IMAGE":
            self.stop.fail("media_type", UPLOAD_OP, f"an uploaded PNG: {reply.text[:200]}", reply)
        self.references = References(image=str(reply.field("mediaId")))
        self.sources[str(reply.field("mediaId"))] = read(picture)
        return True

    def prompts(self) -> None:
        first = self.create(self.routes[FIRST], ASPECT)
        if first is None:
            return
        self.references = replace(self.references, prompt=first)
        self.unfinished(first)
        self.foreign(first)
        for what, operation, method in (("an unknown prompt", POLL, "GET"), ("deleting an unknown prompt", DELETE,
                                                                              "DELETE")):
            self.stop(what, self.client.send(method, prompt_path(UNKNOWN), key=self.key), {404}, operation=operation)
        self.batch([route for route in self.routes.values() if route.source != "VIDEO" and route.prompt_type != FIRST])
        videos = [media["id"] for prompt_id in self.finished for media in self.results[prompt_id]
                  if media.get("mediaType") == "VIDEO" and "id" in media]
        if videos:
            self.references = replace(self.references, video=videos[0])
            self.batch([route for route in self.routes.values() if route.source == "VIDEO"])
        else:
            self.session.report.cannot_verify(LAYER, "video_routes", "no video finished: the routes that edit one "
                                                                "were not toured")
        if not self.full:
            self.session.report.cannot_verify(LAYER, "queue_full", "the queue was never full: the 429 and removals "
                                                              "from the queue were not toured")
        self.listing()
        self.deletion(first)
        self.payment_required()
        if self.session.admin is not None:
            self.blocking()

    def create(self, route: Route, options: dict[str, Any] | None = None) -> str | None:
        body = {**body_for(route, self.references), **(options or {})}
        reply = self.client.send("POST", route.path, key=self.key, body=body)
        if reply.status == 429:  # the queue is full: the first time toured, then drained; and once more
            if self.full:
                self.settle()
            else:
                self.queue_full(route, reply)
            reply = self.client.send("POST", route.path, key=self.key, body=body)
        if not self.stop(f"a valid {route.prompt_type} create", reply, {200}, operation=route.operation) or \
                not isinstance(reply.field("promptId"), str):
            return None
        prompt_id = str(reply.field("promptId"))
        self.sent[prompt_id] = (route, body)
        self.outstanding.append(prompt_id)
        return prompt_id

    def batch(self, batch: list[Route]) -> None:
        for route in batch:
            self.create(route)
        self.settle()

    def unfinished(self, prompt_id: str) -> None:
        reply = self.client.send("GET", prompt_path(prompt_id), key=self.key)
        self.stop("a prompt just created", reply, {200}, operation=POLL)
        if reply.status == 200 and not medias(reply):
            self.stop("deleting an unfinished prompt", self.client.send(
                "DELETE", prompt_path(prompt_id), key=self.key), {409}, operation=DELETE)

    def foreign(self, prompt_id: str) -> None:
        """Another user's ids name nothing of one's own: 404 (nothing is charged)."""
        if self.other is None:
            self.session.report.cannot_verify(LAYER, "tenant_isolation", "no --second-key: the 404s of another "
                                                                    "user's ids are not toured")
            return
        for what, method, operation in (("another user's prompt", "GET", POLL),
                                        ("deleting another user's prompt", "DELETE", DELETE)):
            self.stop(what, self.client.send(method, prompt_path(prompt_id), key=self.other), {404},
                      operation=operation)
        theirs = upload(self.client, self.other, png(32, 32)).field("mediaId")
        for what, route, references in (
                ("another user's media as mediaId", ENHANCE, self.references),
                ("another user's prompt as createdFromPromptId", TRAINED_FROM,
                 References(image=str(theirs), prompt=prompt_id))):
            body = body_for(self.routes[route], references)
            self.stop(what, self.client.send("POST", self.routes[route].path, key=self.other, body=body), {404},
                      operation=self.routes[route].operation)

    def queue_full(self, route: Route, reply: Reply) -> None:
        """The first 429: its detail, the full queue, a removal of a waiting prompt (then created again) and of
        the running one; then the queue is drained."""
        self.full = True
        self.stop.ran("problem_detail", route.operation)  # its caller saw the 429
        if self.stop("a create with a full queue", reply, {429}, operation=route.operation) and not too_many(reply):
            self.stop.fail("problem_detail", route.operation, f"the 429 of a full queue says \"Max pending "
                                                              f"creations\": {reply.text[:200]}", reply)
        queue, answer = pending(self.client, self.key)
        self.stop("a full queue", answer, {200}, operation=GET_PENDING)
        waiting = [str(item.get("promptId")) for item in queue or [] if item.get("queuePosition") != 0]
        running = [str(item.get("promptId")) for item in queue or [] if item.get("queuePosition") == 0]
        if running:
            self.removal(running[0], gone=False)
        if waiting and self.removal(waiting[-1], gone=True) and waiting[-1] in self.sent:
            self.outstanding.remove(waiting[-1])
            self.settle()
            self.create(self.sent.pop(waiting[-1])[0])
        self.settle()

    def removal(self, prompt_id: str, gone: bool) -> bool:
        """Remove a prompt from the queue; whether it is gone since."""
        what = "a waiting prompt" if gone else "the running prompt"
        self.stop(f"removing {what} from the queue", self.client.send(
            "DELETE", QUEUE, key=self.key, params={"promptId": prompt_id}), {204}, operation=REMOVE)
        after = self.client.send("GET", prompt_path(prompt_id), key=self.key)
        # on real time a waiting prompt may have started meanwhile: then it stays
        if not gone or self.session.admin is not None:
            self.stop.ran("queue_removal", REMOVE)
        if (after.status == 404) != gone and (not gone or self.session.admin is not None):
            self.stop.fail("queue_removal", REMOVE, f"after removing {what} {prompt_id}, GET answered "
                                                    f"{after.status}: a waiting prompt is gone, a running one stays",
                           after)
        return after.status == 404

    def settle(self) -> None:
        """Let the outstanding prompts finish; judge each one's container and medias."""
        ids, self.outstanding = self.outstanding, []
        last, unfinished = finish(self.client, self.waiter, self.key, ids)
        for prompt_id in ids:
            self.stop.ran("prompt_terminates", POLL)
            reply = last[prompt_id]
            if self.stop("a finished prompt", reply, {200}, operation=POLL) and prompt_id not in unfinished:
                self.finished.append(prompt_id)
                self.results[prompt_id] = medias(reply)
                self.judge(prompt_id, reply)
        if unfinished:
            self.stop.fail("prompt_terminates", POLL, f"prompts {', '.join(unfinished)} did not finish within "
                                                      f"{self.waiter.how_long()}", last[unfinished[0]])

    def judge(self, prompt_id: str, reply: Reply) -> None:
        route, body = self.sent[prompt_id]
        echo = reply.field(route.container_field)
        if reply.field("promptId") != prompt_id or not isinstance(echo, dict) or \
                any(echo.get(name) != value for name, value in body.items()):
            self.stop.fail("prompt_echo", POLL, f"a {route.prompt_type} prompt's container echoes its request "
                                                f"{body} in {route.container_field!r}: {reply.text[:300]}", reply)
        source = self.sources.get(str(body.get("mediaId")))
        promised = promise(route, echo if isinstance(echo, dict) else {}, source)
        for item in medias(reply):
            if item.get("mediaType") != route.media_type:
                self.stop.fail("media_type", POLL, f"a {route.prompt_type} prompt ({route.media_type}) holds a "
                                                   f"{item.get('mediaType')} media", reply)
            found = self.client.inspector.media(item.get("mediaUrl"))  # judged as the answer came (asset_content)
            if found is None or found.problem is not None:
                continue
            self.sources[str(item.get("id"))] = found
            for check in promised.checks if promised is not None else ():
                self.stop.ran(check, POLL)
            for check, message in promised.broken_by(found) if promised is not None else []:
                self.stop.fail(check, POLL, f"media {item.get('id')} of a {route.prompt_type} prompt "
                                            f"({item.get('mediaUrl')}): {message}", reply)

    def listing(self) -> None:
        """Pages of one, newest first; a promptType filter; a page past the end."""
        newest = [prompt_id for prompt_id in reversed(list(self.sent)) if prompt_id in self.finished]
        pages = [self.client.send("GET", PROMPTS, key=self.key, params={"page": page, "pageSize": 1})
                 for page in (0, 1)]
        for page, reply in enumerate(pages):
            if not self.stop(f"listing page {page} of one", reply, {200}, operation=LIST):
                return
            self.stop.ran("prompt_listing", LIST)
            listed = [item.get("promptId") for item in reply.field("prompts") or [] if isinstance(item, dict)]
            if listed != newest[page:page + 1] or reply.field("hasNextPage") is not (len(newest) > page + 1) and \
                    self.session.admin is not None:
                self.stop.fail("prompt_listing", LIST, f"page {page} of one lists {listed} (hasNextPage "
                                                       f"{reply.field('hasNextPage')}); newest first, the finished "
                                                       f"prompts are {newest}", reply)
        video = self.routes[VIDEO]
        reply = self.client.send("GET", PROMPTS, key=self.key, params={"page": 0, "promptType": VIDEO})
        if self.stop("listing one promptType", reply, {200}, operation=LIST):
            strays = [item.get("promptId") for item in reply.field("prompts") or []
                      if isinstance(item, dict) and video.container_field not in item]
            if strays:
                self.stop.fail("prompt_listing", LIST, f"filtered by promptType {VIDEO}, it lists {strays}", reply)
        reply = self.client.send("GET", PROMPTS, key=self.key, params={"page": 10**6})
        if self.stop("a page past the end", reply, {200}, operation=LIST) and reply.field("prompts"):
            self.stop.fail("prompt_listing", LIST, "a page past the end lists prompts", reply)

    def deletion(self, prompt_id: str) -> None:
        """A finished prompt is deleted: then it answers 404 and its medias name nothing."""
        if prompt_id not in self.finished:
            return
        self.stop("deleting a finished prompt", self.client.send("DELETE", prompt_path(prompt_id), key=self.key),
                  {204}, operation=DELETE)
        after = self.client.send("GET", prompt_path(prompt_id), key=self.key)
        self.stop.ran("prompt_deletion", DELETE)
        if not self.stop("a deleted prompt", after, {404}, operation=POLL):
            self.stop.fail("prompt_deletion", DELETE, f"a deleted prompt answers {after.status}", after)
        self.stop("deleting it again", self.client.send("DELETE", prompt_path(prompt_id), key=self.key), {404},
                  operation=DELETE)
        route = self.routes[ENHANCE]
        for media in self.results[prompt_id][:1]:
            body = body_for(route, replace(self.references, image=str(media.get("id"))))
            reply = self.client.send("POST", route.path, key=self.key, body=body)
            if not self.stop("a deleted prompt's media as mediaId", reply, {404}, operation=route.operation):
                self.stop.fail("prompt_deletion", DELETE, "a deleted prompt's media can still be named", reply)
                self.outstanding.append(str(reply.field("promptId")))
                self.settle()

    def payment_required(self) -> None:
        if self.broke is None:
            self.session.report.cannot_verify(LAYER, "payment_required", "no --admin-token: the 402 is not toured "
                                                                    "(it needs a user without credits)")
            return
        first = self.routes[FIRST]
        reply = self.client.send("POST", first.path, key=self.broke, body=body_for(first, References()))
        self.stop("a create without credits", reply, {402}, operation=first.operation)
        queue, answer = pending(self.client, self.broke)
        self.stop.ran("payment_required", GET_PENDING)
        if self.stop("the queue after a 402", answer, {200}, operation=GET_PENDING) and queue:
            self.stop.fail("payment_required", GET_PENDING, f"a 402 queued {queue}", answer)

    def blocking(self) -> None:
        """`x-aliveai-request-blocking: true` holds the answer until the prompt is finished (a virtual clock is
        moved while it waits)."""
        first = self.routes[FIRST]
        held: list[Reply] = []
        sender = threading.Thread(target=lambda: held.append(self.client.send(
            "POST", first.path, key=self.key, body=body_for(first, References()), headers=BLOCKING)))
        sender.start()
        admin = self.session.admin
        assert admin is not None
        for _ in range(50):  # until the answer comes (the clock is moved in steps, the prompt may wait its turn)
            sender.join(0.1)
            if not sender.is_alive():
                break
            admin.set_clock(advance_seconds=FAR_SECONDS)
        sender.join(self.session.target.timeout)
        if not held or not self.stop("a blocking create", held[0], {200}, operation=first.operation):
            return
        self.stop.ran("blocking_answer", first.operation)
        container = held[0].field("promptContainer")
        if not isinstance(container, dict) or not container.get("medias"):
            self.stop.fail("blocking_answer", first.operation, f"a blocking create answers the finished "
                                                               f"promptContainer: {held[0].text[:300]}", held[0])
