"""Where two runs of the same seed, one against the target and one against genmock, part (`genmock check
--compare-with-mock`, contracts.differential).

Pairing. The schema layer draws the same cases from the same seed and the tours are scripted, so their requests
pair up one to one; the state machines choose steps from answers, so theirs pair as far as the two servers
answered alike. A request of the target run pairs with the first unpaired request of the genmock run in the same
layer that has the same method, path, query, body and credential (by the order in which the run first had each
accepted; every refused one counts as one), after three substitutions: each id the target answered is replaced by
the one genmock answered at the same place of the same paired answer (a key named `id`, `...Id`, `...Cursor`,
`...Token`, unless the client had sent that value), each server's base URL by a placeholder, and each run of 8
or more lowercase hex digits (the suite's per-run nonce in characterIds and keys) by `#`. Values are never
compared, only what does not depend on ids:

- status: the paired answers' status codes;
- shape: with the same status, the JSON bodies' fields (present on one side only), their JSON types, and array
  lengths (in what a GET answers only with `lengths`, both runs started from nothing: a list there shows what a
  wallet held before the run); an object whose `status` field differs on the two sides (a job seen queued on one,
  completed on the other) is not compared;
- money: the balance change each paid request caused, from the balances the API shows (`BALANCES`): the balance
  seen before it minus the one seen after, plus the refunds of jobs seen failed in between (unknown when a
  refund may or may not have landed in between, or the request went out with others).

Requests left unpaired, and those sent while others were (a concurrency property's), are compared in aggregate:
their answers' statuses counted per operation. A different status class or money moved differently on a paired
request matters (fails the run); every other difference is reported only.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from contracts.client import KeyScheme
from contracts.exchanges import Exchange

STATUS, SHAPE, MONEY, COUNTS = "status", "shape", "money", "counts"
# where each API shows a wallet's balance: {operation: field of its answer}
BALANCES = {"lovlychat": {"POST /v1/generation/jobs": "wallet"},
            "aliveai": {"GET /members/me": "credits"},
            "lucydream": {"POST /wp-json/apiservices/v1/generate": "balance"}}
CLAIMED_COST = {"lovlychat": "cost"}  # the field of a paid answer that says what it cost
FAILED = "failed"  # a job's status once it failed (and was refunded)
HEX_RUN = re.compile(r"[0-9a-f]{8,}")
LONG_ID = 8  # ids at least this long are also replaced inside other strings (URLs, cursors)
ID_SUFFIXES = ("Id", "_id", "Ids", "_ids", "Cursor", "_cursor", "Token", "_token")


@dataclass(frozen=True)
class Difference:
    kind: str  # STATUS | SHAPE | MONEY | COUNTS
    layer: str
    operation: str
    what: str  # "status", "202 body.wallet", "money moved", "answers not paired one to one"
    target: str  # what the target did
    mock: str  # what genmock did
    matters: bool  # fails the run
    count: int = 1  # requests that differed so
    example: str = ""  # the first such request of the target run: "METHOD /path?query"


@dataclass
class Comparison:
    differences: list[Difference] = field(default_factory=list)
    paired: int = 0
    target_only: int = 0
    mock_only: int = 0
    ids: int = 0  # ids mapped from the target's to genmock's
    money_compared: int = 0
    money_unknown: Counter[str] = field(default_factory=Counter)  # paid pairs whose move one side cannot tell, why

    @property
    def matters(self) -> list[Difference]:
        return [difference for difference in self.differences if difference.matters]

    def to_dict(self) -> dict[str, Any]:
        return {"paired": self.paired, "target_only": self.target_only, "mock_only": self.mock_only,
                "ids_mapped": self.ids, "money_compared": self.money_compared,
                "money_not_compared": dict(self.money_unknown), "matter": len(self.matters),
                "items": [asdict(difference) for difference in self.differences]}


@dataclass(frozen=True)
class Side:
    """One run: its exchanges, its server's base URL and the opening balances it knows, by credential."""

    exchanges: list[Exchange]
    root: str
    opening: Mapping[str, float] = field(default_factory=dict)


