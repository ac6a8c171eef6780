"""Operators learn that a gateway's circuit opened from one warning naming it, not from one per late failure."""

from __future__ import annotations

import asyncio
import logging

import pytest

from core.gateways.errors import PayUNetworkError
from core.gateways.resilience import BreakerPolicy, BreakerState, CircuitBreaker
from core.tests.support import FakeClock


def _openings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "core.gateways" and "opened" in r.getMessage()]


async def test_one_warning_when_the_circuit_opens_even_if_calls_already_in_flight_fail_after(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="core.gateways")
    breaker = CircuitBreaker("wompi", BreakerPolicy(failure_threshold=2, reset_timeout=30), clock=FakeClock())
    release = asyncio.Event()

    async def slow_failure() -> str:
        await release.wait()
        raise PayUNetworkError("connection reset")

    # Four calls admitted while the circuit is closed, all failing once the gateway gives up on them.
    calls = [asyncio.create_task(breaker.call(slow_failure, is_failure=lambda e: True)) for _ in range(4)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(r, PayUNetworkError) for r in results)
    assert breaker.state is BreakerState.OPEN
    assert _openings(caplog) == ["circuit for wompi opened after 2 failures"]


async def test_a_failed_probe_reopens_the_circuit_with_a_new_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="core.gateways")
    clock = FakeClock()
    breaker = CircuitBreaker("efecty", BreakerPolicy(failure_threshold=1, reset_timeout=10), clock=clock)

    async def fail() -> str:
        raise PayUNetworkError("timeout")

    with pytest.raises(PayUNetworkError):
        await breaker.call(fail, is_failure=lambda e: True)
    clock.advance(10)
    with pytest.raises(PayUNetworkError):
        await breaker.call(fail, is_failure=lambda e: True)
    assert _openings(caplog) == ["circuit for efecty opened after 1 failures"] * 2
