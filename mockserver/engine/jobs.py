"""Jobs: paid at acceptance, queued FIFO onto a fixed number of simulated GPU slots, moved along by the clock.

State is derived from timestamps: `settle` replays what must have happened up to the clock's now (starts,
completions, failures with their refunds), so a virtual clock makes every run reproducible and a real
clock needs no background worker.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from mockserver.engine import effects
from mockserver.engine.assets import Assets
from mockserver.engine.clock import Clock
from mockserver.engine.events import Events
from mockserver.engine.ledger import Ledger
from mockserver.engine.lru import DEFAULT_CACHE_SIZE, LRU
from mockserver.engine.store import Store

QUEUED, RUNNING, COMPLETED, FAILED = "queued", "running", "completed", "failed"
ACTIVE = (QUEUED, RUNNING)


@dataclass(frozen=True)
class Job:
    seq: int
    id: str
    api: str
    tenant_id: str
    kind: str
    status: str
    params: dict[str, Any]  # the accepted request, plus "outputs": the assets a completion produces
    cost: int
    duration: float
    fail_with: str | None  # set at acceptance when the job is bound to fail (armed fault, rejected input)
    created_at: float
    started_at: float | None
    finished_at: float | None
    queue_position: int | None = None  # 0 = running; None once finished
    progress: float = 0.0  # 0..1

    @property
    def run_time(self) -> float:
        """Seconds on a slot: a job bound to fail fails as it starts, using no GPU time."""
        return 0.0 if self.fail_with else self.duration

    @property
    def finished(self) -> bool:
        return self.status in (COMPLETED, FAILED)


class Jobs:
    def __init__(self, store: Store, clock: Clock, ledger: Ledger, assets: Assets, events: Events,
                 slots: dict[str, int], cache_size: int = DEFAULT_CACHE_SIZE) -> None:
        self._store = store
        self._events = events
        self._clock = clock
        self._ledger = ledger
        self._assets = assets
        self._slots = slots
        # per API, from the last settle: when the next start or completion can happen, and how many slots
        # are free; until then nothing can change, so settling needs no query (missing: unknown, look)
        self._next_event: dict[str, float] = {}
        self._free_slots: dict[str, int] = {}
        self._finished: LRU[tuple[str, str], Job] = LRU(cache_size)  # finished jobs never change again
        self._queued_seqs: dict[str, list[int]] = {}  # per API, the queued jobs' seqs in order (when loaded)
        self._latest_now: dict[str, float] = {}  # per API, the clock's time at the last settle
        self._active_counts: LRU[str, int] = LRU(cache_size)  # per tenant looked at: its running and waiting jobs
        self._completed_counts: LRU[str, dict[str, int]] = LRU(cache_size)  # per tenant looked at: per kind
        store.on_forget(self._forget)

    def _forget(self) -> None:
        self._next_event.clear()
        self._free_slots.clear()
        self._finished.clear()
        self._queued_seqs.clear()
        self._active_counts.clear()
        self._completed_counts.clear()

    def slots(self, api: str) -> int:
        return self._slots.get(api, 1)

    def set_slots(self, api: str, count: int) -> None:
        if count < 1:
            raise ValueError("at least one slot")
        self.settle(api)
        self._slots[api] = count
        self._next_event.pop(api, None)

    def submit(self, api: str, tenant_id: str, job_id: str, kind: str, params: dict[str, Any], *,
               duration: float, cost: int, fail_with: str | None = None) -> Job:
        """Debit `cost` and queue the job, atomically: InsufficientFunds leaves no trace."""
        self.settle(api)
        row = {"id": job_id, "api": api, "tenant_id": tenant_id, "kind": kind, "status": QUEUED, "params": params,
               "cost": int(cost), "duration": float(duration), "fail_with": fail_with, "created_at": self._clock.now()}
        with self._store.transaction():
            if cost:
                self._ledger.debit(tenant_id, cost, f"job {job_id}")
            seq = self._store.insert_job(row)
            self._count(tenant_id, +1)
            if api in self._queued_seqs:
                self._queued_seqs[api].append(seq)
            if self._free_slots.get(api, 0) > 0:  # it can start at once: the next settle must look
                self._free_slots[api] -= 1
                self._next_event[api] = row["created_at"]
        self._events.notify()
        # reported as accepted, i.e. queued: it reaches a slot on the next settle, even at this same instant
        job = self._viewed({**row, "seq": seq, "started_at": None, "finished_at": None})
        effects.note("job", job)
        return job

    def get(self, api: str, tenant_id: str, job_id: str) -> Job | None:
        """The tenant's job; another tenant's job is as absent as a missing one."""
        self.settle(api)
        job = self._finished.get((api, job_id))
        if job is None:
            row = self._store.get_job(api, job_id)
            if row is None:
                return None
            job = self._viewed(row)
            if job.finished:
                self._finished[(api, job_id)] = job
        return job if job.tenant_id == tenant_id else None

    def remove_queued(self, api: str, tenant_id: str, job_id: str, reason: str) -> Job | None:
        """Take a waiting job of the tenant off the queue: it fails with `reason` as of now and is refunded.
        A running, finished, unknown or another tenant's job is left alone (None)."""
        job = self.get(api, tenant_id, job_id)
        if job is None or job.status != QUEUED:
            return None
        now = self._clock.now()
        with self._store.transaction():
            self._store.update_job(api, job_id, status=FAILED, fail_with=reason, finished_at=now)
            if job.cost:
                self._ledger.refund(tenant_id, job.cost, f"refund job {job_id}")
            self._count(tenant_id, -1)
        self._queued_seqs.pop(api, None)  # positions behind it move up
        self._events.notify()
        return replace(job, status=FAILED, fail_with=reason, finished_at=now, queue_position=None)

    def delete(self, api: str, job_id: str) -> None:
        """Forget a finished job and the assets it produced."""
        tenant_id = self._store.delete_job(api, job_id)
        self._assets.forget_job(job_id)
        if tenant_id is not None:
            self._completed_counts.pop(tenant_id)
        self._finished.pop((api, job_id), None)
        self._events.notify()

    def active(self, api: str) -> list[Job]:
        """Every running and waiting job of the API, running first, then in queue order."""
        self.settle(api)
        running = [self._viewed(row) for row in self._store.jobs_in_status(api, RUNNING)]
        return running + [self._viewed(row) for row in self._store.jobs_in_status(api, QUEUED)]

    def active_of(self, api: str, tenant_id: str) -> list[Job]:
        """The tenant's running and waiting jobs, running first, then in queue order."""
        self.settle(api)
        return [self._viewed(row) for row in self._store.active_jobs_of(tenant_id)]

    def count_active(self, api: str, tenant_id: str) -> int:
        """How many of the tenant's jobs are running or waiting."""
        self.settle(api)
        count = self._active_counts.get(tenant_id)
        if count is None:
            count = self._active_counts[tenant_id] = self._store.count_active_jobs(tenant_id)
        return count

    def _count(self, tenant_id: str, change: int) -> None:
        count = self._active_counts.get(tenant_id)
        if count is not None:
            self._active_counts[tenant_id] = count + change

    def of_tenant(self, api: str, tenant_id: str, kind: str | None = None) -> list[Job]:
        self.settle(api)
        return [self._viewed(row) for row in self._store.jobs_of(tenant_id, kind) if row["api"] == api]

    def finished_page(self, api: str, tenant_id: str, kinds: tuple[str, ...], offset: int,
                      limit: int) -> tuple[list[Job], int]:
        """A page of the tenant's completed jobs of these kinds, newest first, and how many there are."""
        self.settle(api)
        counts = self._completed_counts.get(tenant_id)
        if counts is None:
            counts = self._completed_counts[tenant_id] = self._store.count_jobs_by_kind(tenant_id, COMPLETED)
        rows = self._store.jobs_page(tenant_id, COMPLETED, kinds, offset, limit)
        return [self._viewed(row) for row in rows], sum(counts.get(kind, 0) for kind in set(kinds))

    def recent_finished(self, api: str, tenant_id: str | None, limit: int) -> list[Job]:
        """Up to `limit` completed or failed jobs, newest first, of one tenant or of all."""
        self.settle(api)
        return [self._viewed(row) for row in self._store.recent_jobs(api, (COMPLETED, FAILED), tenant_id, limit)]

    def settle(self, api: str) -> list[Job]:
        """Apply every start, completion and failure due by now; return the jobs that changed."""
        now = self._clock.now()
        latest = self._latest_now.get(api)
        if latest is None or now < latest:  # the clock went back, or this process has not looked yet
            self._follow_clock_back(api, now)
        self._latest_now[api] = now
        if now < self._next_event.get(api, float("-inf")):
            return []
        running = [Job(**row) for row in self._store.jobs_in_status(api, RUNNING)]
        free_at = self._slot_free_times(api, running)
        changed: list[Job] = []
        started = 0
        with self._store.transaction():
            for job in running:
                if job.started_at + job.run_time <= now:  # type: ignore[operator]
                    changed.append(self._finish(job))
            for job in self._waiting(api):
                start = max(job.created_at, free_at[0])
                if start > now:
                    break
                heapq.heapreplace(free_at, start + job.run_time)
                job = replace(job, status=RUNNING, started_at=start)
                if start + job.run_time <= now:  # started and finished since the last look: one write
                    changed.append(self._finish(job))
                else:
                    self._store.update_job(api, job.id, status=RUNNING, started_at=start)
                    changed.append(job)
                started += 1
        if api in self._queued_seqs:
            del self._queued_seqs[api][:started]  # jobs start in queue order
        busy_until = [moment for moment in free_at if moment > now]
        self._next_event[api] = min(busy_until, default=float("inf"))
        self._free_slots[api] = len(free_at) - len(busy_until)
        return changed

    def _follow_clock_back(self, api: str, now: float) -> None:
        """When the clock was set back (or state was written under a clock that was ahead), move the waiting
        and running jobs back with it, so the queue keeps moving and progress keeps its value; finished jobs
        keep their times."""
        ahead = max(self._latest_now.get(api, float("-inf")), self._store.latest_active_time(api) or now) - now
        if ahead > 0:
            with self._store.transaction():
                self._store.shift_active_jobs(api, -ahead)
            self._next_event.pop(api, None)

    def finish_estimate(self, api: str, job_id: str) -> float | None:
        """When an active job will finish if no slot count changes: the queue played forward."""
        self.settle(api)
        running = [Job(**row) for row in self._store.jobs_in_status(api, RUNNING)]
        for job in running:
            if job.id == job_id:
                return job.started_at + job.run_time  # type: ignore[operator]
        free_at = self._slot_free_times(api, running)
        for job in self._waiting(api):
            finish = max(job.created_at, free_at[0]) + job.run_time
            heapq.heapreplace(free_at, finish)
            if job.id == job_id:
                return finish
        return None

    def _waiting(self, api: str, batch: int = 64) -> Iterator[Job]:
        """Queued jobs in queue order, read a batch at a time (callers rarely need more than the head)."""
        if self._queued_seqs.get(api) == []:  # known to be empty: no need to look
            return
        after = 0
        while rows := self._store.jobs_in_status(api, QUEUED, after, batch):
            for row in rows:
                yield Job(**row)
            after = rows[-1]["seq"]

    def _queue_position(self, api: str, seq: int) -> int:
        """1 for the first job waiting, 2 for the next, ..."""
        seqs = self._queued_seqs.get(api)
        if seqs is None:
            seqs = self._queued_seqs[api] = self._store.queued_seqs(api)
        return 1 + bisect.bisect_left(seqs, seq)

    def _slot_free_times(self, api: str, running: list[Job]) -> list[float]:
        """A heap: when each slot is free; slots no running job holds are free from the start of time."""
        free_at = [job.started_at + job.run_time for job in running]  # type: ignore[operator]
        free_at += [float("-inf")] * max(0, self.slots(api) - len(free_at))
        heapq.heapify(free_at)
        return free_at

    def _finish(self, job: Job) -> Job:
        """End a running job (its start written with its end)."""
        end = job.started_at + job.run_time  # type: ignore[operator]
        self._count(job.tenant_id, -1)
        if job.fail_with:
            self._store.update_job(job.api, job.id, status=FAILED, started_at=job.started_at, finished_at=end)
            if job.cost:
                self._ledger.refund(job.tenant_id, job.cost, f"refund job {job.id}", at=end)
            return replace(job, status=FAILED, finished_at=end)
        for output in job.params.get("outputs", []):
            self._assets.create(job.api, job.tenant_id, output["media_type"], output["width"], output["height"],
                                job_id=job.id, seconds=output.get("seconds"), fps=output.get("fps"),
                                labels=output.get("labels"), at=end, id_prefix=output.get("id_prefix", ""),
                                id_length=output.get("id_length", 24))
        self._store.update_job(job.api, job.id, status=COMPLETED, started_at=job.started_at, finished_at=end)
        counts = self._completed_counts.get(job.tenant_id)
        if counts is not None:
            counts[job.kind] = counts.get(job.kind, 0) + 1
        return replace(job, status=COMPLETED, finished_at=end)

    def _viewed(self, row: dict[str, Any]) -> Job:
        """A stored job with its queue view: 0 and its progress while running, its place while waiting."""
        status = row["status"]
        if status == RUNNING:
            duration = row["duration"]
            progress = max(0.0, min(1.0, (self._clock.now() - row["started_at"]) / duration)) if duration else 1.0
            return Job(**row, queue_position=0, progress=progress)
        if status == QUEUED:
            return Job(**row, queue_position=self._queue_position(row["api"], row["seq"]))
        return Job(**row, progress=1.0 if status == COMPLETED else 0.0)