def compare(api: str, scheme: KeyScheme, paid: set[str], target: Side, mock: Side, lengths: bool) -> Comparison:
    """Pair the two runs' exchanges and list where they differ."""
    comparison = Comparison()
    pairs, ids = _pair(target, mock, scheme)
    comparison.paired, comparison.ids = len(pairs), len(ids)
    busy = [_concurrent(side.exchanges) for side in (target, mock)]
    moved = [_money(api, scheme, paid, side, concurrent) for side, concurrent in zip((target, mock), busy, strict=True)]
    found: dict[tuple[str, ...], Difference] = {}
    aggregate: dict[tuple[str, str], tuple[Counter[int], Counter[int]]] = defaultdict(lambda: (Counter(), Counter()))
    for i, j in pairs:
        mine, theirs = target.exchanges[i], mock.exchanges[j]
        if i in busy[0] or j in busy[1]:
            aggregate[mine.layer, mine.operation][0][mine.status] += 1
            aggregate[mine.layer, mine.operation][1][theirs.status] += 1
            continue
        for difference in _differences(mine, theirs, lengths):
            _add(found, difference)
        if mine.operation in paid:
            _compare_money(comparison, found, mine, moved[0].get(i), moved[1].get(j))
    paired = [{i for i, _ in pairs}, {j for _, j in pairs}]
    for side, (exchanges, seen) in enumerate(((target.exchanges, paired[0]), (mock.exchanges, paired[1]))):
        for index, exchange in enumerate(exchanges):
            if index not in seen:
                aggregate[exchange.layer, exchange.operation][side][exchange.status] += 1
    comparison.target_only = len(target.exchanges) - len(pairs)
    comparison.mock_only = len(mock.exchanges) - len(pairs)
    for (layer, operation), (mine_counted, theirs_counted) in sorted(aggregate.items()):
        if mine_counted != theirs_counted:
            _add(found, Difference(COUNTS, layer, operation, "answers not paired one to one", _counted(mine_counted),
                                   _counted(theirs_counted), False))
    comparison.differences = sorted(found.values(), key=lambda each: (not each.matters, each.operation, each.kind,
                                                                      each.layer, each.what))
    return comparison


def _add(found: dict[tuple[str, ...], Difference], difference: Difference) -> None:
    key = (difference.kind, difference.layer, difference.operation, difference.what, difference.target,
           difference.mock)
    known = found.get(key)
    found[key] = difference if known is None else \
        Difference(*key[:6], known.matters, known.count + difference.count, known.example)


def _counted(statuses: Counter[int]) -> str:
    return ", ".join(f"{status}x{count}" for status, count in sorted(statuses.items())) or "none"


