"""mutants.json from verdicts: what counts as killed, what as not run, and how equivalents are matched."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.mutants.summary import Equivalent, Mutant, RunFacts, load_equivalents, summarise

RUN = RunFacts(tool="mutmut", tool_version="3.8.1", git_commit="abc", started_at="2026-12-03T22:00:00+00:00",
               duration_s=12.5, budget_s=60.0, stopped=None)


def _m(n: int, path: str, status: str, before: str = "a < b", after: str = "a <= b", fn: str = "f") -> Mutant:
    return Mutant(f"{path}.x_{fn}__mutmut_{n}", path, fn, status, (before,), (after,))


def test_score_is_kills_over_the_mutants_that_are_not_equivalent() -> None:
    mutants = [_m(1, "core/a.py", "killed"), _m(2, "core/a.py", "killed"), _m(3, "core/a.py", "survived"),
               _m(4, "core/a.py", "survived", "x = 1", "x = 2"), _m(5, "core/a.py", "timeout")]
    equivalent = [Equivalent("core/a.py", "f", "x = 1", "x = 2", "x is never read")]
    doc = summarise(mutants, modules=["core/a.py"], equivalents=equivalent, run=RUN)
    row = doc["modules"][0]
    assert (row["total"], row["killed"], row["survived"], row["timeout"], row["equivalent"]) == (5, 2, 1, 1, 1)
    # A timeout is not a kill: 2 ÷ (5 − 1).
    assert row["score"] == 0.5
    assert row["equivalents"][0]["reason"] == "x is never read"
    assert [s["name"] for s in row["survivors"]] == ["core/a.py.x_f__mutmut_3"]
    assert doc["complete"] and doc["totals"]["score"] == 0.5


def test_an_equivalent_entry_matches_by_text_whatever_mutmut_numbers_the_mutant() -> None:
    entry = Equivalent("core/a.py", "f", "x = 1", "x = 2", "x is never read")
    # The same change numbered 4 in one run and 9 after code was added above it.
    for n in (4, 9):
        doc = summarise([_m(n, "core/a.py", "survived", "x = 1", "x = 2")], modules=["core/a.py"],
                        equivalents=[entry], run=RUN)
        assert doc["modules"][0]["equivalent"] == 1
    other_function = summarise([_m(4, "core/a.py", "survived", "x = 1", "x = 2", fn="g")], modules=["core/a.py"],
                               equivalents=[entry], run=RUN)
    assert other_function["modules"][0]["equivalent"] == 0
    assert other_function["equivalent_not_found"] == [entry.__dict__]


def test_a_listed_equivalent_that_a_test_kills_counts_as_killed_and_is_flagged() -> None:
    entry = Equivalent("core/a.py", "f", "a < b", "a <= b", "wrongly believed equivalent")
    row = summarise([_m(1, "core/a.py", "killed")], modules=["core/a.py"], equivalents=[entry],
                    run=RUN)["modules"][0]
    assert (row["killed"], row["equivalent"], row["score"]) == (1, 0, 1.0)
    assert row["equivalent_but_killed"][0]["name"] == "core/a.py.x_f__mutmut_1"


def test_mutants_not_run_are_never_kills_and_make_the_run_incomplete() -> None:
    mutants = [_m(1, "core/a.py", "killed"), _m(2, "core/a.py", "not checked"),
               _m(3, "core/a.py", "check was interrupted by user"), _m(4, "core/a.py", "no tests")]
    doc = summarise(mutants, modules=["core/a.py"], equivalents=[],
                    run=RunFacts(**{**RUN.__dict__, "stopped": "budget"}))
    row = doc["modules"][0]
    assert (row["killed"], row["not_run"], row["survived"], row["no_tests"]) == (1, 2, 1, 1)
    assert row["score"] == 0.25
    assert not row["complete"] and not doc["complete"] and doc["stopped"] == "budget"


def test_modules_are_files_or_folders_and_totals_cover_only_the_chosen_ones() -> None:
    mutants = [_m(1, "core/payments/ledger.py", "killed"), _m(2, "core/payments/statemachine.py", "survived"),
               _m(3, "core/reconcile.py", "killed"), _m(4, "core/other.py", "survived")]
    doc = summarise(mutants, modules=["core/payments", "core/reconcile.py"], equivalents=[], run=RUN)
    payments, reconcile = doc["modules"]
    assert payments["files"] == ["core/payments/ledger.py", "core/payments/statemachine.py"]
    assert (payments["total"], payments["score"]) == (2, 0.5)
    assert (reconcile["total"], reconcile["score"]) == (1, 1.0)
    assert (doc["totals"]["total"], doc["totals"]["killed"]) == (3, 2)


def test_a_module_without_mutants_has_no_score_rather_than_a_perfect_one() -> None:
    row = summarise([], modules=["core/reconcile.py"], equivalents=[], run=RUN)["modules"][0]
    assert row["total"] == 0 and row["score"] is None


def test_every_equivalent_needs_a_reason(tmp_path: Path) -> None:
    listed = tmp_path / "equivalent.toml"
    listed.write_text('[[equivalent]]\npath = "core/a.py"\nfunction = "f"\nbefore = "a"\nafter = "b"\nreason = " "\n')
    with pytest.raises(ValueError, match="without a reason"):
        load_equivalents(listed)


def test_the_checked_in_equivalents_all_give_a_reason() -> None:
    from harness.mutants.run import EQUIVALENTS

    assert all(e.reason.strip() and e.path.startswith("core/") for e in load_equivalents(EQUIVALENTS))


def test_each_file_of_a_folder_module_has_its_own_figures_for_the_report_components() -> None:
    mutants = [_m(1, "core/signing/payu.py", "killed"), _m(2, "core/signing/wompi.py", "survived")]
    row = summarise(mutants, modules=["core/signing"], equivalents=[], run=RUN)["modules"][0]
    assert [(f["path"], f["killed"], f["survived"], f["score"]) for f in row["by_file"]] == [
        ("core/signing/payu.py", 1, 0, 1.0), ("core/signing/wompi.py", 0, 1, 0.0)]
