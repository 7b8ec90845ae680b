"""The dashboard at /__genmock/ui, driven in headless Chromium against a real `genmock serve`: sign-in, tenants,
the live queue, the clock, the ledger, thumbnails and the journal; and that it only ever talks to the admin API
(with the token) and to asset URLs."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.browser import browser  # noqa: F401  (the fixture)
from tests.servers import running_mock

API = "lovlychat"
JOB = {"kind": "image", "variant": "standard", "prompt": "Aiko on a rooftop", "characterId": "char_aiko"}
WAIT = 15.0  # seconds any one thing may take to show up (a shared, busy machine)


@pytest.fixture(scope="module")
def mock() -> Iterator[dict[str, Any]]:
    with running_mock("--clock", "virtual", "--seed", "1") as credentials:
        yield credentials


def _admin(mock: dict[str, Any]) -> httpx.Client:
    return httpx.Client(base_url=mock["apis"][API]["base_url"], timeout=10,
                        headers={"authorization": f"Bearer {mock['admin_token']}"})


def _submit(mock: dict[str, Any]) -> dict[str, Any]:
    api = mock["apis"][API]
    response = httpx.post(f"{api['base_url']}/v1/generation/jobs", json=JOB, timeout=10,
                          headers={"authorization": f"Bearer {api['credentials'][0]}"})
    assert response.status_code == 202, response.text
    return response.json()


def shown(amount: float) -> str:
    """An amount as the page writes it (en-US grouping, at most 3 decimals)."""
    return f"{amount:,.3f}".rstrip("0").rstrip(".")


def _until(driver: Any, condition: Callable[[Any], Any], message: str) -> Any:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT, ignored_exceptions=(StaleElementReferenceException,)).until(condition, message)


def _find(driver: Any, css: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, css)


def _text(driver: Any, css: str) -> str | None:
    """The text of the first element matching, None while there is none."""
    found = _find(driver, css)
    return found[0].text if found else None


def _sign_in(driver: Any, token: str) -> None:
    field = _until(driver, lambda d: next((e for e in _find(d, "[data-testid=token-input]") if e.is_displayed()), None),
                   "the page does not ask for the token")
    field.clear()
    field.send_keys(token)
    _find(driver, "[data-testid=login-button]")[0].click()


def test_dashboard_follows_a_job_live(mock: dict[str, Any], browser: Any) -> None:  # noqa: F811
    base_url = mock["apis"][API]["base_url"]
    admin = _admin(mock)
    refused = httpx.get(f"{base_url}/__genmock/state", headers={"authorization": "Bearer gm_admin_wrong"})
    assert refused.status_code == 401
    browser.get(f"{base_url}/__genmock/ui")

    _sign_in(browser, "gm_admin_wrong")  # the 401's detail is shown, and the token asked for again
    _until(browser, lambda d: _text(d, "[data-testid=login-error]") == refused.json()["detail"],
           "the refusal is not shown")
    assert _find(browser, "[data-testid=token-input]")[0].is_displayed()

    _sign_in(browser, mock["admin_token"])
    demo = next(t for t in admin.get("/__genmock/tenants").json()["tenants"] if t["name"] == "demo")
    row = f"[data-testid=tenant-row][data-tenant-id='{demo['id']}']"
    _until(browser, lambda d: _text(d, f"{row} [data-testid=tenant-balance]") == shown(demo["balance"]),
           "the demo tenant is not listed with its balance")
    assert "demo" in _find(browser, row)[0].text
    _until(browser, lambda d: _text(d, "[data-testid=live-status]") == "● live", "the event stream is down")

    # a job starts at once on a free GPU slot, even on a frozen clock: with every slot taken, the next one waits
    config = admin.get("/__genmock/config").json()
    ahead = [_submit(mock) for _ in range(config["slots"])]
    job = _submit(mock)  # appears without a reload
    job_row = f"[data-testid=job-row][data-job-id='{job['id']}']"
    _until(browser, lambda d: any(e.get_attribute("data-status") == "queued" and "#1 waiting" in e.text
                                  for e in _find(d, job_row)), "the new job is not in the queue")
    assert all(_find(browser, f"[data-testid=job-row][data-job-id='{j['id']}'][data-status=running]") for j in ahead)

    for _ in range(math.ceil(2 * config["durations"]["image.standard"] / 10)):  # the slot's job, then this one
        before = _text(browser, "[data-testid=clock-text]")
        _find(browser, "[data-testid=clock-advance-10]")[0].click()
        _until(browser, lambda d, before=before: _text(d, "[data-testid=clock-text]") != before,
               "the clock did not move")
    _until(browser, lambda d: any(e.get_attribute("data-status") == "completed" for e in _find(d, job_row)),
           "the job does not show completed")

    balance = shown(demo["balance"] - (len(ahead) + 1) * config["prices"]["image.standard"])
    _until(browser, lambda d: _text(d, f"{row} [data-testid=tenant-balance]") == balance,
           "the tenant's balance does not show the debit")
    _until(browser, lambda d: any(job["id"] in e.get_attribute("textContent")
                                  for e in _find(d, "[data-testid=ledger-row][data-kind=debit]")),
           "the ledger does not show the debit")
    done = httpx.get(f"{base_url}/v1/generation/jobs/{job['id']}",
                     headers={"authorization": f"Bearer {mock['apis'][API]['credentials'][0]}"}).json()
    thumbnail = f"[data-testid=asset-thumb][data-asset-id='{done['assets'][0]['id']}']"
    _until(browser, lambda d: any(d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", e)
                                  for e in _find(d, thumbnail)), "the job's thumbnail does not show")
    _until(browser, lambda d: _find(d, "[data-testid=journal-row][data-method=POST][data-path='/v1/generation/jobs']"
                                       "[data-status='202']"), "the journal does not list the POST")


def test_dashboard_calls_only_the_admin_api_and_assets(mock: dict[str, Any], browser: Any) -> None:  # noqa: F811
    base_url = mock["apis"][API]["base_url"]
    job = _submit(mock)
    _admin(mock).post("/__genmock/clock", json={"advanceSeconds": 60}).raise_for_status()
    browser.get(f"{base_url}/__genmock/ui")
    _sign_in(browser, mock["admin_token"])
    _until(browser, lambda d: _find(d, f"[data-testid=job-row][data-job-id='{job['id']}'][data-status=completed]"),
           "the finished job is not listed")
    _until(browser, lambda d: any(d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", e)
                                  for e in _find(d, "[data-testid=asset-thumb]")), "no thumbnail shows")
    _until(browser, lambda d: _find(d, "[data-testid=journal-row]"), "the journal is empty")
    assert browser.execute_script("return getComputedStyle(document.querySelector('main')).display") == "grid"

    urls = browser.execute_script("return performance.getEntriesByType('resource').map((e) => e.name)")
    origin = urlsplit(base_url)
    assert any(urlsplit(url).path.startswith("/__genmock/") for url in urls)
    for url in urls:
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == (origin.scheme, origin.netloc), url
        assert parts.path.startswith(("/__genmock/", "/gen/")), url
        if parts.path.startswith("/__genmock/"):  # what the page asked with its token, refused without
            assert httpx.get(url, timeout=10).status_code == 401, url


def _page_calls(tenant_id: str) -> set[tuple[str, str]]:
    """(method, path) of every admin API call written in the page's script."""
    page = resources.files("mockserver.dashboard").joinpath("static/index.html").read_text(encoding="utf-8")
    calls = {(method, "/__genmock/" + re.sub(r"\$\{[^}]*\}", tenant_id, path))
             for method, path in re.findall(r"\b(?:api|act)\(\"(GET|POST|DELETE)\", [\"`]([^\"`?]+)", page)}
    calls |= {("GET", path) for path in re.findall(r"fetch\(\"(/__genmock/[^\"]+)\"", page)}
    return calls