def _differences(mine: Exchange, theirs: Exchange, lengths: bool) -> Iterable[Difference]:
    example = f"{mine.method} {mine.path}{'?' + mine.query if mine.query else ''}"
    if mine.status != theirs.status:
        yield Difference(STATUS, mine.layer, mine.operation, STATUS, str(mine.status), str(theirs.status),
                         mine.status // 100 != theirs.status // 100, example=example)
        return
    if mine.media_type != theirs.media_type:
        yield Difference(SHAPE, mine.layer, mine.operation, f"{mine.status} content-type", mine.media_type or "none",
                         theirs.media_type or "none", False, example=example)
        return
    shapes: dict[tuple[str, str, str], None] = {}
    # a list's length depends on what the wallet held before the run: compared in what a GET answers only when
    # both runs started from nothing
    _shapes(mine.answer, theirs.answer, "body", shapes, lengths or mine.method != "GET")
    for where, target, mock in shapes:
        yield Difference(SHAPE, mine.layer, mine.operation, f"{mine.status} {where}", target, mock, False,
                         example=example)


def _shapes(mine: Any, theirs: Any, where: str, found: dict[tuple[str, str, str], None], lengths: bool) -> None:
    """(where, the target's, genmock's) of each way two JSON values differ in shape."""
    kinds = _kind(mine), _kind(theirs)
    if kinds[0] != kinds[1]:
        found[where, *kinds] = None
    elif isinstance(mine, dict):
        if "status" in mine and "status" in theirs and mine["status"] != theirs["status"]:
            return  # not the same state: what its fields are may rightly differ
        for name in sorted(mine.keys() | theirs.keys()):
            if name not in theirs or name not in mine:
                found[f"{where}.{name}", _kind(mine.get(name, _ABSENT)), _kind(theirs.get(name, _ABSENT))] = None
            else:
                _shapes(mine[name], theirs[name], f"{where}.{name}", found, lengths)
    elif isinstance(mine, list):
        if lengths and len(mine) != len(theirs):
            found[where, f"{len(mine)} items", f"{len(theirs)} items"] = None
        for one, other in zip(mine, theirs, strict=False):
            _shapes(one, other, f"{where}[]", found, lengths)


_ABSENT = object()


def _kind(value: Any) -> str:
    if value is _ABSENT:
        return "absent"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _compare_money(comparison: Comparison, found: dict[tuple[str, ...], Difference], mine: Exchange,
                   target: float | str | None, mock: float | str | None) -> None:
    if isinstance(target, float) and isinstance(mock, float):
        comparison.money_compared += 1
        if not math.isclose(target, mock, abs_tol=1e-6):
            paid_for = mine.body[:200].decode("utf-8", "replace")
            example = f"{mine.method} {mine.path} {paid_for}".rstrip()
            _add(found, Difference(MONEY, mine.layer, mine.operation, "money moved", f"{target:g}", f"{mock:g}",
                                   True, example=example))
        return
    reasons = [f"{side}: {reason}" for side, reason in (("target", target), ("genmock", mock))
               if isinstance(reason, str)]
    if reasons:  # (neither: a request without credentials, which spends no wallet)
        comparison.money_unknown[reasons[0]] += 1


# --- pairing ------------------------------------------------------------------------------------------------


class _Normalized:
    """A run's requests as what does not depend on the run: its server's URL, its ids (mapped to the other run's
    where known), the suite's nonce, which credential in order of first use."""

    def __init__(self, root: str, scheme: KeyScheme, exchanges: list[Exchange]) -> None:
        self.root = root
        self.scheme = scheme
        self.ids: dict[str, str] = {}
        self.sent: set[str] = set()  # every string the run's requests carried so far: values the client chose
        # the credentials some request was accepted with, in the order the run first used them (the others, e.g.
        # schemathesis' made-up ones, are all one: how many it makes is no business of the server's)
        accepted = (credential_of(exchange, scheme) for exchange in exchanges if 200 <= exchange.status < 300)
        self._credentials = {credential: order for order, credential in enumerate(dict.fromkeys(accepted), 1)}

    def signature(self, exchange: Exchange) -> tuple[Any, ...]:
        order = self._credentials.get(credential_of(exchange, self.scheme), 0)
        query = tuple((name, self.text(value)) for name, value in parse_qsl(exchange.query, keep_blank_values=True))
        path = "/".join(self.text(segment) for segment in exchange.path.split("/"))
        return exchange.layer, exchange.method, path, query, self.body(exchange), order

    def text(self, value: str) -> str:
        self.sent.add(value)
        value = self.ids.get(value, value)
        for known in (known for known in self.ids if len(known) >= LONG_ID and known in value):
            value = value.replace(known, self.ids[known])
        return HEX_RUN.sub("#", value.replace(self.root, "{root}"))

    def body(self, exchange: Exchange) -> str:
        if not exchange.body:
            return ""
        content_type = exchange.headers.get("content-type", "")
        raw = exchange.body
        if "boundary=" in content_type:  # a multipart form: its boundary is random
            raw = raw.replace(content_type.split("boundary=", 1)[1].strip('"').encode(), b"B")
        try:
            text = json.dumps(self._value(json.loads(raw)), sort_keys=True)
        except (ValueError, UnicodeDecodeError):
            text = self.text(raw.decode("latin-1"))
        return hashlib.sha1(text.encode("utf-8", "replace")).hexdigest()

    def _value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, dict):
                return {name: self._value(item) for name, item in value.items()}
            return [self._value(item) for item in value] if isinstance(value, list) else value
        self.sent.add(str(value))
        mapped = self.ids.get(str(value))
        return int(mapped) if mapped is not None and mapped.isdigit() else value


