"""The public API attacked by a buyer who floods order creation or walks the order id space.

Order flooding: each ``POST /orders`` is a row, and orders are what card testing pays; the per-buyer limit
must cut a script off however it spells the path or whatever address it claims. Id probing: a buyer asking
for ids that are not theirs must learn nothing — another buyer's order answers exactly as no order at all.
"""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from suites.conftest import Live
from suites.support.api import Actor

AMOUNT = "65000.00"
ORDER = {"amount": AMOUNT, "currency": "COP"}
# The suites' core counts 20 orders a minute per buyer in each of its 2 workers; one kept-alive connection
# reaches one worker, so this many is past the limit without a sleep, and bounded.
FLOOD = 30


@pytest.mark.scenario("ATTACK-API-ORDER-FLOOD")
async def test_a_buyer_flooding_order_creation_is_cut_off_and_writes_no_more_orders(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    buyer = Actor.buyer(live)
    answers = [await core.post("/orders", json=ORDER, headers=buyer.headers) for _ in range(FLOOD)]
    codes = [a.status_code for a in answers]
    assert 429 in codes, codes
    first = codes.index(429)
    assert set(codes[:first]) == {201} and set(codes[first:]) == {429}, codes
    limited = answers[first]
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    written = await core_db.fetchval("SELECT count(*) FROM orders WHERE buyer_id = $1", buyer.subject)
    assert written == first
    # Spent: no spelling of the path and no claimed client address buys another order.
    spellings = ["/orders", "/orders?x=1", "/%6Frders", "/orders/", "/Orders", "//orders", "/./orders", "/ORDERS"]
    for path in spellings:
        headers = {**buyer.headers, "x-forwarded-for": "198.51.100.7", "x-real-ip": "198.51.100.7",
                   "forwarded": "for=198.51.100.7"}
        response = await core.post(path, json=ORDER, headers=headers)
        assert response.status_code in (429, 404, 405, 307, 308), (path, response.status_code, response.text)
    assert await core_db.fetchval("SELECT count(*) FROM orders WHERE buyer_id = $1", buyer.subject) == written


def _seen(response: httpx.Response, order_id: int) -> tuple[int, str, list[str]]:
    """What a prober sees, with the id it asked about written as {id}."""
    return (response.status_code, response.text.replace(str(order_id), "{id}"),
            sorted(k for k in response.headers if k not in ("date", "content-length")))


@pytest.mark.scenario("ATTACK-API-ID-PROBING")
async def test_another_buyers_order_answers_exactly_as_no_order_at_all(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    a, b = Actor.buyer(live), Actor.buyer(live)
    order = await a.create_order(AMOUNT)
    theirs, missing = order["id"], order["id"] + 1000

    async def probes(order_id: int) -> list[httpx.Response]:
        return [
            await core.get(f"/orders/{order_id}", headers=b.headers),
            await b.pay(core, order_id, AMOUNT, "efecty"),
            await b.pay(core, order_id, AMOUNT, "wompi.nequi", nequi_phone="3991111111"),
        ]

    for foreign, absent in zip(await probes(theirs), await probes(missing), strict=True):
        assert foreign.status_code == 404, foreign.text
        assert _seen(foreign, theirs) == _seen(absent, missing)
        assert order["reference"] not in foreign.text and a.subject not in foreign.text
    assert await core_db.fetchval("SELECT count(*) FROM order_transactions") == 0
    assert (await a.order(theirs))["status"] == "pending"
