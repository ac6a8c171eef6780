"""The HTML report opens in headless Chromium with its charts rendered and no console error (issue 7 acceptance).

Chromium is a system package (Debian's ``chromium``). Without it these tests skip, with the reason in
pytest's summary, on a developer's machine; with ``CI=true`` (how ``.ci/run`` is run) they fail instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reports.build import build_report
from reports.tests.chromium import ENV, browser_required, find_chromium, inspect, open_browser

MISSING = (
    "Chromium is not installed: the browser tests need it (`apt-get install -y chromium`, "
    f"or {ENV}=/path/to/chromium); CI=true makes them required"
)
HERE = Path(__file__).resolve()


def _chromium() -> str:
    """The browser, or a skip (a failure with CI=true); called in the test so a missing one reads as failed."""
    found = find_chromium()
    if found is None:
        if browser_required():
            pytest.fail(MISSING)
        pytest.skip(MISSING)
    return found


def test_report_renders_in_headless_chromium_with_sized_charts_and_no_console_errors(
    artefacts: Path, tmp_path: Path
) -> None:
    chromium = _chromium()
    out = artefacts / "report"
    data = build_report(artefacts, out)
    screenshot = tmp_path / "report.png"
    with open_browser(chromium) as browser:
        page = inspect(browser, out / "report.html", screenshot)

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


def test_a_page_with_a_script_error_or_a_missing_image_is_caught(tmp_path: Path) -> None:
    """The probe itself can fail: an error on the page reaches ``console_errors``."""
    chromium = _chromium()
    page_file = tmp_path / "broken.html"
    page_file.write_text(
        "<!DOCTYPE html><title>t</title><img src='nowhere.png' alt='x'>"
        "<script>console.error('bad'); nope();</script>"
    )
    with open_browser(chromium) as browser:
        page = inspect(browser, page_file, tmp_path / "broken.png")
    assert any("bad" in e for e in page.console_errors)
    assert any(e.startswith("exception:") for e in page.console_errors)
    assert any("nowhere.png" in e for e in page.console_errors)


def test_the_lookup_honours_the_setting_and_path(tmp_path: Path) -> None:
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    assert find_chromium({"PATH": str(tmp_path)}) == str(fake)
    assert find_chromium({"PATH": str(tmp_path / "empty")}) is None
    assert find_chromium({ENV: str(fake), "PATH": ""}) == str(fake)
    assert find_chromium({ENV: str(tmp_path / "absent"), "PATH": str(tmp_path)}) is None
    assert browser_required({"CI": "true"}) and not browser_required({}) and not browser_required({"CI": "false"})


def _run_without_chromium(ci: str | None, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """This file's browser tests in a child pytest whose PATH holds no Chromium (only this interpreter's bin)."""
    env = {k: v for k, v in os.environ.items() if k not in ("CI", ENV, "PYTEST_ADDOPTS")}
    env["PATH"] = str(Path(sys.executable).parent)
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(HERE), "-k", "renders or caught", "-p", "no:cacheprovider",
         "-p", "no:randomly", "-q", "-rsf", f"--rootdir={HERE.parents[2]}", f"--basetemp={tmp_path / 'child'}"],
        cwd=HERE.parents[2], env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def test_without_chromium_the_browser_tests_skip_with_the_reason_outside_ci(tmp_path: Path) -> None:
    run = _run_without_chromium(None, tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 skipped" in run.stdout and "SKIPPED" in run.stdout and "apt-get install -y chromium" in run.stdout


def test_without_chromium_the_browser_tests_fail_when_ci_is_true(tmp_path: Path) -> None:
    run = _run_without_chromium("true", tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "2 failed" in run.stdout and "Chromium is not installed" in run.stdout
