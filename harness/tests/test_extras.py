"""payharness[simulators] alone: a fresh venv with only that extra starts the simulators with chosen keys.

The other extras (core, load, report) take 30-65 s each to install into a fresh venv, more than this test
run can spare; .ci/run checks them with ``python -m harness.extras core load report``.
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from harness.extras import EXTRAS, check

pytestmark = pytest.mark.slow


def test_the_simulators_extra_alone_imports_starts_and_takes_chosen_keys(tmp_path: Path) -> None:
    python = check("simulators", tmp_path)  # fresh venv, only [simulators]; heavy packages absent
    assert {"locust", "matplotlib", "testcontainers"} <= set(EXTRAS["simulators"].absent)
    cli = python.parent / "payharness"
    process = subprocess.Popen(
        [str(cli), "simulators", "--json", "--only", "wompi", "--wompi-public-key", "pub_test_extra_0001"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.rstrip() == "}":
                break
        assert lines, process.communicate(timeout=10)[1]
        (report,) = json.loads("".join(lines))["simulators"]
        merchant = httpx.get(f"{report['url']}/v1/merchants/pub_test_extra_0001", timeout=5)
        assert merchant.status_code == 200, merchant.text
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
