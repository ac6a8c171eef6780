"""What ``payharness audit`` runs: the quick audit skips the benchmark, the full one measures it for the report."""

from __future__ import annotations

from pathlib import Path

from harness.audit import plan


def test_the_full_audit_measures_the_sustained_rate_where_the_report_reads_it(tmp_path: Path) -> None:
    steps = {s.name: s for s in plan(tmp_path, quick=False)}
    bench = steps["bench-load"]
    assert bench.command[bench.command.index("--artefacts") + 1] == str(tmp_path / "bench")
    assert bench.artefacts == ["bench/bench.json"]
    # A missed target is a finding in the report, not a failed step that would hide the rest of the audit.
    assert "--exit-zero" in bench.command


def test_the_full_audit_benchmark_searches_within_a_budget(tmp_path: Path) -> None:
    bench = {s.name: s for s in plan(tmp_path, quick=False)}["bench-load"]
    budget = float(bench.command[bench.command.index("--budget") + 1])
    # About the six 10 s steps the audit ran before the search; the step's timeout leaves room for the rest.
    assert 0 < budget <= 150 and bench.timeout >= budget + 300


def test_the_quick_audit_leaves_the_benchmark_out(tmp_path: Path) -> None:
    assert "bench-load" not in {s.name for s in plan(tmp_path, quick=True)}
    assert {"suites", "bench-db", "load", "defects"} <= {s.name for s in plan(tmp_path, quick=True)}


def test_the_audit_runs_the_mutation_step_within_a_budget_where_the_report_reads_it(tmp_path: Path) -> None:
    for quick in (True, False):
        step = {s.name: s for s in plan(tmp_path, quick=quick)}["mutants"]
        budget = float(step.command[step.command.index("--budget") + 1])
        assert step.command[step.command.index("--artefacts") + 1] == str(tmp_path / "mutants")
        assert step.artefacts == ["mutants/mutants.json"]
        # The step stops mutmut itself at the budget; the audit's own timeout is only the backstop.
        assert 0 < budget <= 300 and step.timeout >= budget + 60


def test_every_step_logs_its_services_under_the_audits_folder(tmp_path: Path) -> None:
    for quick in (True, False):
        assert {s.name: s.env.get("PAYHARNESS_ARTEFACTS") for s in plan(tmp_path, quick=quick)} == {
            s.name: str(tmp_path) for s in plan(tmp_path, quick=quick)}
