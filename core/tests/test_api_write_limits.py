"""Every endpoint a buyer writes through is rate limited, per buyer and per IP, and a limited request writes nothing.

The class, not one endpoint: the route table is read, and a buyer write route (POST/PUT/PATCH/DELETE behind a
buyer token) without one of ``core.ratelimit``'s limits fails here, whatever it is called.
"""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import ValidationError

import core.api
import core.webhooks
from core.app import create_app
from core.auth import current_principal, require_admin, require_buyer
from core.ratelimit import RATE_LIMITS
from core.settings import LimitSettings
from core.tests.apikit import Core, make_settings, running_core

if TYPE_CHECKING:
    from conftest import Database

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
NO_DB = "postgresql+asyncpg://nobody@127.0.0.1:1/none"


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any] | None]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def api_routes() -> list[APIRoute]:
    """Every FastAPI route of the core's routers, found the way ``core.app`` includes them (each module of
    core.api and core.webhooks with a ``router``); the app's OpenAPI proves the walk missed none."""
    routes: list[APIRoute] = []
    for package in (core.api, core.webhooks):
        for info in pkgutil.iter_modules(package.__path__):
            router = getattr(importlib.import_module(f"{package.__name__}.{info.name}"), "router", None)
            if router is not None:
                routes.extend(r for r in router.routes if isinstance(r, APIRoute))
    walked = {(m, r.path) for r in routes for m in r.methods or () if r.include_in_schema}
    published = {(m.upper(), path) for path, ops in create_app(make_settings(NO_DB)).openapi()["paths"].items()
                 for m in ops}
    assert published <= walked, f"routes the walk does not see: {published - walked}"
    return routes


def buyer_write_routes() -> dict[str, set[Callable[..., Any] | None]]:
    """``METHOD path`` → the dependencies of each write route a buyer token reaches (admin-only ones left out)."""
    found = {}
    for route in api_routes():
        methods = route.methods or set()
        if not methods & WRITES:
            continue
        calls = set(_calls(route.dependant))
        if require_admin in calls or not calls & {require_buyer, current_principal}:
            continue  # admin-only, or no principal at all (webhooks: their signature is the gate)
        for method in sorted(methods & WRITES):
            found[f"{method} {route.path}"] = calls
    return found


@pytest.mark.scenario("API-RATE-LIMIT")
def test_every_buyer_write_endpoint_has_a_rate_limit() -> None:
    routes = buyer_write_routes()
    assert {"POST /orders", "POST /payments/process"} <= set(routes)  # the walk finds what we know is there
    unlimited = [name for name, calls in routes.items() if not calls & RATE_LIMITS]
    assert unlimited == [], f"buyer write endpoints with no rate limit: {unlimited}"


@pytest.mark.scenario("API-RATE-LIMIT")
async def test_order_flooding_by_one_buyer_is_429_with_retry_after_and_writes_nothing(
    database: Database, conn: asyncpg.Connection
) -> None:
    limits = {"orders_per_buyer": "3/minute", "orders_per_ip": "100/minute"}
    async with running_core(make_settings(database.url, limits=limits)) as core:
        answers = [
            await core.client.post("/orders", json={"amount": "65000.00", "currency": "COP"},
                                   headers=core.auth("buyer-1"))
            for _ in range(6)
        ]
        other = await core.client.post("/orders", json={"amount": "65000.00", "currency": "COP"},
                                       headers=core.auth("buyer-2"))
    assert [a.status_code for a in answers] == [201, 201, 201, 429, 429, 429]
    limited = answers[-1]
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.json()["error"]["retry_after"] == int(limited.headers["retry-after"])
    assert other.status_code == 201  # another buyer has an allowance of their own
    rows = await conn.fetch("SELECT buyer_id, count(*) AS n FROM orders GROUP BY buyer_id ORDER BY buyer_id")
    assert [(r["buyer_id"], r["n"]) for r in rows] == [("buyer-1", 3), ("buyer-2", 1)]


