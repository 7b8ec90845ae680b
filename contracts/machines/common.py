"""What every API's state machine shares: how a broken property is raised, how the machine is run with
Hypothesis (deterministic, no example database), how its failures become findings, and the virtual clock."""

from __future__ import annotations

import contextlib
import io
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NoReturn

from hypothesis import HealthCheck, Phase, reproduce_failure, seed, settings
from hypothesis.errors import DidNotReproduce, FlakyFailure, FlakyStrategyDefinition
from hypothesis.stateful import RuleBasedStateMachine, get_state_machine_test

from contracts.client import Reply
from contracts.models.prepaid import PrepaidWallet
from contracts.report import Finding
from contracts.session import Session
from contracts.target import AdminClient

LAYER = "stateful"


class Violation(AssertionError):
    """A broken property, with the requests of the sequence that broke it (curl lines)."""

    def __init__(self, check: str, message: str, requests: str = "", operation: str | None = None) -> None:
        super().__init__(f"{check}: {message}")
        self.check = check
        self.message = message
        self.requests = requests
        self.operation = operation


@dataclass
class Tally:
    """What the report says of a machine's run: how many sequences, the statuses of the API's answers, and the
    violations raised (reported as raised when a replay of the sequence does not go the same way)."""

    sequences: int = 0
    answers: Counter[int] = field(default_factory=Counter)
    violations: list[Violation] = field(default_factory=list)
    on_sequence: Callable[[], None] = lambda: None  # told as each sequence starts (progress)
    checked: set[str] = field(default_factory=set)  # the checks that judged an answer, passed or not

    def ran(self, *checks: str) -> None:
        """Record checks that judged an answer: the report lists every check that ran with its verdict."""
        self.checked.update(checks)

    def sequence(self) -> int:
        """Count a sequence that starts; its number."""
        self.sequences += 1
        self.on_sequence()
        return self.sequences

    def fail(self, check: str, message: str, requests: str, operation: str | None = None) -> NoReturn:
        """Raise the violation of `check`. Each check has an exception type of its own, raised from this one
        line, so Hypothesis tells broken properties apart by what they are rather than by where the machine
        noticed them (a replay that notices the same property a step earlier is the same failure)."""
        raised = _kind(check)(check, message, requests, operation)
        self.checked.add(check)
        self.violations.append(raised)
        raise raised


class Counted:
    """The contract client, with each answer's status tallied for the report."""

    def __init__(self, session: Session, tally: Tally) -> None:
        self._client = session.client
        self._tally = tally

    def send(self, method: str, path: str, **options: Any) -> Reply:
        reply = self._client.send(method, path, **options)
        self._tally.answers[reply.status] += 1
        return reply


_KINDS: dict[str, type[Violation]] = {}


def _kind(check: str) -> type[Violation]:
    return _KINDS.setdefault(check, type(f"Violation_{check}", (Violation,), {}))


def parse_time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def freeze_clock(admin: AdminClient) -> tuple[datetime | None, Callable[[], None]]:
    """Make the server's clock virtual, frozen where it is (no jump in time); return its time and how to
    restore it (back to real time if it was real)."""
    clock = admin.clock()
    was_real = clock["mode"] != "virtual"
    if was_real:
        clock = admin.set_clock(mode="virtual", now=clock["now"])
    return parse_time(clock["now"]), (lambda: admin.set_clock(mode="real")) if was_real else (lambda: None)


