"""The system's headless Chromium, driven by Playwright: open a page, collect console errors, measure images.

Playwright's own browser download needs a host beyond PyPI, so it drives the Chromium the machine already
has (Debian's ``chromium``, or ``PAYHARNESS_CHROMIUM=/path/to/chrome``) through ``executable_path``.
Whether a missing browser skips or fails is the tests' decision (``browser_required``), not this module's.

Usage::

    with open_browser(find_chromium()) as browser:
        page = inspect(browser, Path("report.html").resolve(), tmp_path / "shot.png")
    page.console_errors, page.images
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, ConsoleMessage, sync_playwright

ENV = "PAYHARNESS_CHROMIUM"
CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
# Containers run as root, where Chromium refuses its sandbox; the page is our own file.
ARGS = ("--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage")
IMAGES_JS = """() => Array.from(document.images).map(i => {
  const r = i.getBoundingClientRect();
  return {alt: i.alt, width: r.width, height: r.height, natural_width: i.naturalWidth,
          natural_height: i.naturalHeight, complete: i.complete};
})"""
TIMEOUT_MS = 30_000


def find_chromium(env: Mapping[str, str] | None = None) -> str | None:
    """``PAYHARNESS_CHROMIUM`` when it names an executable, else the first Chromium on ``PATH``, else None."""
    env = os.environ if env is None else env
    if chosen := env.get(ENV):
        return chosen if os.access(chosen, os.X_OK) and Path(chosen).is_file() else None
    path = env.get("PATH", os.defpath)
    return next((found for name in CANDIDATES if (found := shutil.which(name, path=path))), None)


def browser_required(env: Mapping[str, str] | None = None) -> bool:
    """CI must run the browser tests (``CI=true``, as ``.ci/run`` is run); elsewhere they may skip."""
    env = os.environ if env is None else env
    return env.get("CI", "").strip().lower() in {"1", "true", "yes"}


@dataclass
class PageReport:
    console_errors: list[str] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)
    title: str = ""
    height: int = 0


@contextmanager
def open_browser(executable: str) -> Iterator[Browser]:
    # Chromium keeps its singleton socket in an org.chromium.Chromium.* folder of the temp directory and leaves
    # it there when it does not shut down cleanly (36 such folders were found in /tmp, two per CI run of the
    # last session): it gets a temp directory of its own, removed afterwards whatever happened.
    with tempfile.TemporaryDirectory(prefix="payharness-chromium-") as scratch, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=list(ARGS), timeout=TIMEOUT_MS,
                                             env={**os.environ, "TMPDIR": scratch})
        try:
            yield browser
        finally:
            browser.close()


def inspect(browser: Browser, page_file: Path, screenshot: Path, *, width: int = 1280) -> PageReport:
    """Load ``page_file`` until its load event, then read errors, images, title and height; save a screenshot."""
    report = PageReport()
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    page.on("console", lambda message: _console(report, message))
    page.on("pageerror", lambda error: report.console_errors.append(f"exception: {error}"))
    page.on("requestfailed", lambda request: report.console_errors.append(f"failed: {request.url}"))
    page.goto(page_file.as_uri(), wait_until="load")
    report.images = list(page.evaluate(IMAGES_JS))
    report.title = page.title()
    report.height = int(page.evaluate("() => document.documentElement.scrollHeight"))
    page.screenshot(path=str(screenshot), full_page=True)
    page.close()
    return report


def _console(report: PageReport, message: ConsoleMessage) -> None:
    if message.type in ("error", "assert"):
        report.console_errors.append(f"console.{message.type}: {message.text}")
