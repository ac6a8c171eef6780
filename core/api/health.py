"""``GET /health``: the database (``SELECT 1``) and each gateway (a cheap call), with status and latency.

200 while the database answers — a failing gateway is reported as ``degraded``, not fatal, because the
core still records webhooks and serves other gateways. 503 when the database does not answer.

Each gateway check is bounded by ``CHECK_TIMEOUT_SECONDS`` (the clients retry reads; health must not
wait for that) and gateway results are reused for ``GATEWAY_CACHE_SECONDS``, so polling ``/health``
cannot be turned into a flood of calls to the gateways. A gateway whose breaker is open is reported
without being called.

Usage: ``GET /health`` → ``{"status": "ok", "checks": {"database": {...}, "payu": {...}, ...}}``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import text

from core.deps import get_services
from core.errors import log, new_support_reference
from core.gateways.errors import EfectyNotFoundError, GatewayError
from core.gateways.resilience import BreakerState, CircuitBreaker
from core.services import Services

router = APIRouter(tags=["operations"])
CHECK_TIMEOUT_SECONDS = 3.0
GATEWAY_CACHE_SECONDS = 5.0
# Efecty has no ping: reading a voucher that cannot exist proves reachability and our credentials.
EFECTY_PROBE_CODE = "HEALTH-PROBE-0"


class CheckOut(BaseModel):
    status: Literal["ok", "down", "circuit_open"]
    latency_ms: float
    detail: str | None = None


class HealthOut(BaseModel):
    status: Literal["ok", "degraded", "down"]
    checks: dict[str, CheckOut]
    support_reference: str | None = Field(default=None, description="With 503, as on every 5xx: quote it to support.")


async def _timed(probe: Callable[[], Awaitable[Any]]) -> CheckOut:
    start = time.perf_counter()
    try:
        await asyncio.wait_for(probe(), CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        return CheckOut(status="down", latency_ms=_ms(start), detail="timed out")
    except GatewayError as exc:
        # Only the error's class and code: gateway messages are not for the public.
        code = f" [{exc.error_code}]" if exc.error_code else ""
        return CheckOut(status="down", latency_ms=_ms(start), detail=f"{type(exc).__name__}{code}")
    except Exception as exc:
        return CheckOut(status="down", latency_ms=_ms(start), detail=type(exc).__name__)
    return CheckOut(status="ok", latency_ms=_ms(start))


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)


async def _efecty_probe(services: Services) -> None:
    try:
        await services.efecty.get_voucher(EFECTY_PROBE_CODE)
    except EfectyNotFoundError:
        return


async def _gateway(breaker: CircuitBreaker, probe: Callable[[], Awaitable[Any]]) -> CheckOut:
    if breaker.state is BreakerState.OPEN:
        return CheckOut(status="circuit_open", latency_ms=0.0, detail="breaker open after repeated failures")
    return await _timed(probe)


def _fresh(request: Request) -> dict[str, CheckOut] | None:
    cached = getattr(request.app.state, "health_gateways", None)
    if cached is not None and time.monotonic() - cached[0] < GATEWAY_CACHE_SECONDS:
        return dict(cached[1])
    return None


async def _gateway_checks(request: Request, services: Services) -> dict[str, CheckOut]:
    """The gateways' health, probed at most once per ``GATEWAY_CACHE_SECONDS`` per worker. /health is public: a
    burst arriving while the cache is stale waits for one round of probes instead of each starting its own
    (40 concurrent requests made 40 PayU pings)."""
    cached = _fresh(request)
    if cached is not None:
        return cached
    lock = getattr(request.app.state, "health_lock", None)
    if lock is None:  # no await since the lookup: one lock per app (worker)
        lock = request.app.state.health_lock = asyncio.Lock()
    async with lock:
        cached = _fresh(request)
        if cached is not None:
            return cached
        payu, wompi, efecty = await asyncio.gather(
            _gateway(services.payu.breaker, services.payu.ping),
            _gateway(services.wompi.breaker, services.wompi.acceptance_tokens),
            _gateway(services.efecty.breaker, lambda: _efecty_probe(services)),
        )
        checks = {"payu": payu, "wompi": wompi, "efecty": efecty}
        request.app.state.health_gateways = (time.monotonic(), checks)
    return dict(checks)


async def _database(services: Services) -> CheckOut:
    async def select_one() -> None:
        async with services.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    return await _timed(select_one)


@router.get(
    "/health",
    response_model=HealthOut,
    summary="Database and gateway health",
    responses={503: {"model": HealthOut, "description": "the database does not answer"}},
)
async def health(request: Request, services: Annotated[Services, Depends(get_services)]) -> JSONResponse:
    """``ok`` when everything answers, ``degraded`` when a gateway does not, ``down`` (503) without a database."""
    database, gateways = await asyncio.gather(_database(services), _gateway_checks(request, services))
    checks = {"database": database, **gateways}
    if database.status != "ok":
        status, code = "down", 503
    elif all(c.status == "ok" for c in gateways.values()):
        status, code = "ok", 200
    else:
        status, code = "degraded", 200
    out = HealthOut(status=status, checks=checks)  # type: ignore[arg-type]
    if code >= 500:
        out.support_reference = new_support_reference()
        log.warning("health down %s: %s", out.support_reference, database.detail)
    return JSONResponse(out.model_dump(mode="json"), status_code=code)
