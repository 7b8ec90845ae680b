"""The reference site made from the specs: `genmock docs --out DIR` (static, offline from file://) and the same
reference served under /__genmock/docs by `genmock serve`, looked at in headless Chromium.

What the pages must show is computed here from the YAML files themselves, not from mockserver.docs.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

import genmock_specs
from tests.browser import browser  # noqa: F401  (the fixture)
from tests.servers import running_mock

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
API_SPECS = {"lovlychat": "lovlychat.yaml", "aliveai": "aliveai.yaml", "lucydream": "lucydream.yaml"}
PAGES = {**API_SPECS, "admin": "admin.yaml"}  # page name -> the spec it documents
ASYNCAPI = "aliveai.asyncapi.yaml"
LOCAL_SCHEMES = ("file:", "data:", "blob:")
WAIT = 30  # seconds for Swagger UI to render a page (the AliveAI spec is large; the machine is shared)
SPEC_SCRIPT = re.compile(r'<script id="spec" type="application/json">(.*?)</script>', re.S)
# every operation block as [method, path, summary]: Swagger UI keeps the path template in data-path (on
# .opblock-summary-path, or .opblock-summary-path__deprecated)
RENDERED = """return [...document.querySelectorAll('.opblock')].map(block => [
  block.querySelector('.opblock-summary-method').textContent,
  block.querySelector('.opblock-summary [data-path]').getAttribute('data-path'),
  (block.querySelector('.opblock-summary-description') || {textContent: ''}).textContent])"""
FIND_OPERATION = """return [...document.querySelectorAll('.opblock')].find(block =>
  block.querySelector('.opblock-summary-method').textContent === arguments[0] &&
  block.querySelector('.opblock-summary [data-path]').getAttribute('data-path') === arguments[1])"""


def spec(name: str) -> dict[str, Any]:
    return yaml.safe_load(genmock_specs.path(name).read_text(encoding="utf-8"))


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(METHOD, path) -> operation, for every operation of an OpenAPI document."""
    return {(method.upper(), path): item[method] for path, item in document["paths"].items()
            for method in METHODS if method in item}


