"""A JSON body repeating a key is refused on every API endpoint that takes a body, before anything is written.

``{"amount": "1000", "amount": "65000.00"}`` was an order of 65000 to the core and of 1000 to any reader in
front of it that keeps the first key (a WAF, a proxy's audit log). The class is every route with a body.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg
import pytest

from core.api.jsonbody import refuse_repeated_keys
from core.tests.apikit import make_settings, running_core
from core.tests.test_api_process import key
from core.tests.test_api_write_limits import _calls, api_routes

if TYPE_CHECKING:
    from conftest import Database


@pytest.mark.scenario("API-MALFORMED")
def test_every_route_with_a_json_body_refuses_repeated_keys() -> None:
    with_body = {f"{sorted(r.methods or ())} {r.path}": set(_calls(r.dependant))
                 for r in api_routes() if r.dependant.body_params}
    assert {"['POST'] /orders", "['POST'] /payments/process"} <= set(with_body)
    unguarded = [name for name, calls in with_body.items() if refuse_repeated_keys not in calls]
    assert unguarded == [], f"JSON bodies read with last-key-wins: {unguarded}"


ORDER = b'{"amount": "1000", "amount": "65000.00", "currency": "COP"}'
PAY_TOP = (b'{"order_id": %d, "amount": "65000.00", "amount": "1000.00", "currency": "COP", "method": "NEQUI",'
           b' "customer_email": "a@example.com", "nequi_phone": "3991111111"}')
PAY_NESTED = (b'{"order_id": %d, "amount": "65000.00", "currency": "COP", "method": "CARD",'
              b' "customer_email": "a@example.com", "card": {"token": "tok_a", "token": "tok_b"}}')


@pytest.mark.scenario("API-MALFORMED")
async def test_a_repeated_key_anywhere_in_the_body_is_422_and_writes_nothing(
    database: Database, conn: asyncpg.Connection
) -> None:
    async with running_core(make_settings(database.url)) as core:
        json_headers = {**core.auth("buyer-1"), "Content-Type": "application/json"}
        order = await core.create_order("buyer-1")
        answers = [
            await core.client.post("/orders", content=ORDER, headers=json_headers),
            await core.client.post("/payments/process", content=PAY_TOP % order["id"],
                                   headers={**json_headers, **key(1)}),
            await core.client.post("/payments/process", content=PAY_NESTED % order["id"],
                                   headers={**json_headers, **key(2)}),
        ]
        plain = await core.client.post("/orders", content=ORDER.replace(b'"amount": "1000", ', b""),
                                       headers=json_headers)
    for answer in answers:
        assert (answer.status_code, answer.json()["error"]["code"]) == (422, "malformed_json"), answer.text
    assert "repeats the key" in answers[0].json()["error"]["message"]
    assert plain.status_code == 201, plain.text
    assert await conn.fetchval("SELECT count(*) FROM orders") == 2  # the first order and the plain one
    assert await conn.fetchval("SELECT count(*) FROM idempotency_keys") == 0
    assert core.gateways.calls["create"] == 0