@pytest.mark.scenario("API-RATE-LIMIT")
async def test_order_flooding_from_one_ip_across_buyers_is_429_and_writes_nothing(
    database: Database, conn: asyncpg.Connection
) -> None:
    limits = {"orders_per_buyer": "100/minute", "orders_per_ip": "3/minute"}
    async with running_core(make_settings(database.url, limits=limits)) as core:
        codes = [
            (await core.client.post("/orders", json={"amount": "65000.00", "currency": "COP"},
                                    headers=core.auth(f"buyer-{n}"))).status_code
            for n in range(5)
        ]
    assert codes == [201, 201, 201, 429, 429]
    assert await conn.fetchval("SELECT count(*) FROM orders") == 3


@pytest.mark.scenario("API-RATE-LIMIT")
@pytest.mark.parametrize("field", ["orders_per_buyer", "orders_per_ip", "payments_per_buyer", "payments_per_ip"])
def test_a_misspelt_rate_stops_the_core_at_start_up(field: str) -> None:
    # Unchecked, it turned every request of the endpoint into a 500 at the first hit.
    with pytest.raises(ValidationError, match=field):
        LimitSettings.model_validate({field: "lots per minute"})


async def _from(core: Core, host: str, scope: str, n: int) -> int:
    """One request of ``scope`` from ``host`` by a fresh buyer; its status."""
    transport = httpx.ASGITransport(app=core.app, raise_app_exceptions=False, client=(host, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://core.test") as client:
        if scope == "orders":
            r = await client.post("/orders", json={"amount": "65000.00", "currency": "COP"},
                                  headers=core.auth(f"buyer-{n}"))
        else:  # refused for the order (422/404), but counted: limits protect the endpoint, not success
            body = {"order_id": 1, "amount": "1", "currency": "COP", "method": "NEQUI",
                    "customer_email": "a@example.com", "nequi_phone": "3991111111"}
            r = await client.post("/payments/process", json=body,
                                  headers=core.auth(f"buyer-{n}", **{"Idempotency-Key": f"ip-class-{n:04d}"}))
        return r.status_code


@pytest.mark.scenario("API-RATE-LIMIT")
@pytest.mark.parametrize("scope", ["orders", "payments"])
@pytest.mark.parametrize(("hosts", "shared"), [
    (["2001:db8:7:1::1", "2001:db8:7:1::2", "2001:db8:7:1:ffff:ffff:ffff:fffe"], True),  # one /64: one subscriber
    (["203.0.113.9", "::ffff:203.0.113.9", "::ffff:cb00:7109"], True),  # IPv4-mapped spellings of one address
    (["2001:db8:7:1::1", "2001:db8:7:2::1", "2001:db8:7:3::1"], False),  # three /64s: three subscribers
], ids=["ipv6-one-64", "ipv4-mapped", "ipv6-three-64s"])
async def test_the_ip_limit_counts_an_ipv6_subscriber_by_its_64_not_by_each_address(
    database: Database, scope: str, hosts: list[str], shared: bool
) -> None:
    limits = {f"{scope}_per_buyer": "100/minute", f"{scope}_per_ip": "2/minute"}
    async with running_core(make_settings(database.url, limits=limits)) as core:
        codes = [await _from(core, host, scope, n) for n, host in enumerate(hosts)]
    assert (codes[2] == 429) is shared and 429 not in codes[:2], codes


@pytest.mark.scenario("API-RATE-LIMIT")
async def test_one_buyers_limit_holds_when_thirty_order_requests_race(
    database: Database, conn: asyncpg.Connection
) -> None:
    # The guard is the limiter's moving window: its check and its count must be one step, or a burst sent at
    # once passes the check together before any of it is counted.
    limits = {"orders_per_buyer": "3/minute", "orders_per_ip": "100/minute"}
    async with running_core(make_settings(database.url, limits=limits)) as core:
        burst = [core.client.post("/orders", json={"amount": "65000.00", "currency": "COP"},
                                  headers=core.auth("buyer-1")) for _ in range(30)]
        codes = sorted(r.status_code for r in await asyncio.gather(*burst))
    assert codes == [201] * 3 + [429] * 27
    assert await conn.fetchval("SELECT count(*) FROM orders") == 3
