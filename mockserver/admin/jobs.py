"""What the tenants' work looks like now: jobs with their progress, and the assets they made."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from mockserver.admin.tenants import missing_tenant, tenant_of
from mockserver.context import ApiContext
from mockserver.engine.assets import Asset
from mockserver.engine.clock import iso
from mockserver.engine.jobs import COMPLETED, Job
from mockserver.engine.ledger import from_amount
from mockserver.routing import Call, json_response


def asset_view(call: Call, asset: Asset) -> dict[str, Any]:
    dialect = call.context.dialect
    return {"id": asset.id, "jobId": asset.job_id, "mediaType": asset.media_type, "width": asset.width,
            "height": asset.height, "url": dialect.asset_url(call.base_url, asset),
            "thumbnailUrl": dialect.asset_url(call.base_url, asset, thumbnail=True), "createdAt": iso(asset.created_at)}


def job_view(call: Call, job: Job) -> dict[str, Any]:
    assets = call.context.engine.assets.of_job(job.tenant_id, job.id) if job.status == COMPLETED else []
    return {"id": job.id, "tenantId": job.tenant_id, "kind": job.kind, "status": job.status,
            "progress": round(job.progress, 4), "queuePosition": job.queue_position, "cost": from_amount(job.cost),
            "createdAt": iso(job.created_at), "startedAt": None if job.started_at is None else iso(job.started_at),
            "finishedAt": None if job.finished_at is None else iso(job.finished_at), "error": job.fail_with,
            "assets": [asset_view(call, asset) for asset in assets]}


async def list_jobs(call: Call) -> Response:
    context: ApiContext = call.context
    jobs, api = context.engine.jobs, context.dialect.name
    tenant_id, status, limit = call.query.get("tenantId"), call.query["status"], call.query["limit"]
    found: list[Job] = []
    if status in ("active", "all"):
        found = [job for job in jobs.active(api) if tenant_id is None or job.tenant_id == tenant_id][:limit]
    if status in ("finished", "all") and len(found) < limit:
        found += jobs.recent_finished(api, tenant_id, limit - len(found))
    return json_response(200, {"jobs": [job_view(call, job) for job in found]})


async def list_assets(call: Call) -> Response:
    tenant = tenant_of(call)
    if tenant is None:
        return missing_tenant(call)
    call.context.engine.jobs.settle(call.context.dialect.name)  # assets of jobs completed by now exist
    assets = call.context.engine.assets.newest(tenant.id, call.query["limit"])
    return json_response(200, {"tenantId": tenant.id, "assets": [asset_view(call, asset) for asset in assets]})
