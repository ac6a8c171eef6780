"""Thresholds: percentiles over Locust's buckets, error ratios over the chosen request names."""

from __future__ import annotations

import pytest

from load.thresholds import STEP_LIMITS, Sample, StepLimits, Thresholds, evaluate, percentile


def test_percentile_over_buckets() -> None:
    times = {10: 90, 50: 9, 300: 1}
    assert percentile(times, 0.50) == 10
    assert percentile(times, 0.95) == 50
    assert percentile(times, 0.99) == 50
    assert percentile(times, 1.0) == 300
    assert percentile({}, 0.99) == 0


def test_a_run_within_limits_passes() -> None:
    samples = [Sample("webhook wompi", 1000, 0, {20: 985, 80: 15}), Sample("api create order", 5, 5, {900: 5})]
    result = evaluate(samples, Thresholds(p95_ms=100, p99_ms=250, max_error_ratio=0.001))
    assert result.ok, result.breaches
    assert (result.requests, result.failures, result.p99_ms) == (1000, 0, 80)


def test_each_broken_limit_is_named() -> None:
    samples = [
        Sample("webhook wompi", 1000, 5, {20: 900, 200: 80, 400: 20}),
        Sample("webhook payu", 1000, 0, {20: 1000}),
    ]
    result = evaluate(samples, Thresholds(p95_ms=10, p99_ms=150, max_error_ratio=0.001))
    assert not result.ok
    assert any(b.startswith("p95 20 ms > 10 ms") for b in result.breaches)
    assert any(b.startswith("p99 200 ms > 150 ms") for b in result.breaches)
    assert any("error ratio 0.2500%" in b for b in result.breaches)


def test_switched_off_limits_and_empty_runs() -> None:
    off = Thresholds(p95_ms=None, p99_ms=None, max_error_ratio=None)
    assert evaluate([Sample("webhook x", 10, 10, {5000: 10})], off).ok
    assert evaluate([], off).breaches == ("no requests matched '^webhook'",)


@pytest.mark.parametrize(
    ("requests", "failures", "p99", "offered", "achieved", "held"),
    [
        (5000, 0, 42.0, 500.0, 498.3, True),
        (5000, 0, 100.0, 500.0, 498.3, False),  # the limit itself does not hold
        (5000, 5, 42.0, 500.0, 498.3, False),  # 0.1 % of 5,000
        (5000, 4, 42.0, 500.0, 498.3, True),
        (5000, 0, 42.0, 500.0, 470.0, False),  # 94 % of the offered rate: the core fell behind without slowing
        (0, 0, 0.0, 500.0, 0.0, False),  # nothing answered is not a pass
        (5000, 0, 42.0, 0.0, 10.0, True),  # unpaced: no rate to achieve
    ],
)
def test_a_benchmark_step_holds_only_within_every_limit(
    requests: int, failures: int, p99: float, offered: float, achieved: float, held: bool
) -> None:
    for limits, expected in ((STEP_LIMITS, held), (StepLimits(p99_ms=40.0), False)):
        got = limits.holds(requests=requests, failures=failures, steady_p99_ms=p99, offered=offered, achieved=achieved)
        assert got is expected
