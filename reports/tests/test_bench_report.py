"""The benchmark in the report: a search that found its limit is measured; one whose budget ended is "≥"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reports.build import analyse, build_report
from reports.collect import collect
from reports.parse_bench import parse_bench
from reports.tests.support import Editor

SUSTAINED = "Sustained signed-webhook rate (p99 and errors within limits)"
RATIO = "Sustained rate ÷ bare asyncpg ceiling"


def _capped(d: dict[str, Any]) -> None:
    """What the benchmark writes when every step held until its budget ended (the audit that said "0.467")."""
    d["steps"] = [{"name": f"step-{r}", "offered": float(r), "held": True, "p99_ms": 20.0} for r in (300, 450, 700)]
    d["holds"] = [{"name": "hold", "offered": 700.0, "held": True, "audit_ok": True, "p99_ms": 20.0}]
    d["search"] = {"outcome": "budget_ended", "held": 700.0, "failed": None, "lower_bound": 700.0,
                   "elapsed_s": 118.0, "plan": {"budget_s": 120.0}}
    d["result"].update(sustained_rate=700.0, sustained_is_lower_bound=True, bare_asyncpg_ceiling=1500.0,
                       ratio_sustained_to_bare=None, ratio_sustained_to_bare_lower_bound=0.467,
                       search_outcome="budget_ended", target={"rate": 1000, "p99_ms": 100.0, "ratio": 0.6})


def test_a_capped_search_gives_lower_bounds_that_are_neither_met_nor_missed(artefacts: Path, edit: Editor) -> None:
    edit("bench.json", _capped)
    figures = {f.operation: f for f in parse_bench(artefacts).figures}
    assert (figures[SUSTAINED].value, figures[SUSTAINED].lower_bound) == (700.0, "budget ended")
    assert "no step failed in 118 s of a 120 s budget" in figures[SUSTAINED].note
    assert (figures[RATIO].value, figures[RATIO].lower_bound) == (0.467, "budget ended")
    data = analyse(collect(artefacts))
    rows = {r.figure.operation: r for r in data.performance}
    assert rows[SUSTAINED].status == "lower bound" and rows[RATIO].status == "lower bound"
    assert not [i for i in data.issues if i.kind == "performance" and ("Sustained" in i.title)]


def test_a_capped_search_renders_as_at_least_with_its_reason(artefacts: Path, edit: Editor, tmp_path: Path) -> None:
    edit("bench.json", _capped)
    build_report(artefacts, tmp_path / "report")
    md = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    html = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert "| ≥ 700 /s (budget ended) | value ≥ 1000 /s | lower bound |" in md
    assert "| ≥ 0.467 ratio (budget ended) | value ≥ 0.6 ratio | lower bound |" in md
    assert "≥ 700 /s" in html and 'class="st-lower-bound"' in html
    assert "missed" not in "".join(line for line in md.splitlines() if "Sustained" in line)


def test_a_lower_bound_above_its_target_proves_it_met(artefacts: Path, edit: Editor) -> None:
    def far(d: dict[str, Any]) -> None:
        _capped(d)
        d["result"].update(sustained_rate=1200.0, ratio_sustained_to_bare_lower_bound=0.8)

    edit("bench.json", far)
    rows = {r.figure.operation: r for r in analyse(collect(artefacts)).performance}
    assert rows[SUSTAINED].status == "met" and rows[RATIO].status == "met"


def test_a_search_that_found_its_limit_is_measured_and_judged(artefacts: Path, edit: Editor, tmp_path: Path) -> None:
    def found(d: dict[str, Any]) -> None:
        d["search"] = {"outcome": "found", "held": 500.0, "failed": 550.0, "elapsed_s": 90.0,
                       "plan": {"budget_s": 120.0}}
        d["result"].update(sustained_is_lower_bound=False, ratio_sustained_to_bare_lower_bound=None,
                           target={"rate": 1000, "p99_ms": 100.0, "ratio": 0.6})

    edit("bench.json", found)
    figures = {f.operation: f for f in parse_bench(artefacts).figures}
    assert figures[SUSTAINED].lower_bound == ""
    assert figures[SUSTAINED].note == "search: held 500/s, not held 550/s in 90 s of a 120 s budget"
    rows = {r.figure.operation: r for r in analyse(collect(artefacts)).performance}
    assert rows[SUSTAINED].status == "missed" and rows[RATIO].status == "missed"
    build_report(artefacts, tmp_path / "report")
    md = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert "| 500 /s |" in md and "≥ 500" not in md and "≥ 0.556" not in md


def test_a_step_is_shown_with_the_steady_percentiles_it_was_judged_on(artefacts: Path, edit: Editor) -> None:
    def steady(d: dict[str, Any]) -> None:  # a real step: held, its first second slow
        d["steps"] = [{"name": "step-450", "offered": 450.0, "achieved": 451.4, "held": True, "p50_ms": 4.0,
                       "p95_ms": 20.0, "p99_ms": 200.0, "steady_p50_ms": 3.4, "steady_p95_ms": 17.5,
                       "steady_p99_ms": 37.6}]

    edit("bench.json", steady)
    row = next(r for r in analyse(collect(artefacts)).performance if r.figure.operation == "Webhook step step-450")
    assert (row.figure.p50, row.figure.p95, row.figure.p99) == (3.4, 17.5, 37.6)
    assert row.status == "met" and "whole run p99 200 ms" in row.figure.note


def test_a_step_that_its_hold_did_not_confirm_is_labelled_so_and_gives_no_ratio(artefacts: Path, edit: Editor) -> None:
    """The audit of 2026-12-04: 225/s held for a 10 s step, not for the 30 s audited hold (p99 335 ms)."""

    def unconfirmed(d: dict[str, Any]) -> None:
        d["steps"] = [{"name": "step-225", "offered": 225.0, "held": True, "p99_ms": 33.0},
                      {"name": "step-260", "offered": 260.0, "held": False, "p99_ms": 185.0}]
        d["holds"] = [{"name": "hold", "offered": 225.0, "held": False, "audit_ok": True, "p99_ms": 335.0}]
        d["search"] = {"outcome": "found", "held": 225.0, "failed": 260.0, "elapsed_s": 51.0,
                       "plan": {"budget_s": 120.0}}
        d["result"].update(sustained_rate=225.0, sustained_is_lower_bound=False, sustained_unconfirmed=True,
                           ratio_sustained_to_bare=None, ratio_sustained_to_bare_lower_bound=None,
                           target={"rate": 1000, "p99_ms": 100.0, "ratio": 0.8})

    edit("bench.json", unconfirmed)
    figures = {f.operation: f for f in parse_bench(artefacts).figures}
    assert SUSTAINED not in figures and RATIO not in figures
    step = figures["Best short step, NOT confirmed by the audited hold"]
    assert step.value == 225.0 and step.note.startswith("no audited hold held")


def test_the_sustained_rate_says_how_the_load_was_paced(artefacts: Path, edit: Editor) -> None:
    """Two runs at 5 and at 25 events/s per user held 1,520 and 2,785/s on one machine: a reader must see which."""
    def paced(d: dict[str, Any]) -> None:
        d["user_rate"] = 25.0

    edit("bench.json", paced)
    note = {f.operation: f for f in parse_bench(artefacts).figures}[SUSTAINED].note
    assert "paced at 25 events/s per Locust user, each waiting for its answer" in note


def test_an_older_bench_json_gives_its_pacing_from_a_steps_command_line(artefacts: Path, edit: Editor) -> None:
    def older(d: dict[str, Any]) -> None:
        d.pop("user_rate", None)
        d["steps"] = [{"name": "step-600", "offered": 600.0, "held": True, "p99_ms": 5.0,
                       "command": ["python", "-m", "locust", "--rate", "600", "--user-rate", "5", "--duration", "10"]}]

    edit("bench.json", older)
    note = {f.operation: f for f in parse_bench(artefacts).figures}[SUSTAINED].note
    assert "paced at 5 events/s per Locust user" in note


def test_an_open_loop_bench_says_so_beside_the_sustained_rate(artefacts: Path, edit: Editor) -> None:
    """Closed and open pacing give different figures for one core (load/README, "Open-loop pacing")."""
    def open_loop(d: dict[str, Any]) -> None:
        d["user_rate"], d["pacing"], d["max_in_flight"] = 5.0, "open", 10

    edit("bench.json", open_loop)
    note = {f.operation: f for f in parse_bench(artefacts).figures}[SUSTAINED].note
    assert "paced open-loop on a fixed schedule, 5 events/s per Locust user" in note
    assert "latency from each scheduled instant, at most 10 in flight per user" in note
    assert "waiting for its answer" not in note


def test_an_open_loop_bench_with_fixed_users_names_them_not_a_user_rate(artefacts: Path, edit: Editor) -> None:
    """Open runs carry any rate with --open-users users per Locust process; bench.json's user_rate is null."""
    def open_loop(d: dict[str, Any]) -> None:
        d["user_rate"], d["pacing"], d["max_in_flight"], d["open_users"] = None, "open", 250, 4

    edit("bench.json", open_loop)
    note = {f.operation: f for f in parse_bench(artefacts).figures}[SUSTAINED].note
    assert ("paced open-loop on a fixed schedule, 4 Locust users per process sharing the rate, latency from each "
            "scheduled instant, at most 250 in flight per user") in note
    assert "events/s per Locust user" not in note
