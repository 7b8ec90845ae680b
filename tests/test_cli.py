"""`genmock` as a user runs it: help, serve's printout and credentials file, the published examples, restarts."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.servers import running_mock

LUCYDREAM_CURL = """curl -X POST https://my.lucydream.ai/wp-json/apiservices/v1/generate \\
-H "Content-Type: application/json" \\
-H "X-API-Key: your_api_key_here" \\
-d '{
"prompt": "A beautiful blonde in lingerie at sunset",
"tune_id": "12345",
"safetensors_path": "https://your-bucket-url/12345.safetensors",
"trigger_name": "woman",
"api_mode": "spicy"
}'"""

LUCYDREAM_FETCH = """fetch('https://my.lucydream.ai/wp-json/apiservices/v1/generate', {
method: 'POST',
headers: {
'Content-Type': 'application/json',
'X-API-Key': 'your_api_key_here'
},
body: JSON.stringify({
prompt: 'A beautiful blonde in lingerie at sunset',
tune_id: '12345',
safetensors_path: 'https://your-bucket-url/12345.safetensors',
trigger_name: 'woman',
api_mode: 'standard'
})
})
.then(response => response.json())
.then(data => console.log(data))
.catch(error => console.error('Error:', error));"""


def call(method: str, url: str, body: Any = None, **headers: str) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json",
                                                                              **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def test_help_explains_each_command() -> None:
    output = subprocess.run([sys.executable, "-m", "mockserver.cli", "--help"], capture_output=True, text=True,
                            check=True).stdout
    assert "serve" in output and "check" in output
    serve_help = subprocess.run([sys.executable, "-m", "mockserver.cli", "serve", "--help"], capture_output=True,
                                text=True, check=True).stdout
    for option in ("--port", "--credentials-file", "--seed", "--fresh", "--db", "--clock"):
        assert option in serve_help


def test_serve_prints_and_writes_what_a_client_needs() -> None:
    with running_mock("--seed", "9") as served:
        assert set(served["apis"]) == {"lovlychat", "aliveai", "lucydream"}
        aliveai = served["apis"]["aliveai"]
        assert aliveai["account"]["email"] == "dev@example.com" and aliveai["account"]["password"]
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                            aliveai["credentials"][0])
        lucydream = served["apis"]["lucydream"]
        assert lucydream["credentials"] == ["your_api_key_here"] and lucydream["balance"] == 5
        assert lucydream["base_url"].startswith("http://127.0.0.1:")
        assert lucydream["base_url"] != served["apis"]["lovlychat"]["base_url"]
        status, state = call("GET", f"{lucydream['admin_url']}/state", authorization=f"Bearer {served['admin_token']}")
        assert status == 200 and state["api"] == "lucydream" and state["seed"] == 9
        served["process"].terminate()
        printed = served["process"].communicate(timeout=10)[0]
    for api in served["apis"].values():
        assert api["base_url"] in printed and api["credentials"][0] in printed
    login = served["apis"]["aliveai"]["account"]
    assert all(login[key] in printed for key in ("email", "password", "userId"))
    assert served["admin_token"] in printed


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_the_published_curl_example_works_with_only_the_host_changed() -> None:
    with running_mock() as served:
        command = LUCYDREAM_CURL.replace("https://my.lucydream.ai", served["apis"]["lucydream"]["base_url"])
        output = subprocess.run(["bash", "-c", command + " --silent"], capture_output=True, text=True, check=True)
    body = json.loads(output.stdout)
    assert body["w"] == 896 and body["balance"] == pytest.approx(4.9), body


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_the_published_javascript_example_works_with_only_the_host_changed() -> None:
    with running_mock() as served:
        script = LUCYDREAM_FETCH.replace("https://my.lucydream.ai", served["apis"]["lucydream"]["base_url"])
        output = subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True, timeout=30)
    assert "image_url" in output.stdout and "Image generated successfully" in output.stdout, output


def test_lovlychat_quickstart_queue_poll_embed_list() -> None:
    with running_mock("--clock", "virtual") as served:
        api = served["apis"]["lovlychat"]
        key = {"authorization": f"Bearer {api['credentials'][0]}"}
        request = {"kind": "image", "variant": "standard", "prompt": "Aiko", "characterId": "char_aiko"}
        status, job = call("POST", f"{api['base_url']}/v1/generation/jobs", request, **key)
        assert (status, job["status"]) == (202, "queued")
        admin = {"authorization": f"Bearer {served['admin_token']}"}
        for _ in range(20):
            status, polled = call("GET", f"{api['base_url']}/v1/generation/jobs/{job['id']}", **key)
            if polled["status"] == "completed":
                break
            call("POST", f"{api['admin_url']}/clock", {"advanceSeconds": 2}, **admin)
        assert polled["status"] == "completed"
        with urllib.request.urlopen(polled["assets"][0]["url"]) as image:
            assert image.headers["content-type"] == "image/png" and image.read(8) == b"\x89PNG\r\n\x1a\n"
        status, gallery = call("GET", f"{api['base_url']}/v1/generation/gallery", **key)
        assert [item["id"] for item in gallery["items"]] == [polled["assets"][0]["id"]]


def test_parallel_jobs_on_one_wallet_accept_exactly_what_it_covers() -> None:
    with running_mock() as served:
        api = served["apis"]["lovlychat"]
        admin = {"authorization": f"Bearer {served['admin_token']}"}
        _, tenant = call("POST", f"{api['admin_url']}/tenants", {"balance": 75}, **admin)
        key = {"x-api-key": tenant["credentials"][0]}
        body = {"kind": "image", "variant": "standard", "prompt": "race", "characterId": "c"}
        with ThreadPoolExecutor(max_workers=16) as pool:
            statuses = list(pool.map(lambda _: call("POST", f"{api['base_url']}/v1/generation/jobs", body, **key)[0],
                                     range(16)))
        _, ledger = call("GET", f"{api['admin_url']}/tenants/{tenant['id']}/ledger", **admin)
    assert sorted(statuses) == [202] * 7 + [402] * 9
    assert ledger["balance"] == 5 and sum(entry["kind"] == "debit" for entry in ledger["entries"]) == 7


def test_state_survives_a_restart_and_fresh_forgets_it(tmp_path) -> None:
    database = str(tmp_path / "state.sqlite3")
    with running_mock("--db", database) as served:
        api = served["apis"]["lucydream"]
        request = json.loads(LUCYDREAM_CURL.split("-d '")[1].rstrip("'"))
        status, body = call("POST", f"{api['base_url']}/wp-json/apiservices/v1/generate", request,
                            **{"X-API-Key": "your_api_key_here"})
        assert (status, body["balance"]) == (200, pytest.approx(4.9))
    with running_mock("--db", database) as served:
        assert served["apis"]["lucydream"]["balance"] == pytest.approx(4.9)
    with running_mock("--db", database, "--fresh") as served:
        assert served["apis"]["lucydream"]["balance"] == 5


@pytest.mark.parametrize(("given", "runs"), [((), "uvloop"), (("--loop", "asyncio"), "asyncio")])
def test_serve_runs_the_event_loop_it_states(given: tuple[str, ...], runs: str) -> None:
    with running_mock("--api", "lucydream", *given) as served:
        mapped = Path(f"/proc/{served['process'].pid}/maps").read_text()
        assert served["event_loop"] == runs
        assert ("uvloop" in mapped) == (runs == "uvloop")  # uvloop's extension is loaded only when it runs
