"""Take the README's screenshot of the dashboard: `python -m tests.dashboard_screenshot docs/dashboard.png`.

Starts `genmock serve` (virtual clock, seed 1), makes some activity on LovlyChat (a second tenant, a top-up, jobs
finished and running, one failed through an armed fault, a refused one, a fault still armed), signs in to
/__genmock/ui in headless Chromium and saves the page as a PNG.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.browser import browser_missing, chromium
from tests.servers import running_mock

API = "lovlychat"
WIDTH = 1400


def make_activity(mock: dict[str, Any]) -> Callable[[], None]:
    """Jobs, a top-up, faults; returns what to do once the page is open (so the API's requests, not the
    page's own thumbnail downloads, are the journal's newest)."""
    api = mock["apis"][API]
    admin = httpx.Client(base_url=api["base_url"], timeout=10,
                         headers={"authorization": f"Bearer {mock['admin_token']}"})
    demo = httpx.Client(base_url=api["base_url"], timeout=10,
                        headers={"authorization": f"Bearer {api['credentials'][0]}"})

    def job(client: httpx.Client, character: str, prompt: str, **extra: Any) -> httpx.Response:
        body = {"kind": "image", "variant": "standard", "prompt": prompt, "characterId": character, **extra}
        return client.post("/v1/generation/jobs", json=body)

    studio = admin.post("/__genmock/tenants", json={"name": "studio-kyoto", "balance": 1200}).json()
    trial = admin.post("/__genmock/tenants", json={"name": "trial-user", "balance": 5}).json()
    studio_client = httpx.Client(base_url=api["base_url"], timeout=10,
                                 headers={"authorization": f"Bearer {studio['credentials'][0]}"})
    admin.post(f"/__genmock/tenants/{api['tenant_id']}/top-ups", json={"amount": 250, "reference": "invoice 1042"})
    for character, prompt in (("char_aiko", "Aiko on a rooftop"), ("char_ren", "Ren in the rain"),
                              ("char_aiko", "Aiko at the beach")):
        job(demo, character, prompt)
    admin.post("/__genmock/clock", json={"advanceSeconds": 20})
    admin.post("/__genmock/faults", json={"operation": "job", "count": 1})
    job(demo, "char_mio", "Mio in a neon alley")  # bound to fail: refunded
    job(studio_client, "char_ren", "Ren reading", variant="hd")
    admin.post("/__genmock/clock", json={"advanceSeconds": 16})
    first = demo.get("/v1/generation/gallery").json()["items"][-1]["id"]
    job(demo, "char_aiko", "Aiko waves", kind="video", sourceAssetId=first)  # running
    job(demo, "char_ren", "Ren by the window")
    job(studio_client, "char_mio", "Mio, close-up")  # waiting for a slot
    demo.get("/v1/generation/jobs/job_unknown")  # a 404 in the journal
    admin.post("/__genmock/faults", json={"operation": "job", "count": 2, "tenantId": studio["id"],
                                          "message": "GPU node lost"})
    admin.post("/__genmock/clock", json={"advanceSeconds": 6})

    def later() -> None:
        trial_client = httpx.Client(base_url=api["base_url"], timeout=10,
                                    headers={"authorization": f"Bearer {trial['credentials'][0]}"})
        assert job(trial_client, "char_aiko", "Aiko, sketch").status_code == 402  # 5 LoveCoins is not enough
        demo.get("/v1/pricing")
        job(demo, "char_mio", "Mio at dawn")

    return later


def screenshot(base_url: str, token: str, tenant_id: str, out: Path, later: Callable[[], None]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with chromium() as driver:
        driver.set_window_size(WIDTH, 1000)
        driver.get(f"{base_url}/__genmock/ui")
        wait = WebDriverWait(driver, 20)
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid=token-input]").is_displayed())
        driver.find_element(By.CSS_SELECTOR, "[data-testid=token-input]").send_keys(token)
        driver.find_element(By.CSS_SELECTOR, "[data-testid=login-button]").click()
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid=live-status]").text == "● live")
        demo = f"[data-testid=tenant-row][data-tenant-id='{tenant_id}']"
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, demo))[0].click()
        wait.until(lambda d: "demo" in d.find_element(By.ID, "tenant-name").text)
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "[data-testid=journal-row]")) >= 8)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "[data-testid=fault-row]"))
        wait.until(lambda d: d.execute_script(
            "const imgs = [...document.querySelectorAll('[data-testid=asset-thumb]')];"
            "return imgs.length >= 3 && imgs.every((i) => i.complete && i.naturalWidth > 0)"))
        later()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "[data-testid=journal-row][data-status='402']"))
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "[data-testid=journal-row][data-path='/v1/pricing']"))
        height, chrome = driver.execute_script(
            "return [document.documentElement.scrollHeight, outerHeight - innerHeight]")
        driver.set_window_size(WIDTH, height + chrome)
        wait.until(lambda d: d.execute_script("return document.documentElement.scrollHeight <= innerHeight"))
        out.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(out))


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    missing = browser_missing()
    if missing:
        print(missing, file=sys.stderr)
        return 1
    with running_mock("--clock", "virtual", "--seed", "1") as mock:
        later = make_activity(mock)
        api = mock["apis"][API]
        screenshot(api["base_url"], mock["admin_token"], api["tenant_id"], Path(argv[0]), later)
    print(f"wrote {argv[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
