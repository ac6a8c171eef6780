"""One reading of JUnit: the defect matrix and the report give every test the node id pytest gives it.

A real pytest run (a module test, a test class, parameters with dots and brackets) writes the JUnit file;
both consumers read it, and their ids must equal pytest's own (what scenarios.json carries).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.defects.matrix import read_run
from reports.parse_tests import parse_junit

TESTS = '''
import pytest

def test_plain():
    assert True

@pytest.mark.parametrize("x", [1.5, "a.b", "c::d"])
def test_params(x):
    assert x != 1.5

class TestGroup:
    def test_in_class(self):
        assert True

    @pytest.mark.parametrize("y", ["p.q"])
    def test_in_class_with_params(self, y):
        assert y == "nope"
'''


def _pytest(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args], cwd=root,
                          capture_output=True, text=True, timeout=120)


def test_the_matrix_and_the_report_read_the_same_node_ids_as_pytest_collects(tmp_path: Path) -> None:
    (tmp_path / "suites" / "risk").mkdir(parents=True)
    (tmp_path / "suites" / "risk" / "test_things.py").write_text(TESTS)
    collected = _pytest(tmp_path, "--collect-only", "suites")
    pytest_ids = {line for line in collected.stdout.splitlines() if "::" in line}
    artefacts = tmp_path / "artefacts"
    run = _pytest(tmp_path, f"--junitxml={artefacts / 'junit.xml'}", "suites")
    assert run.returncode == 1  # two tests fail on purpose: outcomes must survive too

    matrix = read_run(artefacts / "junit.xml", run.returncode, 1.0).outcomes
    report = {c.nodeid: c.outcome for c in parse_junit(artefacts).cases}
    assert len(pytest_ids) == 6
    assert set(matrix) == set(report) == pytest_ids
    assert matrix == report
    assert report["suites/risk/test_things.py::test_params[1.5]"] == "failed"
    assert report["suites/risk/test_things.py::TestGroup::test_in_class_with_params[p.q]"] == "failed"
