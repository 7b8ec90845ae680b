"""examples/: the integrator's client tests on the genmock pytest plugin and the two CI workflows, run as their
users would run them (each workflow's own commands, in a shell, with its variables), and the plugin itself.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

pytest_plugins = ["pytester"]

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def workflow(path: Path) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """A GitHub Actions workflow's job variables and its steps by name (the one job it has)."""
    [job] = yaml.safe_load(path.read_text(encoding="utf-8"))["jobs"].values()
    return {name: str(value) for name, value in job.get("env", {}).items()}, \
        {step["name"]: step for step in job["steps"] if "name" in step}


def shell(step: dict[str, Any], cwd: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    """A step's `run` as GitHub runs it (bash -e), with this interpreter's `python` and `genmock` first on PATH."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run(["bash", "-e", "-c", step["run"]], cwd=cwd, env={**os.environ, **env, "PATH": path},
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def test_the_integrator_workflow_runs_the_client_tests_on_the_plugin_alone(tmp_path: Path) -> None:
    variables, steps = workflow(EXAMPLES / "integrator" / "ci.yml")
    install = steps["Install genmock and the client's dependencies"]["run"].split()
    assert '"$GENMOCK"' in install and {"httpx", "pytest"} <= set(install)
    assert variables["GENMOCK"] == "genmock"
    # the repository as the workflow checks it out: the example's files, no conftest, no setup of its own
    shutil.copytree(EXAMPLES / "integrator", tmp_path / "examples" / "integrator")
    assert not list(tmp_path.rglob("conftest.py"))

    done = shell(steps["Client tests against genmock"], tmp_path, variables)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed" in done.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_provider_workflow_checks_its_server_and_keeps_the_report(tmp_path: Path) -> None:
    variables, steps = workflow(EXAMPLES / "provider" / "ci.yml")
    assert steps["Install genmock"]["run"].split()[-1] == '"$GENMOCK"'
    port = free_port()  # LucyDream answers on the first port + 2
    variables |= {"GENMOCK_PORT": str(port - 2), "GENMOCK_TARGET": f"http://127.0.0.1:{port}"}
    started = shell(steps["Start the server under test"], tmp_path, variables, timeout=60)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code < 500

        checked = shell(steps["Contract check"], tmp_path, variables)
    finally:
        stopped = shell(steps["Stop the server under test"], tmp_path, variables, timeout=30)
    assert stopped.returncode == 0, stopped.stderr

    assert checked.returncode == 0, checked.stdout + checked.stderr
    report = json.loads((tmp_path / "contract-report.json").read_text(encoding="utf-8"))
    assert report["api"] == "lucydream" and report["base_url"] == variables["GENMOCK_TARGET"]
    assert report["verdict"] == "held"
    assert {(gap["property"], gap["accepted"]) for gap in report["gaps"]} == {("tenant_isolation", True),
                                                                               ("model_creation", True)}
    assert steps["Keep the report"]["with"]["path"] == "contract-report.json"


PLUGIN_TESTS = """
import pytest
from mockserver.testing import GenmockError

made = []

def test_a_tenant_is_made_with_its_balance(genmock):
    tenant = genmock.lovlychat.new_tenant(balance=42)
    made.append(tenant)
    assert genmock.lovlychat.balance(tenant) == 42
    genmock.lovlychat.arm_fault("job")
    assert genmock.clock()["mode"] == "{clock}"
    pid = genmock.process.pid
    open("pid", "w").write(str(pid))

def test_the_next_test_starts_from_the_first_state(genmock):
    with pytest.raises(GenmockError, match="404"):
        genmock.lovlychat.ledger(made[0])
    assert genmock.lovlychat.call("GET", "/faults")["faults"] == []
    assert [tenant["name"] for tenant in genmock.lovlychat.call("GET", "/tenants")["tenants"]] == ["demo"]
    assert genmock.clock()["mode"] == "{clock}"
    assert genmock.lovlychat.requests() == []

def test_only_the_apis_asked_for_are_served(genmock):
    assert sorted(genmock.apis) == {apis}
"""


@pytest.mark.parametrize(("options", "clock", "apis"), [
    ((), "virtual", ["aliveai", "lovlychat", "lucydream"]),
    (("--genmock-clock", "real", "--genmock-api", "lovlychat"), "real", ["lovlychat"]),
])
def test_the_plugin_serves_a_session_and_resets_each_test(pytester: pytest.Pytester, options: tuple[str, ...],
                                                         clock: str, apis: list[str]) -> None:
    pytester.makepyfile(PLUGIN_TESTS.replace("{clock}", clock).replace("{apis}", repr(apis)))

    result = pytester.runpytest_subprocess(*options)

    result.assert_outcomes(passed=3)
    pid = int((pytester.path / "pid").read_text())
    with pytest.raises(ProcessLookupError):  # stopped with the session
        os.kill(pid, 0)


def test_the_ini_file_chooses_the_apis(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ngenmock_apis = lucydream\n")
    pytester.makepyfile("def test_one(genmock):\n    assert list(genmock.apis) == ['lucydream']\n")
    pytester.runpytest_subprocess().assert_outcomes(passed=1)
    pytester.makeini("[pytest]\ngenmock_apis = lucydream nothing\n")
    result = pytester.runpytest_subprocess()
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*genmock_apis: unknown API nothing*"])


def test_the_plugin_knows_the_apis_genmock_serves() -> None:
    from mockserver import dialects, testing

    assert testing.API_NAMES == dialects.NAMES
