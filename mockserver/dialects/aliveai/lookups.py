"""References a request makes to the user's own things: a media, a prompt. Another user's, a deleted one and
one that never existed are all equally absent."""

from __future__ import annotations

from mockserver.engine.assets import Asset
from mockserver.engine.jobs import FAILED, Job
from mockserver.routing import Call

API = "aliveai"


def own_media(call: Call, media_id: str) -> Asset | None:
    asset = call.context.engine.assets.get(media_id)
    return asset if asset is not None and asset.api == API and asset.tenant_id == call.principal.id else None


def own_prompt(call: Call, prompt_id: str) -> Job | None:
    """The user's prompt, queued, running or finished; a failed or removed one is gone."""
    job = call.context.engine.jobs.get(API, call.principal.id, prompt_id)
    return job if job is not None and job.status != FAILED else None
