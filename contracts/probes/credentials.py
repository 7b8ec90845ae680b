"""Where a spec's credentials go (`components.securitySchemes`: the header or query parameter, the scheme word,
whether it carries an API key or a login's token) and the near misses of a valid credential that an operation
requiring one must refuse.

Nothing here is a refusal the spec does not ask for: a scheme word in another letter case (RFC 9110: scheme
names are case-insensitive), header names in another case, every declared way of sending a key, and extra
spaces after the scheme word are all accepted ways of presenting a valid credential, so none is a near miss.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from contracts.client import CREDENTIAL_PREFIX

KEY, TOKEN = "key", "token"  # what a presentation carries: an API key, or the token a login answered
SCHEME_WORDS = ("Basic", "Bearer", "Key", "Token")
# where clients commonly put keys; a name the spec declares for a credential (in any case) is left out
UNDECLARED_HEADERS = ("X-API-Key", "Api-Key", "X-Auth-Token", "Authorization")
QUERY_NAMES = ("api_key", "apiKey", "key", "token", "access_token")
TOKEN_QUERY_NAMES = ("token", "access_token")  # where websockets and OAuth clients put tokens
UUID = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")


@dataclass(frozen=True)
class Presentation:
    """One declared way of sending a credential."""

    scheme: str  # the spec's name of the scheme
    location: str  # "header" | "query"
    name: str  # the header's or the query parameter's name
    prefix: str  # what the value starts with: "Bearer ", "Key ", ""
    takes: str  # KEY | TOKEN

    def word(self) -> str:
        return self.prefix.strip().lower()


@dataclass(frozen=True)
class NearMiss:
    """A request's credentials that must be refused, and what they are."""

    what: str
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    # an altered secret and the shell expression a reproduction shows for it (e.g. "${KEY%?}x"), only while
    # this near miss is recorded: the altered text may be part of other text
    shown: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Secrets:
    """The credentials the probes start from (None: not known to the run)."""

    key: str | None  # the run's API key
    token: str | None = None  # a login's token of the same user
    other_key: str | None = None  # another tenant's key
    other_token: str | None = None  # another tenant's token
    admin: str | None = None  # the admin token

    def of(self, kind: str) -> str | None:
        return self.key if kind == KEY else self.token


def presentations(document: dict[str, Any], logins: bool) -> list[Presentation]:
    """Every header or query credential the spec declares. A bearer scheme carries a login's token where the API
    has logins and the scheme says `bearerFormat: JWT`, else the API key."""
    found = []
    for name, scheme in document.get("components", {}).get("securitySchemes", {}).items():
        if scheme.get("type") == "http" and str(scheme.get("scheme", "")).lower() == "bearer":
            takes = TOKEN if logins and str(scheme.get("bearerFormat", "")).upper() == "JWT" else KEY
            found.append(Presentation(name, "header", "Authorization", "Bearer ", takes))
        elif scheme.get("type") == "apiKey" and scheme.get("in") in ("header", "query"):
            found.append(Presentation(name, scheme["in"], str(scheme["name"]), str(scheme.get(CREDENTIAL_PREFIX, "")),
                                      KEY))
    return found


def accepted(document: dict[str, Any], operation: dict[str, Any]) -> frozenset[str] | None:
    """The schemes an operation takes; None when it needs no credentials (no requirement, or an empty one)."""
    requirements = operation.get("security", document.get("security", []))
    if not requirements or any(not requirement for requirement in requirements):
        return None
    return frozenset(name for requirement in requirements for name in requirement)


def sent(presentation: Presentation, value: str) -> NearMiss:
    """`value` where `presentation` puts it (what is sent; `what` left empty)."""
    if presentation.location == "query":
        return NearMiss("", params={presentation.name: presentation.prefix + value})
    return NearMiss("", headers={presentation.name: presentation.prefix + value})


def valid(every: list[Presentation], schemes: frozenset[str], secrets: Secrets) -> NearMiss | None:
    """The run's own credential as the operation takes it (the first accepted scheme whose secret is known)."""
    for presentation in every:
        secret = secrets.of(presentation.takes)
        if presentation.scheme in schemes and secret:
            return sent(presentation, secret)
    return None


