"""payharness[simulators] alone: a fresh venv with only that extra starts the simulators with chosen keys.

The other extras (core, load, report) take 30-65 s each to install into a fresh venv, more than this test
run can spare; .ci/run checks them with ``python -m harness.extras core load report``.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from harness.extras import EXTRAS, check
from harness.paths import repo_root

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


def test_a_project_with_only_the_simulators_extra_and_pytest_runs_the_example_shops_tests(tmp_path: Path) -> None:
    """The example shop's tests, copied into a project of their own, pass with [simulators] + pytest alone.

    The project is what a payment team would have: its own code and tests, pytest, and the simulators' plugin
    switched on by name (``-p payharness.simulators``) — none of the harness's conftest, core or Postgres.
    """
    python = check("simulators", tmp_path)
    # The shop's own needs: pytest for its tests, python-multipart for FastAPI's form parsing (PayU confirms by form).
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "pytest",
                    "python-multipart"], check=True, timeout=240)
    project = tmp_path / "project"
    shutil.copytree(repo_root() / "examples" / "shop_checkout", project / "examples" / "shop_checkout",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (project / "examples" / "__init__.py").write_text("")
    (project / "pytest.ini").write_text("[pytest]\naddopts = -p payharness.simulators\n")
    run = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "examples"], cwd=project,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    passed = re.search(r"(\d+) passed", run.stdout)
    assert passed and int(passed.group(1)) >= 6, run.stdout[-2000:]
    assert "failed" not in run.stdout and "error" not in run.stdout.lower().split("passed")[-1]
