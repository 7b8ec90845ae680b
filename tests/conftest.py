"""Shared fixtures: a real `genmock serve` process on 127.0.0.1 (any free port), stopped by its PID."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.servers import running_mock

SERVE_ARGS = ("--db", ":memory:", "--seed", "1", "--clock", "virtual")
MOCK_LAUNCHER = ("-m", "mockserver.cli")


@pytest.fixture
def mock_server(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """The credentials JSON of a fresh mock (`{"admin_token", "apis": {api: {"base_url", "credentials", ...}}}`).

    Parametrize it indirectly with another launcher to start a variant, e.g.
    `("-m", "tests.broken", "double-charge")`."""
    launcher = getattr(request, "param", MOCK_LAUNCHER)
    with running_mock(*SERVE_ARGS, launcher=tuple(launcher)) as credentials:
        yield credentials
