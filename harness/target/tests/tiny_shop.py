"""A throwaway shop for the target tests: orders, a Wompi payment, Wompi events; written as a merchant would.

It knows nothing of payharness (its checksum is its own few lines) and starts as a profile says:
``python -m harness.target.tests.tiny_shop --port N`` with ``DATABASE_URL`` and ``WOMPI_EVENTS_SECRET``.
``TINY_WEAK`` switches off guards to show the scenarios catch them: ``signature`` (any checksum passes),
``replay`` (every approval adds the money again), ``unique`` (no unique gateway transaction id or
event id: every delivery is logged).
``TINY_BROKEN=start`` exits at once; ``TINY_BROKEN=once:<file>`` exits at once unless ``<file>`` exists, and
creates it (a first start that fails, as a service whose port was taken meanwhile does).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import sys
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal, InvalidOperation
from typing import Any

import asyncpg
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (id serial PRIMARY KEY, owner text NOT NULL, total numeric(15,2) NOT NULL,
  amount_paid numeric(15,2) NOT NULL DEFAULT 0, status text NOT NULL DEFAULT 'PENDING');
CREATE TABLE IF NOT EXISTS payments (id serial PRIMARY KEY, order_id int NOT NULL REFERENCES orders,
  reference text NOT NULL, gateway_transaction_id text {unique}, status text NOT NULL,
  amount numeric(15,2) NOT NULL);
CREATE TABLE IF NOT EXISTS webhook_logs (id serial PRIMARY KEY, event_id text NOT NULL {unique});
"""
USERS = {"Bearer buyer-token": "buyer", "Bearer other-token": "other"}
MAX_BODY = 1024 * 1024


def error(status: int, code: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code}}, status_code=status)


def checksum_ok(event: dict[str, Any], secret: str) -> bool:
    try:
        signature = event["signature"]
        values = ""
        for prop in signature["properties"]:
            value: Any = event["data"]
            for part in prop.split("."):
                value = value[part]
            values += str(value)
        expected = hashlib.sha256(f"{values}{event['timestamp']}{secret}".encode()).hexdigest()
        return secrets.compare_digest(expected, str(signature["checksum"]))
    except (KeyError, TypeError):
        return False


