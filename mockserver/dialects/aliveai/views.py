"""How prompts look on the wire: the `PromptContainer`, its medias, a user's queue, and failures.

Views are built for an `origin`: anything with the origin's `context` and the `base_url` its clients reach
(a handler's `Call`, or a websocket's connection).
"""

from __future__ import annotations

from typing import Any, Protocol

from mockserver.engine.assets import MP4, Asset
from mockserver.engine.jobs import COMPLETED, QUEUED, RUNNING, Job

FAILURE_MESSAGES = {
    "UNKNOWN": "The generation failed; its credits were refunded.",
    "REMOVED": "The prompt was removed from the queue; its credits were refunded.",
}


class Origin(Protocol):
    context: Any
    base_url: str


def container(origin: Origin, job: Job) -> dict[str, Any]:
    """The `PromptContainer` of a prompt: its echoed request, and its medias once it is finished."""
    assets = origin.context.engine.assets.of_job(job.tenant_id, job.id) if job.status == COMPLETED else []
    return {"promptId": job.id, job.params["field"]: job.params["request"], "isFavorite": False,
            "medias": [media_view(origin, asset) for asset in assets]}


def media_view(origin: Origin, asset: Asset) -> dict[str, Any]:
    return {"id": asset.id, "mediaType": "VIDEO" if asset.media_type == MP4 else "IMAGE",
            "mediaUrl": origin.context.dialect.asset_url(origin.base_url, asset)}


def queue_of(jobs: list[Job], tenant_id: str) -> list[dict[str, Any]]:
    """A user's queue (`QueueElement`s) from the API's active jobs: running ones at 0, then 1, 2, ..."""
    queue = []
    waiting = 0
    for job in jobs:
        if job.tenant_id != tenant_id:
            continue
        if job.status == QUEUED:
            waiting += 1
        queue.append({"promptId": job.id, "queuePosition": waiting if job.status == QUEUED else 0,
                      "video": bool(job.params.get("video")), "progress": percent(job)})
    return queue


def percent(job: Job) -> int:
    """0 while waiting, up to 99 while running, 100 once finished."""
    if job.status == RUNNING:
        return min(99, int(job.progress * 100))
    return 100 if job.status == COMPLETED else 0


def failure_message(job: Job) -> str:
    return FAILURE_MESSAGES.get(job.fail_with or "", FAILURE_MESSAGES["UNKNOWN"])
