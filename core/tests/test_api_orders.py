"""``POST /orders`` and ``GET /orders/{id}``: amounts as strings or integers only, range, ownership."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import asyncpg
import pytest

from core.tests.apikit import make_settings, running_core

if TYPE_CHECKING:
    from conftest import Database


async def test_order_is_created_for_the_buyer_with_amounts_as_strings(
    database: Database, conn: asyncpg.Connection
) -> None:
    async with running_core(make_settings(database.url)) as core:
        order = await core.create_order("buyer-1", "65000.5")
        from_int = await core.create_order("buyer-1", 1000)
    assert order["amount"] == "65000.50" and order["approved_amount"] == "0.00"
    assert order["outstanding_amount"] == "65000.50"
    assert (order["status"], order["buyer_id"], order["currency"]) == ("pending", "buyer-1", "COP")
    assert order["reference"].startswith("ORD-") and order["transactions"] == []
    assert from_int["amount"] == "1000.00"
    stored = await conn.fetchrow("SELECT buyer_id, total_amount FROM orders WHERE id = $1", order["id"])
    assert str(stored["total_amount"]) == "65000.50" and stored["buyer_id"] == "buyer-1"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"amount": 65000.0}, "validation_error"),  # a JSON float, even a whole one
        ({"amount": 65000.5}, "validation_error"),
        ({"amount": 1e4}, "validation_error"),
        ({"amount": "65000.001"}, "validation_error"),  # more than two decimals
        ({"amount": "NaN"}, "validation_error"),
        ({"amount": "-5000"}, "validation_error"),
        ({"amount": True}, "validation_error"),
        ({"amount": "5000", "currency": "USD"}, "validation_error"),
        ({"amount": "5000", "tip": "1"}, "validation_error"),  # unknown fields are refused, not ignored
        ({"amount": "999.99"}, "amount_out_of_range"),
        ({"amount": "50000000.01"}, "amount_out_of_range"),
        ({}, "validation_error"),
    ],
)
async def test_bad_amounts_are_refused_with_422(
    database: Database, conn: asyncpg.Connection, body: dict[str, Any], code: str
) -> None:
    async with running_core(make_settings(database.url)) as core:
        response = await core.client.post("/orders", json=body, headers=core.auth("buyer-1"))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code
    assert await conn.fetchval("SELECT count(*) FROM orders") == 0


async def test_range_limits_are_inclusive(database: Database) -> None:
    async with running_core(make_settings(database.url)) as core:
        low = await core.create_order("buyer-1", "1000.00")
        high = await core.create_order("buyer-1", 50_000_000)
    assert (low["amount"], high["amount"]) == ("1000.00", "50000000.00")


async def test_malformed_json_is_422_and_echoes_nothing(database: Database) -> None:
    async with running_core(make_settings(database.url)) as core:
        response = await core.client.post(
            "/orders",
            content=b'{"amount": "4111111111111111",',
            headers={**core.auth("buyer-1"), "Content-Type": "application/json"},
        )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "malformed_json"
    assert "4111111111111111" not in response.text


async def test_an_order_is_readable_by_its_buyer_and_admins_only(database: Database) -> None:
    async with running_core(make_settings(database.url)) as core:
        order = await core.create_order("buyer-1")
        path = f"/orders/{order['id']}"
        own = await core.client.get(path, headers=core.auth("buyer-1"))
        admin = await core.client.get(path, headers=core.auth("ops-1", "admin"))
        other = await core.client.get(path, headers=core.auth("buyer-2"))
        missing = await core.client.get("/orders/999999", headers=core.auth("buyer-1"))
    assert own.status_code == 200 and own.json() == order
    assert admin.status_code == 200 and admin.json()["id"] == order["id"]
    # Another buyer's order is answered as none at all: a 403 would tell a prober the id exists.
    assert (other.status_code, other.json()["error"]["code"]) == (404, "order_not_found")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "order_not_found")
