"""The public API attacked through the JSON parser: a body that says two things under one key, and one nested
as deep as the body limit allows.

Repeated keys:
``json.loads`` keeps the last of two equal keys, many readers (WAFs, proxies' audit logs, other languages'
parsers) keep the first: ``{"amount": "1000", "amount": "65000.00"}`` is a small order to them and a large
one to the core. The core must refuse such a body on every endpoint a buyer sends one to. Deep nesting: past
Python's recursion limit, a parser that does not catch it turns a 60 KiB body into a 500 (the Wompi webhook's
parser guards it by hand; FastAPI's answers 400), so every JSON endpoint is sent one.
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
    order = await buyer.create_order(AMOUNT)
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


# As deep as the core's 64 KiB body limit lets a body go: past Python's recursion limit many times over.
BODY_LIMIT = 64 * 1024


@pytest.mark.scenario("ATTACK-API-DEEP-JSON")
@pytest.mark.parametrize("path", ["/orders", "/payments/process", "/webhooks/wompi"])
async def test_json_nested_to_the_body_limit_is_a_4xx_and_writes_nothing(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection, path: str
) -> None:
    buyer = Actor.buyer(live)
    for nest in ("[", '{"a":'):
        close = "]" if nest == "[" else "}"
        depth = (BODY_LIMIT - 64) // (len(nest) + 1)
        body = '{"amount": ' + nest * depth + "1" + close * depth + "}"
        assert len(body) <= BODY_LIMIT  # parsed, not refused by size
        response = await core.post(path, content=body.encode(), headers={
            **buyer.headers, "content-type": "application/json", "idempotency-key": secrets.token_hex(8)})
        assert response.status_code in (400, 413, 422), (path, nest, response.status_code, response.text[:200])
        assert "support_reference" not in response.text
    assert (await core.get("/payments/config")).status_code == 200  # the worker is still serving
    for table in ("orders", "order_transactions", "idempotency_keys", "webhook_events"):
        assert await core_db.fetchval(f"SELECT count(*) FROM {table}") == 0, table
