"""Rate limits on every endpoint a buyer writes through, per buyer and per client IP, with the ``limits`` library.

Each buyer write endpoint has a scope with two settings, ``<scope>_per_ip`` and ``<scope>_per_buyer``
(``core.settings.LimitSettings``): ``payments`` for ``POST /payments/process`` (card testing), ``orders``
for ``POST /orders`` (order flooding: each order is a row, and orders are what card testing pays).

Moving windows (``services.limiter``) so a burst at a window edge cannot double the allowance. Storage is
in process memory by default — each uvicorn worker then counts on its own, so the effective limit is
``workers ×`` the configured one; set ``PAYHARNESS_LIMITS__STORAGE_URI=redis://…`` to share the counts.

The IP is ``request.client.host``, an IPv6 one counted by its /64 (``limited_address``): behind a reverse
proxy set ``PAYHARNESS_TRUSTED_PROXIES`` to the proxy's address (core/httpserver.py), or every buyer shares
the proxy's allowance.

Usage::

    @router.post("/payments/process")
    async def process(principal: Principal = Depends(payment_rate_limit)) -> ...

A new buyer write endpoint takes ``buyer_rate_limit("<scope>")`` (and its two settings); the route table is
checked for it (core/tests/test_api_write_limits.py).
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Annotated, Literal

from fastapi import Depends, Request
from limits import RateLimitItem, parse

from core.auth import Principal, require_buyer
from core.deps import get_services
from core.errors import TooManyRequests
from core.services import Services


@lru_cache(maxsize=32)
def _item(spec: str) -> RateLimitItem:
    return parse(spec)


Scope = Literal["payments", "orders"]
NOUN: dict[Scope, str] = {"payments": "payment requests", "orders": "orders created"}


async def check_limit(services: Services, spec: str, *identifiers: str, what: str = "payment requests") -> None:
    """Count one hit against ``spec`` for ``identifiers``; raise 429 with Retry-After when it is spent."""
    item = _item(spec)
    if await services.limiter.hit(item, *identifiers):
        return
    stats = await services.limiter.get_window_stats(item, *identifiers)
    # The moving window frees a slot when its oldest hit ages out; never tell a client to retry "now".
    retry_after = max(1, math.ceil(stats.reset_time - time.time()))
    raise TooManyRequests(
        "rate_limited",
        f"too many {what}; retry in {retry_after} s",
        headers={"Retry-After": str(retry_after)},
        extra={"retry_after": retry_after},
    )


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def limited_address(host: str) -> str:
    """What the per-IP limits count for ``host``: an IPv4 address itself (also when IPv4-mapped in IPv6), an IPv6
    address by its /64. One subscriber gets a whole /64 and a host may use any of its 2^64 addresses (privacy
    extensions rotate them on their own), so counting single IPv6 addresses let one machine flood unlimited."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv4Address):
        return str(address)
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    # int() drops a zone id (fe80::1%eth0), which ip_network would refuse.
    return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))


BuyerLimit = Callable[..., Awaitable[Principal]]
# Every dependency buyer_rate_limit made: the route-table test asks each buyer write endpoint for one.
RATE_LIMITS: set[BuyerLimit] = set()


def buyer_rate_limit(scope: Scope) -> BuyerLimit:
    """A FastAPI dependency for a buyer write endpoint: a buyer token, within ``scope``'s per-IP and per-buyer
    limits. Refused before the handler runs, so a limited request writes nothing."""

    async def limited(
        request: Request,
        principal: Annotated[Principal, Depends(require_buyer)],
        services: Annotated[Services, Depends(get_services)],
    ) -> Principal:
        limits = services.settings.limits
        what = NOUN[scope]
        # IP first: a flood of requests from one address is refused before it can use up a buyer's allowance.
        await check_limit(services, getattr(limits, f"{scope}_per_ip"), f"{scope}-ip",
                          limited_address(client_ip(request)), what=what)
        await check_limit(services, getattr(limits, f"{scope}_per_buyer"), f"{scope}-buyer", principal.subject,
                          what=what)
        return principal

    limited.__name__ = f"{scope}_rate_limit"
    RATE_LIMITS.add(limited)
    return limited


payment_rate_limit = buyer_rate_limit("payments")
order_rate_limit = buyer_rate_limit("orders")
