"""Take the README's screenshot of a `genmock check --report` page: `python -m tests.check_report_screenshot
docs/check-report.png`.

Starts the broken mock whose gallery lists assets oldest first (`tests.broken lc-gallery-order`), runs `genmock
check` on LovlyChat against it (responses and stateful layers, seed 1, shrinking on so that the failing sequence
is short), opens the report it wrote from file:// in headless Chromium and saves the top of the page as a PNG.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from tests.browser import browser_missing, chromium
from tests.servers import running_mock

API = "lovlychat"
BROKEN = ("-m", "tests.broken", "lc-gallery-order")
WIDTH, HEIGHT = 1200, 1500


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    missing = browser_missing()
    if missing:
        print(missing, file=sys.stderr)
        return 1
    out = Path(argv[0])
    with tempfile.TemporaryDirectory() as folder, running_mock("--clock", "virtual", "--seed", "1",
                                                               launcher=BROKEN) as mock:
        page = Path(folder) / "report.html"
        result = subprocess.run([sys.executable, "-m", "mockserver.cli", "check", "--api", API, "--base-url",
                                 mock["apis"][API]["base_url"], "--admin-token", mock["admin_token"], "--layers",
                                 "responses,stateful", "--max-examples", "25", "--seed", "1", "--report", str(page)],
                                capture_output=True, text=True, timeout=600)
        if result.returncode != 1:
            print(f"expected the broken mock to fail its check (exit 1), got {result.returncode}:\n{result.stdout}"
                  f"{result.stderr}", file=sys.stderr)
            return 1
        with chromium() as driver:
            driver.set_window_size(WIDTH, HEIGHT)
            driver.get(page.resolve().as_uri())
            out.parent.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(out))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
