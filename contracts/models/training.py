"""The reference lifecycle of a trained model: unusable before its `ready_at`, never usable if training failed.

Training may queue behind other jobs (simulated GPU slots), so a model may still train after its announced
`ready_at`; it is certainly done once the clock has moved far past it (`settle`) or once it answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum


class Readiness(Enum):
    TRAINING = "training"  # before ready_at: every generation must answer 409
    FAILED = "failed"  # its training failed: never usable
    READY = "ready"  # certainly trained
    MAYBE_READY = "maybe ready"  # past ready_at but possibly still queued: usable or 409


@dataclass
class Model:
    tune_id: str
    safetensors_path: str
    trigger: str  # the `name` it was trained with; generations use the same
    ready_at: datetime | None = None  # None: ready before the suite saw it
    fails: bool = False  # trained while a "train" fault was armed for its tenant
    settled: bool = False  # the clock moved far enough past ready_at that training must be over
    answered: bool = False  # a generation with it succeeded

    def readiness(self, now: datetime | None) -> Readiness:
        if self.ready_at is not None and now is not None and now < self.ready_at:
            return Readiness.TRAINING
        if self.fails:
            return Readiness.FAILED
        if self.ready_at is None or self.settled or self.answered:
            return Readiness.READY
        return Readiness.MAYBE_READY

    def settle(self) -> None:
        self.settled = True
