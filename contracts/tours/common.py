"""What every tour shares: a stop provokes one documented answer and checks it is that answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from contracts.client import Reply
from contracts.report import Finding
from contracts.session import Session

LAYER = "responses"


class Stops:
    """Counts the stops of a tour and reports each answer that is not the documented one: a status outside
    `statuses` (check `documented_status`), or an error without the documented code (check `code_check`)."""

    def __init__(self, session: Session, operation: str, code_check: str, code_of: Callable[[Reply], Any],
                 code_label: str = "an error") -> None:
        self.session = session
        self.operation = operation  # the default operation of a stop
        self.code_check = code_check
        self.code_of = code_of
        self.code_label = code_label
        self.count = 0

    def __call__(self, what: str, reply: Reply, statuses: set[int], code: str | None = None,
                 operation: str | None = None) -> bool:
        """Whether `reply` is the documented answer (a finding is added when it is not)."""
        self.count += 1
        operation = operation or self.operation
        self.session.progress.step(operation, examples=self.count, findings=self.session.report.found(LAYER))
        self.ran("documented_status", operation)
        if reply.status not in statuses:
            expected = " or ".join(map(str, sorted(statuses)))
            self.fail("documented_status", operation, f"{what}: expected {expected}, got {reply.status} "
                                                      f"{reply.text[:200]}", reply)
            return False
        if code is not None:
            self.ran(self.code_check, operation)
        if code is not None and self.code_of(reply) != code:
            self.fail(self.code_check, operation, f"{what}: expected {self.code_label} with code {code!r}, got "
                                                  f"{reply.text[:200]}", reply)
            return False
        return True

    def ran(self, check: str, operation: str | None = None) -> None:
        """Record that `check` judged an answer of `operation` (the tour's default one if None), passed or not: the
        report lists every check that ran with its verdict."""
        self.session.report.ran(LAYER, check, operation=operation or self.operation)

    def fail(self, check: str, operation: str, message: str, reply: Reply | None = None) -> None:
        self.session.report.add(Finding(LAYER, check, operation, message, reply.curl if reply else ""))

    def summary(self) -> None:
        report = self.session.report
        report.count(LAYER, "stops", self.count)
        report.note(LAYER, f"{self.count} documented answers provoked; every response validated with openapi-core")
