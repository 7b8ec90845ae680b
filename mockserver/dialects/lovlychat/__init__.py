"""LovlyChat v1: prepaid image and video generation jobs, Bearer or x-api-key keys, a LoveCoin wallet."""

from __future__ import annotations

from mockserver.dialects import DemoTenant, Dialect
from mockserver.dialects.lovlychat import handlers
from mockserver.dialects.lovlychat.errors import LovlyChatErrors

MIN_KEY_LENGTH = 24


def credential_rule(secret: str) -> str | None:
    if len(secret) < MIN_KEY_LENGTH:
        return f"LovlyChat keys are at least {MIN_KEY_LENGTH} characters"
    return None


DIALECT = Dialect(
    name="lovlychat",
    title="LovlyChat",
    spec="lovlychat.yaml",
    default_port_offset=0,
    handlers={
        "createGenerationJob": handlers.create_generation_job,
        "getGenerationJob": handlers.get_generation_job,
        "getPricing": handlers.get_pricing,
        "listGallery": handlers.list_gallery,
    },
    errors=LovlyChatErrors(),
    defaults={
        "prices": {"image.standard": 10, "image.hd": 25, "video.standard": 60, "video.hd": 150},
        "durations": {"image.standard": 8.0, "image.hd": 15.0, "video.standard": 45.0, "video.hd": 90.0},
        "slots": 2,
    },
    fault_operations={"job": "the next accepted job fails (generation_failed) and its LoveCoins are refunded"},
    asset_path="/gen/",
    demo=DemoTenant(name="demo", credentials=["lc_demo_key_0123456789abcdef"], balance=500),
    credential_rule=credential_rule,
)
