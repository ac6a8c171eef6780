"""Every endpoint a buyer writes or reads through is rate limited, per buyer and per IP, and a limited request writes
nothing; a refused request spends no other allowance; bad tokens are limited per IP.

The class, not one endpoint: the route table is read, and a buyer route (any method behind a buyer token) without
one of ``core.ratelimit``'s limits fails here, whatever it is called.
"""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
import re
import time
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
from core.auth import current_principal, mint_token, require_admin, require_buyer
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


def buyer_routes(methods_wanted: set[str] | None = None) -> dict[str, set[Callable[..., Any] | None]]:
    """``METHOD path`` → the dependencies of each route a buyer token reaches (admin-only ones left out), of
    ``methods_wanted`` (default: every method)."""
    found = {}
    for route in api_routes():
        methods = (route.methods or set()) - {"HEAD", "OPTIONS"}
        if methods_wanted is not None:
            methods &= methods_wanted
        if not methods:
            continue
        calls = set(_calls(route.dependant))
        if require_admin in calls or not calls & {require_buyer, current_principal}:
            continue  # admin-only, or no principal at all (webhooks: their signature is the gate)
        for method in sorted(methods):
            found[f"{method} {route.path}"] = calls
    return found


def buyer_write_routes() -> dict[str, set[Callable[..., Any] | None]]:
    """``METHOD path`` → the dependencies of each write route a buyer token reaches (admin-only ones left out)."""
    return buyer_routes(WRITES)


@pytest.mark.scenario("API-RATE-LIMIT")
def test_every_buyer_write_endpoint_has_a_rate_limit() -> None:
    routes = buyer_write_routes()
    assert {"POST /orders", "POST /payments/process"} <= set(routes)  # the walk finds what we know is there
    unlimited = [name for name, calls in routes.items() if not calls & RATE_LIMITS]
    assert unlimited == [], f"buyer write endpoints with no rate limit: {unlimited}"


@pytest.mark.scenario("API-RATE-LIMIT")
def test_every_buyer_endpoint_reads_included_has_a_rate_limit() -> None:
    # Reads are a query each: unlimited, one token polls the database as fast as it can send.
    routes = buyer_routes()
    assert {"GET /orders/{order_id}", "POST /orders"} <= set(routes)
    unlimited = [name for name, calls in routes.items() if not calls & RATE_LIMITS]
    assert unlimited == [], f"buyer endpoints with no rate limit: {unlimited}"


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
@pytest.mark.parametrize("field", ["orders_per_buyer", "orders_per_ip", "payments_per_buyer", "payments_per_ip",
                                   "reads_per_buyer", "reads_per_ip", "auth_failures_per_ip"])
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


# -- reads, refused requests, bad tokens ------------------------------------------------------------------


