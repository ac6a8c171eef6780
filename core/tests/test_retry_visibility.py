"""What operators see of retries and refusals: one warning per retry naming the operation, the attempt, the
error and the wait; a Retry-After at exactly the cap still honoured; a second caller during a probe told who
refused it and that the circuit may close at any moment."""

from __future__ import annotations

import asyncio
import logging

import pytest

from core.gateways.errors import CircuitOpenError, PayUNetworkError
from core.gateways.resilience import BreakerPolicy, CircuitBreaker, RetryPolicy, call_with_retry
from core.tests.support import FakeClock, FakeSleep


class Flaky:
    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)

    async def __call__(self) -> str:
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


async def test_each_retry_is_logged_with_operation_attempt_error_and_wait(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="core.gateways")
    rands = iter([0.0, 0.5])
    fn = Flaky(PayUNetworkError("reset by peer"), PayUNetworkError("timed out"))
    result = await call_with_retry(fn, policy=RetryPolicy(initial_delay=0.5), retry=True, operation="get_transaction",
                                   sleep=FakeSleep(), rand=lambda: next(rands))
    assert result == "ok"
    assert [r.getMessage() for r in caplog.records if r.name == "core.gateways"] == [
        "retrying get_transaction after attempt 1 (payu: reset by peer); waiting 0.50s",
        "retrying get_transaction after attempt 2 (payu: timed out); waiting 0.75s",
    ]


async def test_a_retry_after_equal_to_the_cap_is_waited_for() -> None:
    sleep = FakeSleep()
    fn = Flaky(PayUNetworkError("busy", retry_after=60.0))
    assert await call_with_retry(fn, policy=RetryPolicy(max_delay=60.0), retry=True, sleep=sleep,
                                 rand=lambda: 0.0) == "ok"
    assert sleep.delays == [60.0]


async def test_a_caller_refused_during_the_probe_learns_the_gateway_the_operation_and_no_wait() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("payu", BreakerPolicy(failure_threshold=1, reset_timeout=5), clock=clock)
    with pytest.raises(PayUNetworkError):
        await breaker.call(Flaky(PayUNetworkError("down")), is_failure=lambda e: True)
    clock.advance(5)
    gate = asyncio.Event()

    async def slow_probe() -> str:
        await gate.wait()
        return "ok"

    probe = asyncio.create_task(breaker.call(slow_probe, is_failure=lambda e: True))
    await asyncio.sleep(0)
    with pytest.raises(CircuitOpenError) as refused:
        await breaker.call(Flaky(), is_failure=lambda e: True, operation="get_transaction")
    gate.set()
    assert await probe == "ok"
    assert (refused.value.gateway, refused.value.operation, refused.value.reopens_in) == (
        "payu", "get_transaction", 0.0)
