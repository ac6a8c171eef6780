"""A real mutmut run on a tiny package: the plumbing counts a killed and a surviving mutant, and a budget stops it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from harness.mutants.run import Project, prepare, read_verdicts, run_mutmut, source_files
from harness.mutants.summary import RunFacts, summarise

FEE = '''
def fee(amount):
    if amount >= 100:
        return amount // 10
    return 0
'''
# Never checks amount == 100, so the boundary mutant (>= → >) survives; fee(5) == 0 kills "return 1".
TESTS = '''
from tiny.fee import fee


def test_large_amounts_pay_a_tenth():
    assert fee(250) == 25


def test_small_amounts_pay_nothing():
    assert fee(5) == 0
'''


def _tiny(root: Path) -> Project:
    (root / "tiny" / "tests").mkdir(parents=True)
    (root / "tiny" / "__init__.py").write_text("")
    (root / "tiny" / "fee.py").write_text(FEE)
    (root / "tiny" / "tests" / "__init__.py").write_text("")
    (root / "tiny" / "tests" / "test_fee.py").write_text(TESTS)
    (root / "pyproject.toml").write_text('[tool.pytest.ini_options]\naddopts = "-p no:cacheprovider"\n')
    return Project(root=root, package="tiny", pytest_args=())


def _processes_in(work: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(os.readlink(entry / "cwd")).is_relative_to(work):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.slow
def test_a_real_run_counts_the_killed_and_the_surviving_mutants(tmp_path: Path) -> None:
    project, work = _tiny(tmp_path / "src"), tmp_path / "work"
    files = source_files(["tiny/fee.py"], project)
    prepare(work, files, tests=["tiny/tests"], project=project)
    stopped = run_mutmut(work, budget_s=120, jobs=1, log_path=tmp_path / "mutmut.log", env=dict(os.environ))
    assert stopped is None, (tmp_path / "mutmut.log").read_text()[-2000:]
    mutants = {m.change: m.status for m in read_verdicts(work / "mutants", files)}
    assert mutants["if amount >= 100: -> if amount > 100:"] == "survived"
    assert mutants["return 0 -> return 1"] == "killed"
    doc = summarise(read_verdicts(work / "mutants", files), modules=["tiny/fee.py"], equivalents=[],
                    run=RunFacts("mutmut", "x", None, "", 0.0, 120, stopped))
    row = doc["modules"][0]
    assert row["total"] == len(mutants) and row["not_run"] == 0 and doc["complete"]
    assert row["killed"] == sum(s == "killed" for s in mutants.values())
    assert row["survived"] == sum(s == "survived" for s in mutants.values()) >= 1
    assert _processes_in(work) == []


@pytest.mark.slow
def test_a_new_test_gets_its_chance_at_the_survivors_and_kills_stay_killed(tmp_path: Path) -> None:
    project, work = _tiny(tmp_path / "src"), tmp_path / "work"
    files = source_files(["tiny/fee.py"], project)
    env = dict(os.environ)
    prepare(work, files, tests=["tiny/tests"], project=project)
    assert run_mutmut(work, budget_s=120, jobs=1, log_path=tmp_path / "first.log", env=env) is None
    first = {m.change: m.status for m in read_verdicts(work / "mutants", files)}
    boundary = "if amount >= 100: -> if amount > 100:"
    assert first[boundary] == "survived"
    tests = project.root / "tiny" / "tests" / "test_fee.py"
    tests.write_text(tests.read_text() + "\n\ndef test_a_hundred_pays_ten():\n    assert fee(100) == 10\n")
    prepare(work, files, tests=["tiny/tests"], project=project)
    reset = {m.change: m.status for m in read_verdicts(work / "mutants", files)}
    assert reset[boundary] == "not checked"
    assert all(reset[c] == "killed" for c, s in first.items() if s == "killed")
    assert run_mutmut(work, budget_s=120, jobs=1, log_path=tmp_path / "second.log", env=env) is None
    assert {m.change: m.status for m in read_verdicts(work / "mutants", files)}[boundary] == "killed"


@pytest.mark.slow
def test_a_spent_budget_stops_mutmut_leaves_no_process_and_counts_nothing_as_killed(tmp_path: Path) -> None:
    project, work = _tiny(tmp_path / "src"), tmp_path / "work"
    files = source_files(["tiny/fee.py"], project)
    prepare(work, files, tests=["tiny/tests"], project=project)
    started = time.monotonic()
    stopped = run_mutmut(work, budget_s=0.5, jobs=1, log_path=tmp_path / "mutmut.log", env=dict(os.environ))
    assert stopped == "budget" and time.monotonic() - started < 35
    assert _processes_in(work) == []
    doc = summarise(read_verdicts(work / "mutants", files), modules=["tiny/fee.py"], equivalents=[],
                    run=RunFacts("mutmut", "x", None, "", 0.5, 0.5, stopped))
    # Whatever mutmut finished before the stop may count (on one CI rehearsal it had killed 2); what it did not
    # run must stay "not run", never "killed". On a slow machine the stop can come before mutmut has listed any
    # mutant (a rehearsal on 2026-12-04: 0 of 0): nothing to count then, and the run is still incomplete.
    totals = doc["totals"]
    assert not doc["complete"]
    assert totals["total"] == 0 or totals["not_run"] > 0, totals


TAX = '''
def tax(amount):
    return amount * 19 // 100
'''


@pytest.mark.slow
def test_a_run_on_another_module_maps_its_tests_instead_of_calling_every_mutant_untested(tmp_path: Path) -> None:
    # mutmut keeps the test-to-function map of the last run, which covers only the files mutated then:
    # without a new map, every mutant of the second module came out "no tests" (counted as survived).
    project, work = _tiny(tmp_path / "src"), tmp_path / "work"
    (project.root / "tiny" / "tax.py").write_text(TAX)
    (project.root / "tiny" / "tests" / "test_tax.py").write_text(
        "from tiny.tax import tax\n\n\ndef test_tax_is_nineteen_percent():\n    assert tax(100) == 19\n"
    )
    env = dict(os.environ)
    fee_files = source_files(["tiny/fee.py"], project)
    prepare(work, fee_files, tests=["tiny/tests"], project=project)
    assert run_mutmut(work, budget_s=120, jobs=1, log_path=tmp_path / "fee.log", env=env) is None
    tax_files = source_files(["tiny/tax.py"], project)
    prepare(work, tax_files, tests=["tiny/tests"], project=project)
    assert run_mutmut(work, budget_s=120, jobs=1, log_path=tmp_path / "tax.log", env=env) is None
    tax_verdicts = {m.change: m.status for m in read_verdicts(work / "mutants", tax_files)}
    assert tax_verdicts and "no tests" not in tax_verdicts.values(), tax_verdicts
    assert tax_verdicts["return amount * 19 // 100 -> return amount / 19 // 100"] == "killed"
    # Back to a file the map no longer covers: mapped again, and the earlier kills still stand.
    prepare(work, fee_files, tests=["tiny/tests"], project=project)
    assert run_mutmut(work, budget_s=120, jobs=1, log_path=tmp_path / "fee2.log", env=env) is None
    fee_verdicts = {m.change: m.status for m in read_verdicts(work / "mutants", fee_files)}
    assert fee_verdicts["return 0 -> return 1"] == "killed"
    assert "no tests" not in fee_verdicts.values(), fee_verdicts
