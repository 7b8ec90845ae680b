"""Headless Chromium for the tests of what people look at (the docs site, the dashboard), driven by Selenium
through Debian's chromium and chromium-driver (`.ci/run` installs both).

Without them a test that needs the browser is skipped where it runs by hand, and fails under CI (`CI` set), so
that a browser test can never pass by not running.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

CHROMIUM = os.environ.get("GENMOCK_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("GENMOCK_CHROMEDRIVER", "/usr/bin/chromedriver")
# no sync, updates or background fetches: the machine's network is closed, and a test must not wait on it
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,1000")


def browser_missing() -> str | None:
    """Why no browser can run here, or None."""
    for program in (CHROMIUM, CHROMEDRIVER):
        if shutil.which(program) is None:
            return f"{program} is not installed (Debian: apt-get install chromium chromium-driver)"
    return None


@contextmanager
def chromium() -> Iterator[Any]:
    """A fresh headless Chromium (a Selenium WebDriver) with an empty profile, quit and removed afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="genmock-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def browser() -> Iterator[Any]:
    """Chromium for one test; skipped where it is not installed, failed under CI."""
    missing = browser_missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    with chromium() as driver:
        yield driver
