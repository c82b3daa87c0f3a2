"""A real headless Chromium (Debian's ``chromium``) driven by Playwright, for the dashboard tests.

Playwright never downloads a browser here: it launches ``/usr/bin/chromium`` (``make chromium``
installs it). ``find_chromium`` says whether it is there. Run as a module to refresh the committed
screenshot of the overview from a running fleetsre (``fleetsre demo --serve`` gives the demo fleet)::

    .venv/bin/python -m tests.e2e.browser http://127.0.0.1:8000 docs/dashboard-overview.png
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["CHROMIUM", "LAUNCH_ARGS", "MISSING", "find_chromium", "launch", "screenshot_overview"]

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run"]
MISSING = (f"the dashboard tests need Debian's chromium at {CHROMIUM} (`make chromium` or "
           "`apt-get install -y chromium`) and the Python package playwright (dev extra)")
VIEWPORT = {"width": 1400, "height": 1000}


def find_chromium() -> str | None:
    """The Chromium executable, when it and the playwright package are both installed."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return None
    path = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    return path


@contextmanager
def launch(executable: str) -> Iterator[Any]:
    """A headless Chromium browser (Playwright's sync API), closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=LAUNCH_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def screenshot_overview(browser: Any, base_url: str, out: Path) -> None:
    """Open the overview, wait for the cluster grid and the charts, and save a full-page PNG."""
    page = browser.new_page(viewport=VIEWPORT)
    try:
        page.goto(f"{base_url}/#/")
        page.wait_for_selector("#cluster-grid .tile")
        page.wait_for_selector("#live[data-live='on']")
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out), full_page=True)
    finally:
        page.close()


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    executable = find_chromium()
    if executable is None:
        print(MISSING, file=sys.stderr)
        return 1
    with launch(executable) as browser:
        screenshot_overview(browser, argv[0].rstrip("/"), Path(argv[1]))
    print(f"wrote {argv[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
