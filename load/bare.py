"""The benchmark's yardsticks: the webhook path's SQL behind a bare endpoint, and a null endpoint.

``sql`` mode runs, for each ``POST /webhooks/wompi``, the same database work the core does for a new
event — find the transaction by the Wompi id, then in one transaction lock its order, read it, insert
the event (``ON CONFLICT DO NOTHING``), update the transaction and the order — through bare asyncpg
(prepared statements, one pool per worker, sized like the core's), with no signature check, no ORM and no
validation. What the core adds on top of this is what the benchmark's ratio measures. ``null`` mode
answers 200 at once: how fast one Locust process can offer requests on this machine.

Usage::

    PAYHARNESS_BARE_DSN=postgresql://… PAYHARNESS_BARE_MODE=sql \\
        uvicorn load.bare:app_from_env --factory --workers 2 --host 127.0.0.1 --port 8010
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

FIND = "SELECT id FROM order_transactions WHERE gateway = 'wompi' AND gateway_transaction_id = $1"
LOCK = (
    "SELECT id, status, total_amount, approved_amount, currency, flagged_for_refund FROM orders"
    " WHERE id = (SELECT order_id FROM order_transactions WHERE id = $1) FOR UPDATE"
)
READ = (
    "SELECT id, order_id, gateway, status, amount, currency, reference, gateway_transaction_id"
    " FROM order_transactions WHERE id = $1"
)
INSERT = (
    "INSERT INTO webhook_events (gateway, event_key, event_type, signature, payload_sha256, payload,"
    " transaction_id, order_id, outcome, detail)"
    " VALUES ('wompi', $1, 'transaction.updated', $2, $3, $4::jsonb, $5, $6, 'applied', 'apply')"
    " ON CONFLICT ON CONSTRAINT uq_webhook_events_identity DO NOTHING RETURNING id"
)
UPDATE_TX = "UPDATE order_transactions SET status = 'approved' WHERE id = $1"
UPDATE_ORDER = "UPDATE orders SET status = 'paid', approved_amount = approved_amount + $2 WHERE id = $1"
OK = b'{"status":"applied"}'


async def apply_event(pool: asyncpg.Pool, body: bytes) -> int:
    """The core's database work for one new APPROVED event; returns the HTTP status."""
    event = json.loads(body)
    tx = event["data"]["transaction"]
    key, signature = f"{tx['id']}:{tx['status']}", event["signature"]["checksum"]
    async with pool.acquire() as conn:
        txn_id = await conn.fetchval(FIND, tx["id"])
        if txn_id is None:
            return 422
        async with conn.transaction():
            order = await conn.fetchrow(LOCK, txn_id)
            txn = await conn.fetchrow(READ, txn_id)
            inserted = await conn.fetchval(INSERT, key, signature, "0" * 64, body.decode(), txn_id, order["id"])
            if inserted is not None and txn["status"] == "pending":
                await conn.execute(UPDATE_TX, txn_id)
                await conn.execute(UPDATE_ORDER, order["id"], txn["amount"])
    return 200


def create_app(*, dsn: str, mode: str = "sql", pool_size: int = 20) -> Starlette:
    """``mode``: ``sql`` (the webhook path's SQL) or ``null`` (answer at once)."""
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if mode == "sql":
            state["pool"] = await asyncpg.create_pool(dsn, min_size=1, max_size=pool_size)
        try:
            yield
        finally:
            if "pool" in state:
                await state["pool"].close()

    async def webhook(request: Request) -> Response:
        body = await request.body()
        status = 200 if mode == "null" else await apply_event(state["pool"], body)
        return Response(OK if status == 200 else b"{}", status_code=status, media_type="application/json")

    return Starlette(routes=[Route("/webhooks/wompi", webhook, methods=["POST"])], lifespan=lifespan)


def app_from_env() -> Starlette:
    """uvicorn factory: PAYHARNESS_BARE_DSN, PAYHARNESS_BARE_MODE (sql|null), PAYHARNESS_BARE_POOL."""
    return create_app(
        dsn=os.environ.get("PAYHARNESS_BARE_DSN", ""),
        mode=os.environ.get("PAYHARNESS_BARE_MODE", "sql"),
        pool_size=int(os.environ.get("PAYHARNESS_BARE_POOL", "20")),
    )
