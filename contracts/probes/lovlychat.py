"""What the owner of LovlyChat's isolation probes makes: two finished image jobs of a character of the run's own
(their jobs, their assets, a gallery cursor between them); the intruder then names them in a job's path, a
video job's `sourceAssetId` and the gallery's `characterId` and `cursor`."""

from __future__ import annotations

from contracts.probes.owned import Owned, Reference
from contracts.probes.tenants import Pair
from contracts.session import Session
from contracts.wire.common import Waiter
from contracts.wire.lovlychat import CREATE, GALLERY, JOBS, LIST, PROMPT, finish, image_job, job_path, video_job


def make(session: Session, tenants: Pair) -> Owned:
    client, owner = session.client, tenants.owner.key
    character = f"nearmiss{session.nonce}"
    prompt = f"{PROMPT}, near miss {session.nonce}"
    owned = Owned(marks={prompt})
    jobs = [client.send("POST", JOBS, key=owner, body=image_job("standard", character, prompt)) for _ in range(2)]
    ids = [str(job.field("id")) for job in jobs if job.status == 202 and job.field("id")]
    if len(ids) < 2:
        owned.notes.append(f"the owner's image jobs were answered {', '.join(str(job.status) for job in jobs)}")
        return owned
    last, unfinished = finish(client, Waiter(session), owner, ids)
    assets = [str(asset["id"]) for reply in last.values() for asset in reply.field("assets") or []
              if isinstance(asset, dict) and asset.get("id")]
    owned.ids["job"] = ids[0]
    owned.reads = [job_path(job) for job in ids]
    owned.marks |= {*ids, *assets}
    owned.references.append(Reference(LIST, "characterId", character, lambda value: {
        "method": "GET", "path": GALLERY, "params": {"characterId": value}}))
    page = client.send("GET", GALLERY, key=owner, params={"characterId": character, "limit": 1})
    cursor = page.field("nextCursor")
    if isinstance(cursor, str) and cursor:
        owned.references.append(Reference(LIST, "cursor", cursor, lambda value: {
            "method": "GET", "path": GALLERY, "params": {"cursor": value}}))
    if assets:
        owned.references.append(Reference(CREATE, "sourceAssetId", assets[0], lambda value: {
            "method": "POST", "path": JOBS, "body": video_job("standard", character, asset_id=value)},
            creates=True, paid=True))
    if unfinished:
        owned.notes.append(f"the owner's jobs {', '.join(unfinished)} did not finish")
    return owned
