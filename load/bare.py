"""The benchmark's yardsticks: the webhook path's SQL behind a bare endpoint, and a null endpoint.

``sql`` mode runs, for each ``POST /webhooks/wompi``, the same database work the core runs for a
new event, with the core's own statements (core/webhooks/store.py: the one statement for an untouched attempt
and, when it was not, the read of the order and the transaction by the Wompi id and then the guarded statement
that inserts the event and updates transaction and order) through bare
asyncpg (one pool per worker, sized, set and released as the core's: core.db.session.webhook_pool_options),
with no signature check, no framework, no state
machine and no validation. What the core adds on top of this is what the benchmark's ratio measures.
``verified`` mode is the core's own webhook work without its HTTP layer: the checks no receiver may skip
(``core.webhooks.wompi.verified_event``: strict JSON, checksum, timestamp window, the event's shape) and the core's
recording (``core.webhooks.recording.record_and_apply``: state machine, dedupe, the stored payload and its hash,
the retry on a dead connection) on the core's own pool (primed as the core primes it), answered with the core's
body (a refusal with its status and code only) — only FastAPI, the core's middleware and its services are left
out. Between ``sql`` and ``verified`` lies what a correct receiver does above its SQL; between ``verified`` and
the core, the framework's and the core's HTTP layer (load/README.md, "Issue 16, the receiver's floor"). Every mode
runs with the core's collector settings (``core.app.tune_collector``) and is served as the core is (load/bench.py
``bare_server``: the same HTTP protocol and keep-alive), so a yardstick differs from the core in its app only. It
needs the Wompi events secret (``PAYHARNESS_BARE_EVENTS_SECRET``) and refuses to start without it.
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

from core.app import tune_collector
from core.db.session import make_pool, warm_pool, webhook_pool_options
from core.errors import CoreError
from core.settings import DatabaseSettings, WompiSettings
from core.webhooks import store
from core.webhooks.recording import record_and_apply, record_unmatched
from core.webhooks.store import FRESH_WRITE, GUARDED_WRITE, READ
from core.webhooks.wompi import ours, verified_event

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


async def apply_verified(pool: asyncpg.Pool, body: bytes, header: str | None, wompi: WompiSettings,
                         ) -> tuple[int, bytes]:
    """The core's own work for one event, called without its HTTP layer: (status, body)."""
    try:
        incoming = verified_event(body, header, wompi)
    except CoreError as exc:
        return exc.status, json.dumps({"error": exc.code}).encode()
    result = await record_and_apply(pool, incoming, match=ours(incoming))
    if result is None:  # the core would ask Wompi first; the benchmark's events are all about known attempts
        result = await record_unmatched(pool, incoming, "no transaction of ours has this Wompi id")
    return result.status_code, json.dumps(result.body).encode()


MODES = ("sql", "verified", "null")
APPLICATION_NAME = "payharness-bare"


def create_app(*, dsn: str, mode: str = "sql", pool_size: int = WEBHOOK_POOL_SIZE,
               null_delay_ms: float = 0.0, events_secret: str = "") -> Starlette:
    """``mode``: ``sql`` (the webhook path's SQL), ``verified`` (the core's work without its HTTP layer; needs
    ``events_secret``) or ``null`` (answer at once, or after ``null_delay_ms``)."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}: one of {', '.join(MODES)}")
    if mode == "verified" and not events_secret:
        raise ValueError("the verified mode checks signatures: give it the Wompi events secret")
    state: dict[str, Any] = {}
    # Only the checks read these; the keys the core uses to call Wompi are never used here.
    wompi = WompiSettings.model_validate({"public_key": "-", "private_key": "-", "integrity_secret": "-",
                                          "events_secret": events_secret or "-"})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if mode != "null":  # the null endpoint touches no database (and may be given none)
            db = DatabaseSettings(url=dsn, webhook_pool_size=pool_size)
            if mode == "sql":
                state["pool"] = await asyncpg.create_pool(dsn, min_size=1, **webhook_pool_options(
                    db, application_name=APPLICATION_NAME))
            else:
                state["pool"] = await make_pool(db, prime=store.prime, application_name=APPLICATION_NAME)
                await warm_pool(state["pool"], db.warm_connections)  # as the core warms its own, before the load
        try:
            yield
        finally:
            if "pool" in state:
                await state["pool"].close()

    async def webhook(request: Request) -> Response:
        body = await request.body()
        if mode == "null" and null_delay_ms:
            await asyncio.sleep(null_delay_ms / 1000)
        if mode == "verified":
            status, answer = await apply_verified(state["pool"], body, request.headers.get("x-event-checksum"), wompi)
            return Response(answer, status_code=status, media_type="application/json")
        status = 200 if mode == "null" else await apply_event(state["pool"], body)
        return Response(OK if status == 200 else b"{}", status_code=status, media_type="application/json")

    return Starlette(routes=[Route("/webhooks/wompi", webhook, methods=["POST"])], lifespan=lifespan)


def app_from_env() -> Starlette:
    """uvicorn factory: PAYHARNESS_BARE_DSN, PAYHARNESS_BARE_MODE (sql|verified|null), PAYHARNESS_BARE_POOL,
    PAYHARNESS_BARE_NULL_DELAY_MS, PAYHARNESS_BARE_EVENTS_SECRET."""
    app = create_app(
        dsn=os.environ.get("PAYHARNESS_BARE_DSN", ""),
        mode=os.environ.get("PAYHARNESS_BARE_MODE", "sql"),
        pool_size=int(os.environ.get("PAYHARNESS_BARE_POOL", str(WEBHOOK_POOL_SIZE))),
        null_delay_ms=float(os.environ.get("PAYHARNESS_BARE_NULL_DELAY_MS", "0")),
        events_secret=os.environ.get("PAYHARNESS_BARE_EVENTS_SECRET", ""),
    )
    tune_collector()  # the core's collector settings: the yardsticks differ from the core in code only
    return app


def verified_from_env() -> Starlette:
    """uvicorn factory of the ``verified`` mode, whatever PAYHARNESS_BARE_MODE says: a command line of its own, so
    the CPU meter (load/cpu.py) tells its processes from the ``sql`` yardstick's running beside them."""
    os.environ["PAYHARNESS_BARE_MODE"] = "verified"
    return app_from_env()
