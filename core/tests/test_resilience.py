"""Retry policy, retry loop and circuit breaker: exact waits with a fake sleep, states with a fake clock."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.gateways.errors import CircuitOpenError, PayUNetworkError, PayUValidationError
from core.gateways.resilience import (
    BreakerPolicy,
    BreakerState,
    CircuitBreaker,
    RetryPolicy,
    Timeouts,
    call_with_retry,
)
from core.tests.support import FakeClock, FakeSleep


def test_default_policy_is_three_attempts_one_second_doubling_capped_at_sixty() -> None:
    policy = RetryPolicy()
    assert (policy.attempts, policy.initial_delay, policy.multiplier, policy.max_delay) == (3, 1.0, 2.0, 60.0)
    # rand=0 gives the un-jittered base; rand→1 the shortest wait (base * (1 - jitter)).
    assert [policy.delay(n, 0.0) for n in (1, 2, 3, 7, 8, 50)] == [1.0, 2.0, 4.0, 60.0, 60.0, 60.0]
    assert policy.delay(1, 0.999999) == pytest.approx(0.5, abs=1e-5)


@given(
    retry_number=st.integers(min_value=1, max_value=10_000),
    rand=st.floats(min_value=0, max_value=1, exclude_max=True),
    jitter=st.floats(min_value=0, max_value=1),
)
def test_delay_stays_within_jitter_bounds_and_under_the_cap(retry_number: int, rand: float, jitter: float) -> None:
    policy = RetryPolicy(jitter=jitter)
    base = min(60.0, 2.0 ** (retry_number - 1)) if retry_number < 64 else 60.0
    delay = policy.delay(retry_number, rand)
    assert base * (1 - jitter) - 1e-9 <= delay <= base + 1e-9
    assert delay <= policy.max_delay


@pytest.mark.parametrize(
    "kwargs",
    [{"attempts": 0}, {"initial_delay": -1}, {"multiplier": 0.5}, {"jitter": 1.5}, {"max_delay": -1}],
)
def test_policy_refuses_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_timeouts_refuse_zero_and_map_to_httpx() -> None:
    with pytest.raises(ValueError):
        Timeouts(read=0)
    t = Timeouts(connect=1, read=2, write=3, pool=4).as_httpx()
    assert (t.connect, t.read, t.write, t.pool) == (1, 2, 3, 4)


class Flaky:
    """Fails with the given errors, then returns 'ok'."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


async def test_retryable_errors_are_retried_with_jittered_exponential_waits() -> None:
    sleep = FakeSleep()
    rands = iter([0.0, 0.5])
    fn = Flaky(PayUNetworkError("boom"), PayUNetworkError("boom"))
    result = await call_with_retry(fn, policy=RetryPolicy(), retry=True, sleep=sleep, rand=lambda: next(rands))
    assert result == "ok"
    assert fn.calls == 3
    assert sleep.delays == [1.0, 1.5]  # 1 s un-jittered, then 2 s with 25 % taken off


async def test_attempts_are_bounded_and_the_last_error_is_raised() -> None:
    sleep = FakeSleep()
    fn = Flaky(*(PayUNetworkError(f"boom {i}") for i in range(5)))
    with pytest.raises(PayUNetworkError, match="boom 2"):
        await call_with_retry(fn, policy=RetryPolicy(attempts=3), retry=True, sleep=sleep, rand=lambda: 0.0)
    assert fn.calls == 3
    assert len(sleep.delays) == 2


async def test_cap_applies_to_long_retry_chains() -> None:
    sleep = FakeSleep()
    fn = Flaky(*(PayUNetworkError("x") for i in range(9)))
    policy = RetryPolicy(attempts=10, initial_delay=10, multiplier=3, max_delay=60)
    assert await call_with_retry(fn, policy=policy, retry=True, sleep=sleep, rand=lambda: 0.0) == "ok"
    assert sleep.delays == [10, 30, 60, 60, 60, 60, 60, 60, 60]


async def test_no_retry_when_not_allowed() -> None:
    fn = Flaky(PayUNetworkError("boom"))
    with pytest.raises(PayUNetworkError):
        await call_with_retry(fn, policy=RetryPolicy(), retry=False, sleep=FakeSleep())
    assert fn.calls == 1


async def test_non_retryable_errors_are_not_retried() -> None:
    fn = Flaky(PayUValidationError("bad"))
    with pytest.raises(PayUValidationError):
        await call_with_retry(fn, policy=RetryPolicy(), retry=True, sleep=FakeSleep())
    assert fn.calls == 1
    fn = Flaky(PayUNetworkError("lookup failed", retryable=False))
    with pytest.raises(PayUNetworkError):
        await call_with_retry(fn, policy=RetryPolicy(), retry=True, sleep=FakeSleep())
    assert fn.calls == 1