def near_misses(every: list[Presentation], schemes: frozenset[str], secrets: Secrets,
                masks: dict[str, str]) -> list[NearMiss]:
    """Every near miss of the run's credentials for an operation that takes `schemes`. A secret `masks` shows as a
    shell variable (the transcript's, e.g. $KEY) is shown altered as an expression of it (`shown`), so that a
    reproduction shows `"${KEY%?}x"` rather than the key itself."""
    taken = [presentation for presentation in every if presentation.scheme in schemes]
    misses = [NearMiss("no credentials")]
    for presentation in taken:
        secret = secrets.of(presentation.takes)
        if not secret:
            continue
        label = f"the {presentation.takes} in {_where(presentation)}"
        for what, value, shown in altered(secret, masks):
            misses.append(_named(sent(presentation, value), f"{label}, {what}", shown))
        if presentation.takes == KEY and secrets.other_key:
            value, shown = _changed_last(secrets.other_key, masks)
            misses.append(_named(sent(presentation, value), f"the other tenant's key in {_where(presentation)}, "
                                                            "its last character changed", shown))
        misses += _words(presentation, secret, every)
        if secrets.admin:
            misses.append(_named(sent(presentation, secrets.admin), f"the admin token in {_where(presentation)}"))
    misses += _misplaced(every, taken, secrets)
    misses += _disagreeing(taken, secrets, masks)
    misses += _forged(taken, secrets, masks)
    return misses


def altered(secret: str, masks: dict[str, str]) -> list[tuple[str, str, dict[str, str]]]:
    """A secret with one thing wrong: a character changed, dropped or added, only half of it, its letters in the
    other case (not a UUID's, whose hex digits RFC 9562 reads in either case)."""
    half = len(secret) // 2
    middle = _middle(secret)
    variable = masks.get(secret, "").lstrip("$")
    uuid = bool(UUID.match(secret))
    first, last, inner = (_other(secret[index], uuid) for index in (0, -1, middle))
    forms: list[tuple[str, str, Callable[[str], str]]] = [
        ("its last character changed", secret[:-1] + last, lambda v: f"${{{v}%?}}{last}"),
        ("its first character changed", first + secret[1:], lambda v: f"{first}${{{v}#?}}"),
        ("a middle character changed", secret[:middle] + inner + secret[middle + 1:],
         lambda v: f"${{{v}:0:{middle}}}{inner}${{{v}:{middle + 1}}}"),
        ("its last character dropped", secret[:-1], lambda v: f"${{{v}%?}}"),
        ("a character appended", secret + last, lambda v: f"${{{v}}}{last}"),
        ("only its first half", secret[:half], lambda v: f"${{{v}:0:{half}}}"),
        ("only its last half", secret[half:], lambda v: f"${{{v}:{half}}}"),
    ]
    if secret.swapcase() != secret and not uuid:
        forms.append(("its letters in the other case", secret.swapcase(), lambda v: f"${{{v}~~}}"))
    return [(what, value, {value: shown(variable)} if variable else {}) for what, value, shown in forms]


def _changed_last(secret: str, masks: dict[str, str]) -> tuple[str, dict[str, str]]:
    what, value, shown = altered(secret, masks)[0]
    return value, shown


def _words(presentation: Presentation, secret: str, every: list[Presentation]) -> list[NearMiss]:
    """The secret without its scheme word, with an empty value, and under a scheme word that does not carry it
    in that place."""
    where = _where(presentation)
    empty = NearMiss("", headers={presentation.name: presentation.prefix.strip()})  # (no trailing space: RFC 9110)
    misses = [_named(empty, f"{where} with an empty value")] if presentation.location == "header" else []
    if presentation.prefix:
        bare = NearMiss("", headers={presentation.name: secret}) if presentation.location == "header" \
            else NearMiss("", params={presentation.name: secret})
        misses.append(_named(bare, f"the {presentation.takes} in {presentation.name} without its scheme word"))
    if presentation.location != "header":
        return misses
    carrying = {other.word() for other in every if other.takes == presentation.takes
                and other.location == "header" and other.name.lower() == presentation.name.lower()}
    for word in SCHEME_WORDS:
        if word.lower() not in carrying:
            misses.append(_named(NearMiss("", headers={presentation.name: f"{word} {secret}"}),
                                 f"the {presentation.takes} in {presentation.name} as `{word} <{presentation.takes}>`"))
    return misses


