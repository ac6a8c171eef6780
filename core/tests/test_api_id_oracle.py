"""No buyer endpoint that takes an id tells "another buyer's" from "does not exist": order ids cannot be probed.

A 403 for someone else's order and a 404 for none let any buyer walk the id space and learn which orders exist
(and so how many the shop takes). The class is every buyer route with an id in its path or body; the route
table is read so a new one that is not probed here fails.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx
import pytest

from core.auth import current_principal, require_admin, require_buyer
from core.tests.apikit import Core, make_settings, running_core
from core.tests.test_api_process import card_body, key
from core.tests.test_api_write_limits import _calls, api_routes

if TYPE_CHECKING:
    from conftest import Database

Probe = Callable[[Core, dict[str, Any], int], Awaitable[httpx.Response]]


async def _read(core: Core, order: dict[str, Any], order_id: int) -> httpx.Response:
    return await core.client.get(f"/orders/{order_id}", headers=core.auth("buyer-2"))


async def _pay(core: Core, order: dict[str, Any], order_id: int) -> httpx.Response:
    return await core.client.post("/payments/process", json={**card_body(order), "order_id": order_id},
                                  headers=core.auth("buyer-2", **key()))


# (method, path, where the id is) → how buyer-2 asks for order ``order_id`` there.
PROBES: dict[tuple[str, str, str], Probe] = {
    ("GET", "/orders/{order_id}", "order_id"): _read,
    ("POST", "/payments/process", "order_id"): _pay,
}


def _id_fields(route: Any) -> set[str]:
    names = {p.name for p in route.dependant.path_params}
    for body in route.dependant.body_params:
        model = body.field_info.annotation
        names |= set(getattr(model, "model_fields", {}) or {body.name})
    return {n for n in names if n == "id" or n.endswith("_id")}


@pytest.mark.scenario("API-AUTH")
def test_every_buyer_route_that_takes_an_id_is_probed_here() -> None:
    found = set()
    for route in api_routes():
        calls = set(_calls(route.dependant))
        if require_admin in calls or not calls & {require_buyer, current_principal}:
            continue  # admins see every order; webhooks are signed by the gateway, not sent by buyers
        found |= {(m, route.path, field) for m in route.methods or () for field in _id_fields(route)}
    assert found == set(PROBES), f"buyer routes taking an id, not probed: {found - set(PROBES)}"


def _seen(response: httpx.Response, order_id: int) -> tuple[int, str, dict[str, str]]:
    """What a prober sees, with the id it asked about written as {id}."""
    headers = {k: v for k, v in response.headers.items() if k not in ("date", "content-length")}
    return response.status_code, response.text.replace(str(order_id), "{id}"), headers


@pytest.mark.scenario("API-AUTH")
@pytest.mark.parametrize("where", list(PROBES), ids=lambda w: f"{w[0]} {w[1]}")
async def test_another_buyers_order_is_answered_as_one_that_does_not_exist(
    database: Database, conn: asyncpg.Connection, where: tuple[str, str, str]
) -> None:
    async with running_core(make_settings(database.url)) as core:
        order = await core.create_order("buyer-1")
        theirs, missing = order["id"], order["id"] + 1000
        foreign = await PROBES[where](core, order, theirs)
        absent = await PROBES[where](core, order, missing)
    assert foreign.status_code == 404, foreign.text
    assert _seen(foreign, theirs) == _seen(absent, missing)
    assert order["reference"] not in foreign.text and "buyer-1" not in foreign.text
    assert await conn.fetchval("SELECT count(*) FROM idempotency_keys") == 0
    assert await conn.fetchval("SELECT count(*) FROM order_transactions") == 0