def _client(core: Core, host: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=core.app, raise_app_exceptions=False, client=(host, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://core.test")


@pytest.mark.scenario("API-RATE-LIMIT")
async def test_order_reads_are_429_per_buyer_and_per_ip(database: Database) -> None:
    limits = {"reads_per_buyer": "3/minute", "reads_per_ip": "5/minute"}
    async with running_core(make_settings(database.url), client_ip="198.51.100.1") as core:
        order = await core.create_order("buyer-1")
    async with (running_core(make_settings(database.url, limits=limits)) as core,
                _client(core, "198.51.100.1") as here, _client(core, "198.51.100.2") as there):
        one = [(await here.get(f"/orders/{order['id']}", headers=core.auth("buyer-1"))).status_code
               for _ in range(4)]
        elsewhere = (await there.get(f"/orders/{order['id']}", headers=core.auth("buyer-1"))).status_code
        # Other buyers on the first address: 404 (not theirs) until the address's 5 are spent.
        others = [(await here.get(f"/orders/{order['id']}", headers=core.auth(f"b-{n}"))).status_code
                  for n in range(3)]
        admin = (await here.get(f"/orders/{order['id']}", headers=core.auth("ops", "admin"))).status_code
    assert one == [200, 200, 200, 429]
    assert elsewhere == 429  # the buyer's own allowance follows them to another address
    assert others == [404, 404, 429] and admin == 429


@pytest.mark.scenario("API-RATE-LIMIT")
@pytest.mark.parametrize("scope", ["orders", "payments", "reads"])
async def test_a_buyer_already_limited_does_not_spend_the_address_allowance_of_other_buyers(
    database: Database, scope: str
) -> None:
    # Red before: the IP was counted first, so each refused retry of a limited buyer spent a slot of the IP.
    limits = {f"{scope}_per_buyer": "2/minute", f"{scope}_per_ip": "4/minute"}

    async def one(client: httpx.AsyncClient, core: Core, buyer: str, n: int) -> int:
        if scope == "orders":
            r = await client.post("/orders", json={"amount": "65000.00", "currency": "COP"},
                                  headers=core.auth(buyer))
        elif scope == "reads":
            r = await client.get("/orders/1", headers=core.auth(buyer))
        else:
            body = {"order_id": 1, "amount": "1", "currency": "COP", "method": "NEQUI",
                    "customer_email": "a@example.com", "nequi_phone": "3991111111"}
            r = await client.post("/payments/process", json=body,
                                  headers=core.auth(buyer, **{"Idempotency-Key": f"spend-{buyer}-{n:04d}"}))
        return r.status_code

    async with (running_core(make_settings(database.url, limits=limits)) as core,
                _client(core, "198.51.100.9") as client):
        first = [await one(client, core, "buyer-1", n) for n in range(6)]
        second = [await one(client, core, "buyer-2", n) for n in range(3)]
    assert [c == 429 for c in first] == [False, False, True, True, True, True]
    assert [c == 429 for c in second] == [False, False, True], second  # 2 of the address's 4 were left


@pytest.mark.scenario("API-RATE-LIMIT")
async def test_an_address_already_limited_does_not_spend_the_buyers_own_allowance(database: Database) -> None:
    limits = {"orders_per_buyer": "3/minute", "orders_per_ip": "2/minute"}
    body = {"amount": "65000.00", "currency": "COP"}
    async with (running_core(make_settings(database.url, limits=limits)) as core,
                _client(core, "198.51.100.10") as here, _client(core, "198.51.100.11") as there):
        first = [(await here.post("/orders", json=body, headers=core.auth("buyer-1"))).status_code
                 for _ in range(5)]
        moved = [(await there.post("/orders", json=body, headers=core.auth("buyer-1"))).status_code
                 for _ in range(2)]
    assert first == [201, 201, 429, 429, 429]
    assert moved == [201, 429]  # one of the buyer's three was left


def token_routes() -> list[tuple[str, str]]:
    """``(method, path)`` of every route behind a token (buyer or admin), path parameters filled with 1."""
    out: list[tuple[str, str]] = []
    for route in api_routes():
        if not set(_calls(route.dependant)) & {current_principal}:
            continue
        path = re.sub(r"\{[^}]+\}", "1", route.path)
        out.extend((m, path) for m in sorted((route.methods or set()) - {"HEAD", "OPTIONS"}))
    return out


@pytest.mark.scenario("API-RATE-LIMIT")
@pytest.mark.parametrize("bad", ["garbage", "missing", "wrong-key", "expired"])
async def test_a_token_guesser_hits_429_on_every_route_behind_a_token_and_learns_nothing_after(
    database: Database, bad: str
) -> None:
    limits = {"auth_failures_per_ip": "3/minute"}
    routes = token_routes()
    assert ("GET", "/orders/1") in routes and ("POST", "/orders") in routes and len(routes) >= 5
    async with running_core(make_settings(database.url, limits=limits)) as core:
        headers = {"garbage": {"Authorization": "Bearer abc.def.ghi"}, "missing": {},
                   "wrong-key": {"Authorization": "Bearer " + core.token("buyer-1").rsplit(".", 1)[0] + ".AAAA"},
                   "expired": {"Authorization": "Bearer " + mint_token(core.settings.auth, "buyer-1", "buyer",
                                                                       ttl=60, now=time.time() - 120)}}[bad]
        answers = {}
        for n, (method, path) in enumerate(routes):
            async with _client(core, f"198.51.100.{20 + n}") as client:
                codes = [(await client.request(method, path, headers=headers, json={})).status_code
                         for _ in range(4)]
                # Once spent, a right token from that address is refused too: a guesser must not learn it.
                right = (await client.request(method, path, headers=core.auth("buyer-1"), json={})).status_code
            answers[f"{method} {path}"] = (codes, right)
        async with _client(core, "198.51.100.250") as fresh:
            elsewhere = (await fresh.get("/orders/1", headers=core.auth("buyer-1"))).status_code
    assert {k: v for k, v in answers.items() if v != ([401, 401, 401, 429], 429)} == {}
    assert elsewhere == 404  # another address is not punished
