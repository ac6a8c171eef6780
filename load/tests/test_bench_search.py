"""The benchmark's rate search, without a stack: a fake step with a known limit and a fake clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.audit import plan as audit_plan
from load.bench import build_parser, search_plan
from load.bench_search import BUDGET_ENDED, FOUND, NONE_HELD, SearchPlan, hold_rates, next_rate, search


class FakeCore:
    """Holds every rate up to ``limit``; each step costs ``seconds`` on a clock only it moves."""

    def __init__(self, limit: float, seconds: float = 20.0) -> None:
        self.limit, self.seconds, self.now = limit, seconds, 0.0
        self.tried: list[float] = []

    def clock(self) -> float:
        return self.now

    def step(self, rate: float) -> bool:
        self.tried.append(rate)
        self.now += self.seconds
        return rate <= self.limit


@pytest.mark.parametrize("limit", [1370.0, 700.0, 333.0, 1234.5, 95.0])
def test_the_search_climbs_past_its_start_until_a_step_fails_and_brackets_the_limit(limit: float) -> None:
    core = FakeCore(limit)
    plan = SearchPlan(start=300, growth=1.5, resolution=25, budget_s=10_000)
    found = search(core.step, plan, first_cost=20, clock=core.clock)
    assert found.outcome == FOUND and not found.budget_ended
    assert found.held is not None and found.failed is not None
    assert found.held <= limit < found.failed
    assert found.failed - found.held <= plan.resolution and found.resolution_reached
    assert [t.rate for t in found.trials] == core.tried


def test_a_top_step_that_holds_is_not_the_answer_the_search_goes_on_up() -> None:
    # The audit that prompted the search: 300-700/s all held, the unpaced ceiling was 1,370/s.
    core = FakeCore(1200.0)
    found = search(core.step, SearchPlan(start=300, budget_s=10_000), first_cost=20, clock=core.clock)
    assert max(core.tried) > 1200 and found.held is not None and found.held > 700


def test_a_budget_too_small_ends_with_a_lower_bound_and_no_bracket() -> None:
    core = FakeCore(5000.0, seconds=20)
    plan = SearchPlan(start=300, growth=1.5, budget_s=70)
    found = search(core.step, plan, first_cost=20, clock=core.clock)
    assert found.outcome == BUDGET_ENDED and found.budget_ended
    assert core.tried == [300, 450, 675]  # a fourth 20 s step would end at 80 s > 70 s
    assert found.held == 675 and found.failed is None
    record = found.to_dict()
    assert record["outcome"] == "budget_ended" and record["lower_bound"] == 675 and not record["resolution_reached"]
    assert core.now <= plan.budget_s


def test_the_budget_counts_the_longest_step_seen_not_the_first_guess() -> None:
    core = FakeCore(5000.0, seconds=30)
    found = search(core.step, SearchPlan(start=300, budget_s=100), first_cost=5, clock=core.clock)
    assert len(found.trials) == 3 and core.now == 90  # the guess of 5 s let the first step start, then 30 s counts


def test_a_budget_that_ends_while_bisecting_keeps_the_bracket_it_has() -> None:
    core = FakeCore(1000.0, seconds=10)
    found = search(core.step, SearchPlan(start=300, growth=2, resolution=5, budget_s=45), first_cost=10,
                   clock=core.clock)
    assert core.tried == [300, 600, 1200, 900]
    assert found.outcome == FOUND and found.budget_ended and not found.resolution_reached
    assert (found.held, found.failed) == (900, 1200)


def test_when_the_first_step_fails_the_rate_is_halved_down_to_the_minimum() -> None:
    core = FakeCore(100.0)
    found = search(core.step, SearchPlan(start=400, resolution=10, budget_s=10_000), first_cost=20, clock=core.clock)
    assert core.tried[:3] == [400, 200, 100]
    assert found.outcome == FOUND and found.held is not None and found.failed is not None
    assert found.held <= 100 < found.failed and found.failed - found.held <= 10
    nothing = FakeCore(1.0)
    none = search(nothing.step, SearchPlan(start=80, min_rate=10, budget_s=10_000), first_cost=20, clock=nothing.clock)
    assert nothing.tried == [80, 40, 20, 10] and none.outcome == NONE_HELD and none.held is None


def test_the_next_rate_grows_by_at_least_the_resolution_and_bisects_on_a_grain() -> None:
    plan = SearchPlan(start=10, growth=1.1, resolution=25)
    assert next_rate(plan, None, None) == 10
    assert next_rate(plan, 10, None) == 35
    assert next_rate(plan, 500, 600) == 550
    assert next_rate(plan, 500, 520) is None


@pytest.mark.parametrize("bad", [{"start": 0}, {"growth": 1.0}, {"resolution": 0}, {"budget_s": 0}])
def test_a_plan_that_could_not_end_is_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        SearchPlan(**{"start": 300.0, **bad})


def test_the_audit_gives_the_benchmark_options_it_accepts_and_a_search_that_can_end(tmp_path: Path) -> None:
    bench = {s.name: s for s in audit_plan(tmp_path, quick=False)}["bench-load"]
    args = build_parser().parse_args(bench.command[bench.command.index("bench-load") + 1 :])
    chosen = search_plan(args)
    assert chosen.budget_s == args.budget and chosen.start == 300


def test_a_failed_hold_steps_down_by_tenths_of_the_best_step_to_the_lowest_held_step() -> None:
    """The run that fell back 2,280 → 2,025 → 1,350/s, and the one that missed 1,690, 1,520 and 1,350/s and then
    confirmed only 900/s: every tenth of the best is tried before a lower held step."""
    assert hold_rates([600.0, 900.0, 1350.0, 2025.0, 2280.0]) == [
        2280.0, 2050.0, 1825.0, 1595.0, 1370.0, 1140.0, 910.0, 685.0, 600.0]
    assert hold_rates([600.0, 900.0, 1350.0, 1690.0]) == [
        1690.0, 1520.0, 1350.0, 1185.0, 1015.0, 845.0, 675.0, 600.0]


def test_hold_rates_are_on_the_grain_without_repeats_and_never_below_the_lowest_held_step() -> None:
    assert hold_rates([20.0]) == [20.0]  # 18 rounds to 20 (a repeat); 16 is below the only held step
    assert hold_rates([850.0, 1000.0]) == [1000.0, 900.0, 850.0]  # 800 is below 850, the lowest held step
    assert hold_rates([500.0, 1000.0]) == [1000.0, 900.0, 800.0, 700.0, 600.0, 500.0]


def test_no_held_step_means_no_hold() -> None:
    assert hold_rates([]) == []