def local(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def plain(markdown: str) -> str:
    """A CommonMark text roughly as the browser shows it (no backticks or emphasis, spaces collapsed)."""
    return " ".join(re.sub(r"[`*_]", "", markdown).split())


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("docs")
    done = subprocess.run([sys.executable, "-m", "mockserver.cli", "docs", "--out", str(out)], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert str(out / "index.html") in done.stdout
    return out


def render(driver: Any, url: str) -> list[list[str]]:
    """Open a Swagger UI page and wait until it rendered its operations; [method, path, summary] of each."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, WAIT).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".opblock")))
    return driver.execute_script(RENDERED)


def expand(driver: Any, method: str, path: str) -> Any:
    """Click an operation's summary row open; its block."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    block = driver.execute_script(FIND_OPERATION, method, path)
    assert block is not None, f"{method} {path} is not on the page"
    block.find_element(By.CSS_SELECTOR, ".opblock-summary-control").click()
    WebDriverWait(driver, WAIT).until(lambda _: block.find_elements(By.CSS_SELECTOR, ".opblock-body"))
    return block


def shown_in(driver: Any, method: str, path: str, css: str) -> Any:
    """Wait until an operation's block shows an element matching css (Swagger UI renders an opened operation's
    body before it has resolved the operation, and its controls after); that element."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def found(_: Any) -> Any:
        block = driver.execute_script(FIND_OPERATION, method, path)
        elements = block.find_elements(By.CSS_SELECTOR, css) if block is not None else []
        return elements[0] if elements and elements[0].is_displayed() else False

    return WebDriverWait(driver, WAIT).until(found)


def test_the_static_site_shows_every_operation_of_every_spec(site: Path, browser: Any) -> None:  # noqa: F811
    for page, name in PAGES.items():
        rendered = render(browser, (site / f"{page}.html").as_uri())
        shown = [(method, path) for method, path, _ in rendered]
        assert len(shown) == len(set(shown)), f"{page}: an operation is shown twice"
        assert set(shown) == set(operations(spec(name))), page
    browser.get((site / "index.html").as_uri())
    links = set(browser.execute_script("return [...document.querySelectorAll('a')].map(a => a.getAttribute('href'))"))
    assert {f"{page}.html" for page in PAGES} | {"aliveai-websockets.html"} <= links


class _Loads(HTMLParser):
    """The URLs a page's markup makes the browser load: script src, link href, img/iframe/source src."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "img": "src", "iframe": "src", "source": "src"}.get(tag)
        self.urls += [value or "" for name, value in attrs if name == wanted]


def test_the_static_site_loads_nothing_from_the_network(site: Path, browser: Any) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    pages = sorted(site.glob("*.html"))
    assert {page.name for page in pages} >= {"index.html", "aliveai-websockets.html", *(f"{p}.html" for p in PAGES)}
    for page in pages:
        markup = _Loads()
        markup.feed(page.read_text(encoding="utf-8"))
        assert markup.urls, page.name
        remote = [url for url in markup.urls if re.match(r"\s*(https?:)?//", url)]
        assert not remote, f"{page.name} loads {remote}"
    # a request that would leave the machine is blocked, and still listed in the resource timings (which list no
    # file: URL); a file missing from the folder shows as an error in the console
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["http://*", "https://*", "ws://*", "wss://*"]})
    for page in pages:
        if page.name.endswith("-websockets.html") or page.name == "index.html":
            browser.get(page.as_uri())
            WebDriverWait(browser, WAIT).until(lambda driver: driver.find_elements(By.CSS_SELECTOR, "main h1"))
        else:
            assert render(browser, page.as_uri()), page.name
        loaded = browser.execute_script(
            "return [...performance.getEntriesByType('resource').map(e => e.name), "
            "...[...document.querySelectorAll('script[src], link[href], img[src], iframe[src], source[src]')]"
            ".map(e => e.src || e.href)]")
        assert loaded, page.name
        assert [url for url in loaded if not url.startswith(LOCAL_SCHEMES)] == [], page.name
        failed = [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
        assert failed == [], page.name


def test_provenance_is_visible(site: Path, browser: Any) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By

    lovlychat = spec("lovlychat.yaml")
    ops = operations(lovlychat)
    documented = next(key for key, op in ops.items() if op.get("x-provenance") == "documented")
    # LovlyChat has no inferred operation: take an inferred parameter of one
    parameter, holder = next((local(lovlychat, parameter), key) for key, op in ops.items()
                             for parameter in op.get("parameters", ())
                             if local(lovlychat, parameter).get("x-provenance") == "inferred")
    render(browser, (site / "lovlychat.html").as_uri())
    block = expand(browser, *documented)
    description = block.find_element(By.CSS_SELECTOR, ".opblock-description-wrapper")
    assert description.is_displayed()
    assert description.text.startswith("[documented]")
    block = expand(browser, *holder)
    row = block.find_element(By.CSS_SELECTOR, f'tr[data-param-name="{parameter["name"]}"]')
    cell = row.find_element(By.CSS_SELECTOR, ".parameters-col_description")
    assert cell.is_displayed()
    assert f"[inferred] {plain(parameter['x-provenance-note'])[:60]}" in " ".join(cell.text.split())

    # every operation row says its provenance before it is opened; an inferred one says why when opened
    aliveai = spec("aliveai.yaml")
    rows = {(method, path): summary for method, path, summary in render(browser, (site / "aliveai.html").as_uri())}
    for key, op in operations(aliveai).items():
        assert rows[key].startswith(f"[{op['x-provenance']}]"), key
    inferred = next(key for key, op in operations(aliveai).items() if op["x-provenance"] == "inferred")
    text = " ".join(expand(browser, *inferred).find_element(By.CSS_SELECTOR, ".opblock-description-wrapper")
                    .text.split())
    assert text.startswith(f"[inferred] {plain(operations(aliveai)[inferred]['x-provenance-note'])[:60]}")

    browser.get((site / "index.html").as_uri())
    for api, name in API_SPECS.items():
        counts = Counter(op.get("x-provenance") for op in operations(spec(name)).values())
        for word in ("documented", "observed", "inferred"):
            cell = browser.find_element(By.CSS_SELECTOR, f'tr[data-api="{api}"] td[data-provenance="{word}"]')
            assert cell.is_displayed()
            assert cell.text == str(counts[word]), (api, word)


def test_the_websocket_page_lists_every_channel_and_message(site: Path, browser: Any) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By

    document = spec(ASYNCAPI)
    assert document["channels"]
    browser.get((site / "aliveai-websockets.html").as_uri())
    for channel_id, channel in document["channels"].items():
        section = browser.find_element(By.ID, f"channel-{channel_id}")
        assert section.is_displayed()
        assert channel["address"] in section.find_element(By.CSS_SELECTOR, ".address").text
        names = [element.text for element in section.find_elements(By.CSS_SELECTOR, ".message-name")]
        messages = [local(document, message) for message in channel["messages"].values()]
        assert names == [message["name"] for message in messages], channel_id
        for message in messages:  # its payload: the properties of the aliveai.yaml schema it names
            schema_name = message["payload"]["schema"]["$ref"].rsplit("/", 1)[-1]
            properties = spec("aliveai.yaml")["components"]["schemas"][schema_name]["properties"]
            article = section.find_element(By.ID, f"message-{message['name']}")
            shown = {element.text for element in article.find_elements(By.CSS_SELECTOR, "code.property")}
            assert set(properties) <= shown, message["name"]


def test_genmock_serve_serves_the_reference_of_each_origin(browser: Any) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By

    with running_mock() as mock:
        origin = mock["apis"]["lovlychat"]["base_url"]
        with httpx.Client(base_url=f"{origin}/__genmock/docs", timeout=30) as http:
            index = http.get(f"{origin}/__genmock/docs")  # httpx would add a slash to a relative ""
            assert index.status_code == 200
            assert index.headers["content-type"].startswith("text/html")
            assert 'href="lovlychat.html"' in index.text and 'href="admin.html"' in index.text
            assert "aliveai.html" not in index.text and "websockets.html" not in index.text
            for page in ("lovlychat.html", "admin.html"):
                answer = http.get(f"/{page}")
                assert answer.status_code == 200, page
                assert answer.headers["content-type"] == "text/html; charset=utf-8"
                embedded = json.loads(SPEC_SCRIPT.search(answer.text).group(1))  # type: ignore[union-attr]
                assert embedded["servers"][0]["url"] == origin, page
            assert http.get("/swagger-ui-bundle.js").headers["content-type"].startswith("application/javascript")
            assert http.get("/swagger-ui.css").headers["content-type"].startswith("text/css")
            for unknown in ("aliveai.html", "nothing.html"):
                missing = http.get(f"/{unknown}")
                assert missing.status_code == 404
                assert missing.headers["content-type"] == "application/problem+json"
                assert missing.json()["status"] == 404
        aliveai = httpx.get(f"{mock['apis']['aliveai']['base_url']}/__genmock/docs", timeout=30)
        assert 'href="aliveai-websockets.html"' in aliveai.text

        # the index's relative links work from /__genmock/docs (no trailing slash)
        browser.get(f"{origin}/__genmock/docs")
        link = browser.find_element(By.CSS_SELECTOR, 'main a[href="lovlychat.html"]')
        assert link.get_attribute("href") == f"{origin}/__genmock/docs/lovlychat.html"
        link.click()
        render(browser, browser.current_url)
        assert browser.current_url == f"{origin}/__genmock/docs/lovlychat.html"
        # authorize through Swagger UI's dialog with the demo key, then try GET /v1/pricing against the mock
        browser.find_element(By.CSS_SELECTOR, ".auth-wrapper .authorize").click()
        browser.find_element(By.ID, "auth-bearer-value").send_keys(mock["apis"]["lovlychat"]["credentials"][0])
        dialog = browser.find_element(By.ID, "auth-bearer-value").find_element(By.XPATH, "./ancestor::form")
        dialog.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        dialog.find_element(By.CSS_SELECTOR, ".btn-done").click()
        expand(browser, "GET", "/v1/pricing")
        shown_in(browser, "GET", "/v1/pricing", ".try-out__btn").click()
        shown_in(browser, "GET", "/v1/pricing", ".execute").click()
        shown_in(browser, "GET", "/v1/pricing", ".live-responses-table")
        block = browser.execute_script(FIND_OPERATION, "GET", "/v1/pricing")
        assert block.find_element(By.CSS_SELECTOR, ".request-url pre").text == f"{origin}/v1/pricing"
        assert f"{origin}/v1/pricing" in block.find_element(By.CSS_SELECTOR, ".curl").text
        status = block.find_element(By.CSS_SELECTOR, ".live-responses-table tbody td.response-col_status")
        assert status.text == "200"
        body = block.find_element(By.CSS_SELECTOR, ".live-responses-table tbody td.response-col_description")
        assert "LoveCoin" in body.text
