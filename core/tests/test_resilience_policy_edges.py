"""Where the resilience policies draw the line: every timeout must be positive; zero waits, a constant backoff
and an immediate re-probe are allowed; a threshold under one is refused whatever the cool-down."""

from __future__ import annotations

import pytest

from core.gateways.resilience import BreakerPolicy, RetryPolicy, Timeouts


@pytest.mark.parametrize("field", ["connect", "read", "write", "pool"])
def test_each_timeout_must_be_positive(field: str) -> None:
    with pytest.raises(ValueError):
        Timeouts(**{field: 0})
    assert getattr(Timeouts(**{field: 0.001}), field) == 0.001


def test_a_retry_policy_may_wait_nothing_and_back_off_by_a_constant() -> None:
    policy = RetryPolicy(initial_delay=0, max_delay=0, multiplier=1, jitter=0)
    assert [policy.delay(n, 0.5) for n in (1, 2, 3)] == [0, 0, 0]
    constant = RetryPolicy(initial_delay=0.5, max_delay=0.5, multiplier=1.0)
    assert [constant.delay(n, 0.0) for n in (1, 2, 3)] == [0.5, 0.5, 0.5]
    for bad in ({"max_delay": -0.001}, {"multiplier": 0.999}):
        with pytest.raises(ValueError):
            RetryPolicy(**bad)  # type: ignore[arg-type]


def test_a_breaker_may_re_probe_at_once_but_needs_a_threshold_of_at_least_one() -> None:
    assert BreakerPolicy(failure_threshold=1, reset_timeout=0).reset_timeout == 0
    assert BreakerPolicy(failure_threshold=1, reset_timeout=0.5).reset_timeout == 0.5
    with pytest.raises(ValueError):
        BreakerPolicy(failure_threshold=0, reset_timeout=30)
    with pytest.raises(ValueError):
        BreakerPolicy(failure_threshold=1, reset_timeout=-1)
