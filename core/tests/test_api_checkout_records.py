"""What ``POST /payments/process`` writes and answers when the gateway fails, may have charged, or when the
core cannot record its answer: the attempt row, the key's stored answer, the log line support searches for.

A key retried in these tests waits at most ``WAIT`` seconds for an answer, so a key wrongly left open fails
the test at once instead of holding it for the default ten seconds.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from core.api import checkout
from core.api.checkout import _attempt_live
from core.api.idempotency import CheckoutOptions, get_checkout_options
from core.tests.apikit import Core, FakeGateways, make_settings, running_core
from core.tests.test_api_one_live_attempt import efecty_body, nequi_body, pay
from core.tests.test_api_process import card_body

if TYPE_CHECKING:
    from conftest import Database

WAIT = 0.3
LOGGER = "payharness.core.checkout"


def short_waits(core: Core) -> None:
    core.app.dependency_overrides[get_checkout_options] = lambda: CheckoutOptions(idempotency_wait_seconds=WAIT)


async def key_row(conn: asyncpg.Connection) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT status_code, response_body, transaction_id FROM idempotency_keys")
    assert row is not None
    return row


async def refuse(conn: asyncpg.Connection, table: str, when: str = "true") -> None:
    """Make Postgres refuse an update of ``table`` (a stand-in for any write failing after the charge)."""
    await conn.execute(f"CREATE FUNCTION refuse_{table}() RETURNS trigger LANGUAGE plpgsql AS"
                       f" $$ BEGIN IF {when} THEN RAISE EXCEPTION 'injected: refused'; END IF; RETURN NEW; END $$")
    await conn.execute(f"CREATE TRIGGER refuse_{table} BEFORE UPDATE ON {table}"
                       f" FOR EACH ROW EXECUTE FUNCTION refuse_{table}()")


# -- the gateway may hold the charge -------------------------------------------------------------------------


async def test_a_gateway_5xx_answers_a_stored_502_that_says_the_payment_may_have_been_taken(
    database: Database, conn: asyncpg.Connection
) -> None:
    gateways = FakeGateways(fail={"create"})
    async with running_core(make_settings(database.url), gateways) as core:
        short_waits(core)
        order = await core.create_order("buyer-1")
        first = await pay(core, card_body(order), 1)
        retry = await pay(core, card_body(order), 1)
    txn = await conn.fetchrow("SELECT id, reference, status FROM order_transactions")
    assert first.status_code == 502, first.text
    error = first.json()["error"]
    assert error == {
        "code": "payment_outcome_unknown",
        "message": "wompi did not answer clearly; the payment may have been taken. It is pending: check the order "
                   "before paying again.",
        "transaction_reference": txn["reference"],
        "support_reference": error["support_reference"],
    }
    assert error["support_reference"].startswith("SUP-")
    assert (retry.status_code, retry.json()) == (502, first.json())
    key = await key_row(conn)
    assert (key["status_code"], json.loads(key["response_body"]), key["transaction_id"]) == (
        502, first.json(), txn["id"])
    assert txn["status"] == "pending"


async def test_an_answer_the_core_cannot_record_is_a_502_logged_with_its_support_reference(
    database: Database, conn: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    await refuse(conn, "order_transactions")
    caplog.set_level(logging.ERROR, logger=LOGGER)
    async with running_core(make_settings(database.url)) as core:
        short_waits(core)
        order = await core.create_order("buyer-1")
        first = await pay(core, card_body(order), 1)
        retry = await pay(core, card_body(order), 1)
    txn = await conn.fetchrow("SELECT id, reference, status FROM order_transactions")
    assert first.status_code == 502, first.text
    error = first.json()["error"]
    assert error == {
        "code": "payment_outcome_unknown",
        "message": "the payment may have been taken but could not be recorded. It is pending: check the order "
                   "before paying again, and quote the support reference.",
        "transaction_reference": txn["reference"],
        "support_reference": error["support_reference"],
    }
    assert (retry.status_code, retry.json()) == (502, first.json())
    key = await key_row(conn)
    assert (key["status_code"], json.loads(key["response_body"]), key["transaction_id"]) == (
        502, first.json(), txn["id"])
    [record] = [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.ERROR]
    assert record.getMessage() == (f"payment attempt {txn['reference']}: failed after the gateway was called, "
                                   f"outcome unknown ({error['support_reference']})")
    assert record.exc_info is not None and "injected: refused" in str(record.exc_info[1])


async def test_when_the_502_cannot_be_stored_either_it_is_still_answered_and_logged(
    database: Database, conn: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    await refuse(conn, "order_transactions")
    await refuse(conn, "idempotency_keys", "NEW.status_code IS NOT NULL")
    caplog.set_level(logging.ERROR, logger=LOGGER)
    async with running_core(make_settings(database.url)) as core:
        order = await core.create_order("buyer-1")
        first = await pay(core, card_body(order), 1)
    reference = await conn.fetchval("SELECT reference FROM order_transactions")
    assert first.status_code == 502, first.text
    error = first.json()["error"]
    assert (error["code"], error["transaction_reference"]) == ("payment_outcome_unknown", reference)
    # The key stays open until it is found stale; the attempt blocks a second charge meanwhile.
    assert (await key_row(conn))["status_code"] is None
    messages = [r.getMessage() for r in caplog.records if r.name == LOGGER and r.exc_info]
    assert messages[-1] == (f"payment attempt {reference}: the 502 could not be stored on its key "
                            f"({error['support_reference']})")


# -- the gateway never took the charge -----------------------------------------------------------------------


async def test_an_attempt_the_gateway_never_received_is_closed_with_the_error_it_met(
    database: Database, conn: asyncpg.Connection
) -> None:
    gateways = FakeGateways(unreachable={"create"})
    async with running_core(make_settings(database.url), gateways) as core:
        order = await core.create_order("buyer-1")
        down = await pay(core, card_body(order), 1)
    assert down.status_code == 503, down.text
    row = await conn.fetchrow("SELECT status, gateway_response FROM order_transactions")
    assert row["status"] == "error"
    assert json.loads(row["gateway_response"]) == {"error": {
        "gateway": "wompi", "operation": "create_transaction", "status_code": None, "error_code": None,
        "retryable": True, "outcome_unknown": False,
    }}
    assert await conn.fetchval("SELECT status FROM orders") == "failed"


async def test_a_voucher_efecty_never_registered_expires_and_only_that_one(
    database: Database, conn: asyncpg.Connection
) -> None:
    gateways = FakeGateways()
    async with running_core(make_settings(database.url), gateways) as core:
        registered_order = await core.create_order("buyer-1", "50000")
        registered = await pay(core, efecty_body(registered_order), 1)
        gateways.unreachable.add("voucher")
        failed_order = await core.create_order("buyer-1", "50000")
        failed = await pay(core, efecty_body(failed_order), 2)
    assert registered.status_code == 200 and failed.status_code == 503, failed.text
    rows = await conn.fetch(
        "SELECT t.order_id, t.status AS txn, e.status FROM efecty_payments e "
        "JOIN order_transactions t ON t.id = e.transaction_id ORDER BY t.order_id"
    )
    assert [(r["order_id"], r["txn"], r["status"]) for r in rows] == [
        (registered_order["id"], "pending", "pending"),
        (failed_order["id"], "error", "expired"),
    ]


# -- the live attempt a 409 names ----------------------------------------------------------------------------


async def test_the_409_names_this_orders_pending_attempt_not_another_orders_or_a_failed_one(
    database: Database, conn: asyncpg.Connection
) -> None:
    gateways = FakeGateways(wompi_status="PENDING")
    async with running_core(make_settings(database.url), gateways) as core:
        other = await core.create_order("buyer-1")
        await pay(core, nequi_body(other), 1)
        order = await core.create_order("buyer-1")
        gateways.wompi_status = "DECLINED"
        declined = await pay(core, card_body(order), 2)
        gateways.wompi_status = "PENDING"
        live = await pay(core, nequi_body(order), 3)
        refused = await pay(core, card_body(order), 4)
    assert declined.json()["transaction"]["status"] == "declined"
    assert refused.status_code == 409, refused.text
    error, attempt = refused.json()["error"], live.json()["transaction"]
    created_at = await conn.fetchval("SELECT created_at FROM order_transactions WHERE id = $1", attempt["id"])
    assert error["live_attempt"] == {
        "id": attempt["id"], "reference": attempt["reference"], "gateway": "wompi", "payment_method": "NEQUI",
        "status": "pending", "amount": "65000.00", "created_at": created_at.isoformat(),
    }
    assert error["message"] == (
        f"order {order['id']} already has a payment attempt in progress (NEQUI via wompi, reference "
        f"{attempt['reference']}); wait for it to finish or complete it. A new attempt is possible once it has failed"
    )
    assert await conn.fetchval("SELECT count(*) FROM order_transactions") == 3


async def test_a_live_attempt_gone_by_the_time_it_is_read_is_still_a_409(database: Database) -> None:
    engine = create_async_engine(database.url)
    try:
        async with engine.connect() as connection:
            conflict = await _attempt_live(connection, 424242)
    finally:
        await engine.dispose()
    assert (conflict.status, conflict.code) == (409, "payment_attempt_live")
    assert conflict.message == "order 424242 has a payment attempt changing; retry shortly"
    assert conflict.extra == {}


# -- a live attempt whose outcome is unknown is in the way ---------------------------------------------------


async def test_an_attempt_ended_by_asking_the_gateway_is_logged_and_the_order_paid(
    database: Database, conn: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    gateways = FakeGateways(fail={"create"})  # Wompi made nothing
    caplog.set_level(logging.INFO, logger=LOGGER)
    async with running_core(make_settings(database.url), gateways) as core:
        order = await core.create_order("buyer-1")
        await pay(core, card_body(order), 1)
        gateways.fail.clear()
        paid = await pay(core, card_body(order), 2)
    reference = await conn.fetchval("SELECT reference FROM order_transactions WHERE status = 'error'")
    assert paid.status_code == 200, paid.text
    # The attempt inserted after the lookup belongs to the new request's key: its answer is stored there.
    stored = await conn.fetchrow("SELECT status_code, response_body, transaction_id FROM idempotency_keys "
                                 "WHERE key = 'test-key-0002-abcdef'")
    assert (stored["status_code"], json.loads(stored["response_body"]), stored["transaction_id"]) == (
        200, paid.json(), paid.json()["transaction"]["id"])
    infos = [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == logging.INFO]
    assert infos == [f"live attempt {reference} ended by reference lookup (not_at_gateway)"]


async def test_a_resolution_that_fails_keeps_the_409_and_is_logged(
    database: Database, conn: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    gateways = FakeGateways(fail={"create"})
    caplog.set_level(logging.ERROR, logger=LOGGER)
    async with running_core(make_settings(database.url), gateways) as core:
        order = await core.create_order("buyer-1")
        await pay(core, card_body(order), 1)
        gateways.fail.clear()
        # Ending the attempt needs a write Postgres now refuses: the resolution fails half way.
        await refuse(conn, "order_transactions", "NEW.status <> OLD.status")
        second = await pay(core, card_body(order), 2)
    reference = await conn.fetchval("SELECT reference FROM order_transactions")
    assert second.status_code == 409, second.text
    error = second.json()["error"]
    assert (error["code"], error["live_attempt"]["reference"]) == ("payment_attempt_live", reference)
    assert gateways.calls["create"] == 1
    [record] = [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.ERROR]
    assert record.getMessage() == f"live attempt {reference}: resolving it failed"
    assert record.exc_info is not None and "injected: refused" in str(record.exc_info[1])
    assert await conn.fetchval("SELECT status FROM order_transactions") == "pending"


async def test_a_reference_collision_is_not_mistaken_for_a_live_attempt(
    database: Database, conn: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The insert's ON CONFLICT targets the one-live-attempt index only: any other uniqueness it breaks (here a
    # repeated gateway reference, 32 random bits repeating) is an error, not "an attempt is in progress".
    monkeypatch.setattr(checkout.secrets, "token_hex", lambda n: "0" * (2 * n))
    gateways = FakeGateways(wompi_status="DECLINED")
    async with running_core(make_settings(database.url), gateways) as core:
        order = await core.create_order("buyer-1")
        declined = await pay(core, card_body(order), 1)
        collided = await pay(core, card_body(order), 2)
    assert declined.json()["transaction"]["status"] == "declined"
    assert collided.status_code == 500, collided.text
    assert collided.json()["error"]["support_reference"].startswith("SUP-")
    assert gateways.calls["create"] == 1
    assert await conn.fetchval("SELECT count(*) FROM order_transactions") == 1