async def test_retry_after_lengthens_the_wait() -> None:
    sleep = FakeSleep()
    fn = Flaky(PayUNetworkError("slow down", status_code=429, retry_after=7.0))
    assert await call_with_retry(fn, policy=RetryPolicy(), retry=True, sleep=sleep, rand=lambda: 0.0) == "ok"
    assert sleep.delays == [7.0]


async def test_retry_after_beyond_the_cap_stops_retrying() -> None:
    sleep = FakeSleep()
    fn = Flaky(PayUNetworkError("slow down", status_code=429, retry_after=3600.0))
    with pytest.raises(PayUNetworkError):
        await call_with_retry(fn, policy=RetryPolicy(), retry=True, sleep=sleep)
    assert fn.calls == 1
    assert sleep.delays == []


async def _fail() -> None:
    raise PayUNetworkError("down")


async def _ok() -> str:
    return "ok"


def _is_net(exc: BaseException) -> bool:
    return isinstance(exc, PayUNetworkError)


async def test_breaker_opens_after_consecutive_failures_then_half_opens_then_closes() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("payu", BreakerPolicy(failure_threshold=3, reset_timeout=30), clock=clock)
    for _ in range(3):
        with pytest.raises(PayUNetworkError):
            await breaker.call(_fail, is_failure=_is_net)
    assert breaker.state is BreakerState.OPEN

    calls = 0

    async def counted() -> str:
        nonlocal calls
        calls += 1
        return "ok"

    clock.advance(29.9)
    with pytest.raises(CircuitOpenError) as info:
        await breaker.call(counted, is_failure=_is_net)
    assert calls == 0
    assert info.value.reopens_in == pytest.approx(0.1)
    assert not info.value.retryable

    clock.advance(0.1)
    assert breaker.state is BreakerState.HALF_OPEN
    assert await breaker.call(counted, is_failure=_is_net) == "ok"
    assert calls == 1
    assert breaker.state is BreakerState.CLOSED
    assert breaker.consecutive_failures == 0


async def test_failed_probe_reopens_for_a_full_cool_down() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("wompi", BreakerPolicy(failure_threshold=1, reset_timeout=10), clock=clock)
    with pytest.raises(PayUNetworkError):
        await breaker.call(_fail, is_failure=_is_net)
    clock.advance(10)
    with pytest.raises(PayUNetworkError):
        await breaker.call(_fail, is_failure=_is_net)  # the probe
    assert breaker.state is BreakerState.OPEN
    clock.advance(9)
    with pytest.raises(CircuitOpenError):
        await breaker.call(_ok, is_failure=_is_net)


async def test_success_resets_the_failure_count() -> None:
    breaker = CircuitBreaker("efecty", BreakerPolicy(failure_threshold=2), clock=FakeClock())
    with pytest.raises(PayUNetworkError):
        await breaker.call(_fail, is_failure=_is_net)
    await breaker.call(_ok, is_failure=_is_net)
    with pytest.raises(PayUNetworkError):
        await breaker.call(_fail, is_failure=_is_net)
    assert breaker.state is BreakerState.CLOSED


async def test_non_failure_errors_prove_the_gateway_alive() -> None:
    breaker = CircuitBreaker("payu", BreakerPolicy(failure_threshold=1), clock=FakeClock())

    async def refused() -> None:
        raise PayUValidationError("bad request")

    for _ in range(3):
        with pytest.raises(PayUValidationError):
            await breaker.call(refused, is_failure=_is_net)
    assert breaker.state is BreakerState.CLOSED


async def test_half_open_admits_one_probe_at_a_time() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("payu", BreakerPolicy(failure_threshold=1, reset_timeout=5), clock=clock)
    with pytest.raises(PayUNetworkError):
        await breaker.call(_fail, is_failure=_is_net)
    clock.advance(5)
    gate = asyncio.Event()

    async def slow() -> str:
        await gate.wait()
        return "ok"

    probe = asyncio.create_task(breaker.call(slow, is_failure=_is_net))
    await asyncio.sleep(0)
    with pytest.raises(CircuitOpenError):
        await breaker.call(_ok, is_failure=_is_net)
    gate.set()
    assert await probe == "ok"
    assert breaker.state is BreakerState.CLOSED


