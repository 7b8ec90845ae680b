"""A real install: build the wheel, install it with its dependencies into a fresh virtualenv, and run
`genmock serve` and `genmock check` from a folder outside the checkout, so that only the installed package
can be imported (the specs must ship inside the wheel; `genmock check` must work without extras).

The slowest test module (about a minute: the build and the install); it runs in CI like every other.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import running_mock

REPO = Path(__file__).resolve().parents[1]
# what the wheel is built from; copied, so that the build leaves nothing (build/, *.egg-info) in the checkout
SOURCES = ("pyproject.toml", "README.md", "specs", "mockserver", "contracts")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")


@dataclass(frozen=True)
class Installed:
    bin: Path  # the virtualenv's bin/
    workdir: Path  # an empty folder outside the checkout, the cwd of every command

    def run(self, *command: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.bin / command[0]), *command[1:]], cwd=self.workdir, env=_clean_env(),
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _clean_env() -> dict[str, str]:
    """This environment without anything that would let the checkout's sources be imported."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSAFEPATH")}
    env["PYTHONNOUSERSITE"] = "1"
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("install")
    source, wheels, venv, workdir = root / "source", root / "wheels", root / "venv", root / "work"
    source.mkdir()
    workdir.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=IGNORED)
        else:
            shutil.copy2(REPO / name, source / name)
    env = _clean_env()
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--quiet", "-w", str(wheels)],
                   check=True, env=env, cwd=workdir, timeout=300)
    (wheel,) = wheels.glob("genmock-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env, cwd=workdir, timeout=120)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)], check=True,
                   env=env, cwd=workdir, timeout=600)
    return Installed(bin=venv / "bin", workdir=workdir)


def test_the_wheel_ships_the_specs(installed: Installed) -> None:
    probe = ("import json, importlib.resources, genmock_specs; "
             "print(json.dumps([genmock_specs.__file__, sorted(entry.name for entry in "
             "importlib.resources.files('genmock_specs').iterdir() if entry.is_file() and "
             "not entry.name.endswith(('.py', '.pyc'))), genmock_specs.names()]))")
    result = installed.run("python", "-c", probe)
    assert result.returncode == 0, result.stderr
    module_file, shipped, named = json.loads(result.stdout)
    # every spec of the checkout, whatever its format (a suffix missing from package-data shows here)
    expected = sorted(path.name for path in (REPO / "specs").iterdir() if path.is_file() and path.suffix != ".py")
    assert "lucydream.yaml" in expected
    assert shipped == expected and named == expected
    assert Path(module_file).is_relative_to(installed.bin.parent), f"imported from {module_file}, not the install"


def test_the_wheel_holds_every_module_of_the_checkout(installed: Installed) -> None:
    probe = ("import importlib.metadata, json; "
             "print(json.dumps([str(f) for f in importlib.metadata.files('genmock')]))")
    result = installed.run("python", "-c", probe)
    assert result.returncode == 0, result.stderr
    shipped = set(json.loads(result.stdout))
    expected = {path.relative_to(REPO).as_posix() for package in ("mockserver", "contracts")
                for path in (REPO / package).rglob("*.py") if "__pycache__" not in path.parts}
    missing = sorted(expected - shipped)
    assert not missing, f"not in the wheel (a package missing from [tool.setuptools] packages?): {missing}"


def test_check_help_needs_no_extras(installed: Installed) -> None:
    result = installed.run("genmock", "check", "--help")
    assert result.returncode == 0, result.stderr
    assert "--base-url" in result.stdout


def test_serve_then_check_from_the_installed_package(installed: Installed) -> None:
    with running_mock("--api", "lucydream", program=[str(installed.bin / "genmock")], cwd=installed.workdir,
                      env=_clean_env(), timeout=30) as served:
        lucydream = served["apis"]["lucydream"]
        result = installed.run("genmock", "check", "--api", "lucydream", "--base-url", lucydream["base_url"],
                               "--admin-token", served["admin_token"], "--layers", "responses",
                               "--max-examples", "2", timeout=300)
    output = result.stdout + result.stderr
    assert "Traceback" not in output and "FileNotFoundError" not in output, output
    assert result.returncode == 0, output
