"""What ``POST /payments/process`` records and answers once the gateway has answered: the attempt row, the
key's stored answer, the anomaly for a wrong amount, the Efecty voucher; and what each gateway was asked."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import asyncpg

from core.tests.apikit import CONVENIO, FakeGateways, make_settings, running_core
from core.tests.test_api_one_live_attempt import PAYU, efecty_body, pay
from core.tests.test_api_process import card_body

if TYPE_CHECKING:
    from conftest import Database


def sent(gateways: FakeGateways, path: str) -> dict[str, Any]:
    return json.loads(next(q for q in gateways.requests if q.url.path == path).content)


async def test_an_approved_charge_is_answered_stored_on_the_key_and_kept_with_the_gateways_word(
    database: Database, conn: asyncpg.Connection
) -> None:
    gateways = FakeGateways(wompi_status_message="Aprobada")
    async with running_core(make_settings(database.url), gateways) as core:
        order = await core.create_order("buyer-1")
        r = await pay(core, card_body(order), 1)
    assert r.status_code == 200, r.text
    txn = await conn.fetchrow("SELECT * FROM order_transactions")
    answer = r.json()
    assert answer == {
        "order_id": order["id"],
        "order_status": "paid",
        "transaction": {
            "id": txn["id"], "gateway": "wompi", "reference": txn["reference"], "payment_method": "CARD",
            "amount": "65000.00", "currency": "COP", "status": "approved", "gateway_transaction_id": "wompi-1",
            "created_at": answer["transaction"]["created_at"],
        },
        "redirect_url": None,
        "efecty": None,
        "message": "Aprobada",
    }
    assert datetime.fromisoformat(answer["transaction"]["created_at"]) == txn["created_at"]
    stored = json.loads(txn["gateway_response"])
    assert (stored["id"], stored["status"], stored["amount_in_cents"], stored["reference"]) == (
        "wompi-1", "APPROVED", 6_500_000, txn["reference"])
    key = await conn.fetchrow("SELECT status_code, response_body, transaction_id FROM idempotency_keys")
    assert (key["status_code"], json.loads(key["response_body"]), key["transaction_id"]) == (200, answer, txn["id"])


async def test_a_pending_answer_changes_no_state_and_says_where_to_pay(
    database: Database, conn: asyncpg.Connection
) -> None:
    gateways = FakeGateways(wompi_status="PENDING")
    async with running_core(make_settings(database.url), gateways) as core:
        order = await core.create_order("buyer-1")
        body = {**card_body(order), "method": "PSE", "card": None, "payer": PAYU["payer"],
                "pse": {"bank_code": "1", "legal_id": "1234567"}}
        r = await pay(core, body, 1)
    assert r.status_code == 200, r.text
    assert (r.json()["order_status"], r.json()["transaction"]["status"]) == ("pending", "pending")
    assert r.json()["redirect_url"] == "https://bank.test/pse/123"
    # The bank page needs the order's own words.
    reference = await conn.fetchval("SELECT reference FROM orders")
    assert sent(gateways, "/v1/transactions")["payment_method"]["payment_description"] == f"Order {reference}"


async def test_an_answer_for_another_amount_is_held_as_an_anomaly_not_applied(
    database: Database, conn: asyncpg.Connection
) -> None:
    gateways = FakeGateways(wompi_amount_in_cents=100)
    async with running_core(make_settings(database.url), gateways) as core:
        order = await core.create_order("buyer-1")
        r = await pay(core, card_body(order), 1)
    assert r.status_code == 200, r.text
    assert r.json()["message"] == "the gateway reported another amount than requested; the payment is held for review"
    assert (r.json()["transaction"]["status"], r.json()["order_status"]) == ("pending", "pending")
    txn = await conn.fetchrow("SELECT id, gateway_response FROM order_transactions")
    anomaly = await conn.fetchrow("SELECT kind, gateway, order_id, transaction_id, detail FROM payment_anomalies")
    assert (anomaly["kind"], anomaly["gateway"], anomaly["order_id"], anomaly["transaction_id"]) == (
        "amount_mismatch", "wompi", order["id"], txn["id"])
    detail = json.loads(anomaly["detail"])
    assert detail == {"source": "gateway_answer", "raw": json.loads(txn["gateway_response"])}
    assert detail["raw"]["amount_in_cents"] == 100


async def test_a_gateway_id_a_webhook_linked_first_is_never_overwritten(
    database: Database, conn: asyncpg.Connection
) -> None:
    gateways = FakeGateways(wompi_status="PENDING", create_gate=asyncio.Event())
    async with running_core(make_settings(database.url), gateways) as core:
        order = await core.create_order("buyer-1")
        paying = asyncio.create_task(pay(core, card_body(order), 1))
        await gateways.wait_for("create")
        await conn.execute("UPDATE order_transactions SET gateway_transaction_id = 'linked-by-webhook'")
        assert gateways.create_gate is not None
        gateways.create_gate.set()
        r = await paying
    assert r.status_code == 200, r.text
    assert r.json()["transaction"]["gateway_transaction_id"] == "linked-by-webhook"
    assert await conn.fetchval("SELECT gateway_transaction_id FROM order_transactions") == "linked-by-webhook"


async def test_a_payu_charge_is_described_by_the_order_and_linked_to_payus_id(
    database: Database, conn: asyncpg.Connection
) -> None:
    gateways = FakeGateways()
    async with running_core(make_settings(database.url), gateways) as core:
        order = await core.create_order("buyer-1", "20000")
        r = await pay(core, card_body(order, **PAYU), 1)
    assert (r.status_code, r.json()["transaction"]["gateway_transaction_id"]) == (200, "payu-tx-1"), r.text
    submitted = sent(gateways, "/payments-api/4.0/service.cgi")["transaction"]["order"]
    reference = await conn.fetchval("SELECT reference FROM orders")
    assert submitted["description"] == f"Order {reference}"
    assert await conn.fetchval("SELECT gateway_transaction_id FROM order_transactions") == "payu-tx-1"


async def test_an_efecty_voucher_is_registered_with_the_order_and_its_expiry(
    database: Database, conn: asyncpg.Connection
) -> None:
    gateways = FakeGateways()
    settings = make_settings(database.url)
    async with running_core(settings, gateways) as core:
        order = await core.create_order("buyer-1", "50000")
        before = datetime.now(UTC)
        r = await pay(core, efecty_body(order), 1)
        after = datetime.now(UTC)
    assert r.status_code == 200, r.text
    voucher = r.json()["efecty"]
    ttl = timedelta(hours=settings.efecty.voucher_ttl_hours)
    expires_at = datetime.fromisoformat(voucher["expires_at"])
    assert before + ttl <= expires_at <= after + ttl
    assert voucher["convenio"] == CONVENIO and voucher["amount"] == "50000.00"
    assert voucher["payment_code"].startswith(f"{settings.efecty.code_prefix}-{order['id']}-")
    reference = await conn.fetchval("SELECT reference FROM orders")
    registered = sent(gateways, "/api/v1/vouchers")
    assert registered == {
        "payment_code": voucher["payment_code"], "amount": "50000.00", "currency": "COP",
        "expires_at": expires_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "reference": reference, "description": f"Order {reference}",
    }
    txn = await conn.fetchrow("SELECT gateway, reference, gateway_transaction_id, gateway_response, status, amount, "
                              "payment_method FROM order_transactions")
    assert (txn["gateway"], txn["reference"], txn["gateway_transaction_id"], txn["status"]) == (
        "efecty", voucher["payment_code"], voucher["payment_code"], "pending")
    assert (str(txn["amount"]), txn["payment_method"]) == ("50000.00", "EFECTY")
    stored = json.loads(txn["gateway_response"])
    assert (stored["payment_code"], stored["status"]) == (voucher["payment_code"], "PENDING")
    efecty = await conn.fetchrow("SELECT expires_at, amount, status FROM efecty_payments")
    assert (efecty["expires_at"], str(efecty["amount"]), efecty["status"]) == (expires_at, "50000.00", "pending")
