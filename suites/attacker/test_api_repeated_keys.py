"""The public API attacked with a parser differential: a JSON body that says two things under one key.

``json.loads`` keeps the last of two equal keys, many readers (WAFs, proxies' audit logs, other languages'
parsers) keep the first: ``{"amount": "1000", "amount": "65000.00"}`` is a small order to them and a large
one to the core. The core must refuse such a body on every endpoint a buyer sends one to.
"""

from __future__ import annotations

import secrets

import asyncpg
import httpx
import pytest

from suites.conftest import Live
from suites.support.api import Actor

AMOUNT = "65000.00"


@pytest.mark.scenario("ATTACK-API-REPEATED-KEYS")
async def test_a_body_repeating_a_key_is_refused_and_moves_nothing(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    buyer = Actor.buyer(live)
    order = await buyer.create_order(core, AMOUNT)
    headers = {**buyer.headers, "content-type": "application/json"}
    pay = ('{"order_id": %d, "amount": "%s", "currency": "COP", "method": "NEQUI", "nequi_phone": "3991111111",'
           ' "customer_email": "comprador@example.com"%s}')
    bodies = {
        "/orders": ['{"amount": "1000", "amount": "65000.00", "currency": "COP"}',
                    '{"amount": "65000.00", "currency": "COP", "currency": "COP"}'],
        "/payments/process": [pay % (order["id"], AMOUNT, ', "order_id": 1'),
                              pay % (order["id"], AMOUNT, ', "nequi_phone": "3992222222"'),
                              pay % (order["id"], AMOUNT, ', "payer": {"full_name": "A", "full_name": "B"}')],
    }
    for path, variants in bodies.items():
        for body in variants:
            response = await core.post(path, content=body.encode(),
                                       headers={**headers, "idempotency-key": secrets.token_hex(8)})
            assert (response.status_code, response.json()["error"]["code"]) == (422, "malformed_json"), (
                path, body, response.text)
    assert await core_db.fetchval("SELECT count(*) FROM orders") == 1
    assert await core_db.fetchval("SELECT count(*) FROM order_transactions") == 0
    assert await core_db.fetchval("SELECT count(*) FROM idempotency_keys") == 0