async def test_cancelled_probe_frees_the_slot() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("payu", BreakerPolicy(failure_threshold=1, reset_timeout=5), clock=clock)
    with pytest.raises(PayUNetworkError):
        await breaker.call(_fail, is_failure=_is_net)
    clock.advance(5)
    probe = asyncio.create_task(breaker.call(asyncio.Event().wait, is_failure=_is_net))
    await asyncio.sleep(0)
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    assert await breaker.call(_ok, is_failure=_is_net) == "ok"


async def test_retry_loop_stops_at_an_open_breaker() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("payu", BreakerPolicy(failure_threshold=2, reset_timeout=30), clock=clock)
    sleep = FakeSleep()
    calls = 0

    async def attempt() -> str:
        nonlocal calls

        async def send() -> str:
            nonlocal calls
            calls += 1
            raise PayUNetworkError("down")

        return await breaker.call(send, is_failure=_is_net)

    with pytest.raises(CircuitOpenError):
        await call_with_retry(attempt, policy=RetryPolicy(attempts=5), retry=True, sleep=sleep, rand=lambda: 0.0)
    assert calls == 2
    assert sleep.delays == [1.0, 2.0]


def test_retry_after_parses_seconds_and_http_dates() -> None:
    from datetime import UTC, datetime

    from core.gateways._http import parse_retry_after

    now = datetime(2025, 1, 31, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Fri, 31 Jan 2025 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Fri, 31 Jan 2025 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-5") is None
    # Digits to str.isdigit that float() refuses (a header is Latin-1: '¹' can arrive): absent, not a crash.
    assert parse_retry_after("\u00b9") is None
    assert parse_retry_after("\u00b2\u00b3") is None


async def test_a_breaker_opening_after_an_uncertain_attempt_reports_the_uncertainty() -> None:
    # Attempt 1 may have reached the gateway (timed out); attempt 2 meets the open breaker. "Circuit open,
    # nothing sent" would be a lie about attempt 1: the caller must see "outcome unknown".
    calls = 0

    async def fn() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise PayUNetworkError("timed out", operation="op", outcome_unknown=True, retryable=True)
        raise CircuitOpenError("payu", reopens_in=5.0, operation="op")

    with pytest.raises(PayUNetworkError) as err:
        await call_with_retry(fn, policy=RetryPolicy(attempts=3, initial_delay=0.0), retry=True,
                              sleep=FakeSleep())
    assert err.value.outcome_unknown and calls == 2


async def test_a_breaker_open_from_the_start_still_says_nothing_was_sent() -> None:
    async def fn() -> None:
        raise CircuitOpenError("payu", reopens_in=5.0, operation="op")

    with pytest.raises(CircuitOpenError):
        await call_with_retry(fn, policy=RetryPolicy(attempts=3, initial_delay=0.0), retry=True, sleep=FakeSleep())


class Steps:
    """Raises the given errors in turn (the last one for every further try), counting the tries."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        raise self.errors[min(self.calls, len(self.errors)) - 1]


def _unknown() -> PayUNetworkError:
    return PayUNetworkError("timed out", operation="op", outcome_unknown=True, retryable=True)


@pytest.mark.parametrize(
    "last",
    [
        # A 429 on the retry: "rate limited" speaks for that try only.
        PayUNetworkError("rate limited", operation="op", status_code=429),
        # A connect error: this try was never sent; the first one may have been.
        PayUNetworkError("not delivered: ConnectError", operation="op"),
        # A 4xx refusal of the retry (e.g. a duplicate reference, or a field rule) is not "never charged".
        PayUValidationError("refused", operation="op", status_code=422),
    ],
    ids=["429", "connect-error", "4xx"],
)
async def test_after_an_uncertain_try_a_later_error_still_says_outcome_unknown(last: PayUNetworkError) -> None:
    fn = Steps(_unknown(), last)
    with pytest.raises(type(last)) as err:
        await call_with_retry(fn, policy=RetryPolicy(attempts=3, initial_delay=0.0), retry=True, sleep=FakeSleep())
    # Same class (a client can still recover from it), but never "nothing happened" and never re-sendable.
    assert err.value is last
    # As logged and stored with an attempt (log_context): outcome unknown, and not retryable — false, not unset.
    context = err.value.log_context()
    assert (context["outcome_unknown"], context["retryable"]) == (True, False)
    assert context["retryable"] is False


async def test_an_error_with_no_uncertain_try_before_it_is_reported_as_it_came() -> None:
    refused = PayUValidationError("refused", operation="op", status_code=422)
    with pytest.raises(PayUValidationError) as err:
        await call_with_retry(Steps(PayUNetworkError("not delivered", operation="op"), refused),
                              policy=RetryPolicy(attempts=3, initial_delay=0.0), retry=True, sleep=FakeSleep())
    assert not err.value.outcome_unknown