def test_page_is_public_but_every_call_it_makes_needs_the_token(mock: dict[str, Any]) -> None:
    base_url = mock["apis"][API]["base_url"]
    page = httpx.get(f"{base_url}/__genmock/ui", timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["cache-control"] == "no-store"
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy and "img-src 'self' data:" in policy
    assert "'sha256-" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy

    tenant_id = mock["apis"][API]["tenant_id"]
    calls = _page_calls(tenant_id)
    expected = {("GET", "/__genmock/state"), ("GET", "/__genmock/tenants"), ("GET", "/__genmock/jobs"),
                ("GET", f"/__genmock/tenants/{tenant_id}/ledger"), ("GET", f"/__genmock/tenants/{tenant_id}/assets"),
                ("GET", "/__genmock/requests"), ("GET", "/__genmock/events"), ("POST", "/__genmock/clock"),
                ("POST", f"/__genmock/tenants/{tenant_id}/top-ups"), ("DELETE", "/__genmock/requests")}
    assert expected <= calls, expected - calls
    for method, path in sorted(calls):
        for headers in ({}, {"authorization": "Bearer gm_admin_wrong"}):
            answer = httpx.request(method, base_url + path, headers=headers, json={} if method == "POST" else None,
                                   timeout=10)
            assert answer.status_code == 401, (method, path, headers, answer.status_code)
            assert answer.headers["content-type"] == "application/problem+json"
