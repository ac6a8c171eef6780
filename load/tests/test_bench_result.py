"""The benchmark's verdict: the sustained rate is the one held for the whole audited hold, when there was one,
and a lower bound when no rate above it failed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from load.bench import _measure, ceiling_order
from load.bench_result import median_round, verdict
from load.ledger import LedgerEntry, LedgerWriter


def _run(steps: Sequence[tuple[float, bool]], holds: Sequence[tuple[float, bool]], bare: float,
         audit_ok: bool = True) -> dict[str, Any]:
    return {
        "steps": [{"offered": rate, "held": held} for rate, held in steps],
        "holds": [{"offered": rate, "held": held, "audit_ok": audit_ok} for rate, held in holds],
        "bare_ceiling": {"achieved": bare},
        "core_ceiling": {"achieved": 0.9 * bare},
        "generator": {"achieved": 1800.0},
    }


def test_a_hold_that_breaks_gives_way_to_the_next_rate_held_below_it() -> None:
    result = verdict(_run([(450, True), (550, False), (500, True), (520, True)], [(520, False), (500, True)], 800))
    assert result["sustained_rate"] == 500 and result["best_step_rate"] == 520
    assert result["sustained_held_for_hold"] is True
    assert result["ratio_sustained_to_bare"] == 0.625
    assert result["target_met"] is False  # 500/s is not 1,000/s


def test_without_a_hold_that_held_the_best_step_stands_but_is_marked_unconfirmed() -> None:
    result = verdict(_run([(450, True), (550, False)], [(450, False)], 800))
    assert result["sustained_rate"] == 450 and result["sustained_held_for_hold"] is False
    # The audit of 2026-12-04: step 225/s held for 10 s, its 30 s hold did not, and the run still printed
    # "ratio sustained/bare 0.599" as if measured. No ratio is drawn from an unconfirmed rate.
    assert result["sustained_unconfirmed"] is True
    assert result["ratio_sustained_to_bare"] is None and result["ratio_sustained_to_bare_lower_bound"] is None


def test_without_holds_run_the_best_step_is_not_marked_unconfirmed() -> None:
    result = verdict(_run([(450, True), (550, False)], [], 800))
    assert result["sustained_unconfirmed"] is False and result["ratio_sustained_to_bare"] == 0.562


def test_the_target_needs_the_rate_held_for_the_hold_and_the_ratio() -> None:
    assert verdict(_run([(1000, True)], [(1000, True)], 1250))["target_met"] is True  # 0.8 of bare
    assert verdict(_run([(1000, True)], [(1000, True)], 1300))["target_met"] is False  # 0.77 of bare
    assert verdict(_run([(1000, True)], [(1000, False)], 1250))["target_met"] is False
    assert verdict(_run([(1000, True)], [(1000, True)], 1250, audit_ok=False))["target_met"] is False


def test_a_search_whose_every_step_held_reports_a_lower_bound_and_no_measured_ratio() -> None:
    # The audit that prompted the search: 300-700/s all held, and the report said "ratio 0.467".
    capped = _run([(300, True), (400, True), (500, True), (600, True), (700, True)], [(700, True)], 1500)
    capped["search"] = {"outcome": "budget_ended", "lower_bound": 700}
    result = verdict(capped)
    assert result["sustained_rate"] == 700 and result["sustained_is_lower_bound"] is True
    assert result["ratio_sustained_to_bare"] is None
    assert result["ratio_sustained_to_bare_lower_bound"] == 0.467
    assert result["search_outcome"] == "budget_ended"


def test_a_rate_that_failed_above_the_sustained_one_makes_the_ratio_measured() -> None:
    for steps, holds in (([(450, True), (550, False)], [(450, True)]),  # a step failed above it
                         ([(450, True), (500, True)], [(500, False), (450, True)])):  # a longer hold did
        result = verdict(_run(steps, holds, 900))
        assert result["sustained_rate"] == 450 and result["sustained_is_lower_bound"] is False
        assert result["ratio_sustained_to_bare"] == 0.5 and result["ratio_sustained_to_bare_lower_bound"] is None


def test_the_ceilings_are_the_median_round_not_the_best_or_the_last() -> None:
    rounds = [{"achieved": 901.0, "n": 1}, {"achieved": 671.0, "n": 2}, {"achieved": 737.0, "n": 3}]
    assert median_round(rounds)["n"] == 3
    assert median_round(rounds[:2])["n"] == 2  # an even count: the lower middle one
    assert median_round(rounds[:1])["n"] == 1


def test_the_bare_endpoint_paced_gives_its_own_held_share_only_from_a_hold_that_held() -> None:
    """--bare-paced: the yardstick searched and held as the core was; its held rate ÷ its own unpaced ceiling."""
    run = _run([(1500, True)], [(1500, True)], 2000)
    assert verdict(run)["bare_paced_sustained"] is None and verdict(run)["ratio_bare_paced_to_bare"] is None
    run["bare_paced"] = {"steps": [{"offered": 1800, "held": True}],
                         "holds": [{"offered": 1800, "held": False}, {"offered": 1620, "held": True}]}
    result = verdict(run)
    assert result["bare_paced_sustained"] == 1620 and result["ratio_bare_paced_to_bare"] == 0.81
    assert result["bare_paced_is_lower_bound"] is False  # its hold at 1,800/s failed above it
    run["bare_paced"]["holds"] = [{"offered": 1800, "held": True}]  # every step and hold held: a lower bound
    assert verdict(run)["bare_paced_is_lower_bound"] is True
    run["bare_paced"]["holds"] = [{"offered": 1800, "held": False}]  # a step is not a held rate
    assert verdict(run)["bare_paced_sustained"] is None


def test_the_verified_endpoint_decides_the_receivers_floor_only_from_a_measured_limit() -> None:
    """--verified: the core's work without its HTTP layer. Its held share of the bare ceiling below the target
    proves the floor only when a rate above it failed; a lower bound under the target proves nothing."""
    run = _run([(1500, True)], [(1500, True)], 2000)
    assert verdict(run)["receiver_floor_below_target"] is None  # not run
    run["verified_ceiling"] = {"achieved": 1700.0}
    run["verified_paced"] = {"steps": [{"offered": 1500, "held": True}, {"offered": 1600, "held": False}],
                             "holds": [{"offered": 1500, "held": True}]}
    result = verdict(run)
    assert result["ratio_verified_ceiling_to_bare"] == 0.85
    assert result["verified_paced_sustained"] == 1500 and result["ratio_verified_paced_to_bare"] == 0.75
    assert result["verified_paced_is_lower_bound"] is False and result["receiver_floor_below_target"] is True
    run["verified_paced"]["steps"][1]["held"] = True  # nothing failed above 1,500/s: it might hold more
    assert verdict(run)["receiver_floor_below_target"] is None
    run["verified_paced"]["holds"] = [{"offered": 1650, "held": True}]  # 0.825 of bare's, even as a lower bound
    assert verdict(run)["receiver_floor_below_target"] is False
    run["verified_paced"]["holds"] = [{"offered": 1500, "held": False}]  # it held nothing: no floor proven
    assert verdict(run)["receiver_floor_below_target"] is None


def test_a_verified_ceiling_under_the_target_share_decides_the_floor_without_a_hold() -> None:
    """A paced rate costs more per webhook than the ceiling's batched one: a verified endpoint whose own unpaced
    ceiling is under the target share of the bare one cannot hold the target paced, whatever its holds did."""
    run = _run([(1500, True)], [(1500, True)], 2000)
    run["verified_ceiling"] = {"achieved": 1580.0}  # 0.79 of the bare ceiling
    assert verdict(run)["receiver_floor_below_target"] is True  # even with no paced phase run
    run["verified_paced"] = {"steps": [{"offered": 1500, "held": True}], "holds": []}  # held nothing for a hold
    assert verdict(run)["receiver_floor_below_target"] is True
    run["verified_ceiling"] = {"achieved": 1600.0}  # 0.8: the ceiling no longer decides; the holds do not either
    assert verdict(run)["receiver_floor_below_target"] is None


def test_each_ceiling_round_starts_with_another_app() -> None:
    keys = ["core_ceiling", "bare_ceiling", "verified_ceiling"]
    firsts = [ceiling_order(keys, n)[0] for n in range(1, 4)]
    assert sorted(firsts) == sorted(keys)
    assert all(sorted(ceiling_order(keys, n)) == sorted(keys) for n in range(1, 7))
    assert [ceiling_order(keys[:2], n) for n in (1, 2)] == [keys[:2], keys[1::-1]]  # two apps: alternating


def test_a_step_whose_core_stopped_answering_midway_does_not_hold(tmp_path: Path) -> None:
    """Requests cut off at the end of a phase are no Locust failures and carry no latency: a core that stopped
    answering 4 s into a 15 s step shows only as answers that stop, and the rate must count the silent seconds."""
    out = tmp_path / "step-500"
    writer = LedgerWriter(out / "ledger", node="n")
    base = 1_700_000_000.0

    def sent(i: int, at: float, code: int | None) -> LedgerEntry:
        return LedgerEntry(id=writer.next_id(), at=at, gateway="wompi", key=f"k{i}", order="o", attempt="a",
                           status="APPROVED", role="event", signature="", expect=200, code=code, ms=5.0)

    for i in range(2000):  # 500/s, every answer in 5 ms, for the first 4 s
        writer.write(sent(i, base + i / 500, 200))
    for i in range(2000, 2100):  # then in flight, unanswered, until the step stopped them
        writer.write(sent(i, base + i / 500, None))
    writer.close()
    thresholds = {"requests": 2000, "failures": 0, "p50_ms": 5, "p95_ms": 5, "p99_ms": 5}
    (out / "audit.json").write_text(json.dumps({"thresholds": thresholds}))
    m = _measure("step-500", out, 500.0, 15.0, 0, ["locust"])
    assert m.steady_p99_ms == 5.0 and m.failures == 0
    assert m.achieved < 0.95 * 500 and not m.held


def test_the_target_is_not_met_against_a_bare_ceiling_that_measured_the_generator() -> None:
    """A bare ceiling near what the generator itself can offer is the generator's limit, not bare asyncpg's: the
    ratio to it is an upper bound, and meeting the target share of it proves nothing."""
    run = _run([(1000, True)], [(1000, True)], 1250)
    run["generator"] = {"achieved": 1400.0}  # bare's 1,250/s is 0.89 of what one Locust process offers
    result = verdict(run)
    assert "bare_ceiling" in result["generator_bound"] and result["target_met"] is False
    run["generator"] = {"achieved": 0.0}  # the generator was not measured: nothing says bare was not bound
    assert verdict(run)["target_met"] is False
