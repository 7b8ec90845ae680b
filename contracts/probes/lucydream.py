"""What the owner of LucyDream's isolation probes makes: a model (free to create; it stays in training on the
run's frozen clock), which the intruder then names in a generation's `tune_id` and `safetensors_path`. Only with
an admin token: without one the suite creates no models (training costs the provider GPU time), and a generation
that a broken server accepted would be charged."""

from __future__ import annotations

from contracts.probes.owned import Owned, Reference
from contracts.probes.tenants import Pair
from contracts.session import Session

ROUTE = "/wp-json/apiservices/v1/generate"
OPERATION = f"POST {ROUTE}"
IMAGES = [f"https://example.com/near-miss/{index}.jpg" for index in range(5)]


def make(session: Session, tenants: Pair) -> Owned:
    owned = Owned()
    if session.admin is None:
        owned.notes.append("models are made only with --admin-token")
        return owned
    created = session.client.send("POST", ROUTE, key=tenants.owner.key, body={
        "tune": {"title": "Near miss", "name": "woman", "image_urls": IMAGES}})
    tune_id, path = created.field("tune_id"), created.field("safetensors_path")
    if not isinstance(tune_id, str) or not isinstance(path, str):
        owned.notes.append(f"the owner's model was answered {created.status}")
        return owned
    owned.ids["model"] = tune_id
    owned.marks |= {path}
    owned.references = [
        Reference(OPERATION, "tune_id", tune_id, lambda value: {"method": "POST", "path": ROUTE,
                                                                "body": _generation(value, path)},
                  creates=True, paid=True),
        Reference(OPERATION, "safetensors_path", path, lambda value: {"method": "POST", "path": ROUTE,
                                                                      "body": _generation(tune_id, value)},
                  creates=True, paid=True),
    ]
    return owned


def _generation(tune_id: str, path: str) -> dict[str, str]:
    return {"prompt": "near miss", "tune_id": tune_id, "safetensors_path": path, "trigger_name": "woman"}
