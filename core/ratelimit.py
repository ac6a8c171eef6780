"""Rate limits on every endpoint a buyer writes through, per buyer and per client IP, with the ``limits`` library.

Each buyer endpoint has a scope with two settings, ``<scope>_per_ip`` and ``<scope>_per_buyer``
(``core.settings.LimitSettings``): ``payments`` for ``POST /payments/process`` (card testing), ``orders``
for ``POST /orders`` (order flooding: each order is a row, and orders are what card testing pays), ``reads``
for ``GET /orders/{id}`` (a read is a query per request; admins are counted by their subject too). A request
with a bad or missing token is counted per IP by core/auth.py (``auth_failures_per_ip``) before any of these.

A refused request spends neither allowance: both are looked at before either is counted, so a buyer who is
already limited cannot use up their address's allowance (and their neighbours') by retrying, nor the reverse.
Two requests racing at the last slot may still both count one limit; the count itself is atomic.

Moving windows (``services.limiter``) so a burst at a window edge cannot double the allowance. Storage is
in process memory by default — each uvicorn worker then counts on its own, so the effective limit is
``workers ×`` the configured one; set ``PAYHARNESS_LIMITS__STORAGE_URI=redis://…`` to share the counts.

The IP is ``request.client.host``, an IPv6 one counted by its /64 (``limited_address``): behind a reverse
proxy set ``PAYHARNESS_TRUSTED_PROXIES`` to the proxy's address (core/httpserver.py), or every buyer shares
the proxy's allowance.

Usage::

    @router.post("/payments/process")
    async def process(principal: Principal = Depends(payment_rate_limit)) -> ...

A new buyer endpoint takes ``buyer_rate_limit("<scope>")`` (and its two settings); the route table is
checked for it, reads as well as writes (core/tests/test_api_write_limits.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Literal

from fastapi import Depends, Request

from core.auth import Principal, current_principal, require_buyer
from core.deps import get_services
from core.limiting import check_limit, client_ip, limited_address, refuse, spent
from core.services import Services

__all__ = ["RATE_LIMITS", "buyer_rate_limit", "check_limit", "client_ip", "limited_address"]

Scope = Literal["payments", "orders", "reads"]
NOUN: dict[Scope, str] = {"payments": "payment requests", "orders": "orders created", "reads": "order reads"}


BuyerLimit = Callable[..., Awaitable[Principal]]
# Every dependency buyer_rate_limit made: the route-table test asks each buyer endpoint for one.
RATE_LIMITS: set[BuyerLimit] = set()


BuyerPrincipal = Annotated[Principal, Depends(require_buyer)]
AnyPrincipal = Annotated[Principal, Depends(current_principal)]
ServicesDep = Annotated[Services, Depends(get_services)]


async def _enforce(scope: Scope, request: Request, principal: Principal, services: Services) -> Principal:
    limits = services.settings.limits
    what = NOUN[scope]
    # IP first: a flood from one address is refused before it looks at any buyer's allowance.
    checks = ((getattr(limits, f"{scope}_per_ip"), f"{scope}-ip", limited_address(client_ip(request))),
              (getattr(limits, f"{scope}_per_buyer"), f"{scope}-buyer", principal.subject))
    # Look at both before counting either: a request one limit refuses must not spend the other's allowance.
    for spec, *identifiers in checks:
        if await spent(services, spec, *identifiers):
            raise await refuse(services, spec, *identifiers, what=what)
    for spec, *identifiers in checks:
        await check_limit(services, spec, *identifiers, what=what)
    return principal


def buyer_rate_limit(scope: Scope, *, admins: bool = False) -> BuyerLimit:
    """A FastAPI dependency for a buyer endpoint: a buyer token (or any token with ``admins``), within ``scope``'s
    per-IP and per-buyer limits. Refused before the handler runs, so a limited request writes nothing."""

    async def limited(request: Request, principal: BuyerPrincipal, services: ServicesDep) -> Principal:
        return await _enforce(scope, request, principal, services)

    async def limited_any(request: Request, principal: AnyPrincipal, services: ServicesDep) -> Principal:
        return await _enforce(scope, request, principal, services)

    dependency = limited_any if admins else limited
    dependency.__name__ = f"{scope}_rate_limit"
    RATE_LIMITS.add(dependency)
    return dependency


payment_rate_limit = buyer_rate_limit("payments")
order_rate_limit = buyer_rate_limit("orders")
read_rate_limit = buyer_rate_limit("reads", admins=True)
