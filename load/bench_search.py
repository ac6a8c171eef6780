"""The benchmark's rate search: step up until a step fails, then bisect, all within a time budget.

A grid of steps that ends at a fixed top rate reports its top as the sustained rate when every step held,
which says nothing about the core (a run whose top step 700/s held at p99 20 ms, beside an unpaced
ceiling of 1,370/s, reported "700/s, target missed"). The search below keeps climbing until a step
fails, so its answer is a bracket — the highest rate held and the lowest rate not held above it — and
when the budget ends before any step failed it says so: the best held rate is then only a lower bound.

It knows nothing of Locust: ``step`` is any function from an offered rate to "held or not", and time is
read through ``clock``, so the search is tested with a fake step and a fake clock.

1. climb: ``start``, then ``× growth`` (at least ``+ resolution``) while every step holds;
2. when the first step fails, halve down to ``min_rate`` until one holds;
3. bisect between the highest held and the lowest failed rate until they are ``resolution`` apart.

A step starts only when the time spent so far plus the longest step yet (``first_cost`` before any ran)
fits the budget, so the search overruns its budget only when a step takes longer than every earlier one.

Usage::

    found = search(lambda rate: run_step(rate).held, SearchPlan(start=300, budget_s=150), first_cost=25)
    found.outcome, found.held, found.failed   # ("found", 1140.0, 1190.0) or ("budget_ended", 1500.0, None)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

FOUND = "found"  # a held rate and a failed rate above it, the limit lies between
BUDGET_ENDED = "budget_ended"  # the budget ended before any step above the best held one failed
NONE_HELD = "none_held"  # every rate failed, down to the plan's min_rate
GRAIN = 5.0  # rates are multiples of this (events/s), so step names stay readable


@dataclass(frozen=True)
class SearchPlan:
    """How to search: where to start, how fast to climb, when to stop (events/s and seconds)."""

    start: float
    growth: float = 1.5
    resolution: float = 25.0
    min_rate: float = 10.0
    budget_s: float = 180.0

    def __post_init__(self) -> None:
        if self.start <= 0 or self.growth <= 1 or self.resolution <= 0 or self.budget_s <= 0:
            raise ValueError(f"a search needs start > 0, growth > 1, resolution > 0 and a budget > 0: {self}")


@dataclass(frozen=True)
class Trial:
    rate: float
    held: bool
    seconds: float  # wall time the step took


@dataclass(frozen=True)
class SearchResult:
    outcome: str  # FOUND | BUDGET_ENDED | NONE_HELD
    held: float | None  # highest rate held (with BUDGET_ENDED: a lower bound of the limit)
    failed: float | None  # lowest rate not held above ``held``
    trials: tuple[Trial, ...]
    budget_ended: bool  # the budget stopped the search (with FOUND: before the bracket was narrowed)
    elapsed_s: float
    plan: SearchPlan

    @property
    def resolution_reached(self) -> bool:
        return self.outcome == FOUND and self.failed is not None and self.held is not None and (
            self.failed - self.held <= self.plan.resolution
        )

    def to_dict(self) -> dict[str, Any]:
        """The record in ``bench.json``: the outcome, the bracket or the lower bound, every trial in order."""
        return {
            "outcome": self.outcome,
            "held": self.held,
            "failed": self.failed,
            "lower_bound": self.held if self.outcome == BUDGET_ENDED else None,
            "resolution_reached": self.resolution_reached,
            "budget_ended": self.budget_ended,
            "elapsed_s": round(self.elapsed_s, 1),
            "plan": {"start": self.plan.start, "growth": self.plan.growth, "resolution": self.plan.resolution,
                     "min_rate": self.plan.min_rate, "budget_s": self.plan.budget_s},
            "trials": [{"rate": t.rate, "held": t.held, "seconds": round(t.seconds, 1)} for t in self.trials],
        }


def _on_grain(rate: float) -> float:
    return max(GRAIN, round(rate / GRAIN) * GRAIN)


def next_rate(plan: SearchPlan, held: float | None, failed: float | None) -> float | None:
    """The rate to try next given the bracket so far, or None when the search is done."""
    if failed is None:  # climbing (``held`` is None only before the first step)
        if held is None:
            return plan.start
        return _on_grain(max(held * plan.growth, held + plan.resolution))
    if held is None:  # even the first failed: halve
        lower = failed / 2
        return round(lower, 1) if lower >= plan.min_rate else None
    if failed - held <= plan.resolution:
        return None
    middle = _on_grain((held + failed) / 2)
    return middle if held < middle < failed else None


def search(step: Callable[[float], bool], plan: SearchPlan, *, first_cost: float,
           clock: Callable[[], float] = time.monotonic) -> SearchResult:
    """Run steps chosen by ``next_rate`` until the bracket is narrow enough or the budget is spent."""
    began = clock()
    trials: list[Trial] = []
    held: float | None = None
    failed: float | None = None
    cost = first_cost
    budget_ended = False
    while (rate := next_rate(plan, held, failed)) is not None:
        if clock() - began + cost > plan.budget_s:
            budget_ended = True
            break
        started = clock()
        ok = step(rate)
        spent = clock() - started
        cost = max(cost, spent)
        trials.append(Trial(rate, ok, spent))
        if ok:
            held = rate
        else:
            failed = rate
    if failed is not None and held is not None:
        outcome = FOUND
    elif held is None and not budget_ended:
        outcome = NONE_HELD
    else:
        outcome = BUDGET_ENDED
    return SearchResult(outcome, held, failed, tuple(trials), budget_ended, clock() - began, plan)


def hold_rates(held_steps: list[float]) -> list[float]:
    """The rates the hold tries, in order: tenths of the best held step (100 %, 90 %, 80 % …) while at or above the
    lowest held step, then that lowest held step.

    A 10 s step that holds can still miss a minute (a checkpoint, autovacuum, another job). Falling back to
    the search's previous held step threw away a third of the rate at once (2,280 → 2,025 → 1,350/s on one
    run, the third confirmed), so the hold steps down by tenths of the best; the lowest held step is the safety
    net. With only three tenths and then the held steps, one run tried 1,690, 1,520 and 1,350/s, each missing on
    a few seconds of autovacuum, and confirmed 900/s, the next held step: the rates between were never tried.
    The tries are bounded (ten at most) and the first that holds ends them. Rates are on the search's grain,
    highest first, without repeats.
    """
    if not held_steps:
        return []
    best, lowest = max(held_steps), min(held_steps)
    rates: list[float] = []
    for tenths in range(10, 0, -1):
        if best * tenths / 10 < lowest:
            break
        rate = _on_grain(best * tenths / 10)
        if rate not in rates:
            rates.append(rate)
    if lowest not in rates:
        rates.append(lowest)
    return rates
