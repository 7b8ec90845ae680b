"""The schema layer: schemathesis 4 over every operation of the spec, in-process, findings into the report.

It runs schemathesis' own engine (`schemathesis.engine.from_schema(schema).execute()`, what `st run` runs):
the examples, coverage and fuzzing phases (stateful needs OpenAPI links, which the specs do not declare),
with positive and negative data, through every built-in check that applies to a response:
not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
response_headers_conformance, positive_data_acceptance, negative_data_rejection, missing_required_header,
ignored_auth, allow_header_conformance, unsupported_method (and use_after_free, ensure_resource_availability
and object_level_authorization where they apply). Two are configured rather than taken as they come:

- unsupported_method insists on 405 for a method the spec does not declare, and cannot be told otherwise.
  Where the API contracts for 405 (LovlyChat) it runs as it is; where it contracts for another answer (a
  WordPress route answers such a method exactly like an unknown route: 404 `rest_no_route`) it is replaced
  by `UndeclaredMethodAnswer`, which sends the same probes and holds the server to the answer its profile
  (`contracts.apis`) documents.
- positive_data_acceptance also accepts the statuses a valid request may get on this API (402 when a prepaid
  balance runs out), so a drained wallet is not mistaken for a rejected input. Where a schema-valid value
  can still be wrong in a way no schema can say (LovlyChat: a `sourceAssetId` of another wallet, a cursor
  the API never issued), it is replaced by `PositiveDataAcceptance`, which also accepts a 400 whose
  `error.details` name only such fields.

While it runs, the ids of the jobs it queues (`ApiProfile.job_operation`) are noted, so that later layers can
wait until they are finished before they judge a wallet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import schemathesis
from schemathesis.checks import CheckContext
from schemathesis.config import PositiveDataAcceptanceConfig, SchemathesisConfig
from schemathesis.core.failures import Failure
from schemathesis.core.transport import Response
from schemathesis.engine import StopReason, events, from_schema
from schemathesis.generation.case import Case
from schemathesis.generation.meta import CoverageScenario, coverage_scenario
from schemathesis.specs.openapi.checks import positive_data_acceptance

from contracts import exchanges
from contracts.apis import ApiProfile
from contracts.client import CREDENTIAL_PREFIX
from contracts.guard import Guard, Stop
from contracts.pricing import paying
from contracts.progress import Progress
from contracts.report import Finding, Report
from contracts.target import Target, Token

LAYER = "schema"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
READ_METHODS = ("GET", "HEAD", "OPTIONS")  # what --read-only sends


@schemathesis.check
class UndeclaredMethodAnswer:
    """A method the spec does not declare on a declared path gets the answer the API documents for it."""

    def __init__(self, statuses: list[int] | None = None, error_code: str | None = None) -> None:
        self.statuses = set(statuses or ())  # unconfigured: leave such probes alone
        self.error_code = error_code

    def after_response(self, ctx: CheckContext, response: Response, case: Case) -> bool | None:
        # OPTIONS is left out as by the built-in check: frameworks answer it themselves (WordPress included)
        if (not self.statuses or coverage_scenario(case) != CoverageScenario.UNSPECIFIED_HTTP_METHOD
                or response.request.method == "OPTIONS"):
            return True  # not its case: schemathesis then records no run of it
        method, status = response.request.method, response.status_code
        expected = " or ".join(str(status) for status in sorted(self.statuses))
        if status not in self.statuses:
            raise AssertionError(f"Undeclared method {method} answered {status}; this API answers {expected}")
        if self.error_code:
            try:
                code = response.json().get("code")
            except Exception:
                code = None
            if code != self.error_code:
                raise AssertionError(f"Undeclared method {method} answered {status} without the error code "
                                     f"{self.error_code!r} (got {code!r})")
        return None


@schemathesis.check
class PositiveDataAcceptance:
    """positive_data_acceptance, except that a 400 naming only `fields` in `error.details` is a valid answer."""

    def __init__(self, fields: list[str] | None = None) -> None:
        self.fields = set(fields or ())  # unconfigured: leave every answer alone

    def after_response(self, ctx: CheckContext, response: Response, case: Case) -> bool | None:
        if not self.fields:
            return True  # not its case: schemathesis then records no run of it
        try:
            return positive_data_acceptance(ctx, response, case)
        except Failure:
            if response.status_code == 400 and _detail_fields(response) <= self.fields:
                return None
            raise


def _detail_fields(response: Response) -> set[Any]:
    """The `field` of each problem an error body lists (LovlyChat's `error.details`, an RFC 7807 problem's
    `violations`); a field no one would tolerate when there are none."""
    try:
        body = response.json()
        details = body["error"]["details"] if "error" in body else body["violations"]
        return {detail["field"] for detail in details} or {None}
    except (ValueError, KeyError, TypeError):
        return {None}


@dataclass(frozen=True)
class Pass:
    """One schemathesis run over some of the spec's operations, with one credential."""

    label: str  # what the report's note calls it
    operations: dict[str, Any]  # an `[[operations]]` entry that turns off the operations outside the pass
    key: str | None  # the credential (a key, or a `Token`)