def explore(session: Session, machine: type[RuleBasedStateMachine], tally: Tally, operation: str,
            max_examples: int, steps: int, shrink: bool) -> None:
    """Run `max_examples` sequences of up to `steps` rules, drawn from the session's seed (the same seed draws
    the same sequences, another seed others); each distinct broken property becomes a finding (on `operation`
    unless the violation names its own) with its (shrunk, unless `shrink` is off) sequence and the requests it
    sent."""
    report = session.report
    tally.on_sequence = lambda: session.progress.step(
        f"{operation}: sequence {tally.sequences}", examples=tally.sequences,
        findings=len({violation.check for violation in tally.violations}))
    options = settings(max_examples=max_examples, stateful_step_count=steps, deadline=None, database=None,
                       report_multiple_bugs=True, print_blob=True,
                       phases=(Phase.generate, Phase.shrink) if shrink else (Phase.generate,),
                       suppress_health_check=list(HealthCheck))
    test = get_state_machine_test(machine, settings=options)
    try:
        if session.reproduce:  # --replay: the one failing example, as Hypothesis recorded it
            version, blob = session.reproduce.split(":", 1)
            with contextlib.redirect_stdout(io.StringIO()):  # (Hypothesis prints the example it replays)
                reproduce_failure(version, blob.encode())(test)()
        else:
            seed(session.seed)(test)()  # run_state_machine_as_test, but with the run's seed (it takes none)
    except DidNotReproduce:
        report.note(LAYER, f"{operation}: the recorded sequence did not fail again")
    except Exception as error:  # noqa: BLE001 - every failure of the machine is a finding
        leaves = list(_leaves(error))
        # a replay that drew other steps (a server on real time, or one whose broken state changed what the rules
        # could do) is no failure of its own: the violations it replayed are the findings
        flaky = isinstance(error, FlakyFailure | FlakyStrategyDefinition) or \
            any(isinstance(failure, FlakyStrategyDefinition) for failure in leaves)
        failures = [failure for failure in leaves if not isinstance(failure, FlakyStrategyDefinition)]
        if flaky and tally.violations and not any(isinstance(failure, Violation) for failure in failures):
            failures = tally.violations[:1]  # the replay went another way: the first violation seen
        failures = failures or leaves
        for failure in failures:
            report.add(_finding(failure, flaky, session, operation))
    report.ran(LAYER, *tally.checked)
    report.count(LAYER, "sequences", tally.sequences)
    for status, count in tally.answers.items():
        report.count(LAYER, str(status), count)
    answers = ", ".join(f"{status}x{count}" for status, count in sorted(tally.answers.items()))
    report.note(LAYER, f"{tally.sequences} sequences run (budget {max_examples}, up to {steps} steps each"
                       f"{'' if shrink else ', no shrinking'}); answers: {answers}")


def balance_checks(wallet: PrepaidWallet) -> tuple[str, ...]:
    """What the next balance `wallet` observes is judged by: every check of its vocabulary (the one a difference
    breaks depends on what happened since), or only its sign while it learns the start."""
    if wallet.low() is None:
        return ("balance_non_negative",)
    words = wallet.words
    return ("balance_non_negative", words.charge, *dict(words.refunds).values(), words.refund_once, words.refused,
            words.other)


def either(statuses: set[int]) -> str:
    return " or ".join(str(status) for status in sorted(statuses))


def answer(reply: Reply) -> str:
    return f"{reply.status} {reply.text[:200]}"


def _leaves(error: BaseException) -> Iterator[BaseException]:
    """The failures in `error`: Hypothesis groups distinct bugs (and the runs of a flaky one)."""
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            yield from _leaves(inner)
    else:
        yield error


_BLOB = re.compile(r"@reproduce_failure\('([^']+)', b'([^']+)'\)")


def _finding(failure: BaseException, flaky: bool, session: Session, operation: str) -> Finding:
    notes = [line for note in getattr(failure, "__notes__", ()) for line in str(note).splitlines() if line.strip()]
    blobs = [found for line in notes if (found := _BLOB.search(line))]
    steps = [line for line in notes if not _BLOB.search(line)]
    requests = (failure.requests if isinstance(failure, Violation) else "") or session.transcript.text()
    reproduction = "\n".join(["# the sequence (Hypothesis):", *steps, "# the requests it sent:", requests])
    if isinstance(failure, Violation):
        check, message = failure.check, failure.message
        operation = failure.operation or operation
    else:
        check, message = "machine_error", f"{type(failure).__name__}: {failure}"
    if flaky:
        message += ("\n(replayed, the sequence went another way: the server runs on real time, keeps state from "
                    "earlier sequences in view, or is not deterministic)")
    blob = f"{blobs[-1][1]}:{blobs[-1][2]}" if blobs else ""
    return Finding(LAYER, check, operation, message, reproduction, blob=blob)
