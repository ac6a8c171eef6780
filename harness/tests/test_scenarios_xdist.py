"""The scenario plugin in real pytest runs: the same scenarios.json with and without pytest-xdist, beside the JUnit.

Each test runs pytest in a subprocess on a small suite of its own (passing, failing, skipped and erroring
tests, marks on the module, a class and a parameter), with a catalog of its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

CATALOG = """
[[scenario]]
id = "A-PASS"
point = "api"
title = "a"
source = "added"

[[scenario]]
id = "B-MIXED"
point = "api"
title = "b"
source = "added"

[[scenario]]
id = "C-SKIP"
point = "payu"
title = "c"
source = "added"

[[scenario]]
id = "D-NONE"
point = "payu"
title = "d"
source = "added"

[[scenario]]
id = "E-SETUP"
point = "efecty"
title = "e"
source = "added"

[[scenario]]
id = "F-OFF"
point = "efecty"
title = "f"
source = "added"
runnable = false
reason = "not here"
"""

SUITE = '''
import pytest

pytestmark = pytest.mark.scenario("A-PASS")


@pytest.fixture
def broken():
    raise RuntimeError("setup breaks")


def test_one():
    assert True


@pytest.mark.scenario("B-MIXED")
@pytest.mark.parametrize("n", [1, 2, 3])
def test_param(n):
    assert n != 3


@pytest.mark.scenario("C-SKIP")
def test_skipped():
    pytest.skip("not today")


@pytest.mark.scenario("E-SETUP")
def test_errors_in_setup(broken):
    assert True


@pytest.mark.scenario("B-MIXED")
class TestGroup:
    def test_a(self):
        assert True

    @pytest.mark.parametrize("m", [pytest.param(1, marks=pytest.mark.scenario("C-SKIP")), 2])
    def test_b(self, m):
        assert m
'''

UNMARKED = '''
def test_no_scenario():
    assert True
'''


def _suite(root: Path) -> Path:
    (root / "scenarios.toml").write_text(CATALOG)
    (root / "test_linked.py").write_text(SUITE)
    (root / "test_unmarked.py").write_text(UNMARKED)
    return root


def _pytest(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pytest", "-p", "harness.pytest_scenarios", "-p", "no:cacheprovider",
           f"--scenarios-catalog={root / 'scenarios.toml'}", "-q", *args]
    return subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=120, check=False)


def _run(root: Path, name: str, *args: str) -> dict[str, Any]:
    out = root / name
    done = _pytest(root, f"--junitxml={out / 'junit.xml'}", *args)
    assert done.returncode == 1, done.stdout + done.stderr  # one test fails and one errors, on purpose
    assert (out / "junit.xml").exists()
    return dict(json.loads((out / "scenarios.json").read_text()))


def test_scenarios_json_is_the_same_with_and_without_xdist_and_lies_beside_the_junit(tmp_path: Path) -> None:
    root = _suite(tmp_path)
    plain = _run(root, "plain")
    spread = _run(root, "xdist", "-n", "2")
    assert spread == plain
    status = {s["id"]: s["status"] for s in plain["scenarios"]}
    assert status == {"A-PASS": "failed", "B-MIXED": "failed", "C-SKIP": "passed", "D-NONE": "not covered",
                      "E-SETUP": "failed", "F-OFF": "not runnable"}
    tests = {s["id"]: {t["nodeid"].split("::", 1)[1]: t["outcome"] for t in s["tests"]} for s in plain["scenarios"]}
    assert tests["C-SKIP"] == {"test_skipped": "skipped", "TestGroup::test_b[1]": "passed"}
    assert tests["E-SETUP"] == {"test_errors_in_setup": "failed"}
    assert len(tests["A-PASS"]) == 9 and "test_no_scenario" not in str(tests)


def test_a_scenario_named_twice_on_one_test_fails_the_run(tmp_path: Path) -> None:
    root = _suite(tmp_path)
    (root / "test_twice.py").write_text(
        'import pytest\n\npytestmark = pytest.mark.scenario("B-MIXED")\n\n\n'
        '@pytest.mark.scenario("A-PASS")\n@pytest.mark.scenario("B-MIXED")\ndef test_copied():\n    assert True\n'
    )
    plain = _pytest(root, "--scenarios-json=", "test_twice.py")
    spread = _pytest(root, "--scenarios-json=", "test_twice.py", "-n", "2")
    for done in (plain, spread):
        assert done.returncode != 0
        assert "named twice on one test" in done.stdout and "B-MIXED (test_twice.py::test_copied)" in done.stdout
    # Without xdist the collection error interrupts the run; xdist runs the other modules but still fails.
    assert "Interrupted: 1 error during collection" in plain.stdout


def test_an_unknown_scenario_fails_the_run_also_under_xdist(tmp_path: Path) -> None:
    root = _suite(tmp_path)
    (root / "test_typo.py").write_text('import pytest\n\n\n@pytest.mark.scenario("A-PAS")\ndef test_t():\n    pass\n')
    for args in ((), ("-n", "2")):
        done = _pytest(root, "--scenarios-json=", "test_typo.py", *args)
        assert done.returncode != 0
        assert "scenario id not in scenarios.toml: A-PAS (test_typo.py::test_t)" in done.stdout, args