def passes(target: Target, profile: ApiProfile, broke_key: str | None = None,
           operations: frozenset[str] | None = None) -> list[Pass]:
    """The runs of the schema layer: every served operation with the target's credential, except the paid ones
    (those that can charge, `paid_operations`), which run apart so that they cannot spend: with `broke_key`, a
    tenant without credits (every valid request is a 402), else not at all (even schemathesis' negative cases can
    be valid requests, which a real server would charge). With `read_only`, only the operations that read."""
    document = _document(target)
    skipped = set(unchecked(target, profile, document))
    paid = set(paid_operations(document))
    served = [operation_id for operation_id, label in _operations(document) if label not in skipped
              and (not target.read_only or label.split(" ", 1)[0] in READ_METHODS)
              and (operations is None or label in operations)]
    free = [operation_id for operation_id in served if operation_id not in paid]
    every = [operation_id for operation_id, _ in _operations(document)]
    runs = [Pass("free", _only(free) if free != every else {}, target.key)] if free else []
    if paid and broke_key and not target.read_only:
        runs.append(Pass("paid", _only([operation_id for operation_id in served if operation_id in paid]), broke_key))
    return runs


def _only(operation_ids: list[str]) -> dict[str, Any]:
    return {"exclude-operation-id": operation_ids, "enabled": False}


def unchecked(target: Target, profile: ApiProfile, document: dict[str, Any] | None = None) -> list[str]:
    """"METHOD /path" of each operation with one of the profile's unchecked tags."""
    if not profile.unchecked_tags:
        return []
    return [label for label, tags in _tagged(document or _document(target)) if set(tags) & set(profile.unchecked_tags)]


def paid_operations(document: dict[str, Any]) -> dict[str, str]:
    """{operationId: "METHOD /path"} of the operations that can charge (`contracts.pricing.paying`)."""
    return {operation["operationId"]: f"{method} {path}" for method, path, operation in paying(document)}


def _tagged(document: dict[str, Any]) -> list[tuple[str, list[str]]]:
    return [(f"{method.upper()} {path}", operation.get("tags", [])) for path, item in document["paths"].items()
            for method, operation in item.items() if method in METHODS]


