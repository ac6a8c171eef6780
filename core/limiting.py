"""Rate-limit primitives every limit of the core shares: a counted hit, a look that counts nothing, the address.

Split from core/ratelimit.py so core/auth.py (which ratelimit.py builds on) can count failed tokens per IP.
Usage: ``await check_limit(services, "30/minute", "payments-ip", limited_address(client_ip(request)))``.
"""

from __future__ import annotations

import ipaddress
import math
import time
from functools import lru_cache

from fastapi import Request
from limits import RateLimitItem, parse

from core.errors import TooManyRequests
from core.services import Services


@lru_cache(maxsize=32)
def _item(spec: str) -> RateLimitItem:
    return parse(spec)


async def refuse(services: Services, spec: str, *identifiers: str, what: str) -> TooManyRequests:
    """The 429 for a spent ``spec``, with a Retry-After of when its moving window frees a slot."""
    stats = await services.limiter.get_window_stats(_item(spec), *identifiers)
    # The moving window frees a slot when its oldest hit ages out; never tell a client to retry "now".
    retry_after = max(1, math.ceil(stats.reset_time - time.time()))
    return TooManyRequests(
        "rate_limited",
        f"too many {what}; retry in {retry_after} s",
        headers={"Retry-After": str(retry_after)},
        extra={"retry_after": retry_after},
    )


async def check_limit(services: Services, spec: str, *identifiers: str, what: str = "payment requests") -> None:
    """Count one hit against ``spec`` for ``identifiers``; raise 429 with Retry-After when it is spent."""
    if not await services.limiter.hit(_item(spec), *identifiers):
        raise await refuse(services, spec, *identifiers, what=what)


async def count(services: Services, spec: str, *identifiers: str) -> None:
    """Count one hit against ``spec`` for ``identifiers`` and refuse nothing (a failure counted after the fact)."""
    await services.limiter.hit(_item(spec), *identifiers)


async def spent(services: Services, spec: str, *identifiers: str) -> bool:
    """Whether ``spec`` has no hit left for ``identifiers`` — a look that counts nothing."""
    return not await services.limiter.test(_item(spec), *identifiers)


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
