"""Request plumbing shared by the gateway clients: timeouts, breaker, retries, transport errors, JSON.

Each attempt goes through the gateway's breaker, so a retry loop cannot hammer a gateway whose
breaker has opened. Transport failures become the gateway's NetworkError with ``outcome_unknown`` set
whenever the request may have been delivered (anything after the connection was made).

Usage::

    caller = Caller(http, family=PAYU_ERRORS, timeouts=Timeouts(), retry_policy=RetryPolicy(),
                    breaker=CircuitBreaker("payu"))
    payload = await caller.request("POST", url, operation="PING", retry=True, json=body, parse=parse_fn)
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, Generic, Protocol, TypeVar

import httpx

from core.gateways.errors import GatewayError
from core.gateways.resilience import BreakerPolicy, CircuitBreaker, RetryPolicy, Timeouts, call_with_retry

T = TypeVar("T")

# Requests were never sent when these happen, so even a charge may be re-sent after them.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


@dataclass(frozen=True, slots=True)
class ErrorFamily:
    """One gateway's four error classes, so the shared plumbing raises the right branch of the tree."""

    network: type[GatewayError]
    authentication: type[GatewayError]
    validation: type[GatewayError]
    transaction: type[GatewayError]


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name} in a gateway response")


def loads(content: bytes | str) -> Any:
    """Parse JSON with every non-integer number as Decimal; NaN and Infinity are refused."""
    return json.loads(content, parse_float=Decimal, parse_constant=_refuse_constant)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date); None if absent/bad."""
    if not value:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():  # isdigit alone admits '¹', which float() refuses
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class Caller:
    """Sends one logical gateway call: attempts through the breaker, retried only when allowed."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        family: ErrorFamily,
        timeouts: Timeouts,
        retry_policy: RetryPolicy,
        breaker: CircuitBreaker,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.http = http
        self.family = family
        self.timeouts = timeouts
        self.retry_policy = retry_policy
        self.breaker = breaker
        self._sleep = sleep
        self._rand = rand

    def _is_failure(self, exc: BaseException) -> bool:
        return isinstance(exc, self.family.network)

    async def request(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        retry: bool,
        parse: Callable[[httpx.Response], T],
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> T:
        """Send and parse; ``retry`` must be true only when a duplicate delivery cannot charge twice."""

        async def once() -> T:
            response = await self._send(method, url, operation, headers, json_body, params)
            return parse(response)

        async def attempt() -> T:
            return await self.breaker.call(once, is_failure=self._is_failure, operation=operation)

        return await call_with_retry(
            attempt,
            policy=self.retry_policy,
            retry=retry,
            operation=operation,
            sleep=self._sleep,
            rand=self._rand,
        )

    async def _send(
        self,
        method: str,
        url: str,
        operation: str,
        headers: Mapping[str, str] | None,
        json_body: Any,
        params: Mapping[str, str] | None,
    ) -> httpx.Response:
        network = self.family.network
        try:
            response = await self.http.request(
                method,
                url,
                headers=dict(headers or {}),
                json=json_body,
                params=params,
                timeout=self.timeouts.as_httpx(),
            )
        except _NOT_SENT as exc:
            raise network(f"not delivered: {type(exc).__name__}", operation=operation) from exc
        except httpx.TimeoutException as exc:
            raise network(f"timed out: {type(exc).__name__}", operation=operation, outcome_unknown=True) from exc
        except httpx.TransportError as exc:
            raise network(f"transport error: {type(exc).__name__}", operation=operation, outcome_unknown=True) from exc
        status = response.status_code
        if status == 429:
            raise network(
                "rate limited",
                operation=operation,
                status_code=status,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if status >= 500:
            raise network("server error", operation=operation, status_code=status, outcome_unknown=True)
        return response

    def shaped(self, extract: Callable[[], T], response: httpx.Response, operation: str) -> T:
        """Run a parser over a response; a payload of the wrong shape is a malformed answer, outcome unknown.

        The gateway's own errors pass through; parsers signal a bad shape with KeyError, TypeError,
        ValueError or ArithmeticError (models' docstrings), which become the family's NetworkError.
        """
        try:
            return extract()
        except GatewayError:
            raise
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise self.family.network(
                f"malformed {self.family.network.gateway} payload",
                operation=operation,
                status_code=response.status_code,
                outcome_unknown=True,
            ) from exc

    def decode(self, response: httpx.Response, operation: str) -> Any:
        """JSON body with Decimals; an unreadable 2xx body is treated like a garbled transport."""
        try:
            return loads(response.content)
        except (ValueError, UnicodeDecodeError) as exc:
            raise self.family.network(
                "unreadable response body",
                operation=operation,
                status_code=response.status_code,
                outcome_unknown=True,
            ) from exc


class ClientConfig(Protocol):
    @property
    def timeouts(self) -> Timeouts: ...
    @property
    def retry(self) -> RetryPolicy: ...
    @property
    def breaker(self) -> BreakerPolicy: ...


C = TypeVar("C", bound=ClientConfig)


class GatewayClientBase(Generic[C]):
    """What every gateway client starts with: its config, its own breaker, and a Caller on the injected client.

    Subclasses name the gateway (``gateway``) and its error family (``errors``).
    Usage: ``class WompiClient(GatewayClientBase[WompiConfig]): gateway = "wompi"; errors = WOMPI_ERRORS``.
    """

    gateway: str
    errors: ErrorFamily

    def __init__(
        self,
        http: httpx.AsyncClient,
        config: C,
        *,
        breaker: CircuitBreaker | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.config = config
        self.breaker = breaker or CircuitBreaker(self.gateway, config.breaker)
        self._caller = Caller(http, family=self.errors, timeouts=config.timeouts, retry_policy=config.retry,
                              breaker=self.breaker, sleep=sleep, rand=rand)
