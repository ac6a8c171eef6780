"""A breaker over several outages: half-open while its probe runs, a second outage still gets its probe, and a
refusal names the gateway and the operation it refused (what the error log and the API's 503 show)."""

from __future__ import annotations

import asyncio

import pytest

from core.gateways.errors import CircuitOpenError, PayUNetworkError
from core.gateways.resilience import BreakerPolicy, BreakerState, CircuitBreaker
from core.tests.support import FakeClock


async def _fail() -> str:
    raise PayUNetworkError("connection refused")


async def _ok() -> str:
    return "ok"


def _always(exc: BaseException) -> bool:
    return True


async def test_the_breaker_reports_half_open_while_its_probe_runs_and_counts_no_extra_failure() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("payu", BreakerPolicy(failure_threshold=3, reset_timeout=30), clock=clock)
    for _ in range(3):
        with pytest.raises(PayUNetworkError):
            await breaker.call(_fail, is_failure=_always)
    clock.advance(30)
    seen: list[BreakerState] = []

    async def probe() -> str:
        seen.append(breaker.state)
        raise PayUNetworkError("still down")

    with pytest.raises(PayUNetworkError):
        await breaker.call(probe, is_failure=_always)
    assert seen == [BreakerState.HALF_OPEN]
    # A failed probe re-opens the circuit; it is not a fourth consecutive failure of a closed one.
    assert breaker.state is BreakerState.OPEN and breaker.consecutive_failures == 3


async def test_after_recovering_a_second_outage_still_gets_its_probe() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("wompi", BreakerPolicy(failure_threshold=1, reset_timeout=10), clock=clock)
    for _outage in range(2):
        with pytest.raises(PayUNetworkError):
            await breaker.call(_fail, is_failure=_always)
        assert breaker.state is BreakerState.OPEN
        clock.advance(10)
        assert await breaker.call(_ok, is_failure=_always) == "ok"
        assert breaker.state is BreakerState.CLOSED
    # Closed calls run side by side: only half-open limits itself to one at a time.
    assert await asyncio.gather(breaker.call(_ok, is_failure=_always), breaker.call(_ok, is_failure=_always)) == [
        "ok", "ok"]


async def test_a_refusal_names_the_gateway_and_the_operation() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("efecty", BreakerPolicy(failure_threshold=1, reset_timeout=60), clock=clock)
    with pytest.raises(PayUNetworkError):
        await breaker.call(_fail, is_failure=_always)
    clock.advance(15)
    with pytest.raises(CircuitOpenError) as named:
        await breaker.call(_ok, is_failure=_always, operation="register_voucher")
    assert (named.value.gateway, named.value.operation, named.value.reopens_in) == ("efecty", "register_voucher", 45)
    assert "register_voucher" in str(named.value)
    with pytest.raises(CircuitOpenError) as unnamed:
        breaker.before_call()
    assert unnamed.value.operation == "" and unnamed.value.gateway == "efecty"
