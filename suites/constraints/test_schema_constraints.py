"""The database itself refuses what the core must never write: each constraint attacked on a real Postgres."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import TYPE_CHECKING

import asyncpg
import pytest

from core.db.models import RAW_PAYLOAD_MAX_BYTES

from .helpers import insert_efecty, insert_event, insert_order, insert_transaction

if TYPE_CHECKING:
    from conftest import Database

pytestmark = pytest.mark.scenario("DB-CONSTRAINTS")


@pytest.mark.parametrize("total", [Decimal("0"), Decimal("0.00"), Decimal("-1.00"), Decimal("-0.01")])
async def test_order_total_must_be_positive_in_the_database(conn: asyncpg.Connection, total: Decimal) -> None:
    with pytest.raises(asyncpg.CheckViolationError) as err:
        await insert_order(conn, total=total)
    assert err.value.constraint_name == "ck_orders_total_amount_positive"


@pytest.mark.parametrize("amount", [Decimal("0"), Decimal("-50000.00"), Decimal("-0.01")])
async def test_transaction_amount_must_be_positive_in_the_database(conn: asyncpg.Connection, amount: Decimal) -> None:
    order_id = await insert_order(conn)
    with pytest.raises(asyncpg.CheckViolationError) as err:
        await insert_transaction(conn, order_id, amount=amount)
    assert err.value.constraint_name == "ck_order_transactions_amount_positive"


@pytest.mark.parametrize("amount", [Decimal("0"), Decimal("-20000.00")])
async def test_efecty_amount_must_be_positive_in_the_database(conn: asyncpg.Connection, amount: Decimal) -> None:
    order_id = await insert_order(conn)
    with pytest.raises(asyncpg.CheckViolationError) as err:
        await insert_efecty(conn, order_id, code="EF-1-ABC123", amount=amount)
    assert err.value.constraint_name == "ck_efecty_payments_amount_positive"


async def test_one_gateway_transaction_id_is_stored_once_per_gateway(conn: asyncpg.Connection) -> None:
    order_id = await insert_order(conn)
    # Settled attempts: one order may hold one pending attempt only (a rule of its own, tested below).
    settled = "declined"
    await insert_transaction(
        conn, order_id, gateway="wompi", gateway_transaction_id="1234-1610641025-49201", status=settled)
    with pytest.raises(asyncpg.UniqueViolationError) as err:
        await insert_transaction(
            conn, order_id, gateway="wompi", gateway_transaction_id="1234-1610641025-49201", status=settled)
    assert err.value.constraint_name == "uq_order_transactions_gateway_txn"
    # The same id at another gateway is another transaction.
    await insert_transaction(
        conn, order_id, gateway="payu", gateway_transaction_id="1234-1610641025-49201", status=settled)
    assert await conn.fetchval("SELECT count(*) FROM order_transactions") == 2


async def test_webhook_event_replayed_with_different_data_is_refused(conn: asyncpg.Connection) -> None:
    order_id = await insert_order(conn)
    txn = await insert_transaction(conn, order_id)
    await insert_event(conn, event_key="wompi:1234:APPROVED", payload='{"amount_in_cents": 5000000}',
                       payload_sha256="a" * 64, transaction_id=txn)
    # The seed's UNIQUE(event_id, signature) would let this one in: different data, different signature.
    with pytest.raises(asyncpg.UniqueViolationError) as err:
        await insert_event(conn, event_key="wompi:1234:APPROVED", payload='{"amount_in_cents": 1}',
                           payload_sha256="b" * 64, transaction_id=txn)
    assert err.value.constraint_name == "uq_webhook_events_identity"
    assert await conn.fetchval("SELECT count(*) FROM webhook_events") == 1


async def test_efecty_payment_code_is_unique(conn: asyncpg.Connection) -> None:
    first, second = await insert_order(conn), await insert_order(conn)
    await insert_efecty(conn, first, code="EFE-1-ZX81QP")
    with pytest.raises(asyncpg.UniqueViolationError) as err:
        await insert_efecty(conn, second, code="EFE-1-ZX81QP")
    assert err.value.constraint_name == "uq_efecty_payments_payment_code"


async def test_idempotency_key_is_unique_per_buyer(conn: asyncpg.Connection) -> None:
    order_id = await insert_order(conn)
    sql = ("INSERT INTO idempotency_keys (buyer_id, key, request_sha256, order_id) "
           "VALUES ($1, 'key-1', repeat('0', 64), $2)")
    await conn.execute(sql, "buyer-1", order_id)
    await conn.execute(sql, "buyer-2", order_id)
    with pytest.raises(asyncpg.UniqueViolationError) as err:
        await conn.execute(sql, "buyer-1", order_id)
    assert err.value.constraint_name == "uq_idempotency_keys_buyer_key"


async def test_transaction_for_a_missing_order_is_refused(conn: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.ForeignKeyViolationError) as err:
        await insert_transaction(conn, 987654)
    assert err.value.constraint_name == "fk_order_transactions_order_id_orders"


async def test_webhook_event_links_only_to_an_existing_transaction(conn: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.ForeignKeyViolationError) as err:
        await insert_event(conn, event_key="k", transaction_id=424242)
    assert err.value.constraint_name == "fk_webhook_events_transaction_id_order_transactions"
    order_id = await insert_order(conn)
    txn = await insert_transaction(conn, order_id)
    event = await insert_event(conn, event_key="k2", transaction_id=txn)
    assert await conn.fetchval("SELECT transaction_id FROM webhook_events WHERE id = $1", event) == txn


async def test_an_order_with_transactions_cannot_be_deleted(conn: asyncpg.Connection) -> None:
    order_id = await insert_order(conn)
    await insert_transaction(conn, order_id)
    with pytest.raises(asyncpg.RestrictViolationError) as err:
        await conn.execute("DELETE FROM orders WHERE id = $1", order_id)
    assert err.value.constraint_name == "fk_order_transactions_order_id_orders"


@pytest.mark.parametrize(
    ("table", "column"),
    [("orders", "status"), ("order_transactions", "status"), ("order_transactions", "gateway"),
     ("efecty_payments", "status"), ("webhook_events", "outcome")],
)
async def test_status_columns_accept_only_their_enum(conn: asyncpg.Connection, table: str, column: str) -> None:
    udt = await conn.fetchval(
        "SELECT data_type FROM information_schema.columns WHERE table_name = $1 AND column_name = $2", table, column
    )
    assert udt == "USER-DEFINED"
    with pytest.raises(asyncpg.InvalidTextRepresentationError):
        await conn.execute(f"SELECT 'APPROVED_TWICE'::{await _udt_name(conn, table, column)}")


async def _udt_name(conn: asyncpg.Connection, table: str, column: str) -> str:
    return str(
        await conn.fetchval(
            "SELECT udt_name FROM information_schema.columns WHERE table_name = $1 AND column_name = $2", table, column
        )
    )


async def test_transaction_status_cannot_be_set_to_an_unknown_value(conn: asyncpg.Connection) -> None:
    order_id = await insert_order(conn)
    txn = await insert_transaction(conn, order_id)
    with pytest.raises(asyncpg.InvalidTextRepresentationError):
        await conn.execute("UPDATE order_transactions SET status = 'settled' WHERE id = $1", txn)


@pytest.mark.scenario("DB-LARGE-PAYLOAD")
async def test_oversize_gateway_response_is_refused(conn: asyncpg.Connection) -> None:
    order_id = await insert_order(conn)
    big = json.dumps({"blob": "x" * RAW_PAYLOAD_MAX_BYTES})
    with pytest.raises(asyncpg.CheckViolationError) as err:
        await insert_transaction(conn, order_id, gateway_response=big)
    assert err.value.constraint_name == "ck_order_transactions_gateway_response_size"
    # Just under the cap is fine: the limit is the one documented, not something smaller.
    fits = json.dumps({"blob": "x" * (RAW_PAYLOAD_MAX_BYTES - 64)})
    await insert_transaction(conn, order_id, gateway_response=fits)


@pytest.mark.scenario("DB-LARGE-PAYLOAD")
async def test_oversize_webhook_payload_is_refused(conn: asyncpg.Connection) -> None:
    big = json.dumps({"blob": "y" * RAW_PAYLOAD_MAX_BYTES})
    with pytest.raises(asyncpg.CheckViolationError) as err:
        await insert_event(conn, event_key="big", payload=big)
    assert err.value.constraint_name == "ck_webhook_events_payload_size"


async def test_currency_must_be_an_iso_code(conn: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.CheckViolationError) as err:
        await insert_order(conn, currency="cop")
    assert err.value.constraint_name == "ck_orders_currency_iso"


async def test_an_order_cannot_be_paid_without_approved_money(conn: asyncpg.Connection) -> None:
    order_id = await insert_order(conn)
    with pytest.raises(asyncpg.CheckViolationError) as err:
        await conn.execute("UPDATE orders SET status = 'paid' WHERE id = $1", order_id)
    assert err.value.constraint_name == "ck_orders_paid_has_approved_amount"
    await conn.execute("UPDATE orders SET status = 'paid', approved_amount = total_amount WHERE id = $1", order_id)


async def test_a_paid_efecty_code_has_a_payment_time(conn: asyncpg.Connection) -> None:
    order_id = await insert_order(conn)
    payment = await insert_efecty(conn, order_id, code="EFE-9-PAID01")
    with pytest.raises(asyncpg.CheckViolationError) as err:
        await conn.execute("UPDATE efecty_payments SET status = 'paid' WHERE id = $1", payment)
    assert err.value.constraint_name == "ck_efecty_payments_paid_has_paid_at"


async def test_amounts_beyond_numeric_15_2_overflow_instead_of_truncating(conn: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.NumericValueOutOfRangeError):
        await insert_order(conn, total=Decimal("10000000000000.00"))
    order_id = await insert_order(conn, total=Decimal("9999999999999.99"))
    assert await conn.fetchval("SELECT total_amount FROM orders WHERE id = $1", order_id) == Decimal("9999999999999.99")


async def test_timestamps_are_set_by_the_server(conn: asyncpg.Connection) -> None:
    order_id = await insert_order(conn)
    created, updated = await conn.fetchrow("SELECT created_at, updated_at FROM orders WHERE id = $1", order_id)
    assert created is not None and updated == created
    # A client that forgets updated_at (or lies about it) still gets the server's time.
    await conn.execute(
        "UPDATE orders SET flag_reason = 'x', updated_at = '2000-01-01' WHERE id = $1", order_id
    )
    later = await conn.fetchval("SELECT updated_at FROM orders WHERE id = $1", order_id)
    assert later > created


async def test_a_gateway_reference_names_one_transaction_attempt(conn: asyncpg.Connection) -> None:
    order_id = await insert_order(conn)
    # Declined: one order may hold one pending attempt only (tested below).
    sql = ("INSERT INTO order_transactions (order_id, gateway, reference, payment_method, amount, currency, status) "
           "VALUES ($1, $2, 'ORD-1-T1', 'CARD', 1000, 'COP', 'declined')")
    await conn.execute(sql, order_id, "payu")
    await conn.execute(sql, order_id, "wompi")
    with pytest.raises(asyncpg.UniqueViolationError) as err:
        await conn.execute(sql, order_id, "payu")
    assert err.value.constraint_name == "uq_order_transactions_gateway_reference"


@pytest.mark.scenario("DB-ONE-LIVE-ATTEMPT")
async def test_an_order_holds_at_most_one_pending_attempt(conn: asyncpg.Connection) -> None:
    order_id = await insert_order(conn)
    for settled in ("declined", "error", "expired", "voided", "approved"):
        await insert_transaction(conn, order_id, status=settled)
    live = await insert_transaction(conn, order_id)
    with pytest.raises(asyncpg.UniqueViolationError) as err:
        await insert_transaction(conn, order_id)
    assert err.value.constraint_name == "uq_order_transactions_one_live_attempt"
    # Nor may a settled attempt go back to pending beside the live one.
    with pytest.raises(asyncpg.UniqueViolationError):
        await conn.execute("UPDATE order_transactions SET status = 'pending' WHERE status = 'declined'")
    # Once the live attempt is final, the order may have a new one; another order is not affected.
    await conn.execute("UPDATE order_transactions SET status = 'expired' WHERE id = $1", live)
    await insert_transaction(conn, order_id)
    await insert_transaction(conn, await insert_order(conn))


@pytest.mark.scenario("DB-ONE-LIVE-ATTEMPT")
async def test_two_connections_racing_a_pending_attempt_for_one_order_commit_one(
    conn: asyncpg.Connection, database: Database
) -> None:
    order_id = await insert_order(conn)
    other = await asyncpg.connect(database.dsn)
    try:
        async with conn.transaction():
            await insert_transaction(conn, order_id)
            # The second insert waits for the first transaction's outcome, then is refused.
            racing = asyncio.ensure_future(insert_transaction(other, order_id))
            await asyncio.sleep(0.2)
            assert not racing.done()
        with pytest.raises(asyncpg.UniqueViolationError):
            await racing
    finally:
        await other.close()
    assert await conn.fetchval("SELECT count(*) FROM order_transactions WHERE status = 'pending'") == 1
