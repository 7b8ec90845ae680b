"""The reference lifecycle of a paid generation job (LovlyChat): queued → running → completed | failed, with
queued → failed allowed; completed and failed are final. Each view of a job the server answers is compared
with what the model knows, and the model learns from it.

A job's fate is known when nothing but the contract decides it: bound to fail (an armed fault, a source
image that cannot be decoded), or bound to complete (a server whose faults the suite controls). A real server
may fail any job (refunded), so there the fate is open.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

QUEUED, RUNNING, COMPLETED, FAILED = "queued", "running", "completed", "failed"
TERMINAL = frozenset({COMPLETED, FAILED})
# what an observation may follow each status with (polls are sparse, so a status may be skipped)
SUCCESSORS = {QUEUED: {QUEUED, RUNNING, COMPLETED, FAILED}, RUNNING: {RUNNING, COMPLETED, FAILED},
              COMPLETED: {COMPLETED}, FAILED: {FAILED}}
MIME_TYPES = {"image": "image/png", "video": "video/mp4"}


class Fate(Enum):
    COMPLETES = "completes"
    FAILS = "fails"
    OPEN = "open"


@dataclass(frozen=True)
class Problem:
    check: str  # job_lifecycle | job_fields | refund_field | charge_per_job | armed_fault | source_image | ...
    message: str


@dataclass
class JobModel:
    id: str
    owner: str  # the label of the account that paid for it
    kind: str
    variant: str
    character: str
    cost: int  # the listed price when it was accepted
    fate: Fate
    why: str = ""  # what binds the fate: "an armed fault", "an undecodable source image", ...
    source_asset: str | None = None
    source_url: str | None = None
    status: str = QUEUED
    progress: float = 0.0
    asset: dict[str, Any] | None = None  # its one asset, once seen completed
    views: int = 0
    history: list[str] = field(default_factory=list)  # the statuses seen, in order

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def refund(self) -> int:
        """What the wallet got back for it so far, as far as the model knows."""
        return self.cost if self.status == FAILED else 0

    @property
    def refund_pending(self) -> int:
        """What the wallet may have got back without the model knowing yet (it may have failed unseen)."""
        return self.cost if not self.terminal and self.fate is not Fate.COMPLETES else 0

    def checks(self) -> tuple[str, ...]:
        """What each view of the job is judged by: its fields and lifecycle, and the outcome it is bound to."""
        bound = ("armed_fault" if "fault" in self.why else "source_image",) if self.fate is Fate.FAILS else \
            ("job_outcome",) if self.fate is Fate.COMPLETES else ()
        return "job_fields", "job_lifecycle", "refund_field", "charge_per_job", *bound

    def observe(self, view: Any) -> list[Problem]:
        """Compare the server's view of the job (a 202's or a poll's body) with the model; learn from it."""
        if not isinstance(view, dict):
            return [Problem("job_fields", f"job {self.id}: the answer is not a job: {view!r}"[:300])]
        self.views += 1
        status, progress = view.get("status"), view.get("progress")
        problems = [*self._identity(view), *self._transition(status, progress), *self._consistency(view)]
        if status in SUCCESSORS and status in SUCCESSORS[self.status]:
            self.status = status
            self.history.append(status)
        if isinstance(progress, int | float) and not isinstance(progress, bool):
            self.progress = max(self.progress, float(progress))
        return problems

    def _identity(self, view: dict[str, Any]) -> list[Problem]:
        expected = {"id": self.id, "kind": self.kind, "variant": self.variant, "characterId": self.character,
                    "sourceAssetId": self.source_asset, "sourceImageUrl": self.source_url}
        problems = [Problem("job_fields", f"job {self.id}: {name} is {view.get(name)!r}, it was accepted as "
                                          f"{value!r}") for name, value in expected.items() if view.get(name) != value]
        if view.get("cost") != self.cost:
            problems.append(Problem("charge_per_job", f"job {self.id}: cost {view.get('cost')!r}, but the listed "
                                                      f"price of {self.kind} {self.variant} was {self.cost}"))
        return problems

    def _transition(self, status: Any, progress: Any) -> list[Problem]:
        before = self.status
        if status not in SUCCESSORS:
            return [Problem("job_fields", f"job {self.id}: status {status!r}")]
        problems = []
        if status not in SUCCESSORS[before]:
            seen = " → ".join(self.history)
            problems.append(Problem("job_lifecycle", f"job {self.id} went from {before} to {status} (seen so far: "
                                                     f"{seen}); {before} is final" if before in TERMINAL else
                                                     f"job {self.id} went back from {before} to {status}"))
        if isinstance(progress, int | float) and progress < self.progress:
            problems.append(Problem("job_lifecycle", f"job {self.id}: progress fell from {self.progress} to "
                                                     f"{progress} ({before} → {status})"))
        if status == COMPLETED and self.fate is Fate.FAILS:
            problems.append(Problem("armed_fault" if "fault" in self.why else "source_image",
                                    f"job {self.id} completed although {self.why} bound it to fail"))
        if status == FAILED and self.fate is Fate.COMPLETES:
            problems.append(Problem("job_outcome", f"job {self.id} failed although nothing made it fail "
                                                   f"(no fault armed, a decodable source)"))
        return problems

    def _consistency(self, view: dict[str, Any]) -> list[Problem]:
        """The fields a status implies (spec `Job`): assets only when completed, error and refund only when
        failed, a queue position only while queued."""
        status, assets = view.get("status"), view.get("assets")
        wrong = []
        if status == QUEUED and (view.get("queuePosition") is None or view.get("startedAt") is not None):
            wrong.append("a queued job has a queuePosition and no startedAt")
        if status != QUEUED and view.get("queuePosition") is not None:
            wrong.append("only a queued job has a queuePosition")
        if status == RUNNING and view.get("startedAt") is None:
            wrong.append("a running job has a startedAt")
        if (status in TERMINAL) != (view.get("completedAt") is not None):
            wrong.append("completedAt is set exactly when the job is completed or failed")
        if status == COMPLETED and (view.get("progress") != 1 or not isinstance(assets, list) or len(assets) != 1):
            wrong.append("a completed job has progress 1 and exactly one asset")
        if status != COMPLETED and assets:
            wrong.append("a job that is not completed has no assets")
        if (status == FAILED) != isinstance(view.get("error"), dict):
            wrong.append("error is set exactly when the job failed")
        if status == FAILED and self.why == "an undecodable source image" and \
                (view.get("error") or {}).get("code") != "source_image_unavailable":
            wrong.append("a source image that cannot be decoded fails with source_image_unavailable")
        problems = [Problem("job_fields", f"job {self.id} ({status}): {what}") for what in wrong]
        refunded = view.get("refunded")
        if refunded != (self.cost if status == FAILED else 0):
            problems.append(Problem("refund_field", f"job {self.id} ({status}, cost {self.cost}) says refunded "
                                                    f"{refunded!r}; a failed job is refunded its cost, any other 0"))
        if status == COMPLETED and isinstance(assets, list) and len(assets) == 1:
            problems += self._asset(assets[0])
        return problems

    def _asset(self, asset: Any) -> list[Problem]:
        if not isinstance(asset, dict):
            return [Problem("job_fields", f"job {self.id}: its asset is {asset!r}")]
        if self.asset is not None and asset != self.asset:
            return [Problem("job_lifecycle", f"job {self.id}: its asset changed after completion: {self.asset} → "
                                             f"{asset}")]
        self.asset = asset
        expected = {"jobId": self.id, "kind": self.kind, "characterId": self.character,
                    "mimeType": MIME_TYPES[self.kind]}
        return [Problem("job_fields", f"job {self.id}: its asset's {name} is {asset.get(name)!r}, not {value!r}")
                for name, value in expected.items() if asset.get(name) != value]
