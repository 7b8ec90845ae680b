"""LucyDream: one WordPress plugin route, `X-API-Key`, `{error}` bodies."""

from __future__ import annotations

from mockserver.dialects import DemoTenant, Dialect
from mockserver.dialects.lucydream import handlers
from mockserver.dialects.lucydream.errors import LucyDreamErrors
from mockserver.engine import Engine

DEMO_MODEL = "12345"  # the model id the published examples use


def seed_demo(engine: Engine, tenant_id: str) -> None:
    """A ready model `12345` in the demo bucket, so the published examples work as printed."""
    engine.jobs.submit(
        handlers.API, tenant_id, DEMO_MODEL, handlers.TRAIN,
        {"title": "Demo", "name": "woman", "image_urls": [],
         "safetensors_path": f"{handlers.BUCKET_URL}/{DEMO_MODEL}.safetensors"},
        duration=0, cost=0,
    )


DIALECT = Dialect(
    name="lucydream",
    title="LucyDream",
    spec="lucydream.yaml",
    default_port_offset=2,
    handlers={"generate": handlers.generate},
    errors=LucyDreamErrors(),
    defaults={"prices": {"generate": 0.1, "train": 0.0}, "durations": {"train": 120.0}, "slots": 4},
    fault_operations={
        "generate": "the next generation request for a usable model answers 500 and costs nothing",
        "train": "the next model creation is accepted but its training fails",
    },
    asset_path="/generated/",
    demo=DemoTenant(name="demo", credentials=["your_api_key_here"], balance=5.0),
    credential_rule=lambda secret: None if secret.strip() else "an API key cannot be blank",
    seed_demo=seed_demo,
)
