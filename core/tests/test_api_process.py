"""``POST /payments/process``: each method, payable states, amounts, and what gateway failures leave behind."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import asyncpg
import pytest

from core.tests.apikit import FakeGateways, make_settings, running_core

if TYPE_CHECKING:
    from conftest import Database

EMAIL = "payer@example.co"


def card_body(order: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "order_id": order["id"],
        "amount": order["outstanding_amount"],
        "currency": "COP",
        "method": "CARD",
        "customer_email": EMAIL,
        "card": {"token": "tok_test_4242"},
        **extra,
    }


def key(n: int = 1) -> dict[str, str]:
    return {"Idempotency-Key": f"test-key-{n:04d}-abcdef"}


async def test_wompi_card_approved_pays_the_order(database: Database, conn: asyncpg.Connection) -> None:
    async with running_core(make_settings(database.url)) as core:
        order = await core.create_order("buyer-1")
        r = await core.client.post("/payments/process", json=card_body(order), headers=core.auth("buyer-1", **key()))
        sent = json.loads(next(q for q in core.gateways.requests if q.url.path == "/v1/transactions").content)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["order_status"] == "paid"
    assert out["transaction"]["status"] == "approved" and out["transaction"]["gateway_transaction_id"] == "wompi-1"
    assert out["transaction"]["amount"] == "65000.00"
    # One fresh gateway reference per attempt, derived from the order's own reference.
    assert re.fullmatch(re.escape(order["reference"]) + r"-[0-9a-f]{8}", sent["reference"])
    assert sent["amount_in_cents"] == 6_500_000 and sent["acceptance_token"] == "acc-token-1"
    row = await conn.fetchrow("SELECT status, approved_amount FROM orders WHERE id = $1", order["id"])
    assert (row["status"], str(row["approved_amount"])) == ("paid", "65000.00")
    txn = await conn.fetchrow("SELECT status, reference, gateway_response FROM order_transactions")
    assert txn["status"] == "approved" and txn["reference"] == sent["reference"]
    assert json.loads(txn["gateway_response"])["id"] == "wompi-1"


async def test_payu_card_declined_leaves_the_order_payable(database: Database, conn: asyncpg.Connection) -> None:
    gateways = FakeGateways(payu_state="DECLINED")
    async with running_core(make_settings(database.url), gateways) as core:
        order = await core.create_order("buyer-1", "20000")
        body = card_body(
            order,
            gateway="payu",
            card={"number": "4037997623271984", "cvc": "321", "exp_month": 12, "exp_year": 2030, "holder": "APPROVED"},
            payer={"full_name": "Ana Pérez", "phone": "3001234567", "dni_number": "123456789"},
        )
        declined = await core.client.post("/payments/process", json=body, headers=core.auth("buyer-1", **key(1)))
        gateways.payu_state = "APPROVED"
        approved = await core.client.post("/payments/process", json=body, headers=core.auth("buyer-1", **key(2)))
    assert declined.status_code == 200, declined.text
    assert (declined.json()["transaction"]["status"], declined.json()["order_status"]) == ("declined", "failed")
    assert (approved.json()["transaction"]["status"], approved.json()["order_status"]) == ("approved", "paid")
    submits = [json.loads(q.content) for q in gateways.requests if b"SUBMIT_TRANSACTION" in q.content]
    assert len(submits) == 2
    assert submits[0]["transaction"]["order"]["additionalValues"]["TX_VALUE"] == {"value": 20000, "currency": "COP"}
    assert submits[0]["transaction"]["ipAddress"] == "203.0.113.7"
    statuses = [r["status"] for r in await conn.fetch("SELECT status FROM order_transactions ORDER BY id")]
    assert statuses == ["declined", "approved"]


async def test_pse_is_pending_with_the_bank_redirect(database: Database, conn: asyncpg.Connection) -> None:
    gateways = FakeGateways(wompi_status="PENDING")
    async with running_core(make_settings(database.url), gateways) as core:
        order = await core.create_order("buyer-1")
        body = {
            **card_body(order),
            "method": "PSE",
            "card": None,
            "pse": {"bank_code": "1", "user_type": 0, "legal_id_type": "CC", "legal_id": "1234567"},
            "payer": {"full_name": "Ana Pérez", "phone": "3001234567", "dni_number": "1234567"},
        }
        without_payer = {**body, "payer": None}
        refused = await core.client.post("/payments/process", json=without_payer, headers=core.auth("buyer-1", **key()))
        r = await core.client.post("/payments/process", json=body, headers=core.auth("buyer-1", **key()))
    assert refused.status_code == 422  # Wompi needs customer_data.phone_number and full_name for PSE
    assert r.status_code == 200, r.text
    assert r.json()["redirect_url"] == "https://bank.test/pse/123"
    assert (r.json()["transaction"]["status"], r.json()["order_status"]) == ("pending", "pending")
    # Pending, and linked to Wompi's id so its webhook can settle it.
    assert await conn.fetchval("SELECT gateway_transaction_id FROM order_transactions") == "wompi-1"


async def test_nequi_is_pending_until_the_webhook(database: Database) -> None:
    gateways = FakeGateways(wompi_status="PENDING")
    async with running_core(make_settings(database.url), gateways) as core:
        order = await core.create_order("buyer-1")
        body = {**card_body(order), "method": "NEQUI", "card": None, "nequi_phone": "3991111111"}
        r = await core.client.post("/payments/process", json=body, headers=core.auth("buyer-1", **key()))
    assert r.status_code == 200, r.text
    assert r.json()["transaction"]["payment_method"] == "NEQUI" and r.json()["transaction"]["status"] == "pending"
    sent = json.loads(next(q for q in gateways.requests if q.url.path == "/v1/transactions").content)
    assert sent["payment_method"] == {"type": "NEQUI", "phone_number": "3991111111"}


async def test_efecty_issues_a_registered_voucher(database: Database, conn: asyncpg.Connection) -> None:
    async with running_core(make_settings(database.url)) as core:
        order = await core.create_order("buyer-1", "50000")
        body = {
            "order_id": order["id"],
            "amount": "50000",
            "currency": "COP",
            "method": "EFECTY",
            "customer_email": EMAIL,
        }
        r = await core.client.post("/payments/process", json=body, headers=core.auth("buyer-1", **key()))
        registered = json.loads(next(q for q in core.gateways.requests if q.url.path == "/api/v1/vouchers").content)
    assert r.status_code == 200, r.text
    voucher = r.json()["efecty"]
    assert re.fullmatch(rf"EFE-{order['id']}-[A-Z0-9]{{6}}", voucher["payment_code"])
    assert registered["payment_code"] == voucher["payment_code"] and registered["amount"] == "50000.00"
    assert registered["reference"] == order["reference"]
    assert r.json()["transaction"]["reference"] == voucher["payment_code"]
    row = await conn.fetchrow(
        "SELECT e.status, e.barcode_data, t.status AS txn FROM efecty_payments e "
        "JOIN order_transactions t ON t.id = e.transaction_id"
    )
    assert (row["status"], row["txn"], row["barcode_data"]) == ("pending", "pending", voucher["barcode_data"])


async def test_only_the_orders_buyer_can_pay_it(database: Database, conn: asyncpg.Connection) -> None:
    async with running_core(make_settings(database.url)) as core:
        order = await core.create_order("buyer-1")
        r = await core.client.post("/payments/process", json=card_body(order), headers=core.auth("buyer-2", **key()))
        missing = await core.client.post(
            "/payments/process", json={**card_body(order), "order_id": 999999}, headers=core.auth("buyer-1", **key())
        )
    assert (r.status_code, r.json()["error"]["code"]) == (404, "order_not_found")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "order_not_found")
    assert core.gateways.calls["create"] == 0
    assert await conn.fetchval("SELECT count(*) FROM idempotency_keys") == 0


@pytest.mark.parametrize("status", ["paid", "expired", "cancelled"])
async def test_an_order_that_is_not_payable_is_refused(
    database: Database, conn: asyncpg.Connection, status: str
) -> None:
    async with running_core(make_settings(database.url)) as core:
        order = await core.create_order("buyer-1")
        approved = "65000" if status == "paid" else "0"
        await conn.execute(f"UPDATE orders SET status = '{status}', approved_amount = {approved}")
        r = await core.client.post("/payments/process", json=card_body(order), headers=core.auth("buyer-1", **key()))
    assert (r.status_code, r.json()["error"]["code"]) == (409, "order_not_payable")
    assert core.gateways.calls["create"] == 0
    # Nothing happened, so the key is free again for a corrected request.
    assert await conn.fetchval("SELECT count(*) FROM idempotency_keys") == 0


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"amount": "64999.99"}, 422, "amount_mismatch"),
        ({"amount": 65000.0}, 422, "validation_error"),
        ({"currency": "USD"}, 422, "validation_error"),
        ({"method": "BITCOIN"}, 422, "validation_error"),
        ({"card": None}, 422, "validation_error"),  # CARD without a card
        ({"gateway": "payu"}, 422, "validation_error"),  # PayU needs card data and a payer, not a token
    ],
)
async def test_requests_that_do_not_match_the_order_are_refused(
    database: Database, change: dict[str, Any], status: int, code: str
) -> None:
    async with running_core(make_settings(database.url)) as core:
        order = await core.create_order("buyer-1")
        r = await core.client.post(
            "/payments/process", json=card_body(order, **change), headers=core.auth("buyer-1", **key())
        )
    assert (r.status_code, r.json()["error"]["code"]) == (status, code)
    assert core.gateways.calls["create"] == 0


async def test_payu_refuses_cents_before_any_call(database: Database) -> None:
    async with running_core(make_settings(database.url)) as core:
        order = await core.create_order("buyer-1", "20000.50")
        body = card_body(
            order,
            gateway="payu",
            card={"number": "4037997623271984", "cvc": "321", "exp_month": 1, "exp_year": 2031, "holder": "A"},
            payer={"full_name": "Ana", "phone": "3001234567", "dni_number": "123456"},
        )
        r = await core.client.post("/payments/process", json=body, headers=core.auth("buyer-1", **key()))
    assert (r.status_code, r.json()["error"]["code"]) == (422, "amount_has_cents")
    assert core.gateways.calls["payu_submit"] == 0


async def test_a_gateway_5xx_is_outcome_unknown_the_attempt_stays_pending(
    database: Database, conn: asyncpg.Connection
) -> None:
    gateways = FakeGateways(fail={"create"})
    async with running_core(make_settings(database.url), gateways) as core:
        order = await core.create_order("buyer-1")
        first = await core.client.post(
            "/payments/process", json=card_body(order), headers=core.auth("buyer-1", **key())
        )
        gateways.fail.clear()
        retry = await core.client.post(
            "/payments/process", json=card_body(order), headers=core.auth("buyer-1", **key())
        )
    assert (first.status_code, first.json()["error"]["code"]) == (502, "payment_outcome_unknown")
    # The retry with the same key gets the same answer and does not send the charge again.
    assert (retry.status_code, retry.json()) == (502, first.json())
    assert retry.headers["idempotent-replayed"] == "true"
    assert gateways.calls["create"] == 1
    assert await conn.fetchval("SELECT status FROM order_transactions") == "pending"
    assert await conn.fetchval("SELECT status FROM orders") == "pending"


async def test_an_unreachable_gateway_is_503_and_frees_the_key(database: Database, conn: asyncpg.Connection) -> None:
    gateways = FakeGateways(unreachable={"create"})
    async with running_core(make_settings(database.url), gateways) as core:
        order = await core.create_order("buyer-1")
        down = await core.client.post("/payments/process", json=card_body(order), headers=core.auth("buyer-1", **key()))
        gateways.unreachable.clear()
        again = await core.client.post(
            "/payments/process", json=card_body(order), headers=core.auth("buyer-1", **key())
        )
    assert (down.status_code, down.json()["error"]["code"]) == (503, "gateway_unreachable")
    # Never delivered: the attempt is closed as error and the same key may be used again.
    assert again.status_code == 200 and again.json()["transaction"]["status"] == "approved"
    statuses = [r["status"] for r in await conn.fetch("SELECT status FROM order_transactions ORDER BY id")]
    assert statuses == ["error", "approved"]


async def test_an_open_breaker_answers_503_without_calling_the_gateway(
    database: Database, conn: asyncpg.Connection
) -> None:
    # Wompi down as a whole: a success of another Wompi call would reset the consecutive-failure count.
    gateways = FakeGateways(unreachable={"create", "acceptance"})
    async with running_core(make_settings(database.url), gateways) as core:
        order = await core.create_order("buyer-1")
        for n in range(3):  # breaker_failures=3 in the test settings
            r = await core.client.post(
                "/payments/process", json=card_body(order), headers=core.auth("buyer-1", **key(n))
            )
            assert r.status_code == 503
        calls_before = gateways.calls["acceptance"] + gateways.calls["create"]
        attempts_before = await conn.fetchval("SELECT count(*) FROM order_transactions")
        blocked = await core.client.post(
            "/payments/process", json=card_body(order), headers=core.auth("buyer-1", **key(9))
        )
    assert (blocked.status_code, blocked.json()["error"]["code"]) == (503, "gateway_circuit_open")
    assert gateways.calls["acceptance"] + gateways.calls["create"] == calls_before == 3
    assert await conn.fetchval("SELECT count(*) FROM order_transactions") == attempts_before


async def test_a_different_amount_in_the_gateway_answer_is_held_not_applied(
    database: Database, conn: asyncpg.Connection
) -> None:
    gateways = FakeGateways(wompi_amount_in_cents=100)
    async with running_core(make_settings(database.url), gateways) as core:
        order = await core.create_order("buyer-1")
        r = await core.client.post("/payments/process", json=card_body(order), headers=core.auth("buyer-1", **key()))
    assert r.status_code == 200
    assert (r.json()["transaction"]["status"], r.json()["order_status"]) == ("pending", "pending")
    assert await conn.fetchval("SELECT kind FROM payment_anomalies") == "amount_mismatch"
