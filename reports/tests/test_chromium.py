"""The HTML report opens in headless Chromium with its charts rendered and no console error (issue 7 acceptance).

Chromium is a system package (Debian's ``chromium``); without it this test fails, it never skips.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reports.build import build_report
from reports.tests.chromium import Chromium, find_chromium


def test_report_renders_in_headless_chromium_with_sized_charts_and_no_console_errors(
    artefacts: Path, tmp_path: Path
) -> None:
    if find_chromium() is None:
        pytest.fail("Chromium is not installed: `apt-get install -y chromium` (CI's .ci/run installs it)")
    out = artefacts / "report"
    data = build_report(artefacts, out)
    screenshot = tmp_path / "report.png"
    with Chromium.launch(tmp_path / "profile") as browser:
        page = browser.inspect(out / "report.html", screenshot)

    assert page.console_errors == []
    assert page.title.startswith("Payment integration audit") and f"{data.score.score:g}/100" in page.title
    assert [i["alt"].split(":")[0] for i in page.images] == [
        "Coverage per component",
        "Latency over time",
        "Throughput",
        "Detection matrix",
    ]
    for image in page.images:
        assert image["complete"] and image["natural_width"] > 0 and image["natural_height"] > 0, image
        assert image["width"] > 300 and image["height"] > 100, image
    shot = screenshot.read_bytes()
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"
    # A full-page capture of a report this long is tall; a blank or broken page is not.
    assert page.height > 3000 and len(shot) > 50_000


def test_a_page_with_a_script_error_is_caught(tmp_path: Path) -> None:
    """The probe itself can fail: an error on the page reaches ``console_errors``."""
    if find_chromium() is None:
        pytest.fail("Chromium is not installed: `apt-get install -y chromium` (CI's .ci/run installs it)")
    page_file = tmp_path / "broken.html"
    page_file.write_text("<!DOCTYPE html><title>t</title><script>console.error('bad'); nope();</script>")
    with Chromium.launch(tmp_path / "profile") as browser:
        page = browser.inspect(page_file, tmp_path / "broken.png")
    assert any("bad" in e for e in page.console_errors)
    assert any(e.startswith("exception:") for e in page.console_errors)