def create_app(database_url: str, events_secret: str, weak: set[str]) -> FastAPI:
    pool: dict[str, asyncpg.Pool] = {}
    attempts: dict[str, deque[float]] = defaultdict(deque)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool["db"] = await asyncpg.create_pool(database_url, min_size=1, max_size=10)
        await pool["db"].execute(SCHEMA.format(unique="" if "unique" in weak else "UNIQUE"))
        yield
        await pool["db"].close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/api/login")
    async def login(request: Request) -> JSONResponse:
        user = (await request.json()).get("user")
        tokens = {name: header.removeprefix("Bearer ") for header, name in USERS.items()}
        return JSONResponse({"session": {"token": tokens[user]}}) if user in tokens else error(401, "unknown_user")

    @app.post("/api/orders")
    async def create_order(request: Request) -> JSONResponse:
        user = USERS.get(request.headers.get("authorization", ""))
        if user is None:
            return error(401, "unauthenticated")
        try:
            body = await request.json()
            total = Decimal(str(body["total"]))
        except (InvalidOperation, KeyError, TypeError, ValueError):
            return error(422, "invalid_total")
        too_fine = total.is_finite() and total.as_tuple().exponent < -2  # type: ignore[operator]
        if not total.is_finite() or total <= 0 or total > Decimal("50000000") or too_fine:
            return error(422, "invalid_total")
        order_id = await pool["db"].fetchval("INSERT INTO orders (owner, total) VALUES ($1, $2) RETURNING id",
                                             user, total)
        return JSONResponse({"id": order_id, "status": "PENDING"}, status_code=201)

    @app.get("/api/orders/{order_id}")
    async def read_order(order_id: int, request: Request) -> JSONResponse:
        user = USERS.get(request.headers.get("authorization", ""))
        order = await pool["db"].fetchrow("SELECT id, owner, status, amount_paid::text AS amount_paid FROM orders "
                                          "WHERE id = $1", order_id)
        if order is None or order["owner"] != user:
            return error(404, "order_not_found")
        return JSONResponse({"id": order["id"], "status": order["status"], "amount_paid": order["amount_paid"]})

    @app.post("/api/orders/{order_id}/pay")
    async def pay(order_id: int, request: Request) -> JSONResponse:
        user = USERS.get(request.headers.get("authorization", ""))
        if user is None:
            return error(401, "unauthenticated")
        now, window = time.monotonic(), attempts[user]
        while window and window[0] < now - 2:
            window.popleft()
        if len(window) >= 20:
            return error(429, "rate_limited")
        window.append(now)
        order = await pool["db"].fetchrow("SELECT owner, total, status FROM orders WHERE id = $1", order_id)
        if order is None or order["owner"] != user:
            return error(404, "order_not_found")
        if order["status"] == "PAID":  # a paid order is never charged again
            return error(409, "order_not_payable")
        reference = f"TINY-{order_id}-{secrets.token_hex(4)}"
        await pool["db"].execute("INSERT INTO payments (order_id, reference, status, amount) VALUES ($1, $2, "
                                 "'PENDING', $3)", order_id, reference, order["total"])
        return JSONResponse({"reference": reference, "transaction_id": None})

    @app.post("/webhooks/wompi")
    async def wompi(request: Request) -> JSONResponse:
        raw = await request.body()
        if len(raw) > MAX_BODY:
            return error(413, "too_large")
        try:
            event = json.loads(raw)
            tx = event["data"]["transaction"]
        except (ValueError, KeyError, TypeError):
            return error(400, "malformed_event")
        if "signature" not in weak and not checksum_ok(event, events_secret):
            return error(401, "bad_signature")
        try:
            return await apply(tx)
        except asyncpg.UniqueViolationError:
            return error(409, "duplicate_gateway_transaction")

    async def apply(tx: dict[str, Any]) -> JSONResponse:
        async with pool["db"].acquire() as conn, conn.transaction():
            payment = await conn.fetchrow("SELECT p.id, p.order_id, o.total, o.status FROM payments p JOIN orders o "
                                          "ON o.id = p.order_id WHERE p.reference = $1 FOR UPDATE OF o",
                                          tx["reference"])
            if payment is None:
                return error(404, "unknown_reference")
            await conn.execute("INSERT INTO webhook_logs (event_id) VALUES ($1) ON CONFLICT DO NOTHING",
                               str(tx["id"]))
            amount = Decimal(int(tx["amount_in_cents"])) / 100
            if tx["status"] == "APPROVED" and amount == payment["total"] and (
                    payment["status"] != "PAID" or "replay" in weak):
                await conn.execute("UPDATE payments SET status = 'APPROVED', gateway_transaction_id = $2 "
                                   "WHERE id = $1", payment["id"], str(tx["id"]))
                await conn.execute("UPDATE orders SET status = 'PAID', amount_paid = amount_paid + $2 WHERE id = $1",
                                   payment["order_id"], amount)
        return JSONResponse({"received": True})

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    broken = os.environ.get("TINY_BROKEN", "")
    if broken == "start":
        print("tiny shop: refusing to start (TINY_BROKEN=start)", file=sys.stderr)
        sys.exit(3)
    if broken.startswith("once:") and not os.path.exists(broken[5:]):
        open(broken[5:], "w").close()
        print("tiny shop: [Errno 98] address already in use (TINY_BROKEN=once)", file=sys.stderr)
        sys.exit(1)
    weak = {w for w in os.environ.get("TINY_WEAK", "").split(",") if w}
    app = create_app(os.environ["DATABASE_URL"], os.environ["WOMPI_EVENTS_SECRET"], weak)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
