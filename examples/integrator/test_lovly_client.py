"""The client's tests, run against genmock instead of the real LovlyChat API: no credits burnt, no GPU waited on.

`pip install genmock` gives pytest the `genmock` fixture: a mock server for the session, reset before each test,
on a clock that stands still until the test moves it. Nothing else is needed: no conftest, no server to start.
"""

from __future__ import annotations

import json

import pytest
from lovly_client import GenerationFailed, InsufficientCredits, LovlyClient


def test_an_image_is_made_and_charged_once(genmock):
    api = genmock.lovlychat
    wallet = api.new_tenant(balance=100)
    client = LovlyClient(api.base_url, wallet.key)
    price = client.price_of_image()

    job_id = client.start_image("a lighthouse at dusk", character_id="char_aiko")
    assert client.image(job_id) is None  # time stands still: the job is queued
    genmock.advance(60)  # a minute later it is done
    image = client.image(job_id)

    assert image is not None and (image.width, image.height) == (832, 1216)
    assert client.download(image).startswith(b"\x89PNG")
    assert api.balance(wallet) == 100 - price
    assert [entry["kind"] for entry in api.ledger(wallet)["entries"]] == ["top-up", "debit"]


def test_an_empty_wallet_is_reported_and_costs_nothing(genmock):
    api = genmock.lovlychat
    wallet = api.new_tenant(balance=5)
    client = LovlyClient(api.base_url, wallet.key)

    with pytest.raises(InsufficientCredits) as refused:
        client.start_image("a lighthouse at dusk", character_id="char_aiko")

    assert (refused.value.required, refused.value.wallet) == (client.price_of_image(), 5)
    assert api.balance(wallet) == 5


def test_a_failed_generation_is_reported_and_refunded(genmock):
    api = genmock.lovlychat
    wallet = api.new_tenant(balance=100)
    client = LovlyClient(api.base_url, wallet.key)
    api.arm_fault("job")  # the next job fails on the GPU

    job_id = client.start_image("a lighthouse at dusk", character_id="char_aiko")
    genmock.advance(60)

    with pytest.raises(GenerationFailed):
        client.image(job_id)
    assert api.balance(wallet) == 100


def test_the_client_sends_its_key_and_exactly_this_body(genmock):
    api = genmock.lovlychat
    wallet = api.new_tenant(balance=100)
    LovlyClient(api.base_url, wallet.key).start_image("a lighthouse at dusk", character_id="char_aiko")

    [sent] = api.requests(method="POST", path="/v1/generation/jobs")
    assert sent["tenantId"] == wallet.id  # the key it sent named this wallet (the journal masks keys)
    assert sent["headers"]["content-type"] == "application/json"
    assert json.loads(sent["body"]) == {"kind": "image", "variant": "standard", "prompt": "a lighthouse at dusk",
                            "characterId": "char_aiko"}
    assert sent["status"] == 202
