"""Row builders for the constraint suite: minimal valid rows, so each test breaks exactly one rule."""

from __future__ import annotations

import secrets
from decimal import Decimal

import asyncpg


async def insert_order(conn: asyncpg.Connection, *, total: Decimal = Decimal("50000.00"), **extra: object) -> int:
    columns = {"reference": f"ORD-{secrets.token_hex(6)}", "buyer_id": "buyer-1", "total_amount": total, **extra}
    names = ", ".join(columns)
    params = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    return int(await conn.fetchval(f"INSERT INTO orders ({names}) VALUES ({params}) RETURNING id", *columns.values()))


async def insert_transaction(
    conn: asyncpg.Connection,
    order_id: int,
    *,
    gateway: str = "wompi",
    gateway_transaction_id: str | None = None,
    amount: Decimal = Decimal("50000.00"),
    gateway_response: str | None = None,
    status: str = "pending",
) -> int:
    return int(
        await conn.fetchval(
            "INSERT INTO order_transactions (order_id, gateway, gateway_transaction_id, reference, payment_method,"
            " amount, currency, status, gateway_response) VALUES ($1, $2, $3, $4, 'CARD', $5, 'COP', $6, $7::jsonb)"
            " RETURNING id",
            order_id, gateway, gateway_transaction_id or secrets.token_hex(8), f"REF-{secrets.token_hex(4)}",
            amount, status, gateway_response,
        )
    )


async def insert_event(
    conn: asyncpg.Connection,
    *,
    event_key: str,
    payload: str = '{"status": "APPROVED"}',
    payload_sha256: str = "0" * 64,
    transaction_id: int | None = None,
    gateway: str = "wompi",
) -> int:
    return int(
        await conn.fetchval(
            "INSERT INTO webhook_events (gateway, event_key, event_type, signature, payload_sha256, payload,"
            " transaction_id, outcome) VALUES ($1, $2, 'transaction.updated', 'sig', $3, $4::jsonb, $5, 'applied')"
            " RETURNING id",
            gateway, event_key, payload_sha256, payload, transaction_id,
        )
    )


async def insert_efecty(
    conn: asyncpg.Connection, order_id: int, *, code: str, amount: Decimal = Decimal("50000.00"), **extra: object
) -> int:
    columns = {"order_id": order_id, "payment_code": code, "barcode_data": "415" + code, "amount": amount,
               "expires_at": None, **extra}
    columns["expires_at"] = columns["expires_at"] or await conn.fetchval("SELECT now() + interval '3 days'")
    names = ", ".join(columns)
    params = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    return int(
        await conn.fetchval(f"INSERT INTO efecty_payments ({names}) VALUES ({params}) RETURNING id", *columns.values())
    )
