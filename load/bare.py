"""The benchmark's yardsticks: the webhook path's SQL behind a bare endpoint, and a null endpoint.

``sql`` mode runs, for each ``POST /webhooks/wompi``, the same database transaction the core runs for a
new event, with the core's own statements (core/webhooks/store.py: lock the order by the Wompi id, read
the transaction, one statement that inserts the event and updates transaction and order) through bare
asyncpg (one pool per worker, sized like the core's), with no signature check, no framework, no state
machine and no validation. What the core adds on top of this is what the benchmark's ratio measures.
``null`` mode answers 200 at once: how fast one Locust process can offer requests on this machine.

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

from core.webhooks.store import LOCK_ORDER, READ_TRANSACTION, WRITE

OK = b'{"status":"applied"}'


async def apply_event(pool: asyncpg.Pool, body: bytes) -> int:
    """The core's database work for one new APPROVED event; returns the HTTP status."""
    event = json.loads(body)
    tx = event["data"]["transaction"]
    key, signature = f"{tx['id']}:{tx['status']}", event["signature"]["checksum"]
    async with pool.acquire() as conn, conn.transaction():
        order = await conn.fetchrow(LOCK_ORDER["gateway_transaction_id"], "wompi", tx["id"])
        if order is None:
            return 422
        txn = await conn.fetchrow(READ_TRANSACTION["gateway_transaction_id"], "wompi", tx["id"])
        fresh = txn["status"] == "pending"
        await conn.fetchval(
            WRITE, "wompi", key, "transaction.updated", signature, "0" * 64, body.decode(), txn["id"], order["id"],
            "applied" if fresh else "recorded", "apply" if fresh else "same", txn["id"], "approved" if fresh else None,
            order["id"], "paid" if fresh else None, order["approved_amount"] + txn["amount"], None, None, None,
        )
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