def _pair(target: Side, mock: Side, scheme: KeyScheme) -> tuple[list[tuple[int, int]], dict[str, str]]:
    """(target index, genmock index) of each pair, in the target's order; the ids mapped."""
    theirs = _Normalized(mock.root, scheme, mock.exchanges)
    waiting: dict[tuple[Any, ...], deque[int]] = defaultdict(deque)
    for index, exchange in enumerate(mock.exchanges):
        waiting[theirs.signature(exchange)].append(index)
    mine = _Normalized(target.root, scheme, target.exchanges)
    pairs = []
    for index, exchange in enumerate(target.exchanges):
        queue = waiting.get(mine.signature(exchange))
        if queue:
            other = queue.popleft()
            pairs.append((index, other))
            _learn(exchange.answer, mock.exchanges[other].answer, mine, "")
    return pairs, mine.ids


def _learn(mine: Any, theirs: Any, normalized: _Normalized, name: str) -> None:
    """Map each id the target made, in its answer, to the one genmock made at the same place (first seen, first
    kept: a list whose order rests on the ids themselves may pair other items later)."""
    if isinstance(mine, dict) and isinstance(theirs, dict):
        for key in mine.keys() & theirs.keys():
            _learn(mine[key], theirs[key], normalized, key)
    elif isinstance(mine, list) and isinstance(theirs, list):
        for one, other in zip(mine, theirs, strict=False):
            _learn(one, other, normalized, name)
    elif (name in ("id", "cursor", "token") or name.endswith(ID_SUFFIXES)) and mine != theirs and \
            type(mine) is type(theirs) and isinstance(mine, str | int) and not isinstance(mine, bool) and \
            str(mine) not in normalized.sent:  # (a value the client sent, e.g. a characterId, is no server's id)
        normalized.ids.setdefault(str(mine), str(theirs))


def credential_of(exchange: Exchange, scheme: KeyScheme) -> str | None:
    """The key (or bearer token) a request presented: the wallet it spends."""
    if scheme.header is not None:
        value = exchange.headers.get(scheme.header.lower())
        if value is not None:
            return value.removeprefix(scheme.prefix) if scheme.prefix else value
    authorization = exchange.headers.get("authorization", "")
    return authorization[7:] if authorization[:7].lower() == "bearer " else None


# --- money --------------------------------------------------------------------------------------------------


def balance_shown(api: str, exchange: Exchange) -> float | None:
    """The wallet's balance an answer shows (after the request), if the API shows it there."""
    name = BALANCES.get(api, {}).get(exchange.operation)
    if name is None or not (200 <= exchange.status < 300 or exchange.status == 402) or \
            not isinstance(exchange.answer, dict):
        return None
    value = exchange.answer.get(name)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def opening_balance(api: str, scheme: KeyScheme, paid: set[str], exchanges: list[Exchange],
                    credential: str) -> float | None:
    """A wallet's balance before a run, from the first answer of the run that shows it: a paid request's balance
    after plus what the answer says it cost, or the balance of an answer that moved nothing."""
    for exchange in exchanges:
        if credential_of(exchange, scheme) != credential:
            continue
        shown = balance_shown(api, exchange)
        if shown is None:
            if exchange.operation in paid and 200 <= exchange.status < 300:
                return None  # it may have moved the balance before any was seen
            continue
        if not 200 <= exchange.status < 300 or exchange.operation not in paid:
            return shown
        cost = exchange.answer.get(CLAIMED_COST.get(api, ""))
        return shown + cost if isinstance(cost, int | float) and not isinstance(cost, bool) else None
    return None


