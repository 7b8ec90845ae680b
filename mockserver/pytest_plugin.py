"""The genmock pytest plugin: installing genmock is enough (it is registered through the `pytest11` entry point).

A test that asks for the `genmock` fixture gets a `genmock serve` started for the session on free ports of
127.0.0.1, with its state in memory, reset before each test (only the demo tenants; the clock frozen unless
`--genmock-clock real`), and stopped at the end of the session:

    def test_a_job_is_charged(genmock):
        api = genmock.lovlychat
        tenant = api.new_tenant(balance=10)
        job = MyClient(api.base_url, tenant.key).create_image("a lighthouse")
        genmock.advance(60)
        assert MyClient(api.base_url, tenant.key).job(job.id).status == "completed"
        assert api.balance(tenant) == 9

`genmock_server` is the same server without the reset, for session-wide fixtures of your own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mockserver.testing import API_NAMES, Genmock


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("genmock", "genmock: the mock server of the genmock fixture")
    group.addoption("--genmock-api", action="append", choices=API_NAMES, default=None, dest="genmock_apis",
                    help="serve only this API (repeatable; default: the genmock_apis ini value, else all)")
    group.addoption("--genmock-clock", choices=("virtual", "real"), default=None,
                    help="virtual (default): time stands still in each test until genmock.advance(seconds)")
    group.addoption("--genmock-seed", type=int, default=None,
                    help="make genmock's ids, credentials and media reproducible")
    parser.addini("genmock_apis", "APIs the genmock fixture serves (default: all)", type="args", default=[])
    parser.addini("genmock_clock", "virtual (default) or real", default="virtual")


def pytest_configure(config: pytest.Config) -> None:
    """Refuse a bad setting at the start of the run, not in the first test that asks for genmock."""
    unknown = sorted(set(_apis(config)) - set(API_NAMES))
    if unknown:
        raise pytest.UsageError(f"genmock_apis: unknown API {', '.join(unknown)} (known: {', '.join(API_NAMES)})")
    if _clock(config) not in ("virtual", "real"):
        raise pytest.UsageError(f"genmock_clock is virtual or real, not {_clock(config)!r}")


def _apis(config: pytest.Config) -> list[str]:
    return config.getoption("genmock_apis") or config.getini("genmock_apis")


def _clock(config: pytest.Config) -> str:
    return config.getoption("genmock_clock") or config.getini("genmock_clock")


@pytest.fixture(scope="session")
def genmock_server(pytestconfig: pytest.Config) -> Iterator[Genmock]:
    """One `genmock serve` for the test session (state in memory), stopped at its end."""
    with Genmock.start(apis=_apis(pytestconfig), clock=_clock(pytestconfig),
                       seed=pytestconfig.getoption("genmock_seed")) as server:
        yield server


@pytest.fixture
def genmock(genmock_server: Genmock, pytestconfig: pytest.Config) -> Genmock:
    """The session's genmock, reset for this test: every API with only its demo tenant, the clock frozen
    (virtual) or running (real), no faults armed, an empty request journal."""
    genmock_server.reset(clock=_clock(pytestconfig))
    for api in genmock_server.apis.values():
        api.clear_requests()
    return genmock_server
