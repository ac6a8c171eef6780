"""The capacity model: limits from CPU per webhook, placements, the check against runs, and its report section."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reports.build import build_report
from reports.capacity import Group, capacity_model, check, machines, placement, predict
from reports.model import CeilingRun, Source
from reports.parse_capacity import cpu_count, parse_capacity
from reports.tests.support import built
from reports.tests.test_render import _trace

COST = {"core": 1.0, "postgres": 0.5, "generator": 0.4, "simulators": 0.1}
SRC = Source("bench", "bench.json", "payharness bench-load", True)


def run(**kw: Any) -> CeilingRun:
    base: dict[str, Any] = {"source": SRC, "label": "r", "machine_cpus": 2, "core_workers": 2, "ceiling": 1000.0}
    return CeilingRun(**{**base, **kw})


def test_shared_cpus_serve_their_cpus_over_the_sum_of_costs() -> None:
    p = predict(COST, [Group(2, tuple(COST))], {})
    assert p.rate == 1000.0  # 2 CPUs x 1000 / 2.0 ms
    assert p.bound == "2 CPU for core+postgres+generator+simulators"


def test_a_single_threaded_part_is_capped_at_its_processes() -> None:
    p = predict(COST, [Group(8, tuple(COST))], {"core": 2})
    assert (p.rate, p.bound) == (2000.0, "2 core processes")  # 8 CPUs would allow 4000/s
    assert dict(p.limits)["8 CPU for core+postgres+generator+simulators"] == 4000.0


def test_predict_refuses_without_any_cost() -> None:
    with pytest.raises(ValueError):
        predict({}, [Group(2, ("core",))], {})


def test_pinning_splits_the_groups_and_other_jobs_shrink_them() -> None:
    groups, caps = placement(run(stack_cpus=1, generator_cpus=1), tuple(COST))
    assert groups == [Group(1, ("core", "postgres", "simulators")), Group(1, ("generator",))]
    assert caps == {"core": 2.0, "generator": 1.0}
    assert predict(COST, groups, caps).rate == pytest.approx(625.0)  # 1 CPU / 1.6 ms
    shared, _ = placement(run(), tuple(COST), others_cores=0.5)
    assert shared == [Group(1.5, tuple(COST))]


def test_one_core_worker_is_predicted_below_two_when_the_core_dominates() -> None:
    heavy = {"core": 1.5, "postgres": 0.2, "generator": 0.2}
    two = check(heavy, run(), (SRC,))
    one = check(heavy, run(core_workers=1, ceiling=600.0), (SRC,))
    assert two.predicted == pytest.approx(1052.6, abs=0.1)
    assert (one.predicted, one.bound) == (pytest.approx(666.7, abs=0.1), "1 core process")
    assert one.error_pct == pytest.approx(-10.0)
    assert one.predicted_shared is None  # no other-jobs figure in that run


def test_the_check_with_other_jobs_removed_predicts_less() -> None:
    row = check(COST, run(others_cores=1.0, ceiling=450.0), (SRC,))
    assert (row.predicted, row.predicted_shared) == (1000.0, 500.0)
    assert (row.error_pct, row.error_shared_pct) == (-55.0, -10.0)


def test_separate_machines_scale_each_part_with_its_cpus() -> None:
    rows = machines(COST, 0.7, SRC, sizes=(4,))
    (row,) = rows
    assert (row.core_machine, row.postgres_machine, row.generator_machine) == (4000.0, 8000.0, 10000.0)
    assert (row.ceiling, row.sustained) == (4000.0, 2800.0)


def test_cpu_lists_count_as_taskset_reads_them() -> None:
    assert (cpu_count("0"), cpu_count("0,2-3"), cpu_count(None)) == (1, 3, None)


def bench(cpu: dict[str, float], achieved: float, **extra: Any) -> dict[str, Any]:
    return {"machine": {"cpus": 2, "load_average": [3.5, 2.0, 1.0]}, "core_workers": 2,
            "core_ceiling": {"achieved": achieved, "cpu_ms_per_request": cpu, "locust_workers": 0,
                             "others_cores": 0.2, "load1": 3.1},
            "result": {"sustained_rate": 500.0, "sustained_is_lower_bound": False}, **extra}


def write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def test_the_model_is_built_from_the_reference_and_checked_on_every_run(tmp_path: Path) -> None:
    write(tmp_path / "bench.json", bench({"core": 1.0, "postgres": 0.5, "generator": 0.4, "bare": 0.3}, 900.0))
    write(tmp_path / "capacity" / "w1" / "bench.json",
          bench({"core": 1.2, "postgres": 0.5}, 700.0, core_workers=1))
    write(tmp_path / "capacity" / "pinned" / "bench.json",
          bench({"core": 1.0}, 600.0, cpus={"stack": "0", "generator": "1"}))
    runs = parse_capacity(tmp_path)
    assert runs.reference is not None and runs.reference.load1 == 3.1
    assert [c.label for c in runs.checks] == ["pinned", "w1"]
    model = capacity_model(runs)
    assert model is not None
    assert model.headroom == pytest.approx(500 / 900, abs=0.001)
    assert dict(model.per_cpu) == {"core": 1000.0, "generator": 2500.0, "postgres": 2000.0}
    by = {c.label: c for c in model.checks}
    assert by["reference"].predicted == pytest.approx(1052.6, abs=0.1)  # 2 CPUs / 1.9 ms
    assert by["pinned"].predicted == pytest.approx(666.7, abs=0.1)  # 1 CPU / 1.5 ms: the reference's costs
    assert by["w1"].predicted == pytest.approx(1000.0)  # 1 worker: 1000 / 1.0 ms
    assert by["w1"].measured == 700.0


def test_no_model_without_a_ceiling_with_cpu_by_part(tmp_path: Path) -> None:
    write(tmp_path / "bench.json", {"machine": {"cpus": 2}, "core_ceiling": {"achieved": 700.0}})
    assert capacity_model(parse_capacity(tmp_path)) is None
    assert capacity_model(parse_capacity(tmp_path / "nothing")) is None


def test_the_report_shows_the_model_and_traces_its_numbers_to_bench_json(artefacts: Path, tmp_path: Path) -> None:
    write(artefacts / "bench.json", bench({"core": 1.0, "postgres": 0.5, "generator": 0.4}, 900.0))
    write(artefacts / "capacity" / "w1" / "bench.json", bench({"core": 1.2}, 700.0, core_workers=1))
    report = built(artefacts, tmp_path / "report")
    assert "### Capacity model" in report.md
    assert "| w1 | 1 core worker, all on 2 CPUs | 1000 (1 core process) |" in report.md
    assert '/capacity/w1/bench.json">capacity/w1/bench.json</a>' in report.html
    data = report.data
    found: list[tuple[str, tuple[str, ...]]] = []
    _trace(data["capacity"], (), "$.capacity", found)
    assert found and all(trace and set(trace) <= {"bench.json", "capacity/w1/bench.json"} for _, trace in found)


def test_the_held_rate_is_predicted_with_the_reference_headroom_and_a_lower_bound_gets_no_error() -> None:
    heavy = {"core": 1.5, "postgres": 0.2, "generator": 0.2}
    row = check(heavy, run(core_workers=1, ceiling=600.0, sustained=360.0), (SRC,), headroom=0.6)
    assert (row.predicted, row.predicted_sustained) == (pytest.approx(666.7, abs=0.1), 400.0)
    assert (row.measured_sustained, row.sustained_error_pct) == (360.0, -10.0)
    bound = check(heavy, run(core_workers=1, sustained=450.0, sustained_is_lower_bound=True), (SRC,), headroom=0.6)
    assert bound.sustained_is_lower_bound and bound.sustained_error_pct is None
    assert check(heavy, run(sustained=450.0), (SRC,)).predicted_sustained is None  # no headroom: not predicted


def test_the_configurations_to_check_name_the_runs_that_measured_them_and_the_command_for_the_others(
        tmp_path: Path) -> None:
    write(tmp_path / "bench.json", bench({"core": 1.0, "postgres": 0.5, "generator": 0.4}, 900.0))
    write(tmp_path / "capacity" / "w1" / "bench.json", bench({"core": 1.2}, 700.0, core_workers=1))
    write(tmp_path / "capacity" / "w1-no-ceiling" / "bench.json", {"machine": {"cpus": 2}, "core_workers": 1})
    model = capacity_model(parse_capacity(tmp_path))
    assert model is not None
    by = {k.name: k for k in model.configurations}
    assert by["2 core workers, generator on the same CPUs"].runs == ("reference",)
    assert by["1 core worker, generator on the same CPUs"].runs == ("w1",)  # a run without a ceiling measured nothing
    pinned = by["generator off the measured CPUs (taskset)"]
    assert pinned.runs == () and "--stack-cpus 0 --generator-cpus 1" in pinned.command
    # reference: 900 against 2 CPUs / 1.9 ms = 1052.6 (-14.5 %); w1: 700 against 1000 (-30 %)
    assert model.mean_abs_error_pct == pytest.approx(22.2, abs=0.05)
    assert model.worst_check is not None and model.worst_check.label == "w1"


def test_the_report_says_how_far_the_prediction_was_and_which_check_is_not_measured(artefacts: Path,
                                                                                  tmp_path: Path) -> None:
    write(artefacts / "bench.json", bench({"core": 1.0, "postgres": 0.5, "generator": 0.4}, 900.0))
    w1 = bench({"core": 1.2}, 700.0, core_workers=1, result={"sustained_rate": 450.0})
    del w1["core_ceiling"]["others_cores"]  # a run without samples: no "shared" prediction, and no "— %" for it
    write(artefacts / "capacity" / "w1" / "bench.json", w1)
    out = tmp_path / "report"
    build_report(artefacts, out)
    md = (out / "report.md").read_text(encoding="utf-8")
    # headroom 500 / 900: w1's held rate predicted 1000 x 0.556 = 555.6, measured 450
    assert "| 1000 (1 core process) | — | 700 | -30 % | — | 556 | 450 | -19.1 % |" in md
    assert ("the ceilings 22.2 % off on average over 2 runs, at worst -30 % (w1: predicted 1000/s, measured 700/s)"
            in md)
    assert ("generator off the measured CPUs (taskset) — **not measured** (`payharness bench-load --artefacts"
            " DIR/capacity/pinned --stack-cpus 0 --generator-cpus 1`)") in md
    assert "Configurations to check (1 vs 2 core workers, the generator on vs off the measured CPUs): 2 core" in md
    assert "— %" not in md
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "1 core worker, generator on the same CPUs: w1</li>" in html
