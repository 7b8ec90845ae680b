"""An integrator's own code: a small LovlyChat v1 client (what `test_lovly_client.py` tests against genmock).

In a real project this is your client; the tests next to it show how the genmock pytest plugin stands in for
the real API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


class InsufficientCredits(Exception):
    def __init__(self, required: float, wallet: float) -> None:
        super().__init__(f"this image costs {required} LoveCoins, the wallet holds {wallet}")
        self.required = required
        self.wallet = wallet


class GenerationFailed(Exception):
    pass


@dataclass(frozen=True)
class Image:
    job_id: str
    url: str
    width: int
    height: int


class LovlyClient:
    def __init__(self, base_url: str, api_key: str) -> None:
        self._http = httpx.Client(base_url=base_url, headers={"X-API-Key": api_key}, timeout=30)

    def price_of_image(self) -> float:
        return self._http.get("/v1/pricing").json()["prices"]["image"]["standard"]

    def start_image(self, prompt: str, character_id: str) -> str:
        """Queue an image of a character; the job's id."""
        answer = self._http.post("/v1/generation/jobs", json={
            "kind": "image", "variant": "standard", "prompt": prompt, "characterId": character_id})
        if answer.status_code == 402:
            body = answer.json()
            raise InsufficientCredits(body["required"], body["wallet"])
        answer.raise_for_status()
        return answer.json()["id"]

    def image(self, job_id: str) -> Image | None:
        """The finished image of a job, None while it is queued or running."""
        job: dict[str, Any] = self._http.get(f"/v1/generation/jobs/{job_id}").json()
        if job["status"] == "failed":
            raise GenerationFailed(job["error"])
        if job["status"] != "completed":
            return None
        asset = job["assets"][0]
        return Image(job_id, asset["url"], asset["width"], asset["height"])

    def download(self, image: Image) -> bytes:
        return self._http.get(image.url).content