def _misplaced(every: list[Presentation], taken: list[Presentation], secrets: Secrets) -> list[NearMiss]:
    """Valid secrets where the operation does not take them: in a header or query parameter the spec does not
    declare, or in a declared scheme the operation does not accept (a token where only keys are taken)."""
    misses = []
    headers = {presentation.name.lower() for presentation in every if presentation.location == "header"}
    queries = {presentation.name for presentation in every if presentation.location == "query"}
    for kind in (KEY, TOKEN):
        secret = secrets.of(kind)
        if not secret:
            continue
        for name in UNDECLARED_HEADERS if kind == KEY else ():
            if name.lower() not in headers:
                misses.append(NearMiss(f"the {kind} in the undeclared header {name}", headers={name: secret}))
                if name == "Authorization":
                    misses.append(NearMiss(f"the {kind} as `Bearer <{kind}>` in the undeclared header {name}",
                                           headers={name: f"Bearer {secret}"}))
        for name in (*(QUERY_NAMES if kind == KEY else TOKEN_QUERY_NAMES),
                     *(presentation.name.lower() for presentation in every
                                     if presentation.location == "header" and presentation.takes == kind
                                     and presentation.name.lower() != "authorization")):
            if name not in queries:
                misses.append(NearMiss(f"the {kind} in the undeclared query parameter {name}", params={name: secret}))
        for presentation in every:
            if presentation.takes == kind and presentation.scheme not in {other.scheme for other in taken}:
                misses.append(_named(sent(presentation, secret),
                                     f"the {kind} as {presentation.scheme}, which this operation does not accept"))
    return misses


def _disagreeing(taken: list[Presentation], secrets: Secrets, masks: dict[str, str]) -> list[NearMiss]:
    """Two key headers that carry different keys (the spec's own rule where it declares two, e.g. LovlyChat's
    Bearer and x-api-key: ambiguous credentials are refused rather than one of them winning)."""
    headers = [presentation for presentation in taken if presentation.takes == KEY
               and presentation.location == "header"]
    key = secrets.key
    if len({presentation.name.lower() for presentation in headers}) < 2 or not key:
        return []
    first, second = headers[0], next(presentation for presentation in headers
                                     if presentation.name.lower() != headers[0].name.lower())
    others = [("an altered key", *_changed_last(key, masks))]
    if secrets.other_key:
        others.append(("the other tenant's key", secrets.other_key, {}))
    misses = []
    for what, other, shown in others:
        for one, two in ((first, second), (second, first)):
            misses.append(NearMiss(f"the key in {_where(one)} and {what} in {_where(two)}",
                                   {one.name: one.prefix + key, two.name: two.prefix + other}, shown=shown))
    return misses


def _forged(taken: list[Presentation], secrets: Secrets, masks: dict[str, str]) -> list[NearMiss]:
    """A JWT's claims under `alg: none` without a signature, and the other user's claims under the run's
    signature: a server that does not verify signatures takes them."""
    token = secrets.token
    bearer = next((presentation for presentation in taken if presentation.takes == TOKEN), None)
    if bearer is None or not token or token.count(".") != 2:
        return []
    head, payload, signature = token.split(".")
    none = _b64(json.dumps({"alg": "none", "typ": "JWT"}, separators=(",", ":")).encode())
    misses = [_named(sent(bearer, f"{none}.{payload}."), "the token's claims under `alg: none`, unsigned")]
    other = secrets.other_token
    if other and other.count(".") == 2:
        swapped = f"{head}.{other.split('.')[1]}.{signature}"
        variable = masks.get(token, "").lstrip("$")
        shown = {swapped: f"${{{variable}%%.*}}.{other.split('.')[1]}.${{{variable}##*.}}"} if variable else {}
        misses.append(_named(sent(bearer, swapped), "the other user's claims under the token's signature", shown))
    return misses


def _named(miss: NearMiss, what: str, shown: dict[str, str] | None = None) -> NearMiss:
    return NearMiss(what, miss.headers, miss.params, shown or {})


def _where(presentation: Presentation) -> str:
    if presentation.location == "query":
        return f"the query parameter {presentation.name}"
    return f"{presentation.name}: {presentation.prefix}…" if presentation.prefix else presentation.name


def _middle(secret: str) -> int:
    """The alphanumeric character nearest the middle (a UUID's middle is a dash)."""
    middle = len(secret) // 2
    for offset in range(len(secret)):
        for index in (middle - offset, middle + offset):
            if 0 <= index < len(secret) and secret[index].isalnum():
                return index
    return middle


def _other(character: str, hexadecimal: bool) -> str:
    """Another character of the same kind, so that a key keeps its form: a hex digit for a UUID's hex digit, else
    a digit for a digit and a letter for a letter, four places on (the last character of base64 text carries
    two padding bits a decoder may ignore: the next character could decode to the same bytes)."""
    for alphabet in (("0123456789abcdef", "0123456789ABCDEF") if hexadecimal else ()) + (
            "0123456789", "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"):
        if character in alphabet:
            return alphabet[(alphabet.index(character) + (1 if hexadecimal else 4)) % len(alphabet)]
    return "0"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
