"""Rate limits on the payment endpoints, per buyer and per client IP, with the ``limits`` library.

Moving windows (``services.limiter``) so a burst at a window edge cannot double the allowance. Storage is
in process memory by default — each uvicorn worker then counts on its own, so the effective limit is
``workers ×`` the configured one; set ``PAYHARNESS_LIMITS__STORAGE_URI=redis://…`` to share the counts.

The IP is ``request.client.host``: behind a reverse proxy set ``PAYHARNESS_TRUSTED_PROXIES`` to the
proxy's address (core/httpserver.py), or every buyer shares the proxy's allowance.

Usage::

    @router.post("/payments/process")
    async def process(principal: Principal = Depends(payment_rate_limit)) -> ...
"""

from __future__ import annotations

import math
import time
from functools import lru_cache
from typing import Annotated

from fastapi import Depends, Request
from limits import RateLimitItem, parse

from core.auth import Principal, require_buyer
from core.deps import get_services
from core.errors import TooManyRequests
from core.services import Services


@lru_cache(maxsize=32)
def _item(spec: str) -> RateLimitItem:
    return parse(spec)


async def check_limit(services: Services, spec: str, *identifiers: str) -> None:
    """Count one hit against ``spec`` for ``identifiers``; raise 429 with Retry-After when it is spent."""
    item = _item(spec)
    if await services.limiter.hit(item, *identifiers):
        return
    stats = await services.limiter.get_window_stats(item, *identifiers)
    # The moving window frees a slot when its oldest hit ages out; never tell a client to retry "now".
    retry_after = max(1, math.ceil(stats.reset_time - time.time()))
    raise TooManyRequests(
        "rate_limited",
        f"too many payment requests; retry in {retry_after} s",
        headers={"Retry-After": str(retry_after)},
        extra={"retry_after": retry_after},
    )


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def payment_rate_limit(
    request: Request,
    principal: Annotated[Principal, Depends(require_buyer)],
    services: Annotated[Services, Depends(get_services)],
) -> Principal:
    """FastAPI dependency for payment endpoints: a buyer token, within the per-IP and per-buyer limits."""
    limits = services.settings.limits
    # IP first: a flood of requests from one address is refused before it can use up a buyer's allowance.
    await check_limit(services, limits.payments_per_ip, "payments-ip", client_ip(request))
    await check_limit(services, limits.payments_per_buyer, "payments-buyer", principal.subject)
    return principal
