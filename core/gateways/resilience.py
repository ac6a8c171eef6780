"""Timeouts, retries with backoff and jitter, and a circuit breaker per gateway.

Retries are only for calls where sending twice cannot charge twice (reads, PING, bank lists, token
lookups, Efecty voucher registration with the same code, Wompi transactions with a unique
reference). The clients choose that per operation; this module only knows how to wait and count.

One rule is kept here for every client: once a try may have reached the gateway without a readable
answer (``outcome_unknown``), the call ends in success or in an error that still says "outcome unknown"
— never in the last try's "nothing happened" (429, a refusal, a connect error, the breaker open).

Usage::

    breaker = CircuitBreaker("wompi", BreakerPolicy())
    result = await call_with_retry(lambda: breaker.call(do_request, is_failure=is_network),
                                   policy=RetryPolicy(), retry=True)
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from core.gateways.errors import CircuitOpenError, GatewayError

__all__ = [
    "BreakerPolicy",
    "BreakerState",
    "CircuitBreaker",
    "RetryPolicy",
    "Timeouts",
    "call_with_retry",
]

log = logging.getLogger("core.gateways")
T = TypeVar("T")

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Per-request limits, passed on every request so an injected client without limits still has them.

    Usage: ``Timeouts(read=60.0).as_httpx()``.
    """

    connect: float = 3.0
    read: float = 15.0
    write: float = 10.0
    pool: float = 5.0

    def __post_init__(self) -> None:
        if min(self.connect, self.read, self.write, self.pool) <= 0:
            raise ValueError("every timeout must be positive")

    def as_httpx(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter.

    The n-th retry waits ``base = min(max_delay, initial_delay * multiplier**(n-1))`` scaled by a random
    factor in ``[1 - jitter, 1]``: jitter only ever shortens the wait, so ``max_delay`` is a hard cap.
    With the defaults (``jitter=0.5``) the waits are 0.5–1 s then 1–2 s. A ``Retry-After`` from the
    gateway lengthens the wait to at least what it asked; one longer than ``max_delay`` ends retrying.
    Usage: ``RetryPolicy(attempts=5, initial_delay=0.2)``.
    """

    attempts: int = 3
    initial_delay: float = 1.0
    multiplier: float = 2.0
    max_delay: float = 60.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.initial_delay < 0 or self.max_delay < 0 or self.multiplier < 1:
            raise ValueError("delays must be non-negative and the multiplier at least 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter is a fraction between 0 and 1")

    def delay(self, retry_number: int, rand: float) -> float:
        """Wait before retry ``retry_number`` (1 = before the second attempt); ``rand`` is in [0, 1)."""
        exponent = max(0, retry_number - 1)
        # A long retry budget can push multiplier**exponent past the float range: that is the cap.
        try:
            base = min(self.max_delay, self.initial_delay * self.multiplier**exponent)
        except OverflowError:
            base = self.max_delay
        return base * (1 - self.jitter * rand)


def _wait(policy: RetryPolicy, rand: Callable[[], float]) -> Callable[[RetryCallState], float]:
    def wait(state: RetryCallState) -> float:
        delay = policy.delay(state.attempt_number, rand())
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return delay

    return wait


def _should_retry(policy: RetryPolicy) -> Callable[[BaseException], bool]:
    def should(exc: BaseException) -> bool:
        if not isinstance(exc, GatewayError) or not exc.retryable:
            return False
        # A gateway asking us to wait longer than our cap: give up now rather than hold a request open.
        return exc.retry_after is None or exc.retry_after <= policy.max_delay

    return should


def _log_retry(operation: str) -> Callable[[RetryCallState], None]:
    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning("retrying %s after attempt %d (%s); waiting %.2fs", operation, state.attempt_number, exc, wait)

    return before_sleep


async def call_with_retry(
    fn: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    retry: bool,
    operation: str = "",
    sleep: Sleep = asyncio.sleep,
    rand: Callable[[], float] = random.random,
) -> T:
    """Run ``fn``; when ``retry`` is true, run it again on retryable GatewayErrors per ``policy``.

    ``sleep`` and ``rand`` are injectable so tests assert exact waits without sleeping.
    Usage: ``await call_with_retry(fetch, policy=RetryPolicy(), retry=True, operation="get_transaction")``.
    """
    retrying = AsyncRetrying(
        stop=stop_after_attempt(policy.attempts if retry else 1),
        wait=_wait(policy, rand),
        retry=retry_if_exception(_should_retry(policy)),
        sleep=sleep,
        before_sleep=_log_retry(operation),
        reraise=True,
    )
    uncertain: list[GatewayError] = []

    async def tracked() -> T:
        try:
            return await fn()
        except GatewayError as exc:
            if exc.outcome_unknown:
                uncertain.append(exc)
            raise

    try:
        return await retrying(tracked)
    except CircuitOpenError as exc:
        if uncertain:
            uncertain[-1].unanswered = any(e.unanswered for e in uncertain)
            # An earlier attempt may have reached the gateway. "The breaker refused; nothing was sent" would
            # tell the caller the charge cannot exist, and free it to charge again: report the uncertainty.
            raise uncertain[-1] from exc
        raise
    except GatewayError as exc:
        if uncertain and not exc.outcome_unknown:
            # The last try's error (429, a 4xx refusal, a connect error before sending) speaks only for that
            # try; an earlier one may have charged. Reported as it came, it would read as "not charged" and
            # free the caller to charge again. The error keeps its class, so a client can still recover from
            # it (Wompi reads a taken reference back), but it now says the outcome is unknown and must not
            # be resent blindly.
            exc.outcome_unknown = True
            exc.retryable = False
        # Whether any try went unanswered: the last try's answer does not speak for an earlier one's request.
        exc.unanswered = exc.unanswered or any(e.unanswered for e in uncertain)
        raise


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """Open after ``failure_threshold`` consecutive failures; probe again after ``reset_timeout`` s."""

    failure_threshold: int = 5
    reset_timeout: float = 30.0

    def __post_init__(self) -> None:
        if self.failure_threshold < 1 or self.reset_timeout < 0:
            raise ValueError("failure_threshold must be >= 1 and reset_timeout >= 0")


class CircuitBreaker:
    """One gateway's breaker: closed → open after N consecutive failures → half-open after a cool-down
    (one probe at a time) → closed on the probe's success, open again on its failure.

    Written here rather than taken from a library: aiobreaker's last release is from 2021, purgatory
    is maintained but brings a unit-of-work/message-bus layer and its own clock, and pybreaker's
    async support goes through Tornado. None lets tests inject a monotonic clock, which is what makes
    the breaker testable without sleeping. State lives in one event loop; there is no await between
    a check and its update, so no lock is needed.
    Usage: ``await breaker.call(send, is_failure=lambda e: isinstance(e, WompiNetworkError))``.
    """

    def __init__(
        self, name: str, policy: BreakerPolicy | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.name = name
        self.policy = policy or BreakerPolicy()
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probe_in_flight = False

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._cooled_down():
            return BreakerState.HALF_OPEN
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def _cooled_down(self) -> bool:
        return self._clock() - self._opened_at >= self.policy.reset_timeout

    def before_call(self, operation: str = "") -> None:
        """Admit a call or raise CircuitOpenError; in half-open only one probe is admitted."""
        if self._state is BreakerState.CLOSED:
            return
        if self._state is BreakerState.OPEN:
            if not self._cooled_down():
                remaining = self.policy.reset_timeout - (self._clock() - self._opened_at)
                raise CircuitOpenError(self.name, reopens_in=max(0.0, remaining), operation=operation)
            self._state = BreakerState.HALF_OPEN
        if self._probe_in_flight:
            raise CircuitOpenError(self.name, reopens_in=0.0, operation=operation)
        self._probe_in_flight = True

    def record_success(self) -> None:
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._probe_in_flight = False

    def record_failure(self) -> None:
        self._probe_in_flight = False
        if self._state is BreakerState.HALF_OPEN:
            self._open()
            return
        self._failures += 1
        if self._failures >= self.policy.failure_threshold:
            self._open()

    def _open(self) -> None:
        if self._state is not BreakerState.OPEN:
            log.warning("circuit for %s opened after %d failures", self.name, self._failures)
        self._state = BreakerState.OPEN
        self._opened_at = self._clock()

    async def call(
        self,
        fn: Callable[[], Awaitable[T]],
        *,
        is_failure: Callable[[BaseException], bool],
        operation: str = "",
    ) -> T:
        """Run ``fn`` through the breaker. Errors for which ``is_failure`` is false (a 4xx, a decline)
        prove the gateway is alive and count as success."""
        self.before_call(operation)
        try:
            result = await fn()
        except BaseException as exc:
            if isinstance(exc, Exception) and is_failure(exc):
                self.record_failure()
            elif isinstance(exc, Exception):
                self.record_success()
            else:
                # Cancelled mid-call: we learnt nothing about the gateway; just free the probe slot.
                self._probe_in_flight = False
            raise
        self.record_success()
        return result