def _operations(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [(operation["operationId"], f"{method.upper()} {path}") for path, item in document["paths"].items()
            for method, operation in item.items() if method in METHODS]


def _document(target: Target) -> dict[str, Any]:
    return target.document()


def auth_for(document: dict[str, Any], key: str | None) -> dict[str, dict[str, str]]:
    """schemathesis' `auth.openapi`: a key in each apiKey scheme (with its `x-genmock-credential-prefix`, e.g.
    `Key <key>`) and each bearer scheme that takes keys; a `Token` only in the bearer schemes. A bearer scheme
    whose `bearerFormat` is JWT takes tokens only (AliveAI's logins)."""
    if key is None:
        return {}
    schemes = document.get("components", {}).get("securitySchemes", {})
    auth = {}
    for name, scheme in schemes.items():
        if scheme.get("type") == "apiKey" and not isinstance(key, Token):
            auth[name] = {"api_key": str(scheme.get(CREDENTIAL_PREFIX, "")) + key}
        elif scheme.get("type") == "http" and scheme.get("scheme") == "bearer" and \
                (isinstance(key, Token) or scheme.get("bearerFormat") != "JWT"):
            auth[name] = {"bearer": str(key)}
    return auth


def config_for(target: Target, profile: ApiProfile, max_examples: int, seed: int, shrink: bool = True,
               run: Pass | None = None) -> SchemathesisConfig:
    document = _document(target)
    run = run or Pass("all", {}, target.key)
    rfc_405 = profile.undeclared_method_statuses == (405,) and not profile.undeclared_method_error_code
    accepted = [*PositiveDataAcceptanceConfig().expected_statuses, *map(str, profile.valid_input_statuses)]
    return SchemathesisConfig.from_dict({
        "seed": seed,
        "base-url": target.root,
        "workers": 1,
        "continue-on-failure": True,  # every failing check of an operation, not only the first
        "request-timeout": target.timeout,
        "cache": {"enabled": False},  # nothing written to the working directory
        "output": {"sanitization": {"enabled": False}},  # secrets are masked by `_masked` instead
        "generation": {"mode": "all", "max-examples": max_examples, "database": "none", "no-shrink": not shrink},
        "auth": {"openapi": auth_for(document, run.key)},
        "operations": [run.operations] if run.operations else [],
        **({"rate-limit": _rate_limit(target.rate)} if target.rate else {}),
        # a method the spec does not declare is probed with every other method: writes, under --read-only none
        **({"phases": {"coverage": {"unexpected-methods": []}}} if target.read_only else {}),
        "checks": {
            "unsupported_method": {"enabled": rfc_405},  # else replaced by UndeclaredMethodAnswer, see above
            "UndeclaredMethodAnswer": {"statuses": [] if rfc_405 else list(profile.undeclared_method_statuses),
                                       "error_code": profile.undeclared_method_error_code},
            # with tolerated 400s, replaced by PositiveDataAcceptance (which reads this configuration)
            "positive_data_acceptance": {"enabled": not profile.valid_input_rejections,
                                         "expected-statuses": accepted},
            "PositiveDataAcceptance": {"fields": list(profile.valid_input_rejections)},
        },
    })


def _rate_limit(rate: float) -> str:
    """--rate as schemathesis takes it: whole requests per second, or per minute below one a second."""
    return f"{int(rate)}/s" if rate >= 1 else f"{max(1, int(rate * 60))}/m"


def run(target: Target, profile: ApiProfile, report: Report, max_examples: int, seed: int = 0,
        shrink: bool = True, queued: list[str] | None = None, progress: Progress | None = None,
        broke_key: str | None = None, guard: Guard | None = None, operations: frozenset[str] | None = None) -> None:
    """Run schemathesis over the spec; findings into `report`, the ids of the jobs it queued into `queued`,
    each operation as it starts (and the requests sent so far) to `progress`. `broke_key`: a key of a tenant
    without credits, for the paid operations (see `passes`). `guard`: the run's, whose deadline ends the layer
    (schemathesis sends its own requests: --read-only and --rate are in its configuration, and it sends nothing
    that can charge a wallet that pays). `operations`: only these ("METHOD /path"; a replay of one finding)."""
    progress = progress or Progress()
    seen: set[Any] = set()  # schemathesis' Failure compares equal when it is the same finding
    cases = 0
    for each in passes(target, profile, broke_key, operations):
        config = config_for(target, profile, max_examples, seed, shrink, each)
        cases += _execute(schemathesis.openapi.from_path(target.spec_path, config=config), target, profile, report,
                          queued, progress, seen, cases, guard)
    paid = paid_operations(_document(target))
    if paid:
        how = ("ran on a tenant without credits (every valid request is refused with 402)" if broke_key else
               "were not sent: without --admin-token any valid request would spend the wallet")
        report.note(LAYER, f"the {len(paid)} paid operations {how}; the tour and the state machine cover their "
                           f"paid answers")
    report.count(LAYER, "requests", cases)
    report.note(LAYER, f"{cases} requests; fuzzing budget {max_examples} examples per operation, seed {seed}")
    skipped = unchecked(target, profile)
    if skipped:
        report.note(LAYER, f"not verified: {len(skipped)} operations the server does not serve yet "
                           f"({', '.join(profile.unchecked_tags)}) were not sent")


def _execute(schema: Any, target: Target, profile: ApiProfile, report: Report, queued: list[str] | None,
             progress: Progress, seen: set[Any], before: int, guard: Guard | None = None) -> int:
    """Run one schemathesis pass; the number of requests it sent. Stop (the guard's) when the deadline passes."""
    masks = target.masks()
    cases = 0
    for event in from_schema(schema).execute():
        if guard is not None and guard.deadline is not None and guard.clock() >= guard.deadline:
            report.count(LAYER, "requests", cases)
            raise Stop("deadline", f"the run's --deadline passed after {before + cases} schema requests")
        if isinstance(event, events.ScenarioStarted) and event.label:
            progress.step(f"{event.label} ({event.phase.value})", examples=before + cases,
                          findings=report.found(LAYER))
        elif isinstance(event, events.ScenarioFinished):
            cases += len(event.recorder.cases)
            _add_failures(event.recorder.checks, report, masks, seen)
            _ran(event.recorder, report)
            exchanges.note_scenario(event.recorder)
            progress.step(event.label or "", examples=before + cases, findings=report.found(LAYER))
            if queued is not None and profile.job_operation:
                queued.extend(_queued_jobs(event.recorder.interactions.values(), profile.job_operation))
        elif isinstance(event, events.NonFatalError):
            report.add(Finding(LAYER, "schemathesis_error", event.label,
                               f"{event.info.title}: {event.info.message}", _masked(event.code_sample or "", masks)))
        elif isinstance(event, events.FatalError):
            report.add(Finding(LAYER, "schemathesis_error", "(run)", f"{type(event.exception).__name__}: "
                                                                     f"{event.exception}"))
        elif isinstance(event, events.EngineFinished):
            for failure in event.failures:
                report.add(Finding(LAYER, failure.title, failure.operation or "(run)", failure.message))
            if event.stop_reason == StopReason.SERVER_UNAVAILABLE:
                report.add(Finding(LAYER, "server_available", "(run)", "the server stopped responding"))
    return cases


def _queued_jobs(interactions: Any, operation: tuple[str, str]) -> list[str]:
    """The `id` of each job a 2xx answer of `operation` (method, path) accepted."""
    ids = []
    for interaction in interactions:
        response = interaction.response
        request = interaction.request
        if (response is None or not 200 <= response.status_code < 300 or request.method != operation[0]
                or not urlsplit(request.uri).path.rstrip("/").endswith(operation[1])):
            continue
        try:
            job_id = response.json().get("id")
        except (ValueError, AttributeError):
            continue
        if isinstance(job_id, str):
            ids.append(job_id)
    return ids


def _ran(recorder: Any, report: Report) -> None:
    """Every check schemathesis ran, passed or failed, on the operation of its case (a stateful scenario's cases
    are of several operations)."""
    for case_id, nodes in recorder.checks.items():
        case = recorder.cases.get(case_id)
        report.ran(LAYER, *{node.name for node in nodes}, operation=case.value.operation.label if case else None)


def _add_failures(checks: dict[str, list[Any]], report: Report, masks: dict[str, str], seen: set[Any]) -> None:
    for nodes in checks.values():
        for node in nodes:
            info = node.failure_info
            if info is None or info.failure in seen:
                continue
            failure = info.failure
            seen.add(failure)
            message = _shortened(f"{failure.title}\n{failure.message}".strip())
            report.add(Finding(LAYER, node.name, failure.operation or "(run)", message,
                               _masked(info.code_sample, masks)))


def _shortened(message: str, lines: int = 30) -> str:
    """Schemathesis quotes whole schemas; the first lines say what is wrong."""
    kept = message.splitlines()
    return message if len(kept) <= lines else "\n".join([*kept[:lines], f"... ({len(kept) - lines} more lines)"])


def _masked(code_sample: str, masks: dict[str, str]) -> str:
    """Secrets out of a curl line; schemathesis quotes header values in single quotes, hence '"$KEY"'."""
    for secret, variable in masks.items():
        code_sample = code_sample.replace(secret, f"'\"{variable}\"'")
    return code_sample
