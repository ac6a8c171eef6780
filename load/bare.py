"""The benchmark's yardsticks: the webhook path's SQL behind a bare endpoint, and a null endpoint.

``sql`` mode runs, for each ``POST /webhooks/wompi``, the same database work the core runs for a
new event, with the core's own statements (core/webhooks/store.py: the one statement for an untouched attempt
and, when it was not, the read of the order and the transaction by the Wompi id and then the guarded statement
that inserts the event and updates transaction and order) through bare
asyncpg (one pool per worker, sized, set and released as the core's: core.db.session.webhook_pool_options),
with no signature check, no framework, no state
machine and no validation. What the core adds on top of this is what the benchmark's ratio measures.
``null`` mode answers 200 at once: how fast one Locust process can offer requests on this machine; with a delay
(``PAYHARNESS_BARE_NULL_DELAY_MS``) it answers that much later without using CPU meanwhile, so a generator can be
watched holding requests in flight (load/pacing_ab.py).

Usage::

    PAYHARNESS_BARE_DSN=postgresql://… PAYHARNESS_BARE_MODE=sql \\
        uvicorn load.bare:app_from_env --factory --workers 2 --host 127.0.0.1 --port 8010
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core.db.session import webhook_pool_options
from core.settings import DatabaseSettings
from core.webhooks.store import FRESH_WRITE, GUARDED_WRITE, READ

OK = b'{"status":"applied"}'
WEBHOOK_POOL_SIZE: int = DatabaseSettings.model_fields["webhook_pool_size"].default  # the core's, per worker


async def apply_event(pool: asyncpg.Pool, body: bytes) -> int:
    """The core's database work for one new APPROVED event; returns the HTTP status."""
    event = json.loads(body)
    tx = event["data"]["transaction"]
    key, signature = f"{tx['id']}:{tx['status']}", event["signature"]["checksum"]
    amount = Decimal(tx["amount_in_cents"]) / 100
    async with pool.acquire() as conn:
        # As the core: first the one statement for an untouched attempt (ledger.untouched's premise) …
        fresh = await conn.fetchrow(
            FRESH_WRITE["gateway_transaction_id"], "wompi", key, "transaction.updated", signature, "0" * 64,
            body.decode(), "applied", "apply", "approved", "paid", amount, None, None, None,
            tx["id"], None, amount, tx["currency"], "pending", 0, False, "pending",
        )
        if fresh[1]:
            return 200
        # … and when it was not untouched, the read and the guarded write.
        row = await conn.fetchrow(READ["gateway_transaction_id"], "wompi", tx["id"])
        if row is None:
            return 422
        fresh = row["transaction_status"] == "pending"
        await conn.fetchrow(
            GUARDED_WRITE, "wompi", key, "transaction.updated", signature, "0" * 64, body.decode(),
            row["transaction_id"], row["order_id"], "applied" if fresh else "recorded", "apply" if fresh else "same",
            row["transaction_id"], "approved" if fresh else None, row["order_id"], "paid" if fresh else None,
            row["approved_amount"] + row["amount"], None, None, None,
            row["order_status"], row["approved_amount"], row["flagged_for_refund"], row["transaction_status"],
            row["gateway_transaction_id"],
        )
    return 200


def create_app(*, dsn: str, mode: str = "sql", pool_size: int = WEBHOOK_POOL_SIZE,
               null_delay_ms: float = 0.0) -> Starlette:
    """``mode``: ``sql`` (the webhook path's SQL) or ``null`` (answer at once, or after ``null_delay_ms``)."""
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if mode == "sql":
            state["pool"] = await asyncpg.create_pool(dsn, min_size=1, **webhook_pool_options(
                DatabaseSettings(url=dsn, webhook_pool_size=pool_size), application_name="payharness-bare"))
        try:
            yield
        finally:
            if "pool" in state:
                await state["pool"].close()

    async def webhook(request: Request) -> Response:
        body = await request.body()
        if mode == "null" and null_delay_ms:
            await asyncio.sleep(null_delay_ms / 1000)
        status = 200 if mode == "null" else await apply_event(state["pool"], body)
        return Response(OK if status == 200 else b"{}", status_code=status, media_type="application/json")

    return Starlette(routes=[Route("/webhooks/wompi", webhook, methods=["POST"])], lifespan=lifespan)


def app_from_env() -> Starlette:
    """uvicorn factory: PAYHARNESS_BARE_DSN, PAYHARNESS_BARE_MODE (sql|null), PAYHARNESS_BARE_POOL,
    PAYHARNESS_BARE_NULL_DELAY_MS."""
    return create_app(
        dsn=os.environ.get("PAYHARNESS_BARE_DSN", ""),
        mode=os.environ.get("PAYHARNESS_BARE_MODE", "sql"),
        pool_size=int(os.environ.get("PAYHARNESS_BARE_POOL", str(WEBHOOK_POOL_SIZE))),
        null_delay_ms=float(os.environ.get("PAYHARNESS_BARE_NULL_DELAY_MS", "0")),
    )