def _money(api: str, scheme: KeyScheme, paid: set[str], side: Side, busy: set[int]) -> dict[int, float | str]:
    """For each paid request, the balance change it caused (what the wallet held before it minus after it, plus
    the refunds of failed jobs that landed meanwhile), or why that cannot be told (`busy`: the requests sent while
    others were)."""
    exchanges = side.exchanges
    refunds = _refunds(scheme, paid, exchanges)
    last: dict[str, tuple[float, int]] = {credential: (balance, -1) for credential, balance in side.opening.items()}
    waiting: dict[str, list[int]] = defaultdict(list)
    moved: dict[int, float | str] = {}
    for index, exchange in enumerate(exchanges):
        credential = credential_of(exchange, scheme)
        if credential is None:
            continue
        if exchange.operation in paid:
            waiting[credential].append(index)
        shown = balance_shown(api, exchange)
        if shown is None:
            continue
        pending, before = waiting.pop(credential, []), last.get(credential)
        last[credential] = (shown, index)
        if not pending:
            continue
        # what moved since the last balance seen is the last paid request's, with what those before it moved
        # (refused ones, which should have moved nothing, or AliveAI's creates before a look at the credits)
        moved.update(dict.fromkeys(pending[:-1], "counted with the next paid request"))
        if before is None:
            moved[pending[-1]] = "no balance seen before it"
        elif index in busy or any(each in busy for each in pending):
            moved[pending[-1]] = "sent while other requests were"
        else:
            refunded = _refunded(refunds.get(credential, []), before[1], index)
            moved[pending[-1]] = "a refund may have landed meanwhile" if refunded is None else \
                before[0] - shown + refunded
    for pending in waiting.values():
        moved.update(dict.fromkeys(pending, "no balance seen after it"))
    return moved


def _refunds(scheme: KeyScheme, paid: set[str], exchanges: list[Exchange]) -> dict[str, list[tuple[int, int, Any]]]:
    """Per wallet, (accepted, seen failed, refunded) of each job seen failed: its refund landed in between."""
    accepted: dict[str, tuple[str, int]] = {}
    refunds: dict[str, list[tuple[int, int, Any]]] = defaultdict(list)
    for index, exchange in enumerate(exchanges):
        answer = exchange.answer
        job = answer.get("id") if isinstance(answer, dict) else None
        if not isinstance(job, str):
            continue
        credential = credential_of(exchange, scheme)
        if exchange.operation in paid and 200 <= exchange.status < 300 and credential is not None:
            accepted.setdefault(job, (credential, index))
        elif job in accepted and answer.get("status") == FAILED:
            credential, started = accepted.pop(job)
            refunds[credential].append((started, index, answer.get("refunded")))
    return refunds


def _refunded(refunds: list[tuple[int, int, Any]], before: int, after: int) -> float | None:
    """What the refunds landing between two answers (indexes) returned; None when one may or may not have."""
    total = 0.0
    for started, seen, amount in refunds:
        if seen <= before or started >= after:
            continue  # before or after the interval
        if started < before or seen > after or not isinstance(amount, int | float):
            return None
        total += amount
    return total


def _concurrent(exchanges: list[Exchange]) -> set[int]:
    """The exchanges sent while another was under way."""
    timed = sorted((exchange.started, exchange.ended, index) for index, exchange in enumerate(exchanges)
                   if exchange.ended > 0)
    found = {index for index, exchange in enumerate(exchanges) if exchange.together}
    latest, latest_index = -math.inf, -1
    for started, ended, index in timed:
        if started < latest:
            found.update((index, latest_index))
        if ended > latest:
            latest, latest_index = ended, index
    return found
