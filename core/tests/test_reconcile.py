"""Efecty reconciliation and admin confirmation: each anomaly kind, and a second run that changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import asyncpg
import pytest

from core.efecty_codes import BOGOTA
from core.reconcile import expire_overdue
from core.tests.apikit import Core, FakeGateways, asobancaria_file, make_settings, running_core

if TYPE_CHECKING:
    from conftest import Database

TABLES = ("orders", "order_transactions", "efecty_payments", "payment_anomalies", "idempotency_keys")


async def voucher(core: Core, buyer: str, amount: str) -> tuple[dict[str, Any], str]:
    """An order paid by Efecty cash: the order and its payment code."""
    order = await core.create_order(buyer, amount)
    body = {
        "order_id": order["id"],
        "amount": amount,
        "currency": "COP",
        "method": "EFECTY",
        "customer_email": "payer@example.co",
    }
    r = await core.client.post(
        "/payments/process", json=body, headers=core.auth(buyer, **{"Idempotency-Key": f"efecty-{order['id']}-key"})
    )
    assert r.status_code == 200, r.text
    return order, r.json()["efecty"]["payment_code"]


async def snapshot(conn: asyncpg.Connection) -> dict[str, list[Any]]:
    return {t: [tuple(r) for r in await conn.fetch(f"SELECT * FROM {t} ORDER BY id")] for t in TABLES}


@pytest.mark.scenario("EFECTY-RECONCILIATION")
async def test_reconciliation_confirms_flags_each_anomaly_and_is_idempotent(
    database: Database, conn: asyncpg.Connection
) -> None:
    today = datetime.now(UTC).astimezone(BOGOTA).date()
    gateways = FakeGateways()
    async with running_core(make_settings(database.url), gateways) as core:
        paid, paid_code = await voucher(core, "buyer-1", "50000.00")
        short, short_code = await voucher(core, "buyer-2", "30000.00")
        late, late_code = await voucher(core, "buyer-3", "20000.00")
        await conn.execute(
            "UPDATE efecty_payments SET expires_at = now() - interval '3 days' WHERE payment_code = $1", late_code
        )
        gateways.voucher_status[late_code] = "PAID"  # Efecty took the cash: the sweep must leave it alone
        gateways.asobancaria[today] = asobancaria_file(
            today,
            [
                (paid_code, Decimal("50000.00")),
                (short_code, Decimal("29000.00")),
                ("EFE-999999-NOTOUR", Decimal("10000.00")),
                (late_code, Decimal("20000.00")),
            ],
        )
        admin = core.auth("ops-1", "admin")
        first = await core.client.post(f"/admin/reconcile?date={today}", headers=admin)
        before = await snapshot(conn)
        second = await core.client.post(f"/admin/reconcile?date={today}", headers=admin)
        after = await snapshot(conn)
        orders = {
            o["id"]: (await core.client.get(f"/orders/{o['id']}", headers=admin)).json() for o in (paid, short, late)
        }
    assert first.status_code == 200, first.text
    summary = first.json()
    assert {k: summary[k] for k in ("lines", "matched", "mismatched", "unknown", "expired", "anomalies_recorded")} == {
        "lines": 4,
        "matched": 1,
        "mismatched": 1,
        "unknown": 1,
        "expired": 1,
        "anomalies_recorded": 3,
    }
    assert orders[paid["id"]]["status"] == "paid" and orders[paid["id"]]["approved_amount"] == "50000.00"
    assert orders[short["id"]]["status"] == "pending"  # a short payment is never applied
    assert orders[late["id"]]["status"] == "pending"  # neither is one after expiry: a human decides
    kinds = {r["kind"]: r for r in await conn.fetch("SELECT kind, order_id, detail FROM payment_anomalies")}
    assert set(kinds) == {"amount_mismatch", "unknown_reference", "paid_after_expiry"}
    assert kinds["amount_mismatch"]["order_id"] == short["id"]
    assert kinds["unknown_reference"]["order_id"] is None
    paid_row = await conn.fetchrow("SELECT status, paid_at FROM efecty_payments WHERE payment_code = $1", paid_code)
    assert paid_row["status"] == "paid" and paid_row["paid_at"].astimezone(BOGOTA).date() == today

    assert second.status_code == 200
    again = second.json()
    assert (again["matched"], again["already_confirmed"], again["anomalies_recorded"]) == (0, 1, 0)
    assert after == before  # not one row added or changed by the second run


async def test_a_second_payment_line_for_a_paid_code_is_a_double_payment(
    database: Database, conn: asyncpg.Connection
) -> None:
    today = datetime.now(UTC).astimezone(BOGOTA).date()
    gateways = FakeGateways()
    async with running_core(make_settings(database.url), gateways) as core:
        _, code = await voucher(core, "buyer-1", "50000.00")
        gateways.asobancaria[today] = asobancaria_file(today, [(code, Decimal("50000.00")), (code, Decimal("50000"))])
        r = await core.client.post(f"/admin/reconcile?date={today}", headers=core.auth("ops-1", "admin"))
        again = await core.client.post(f"/admin/reconcile?date={today}", headers=core.auth("ops-1", "admin"))
    assert (r.json()["matched"], r.json()["duplicates"], r.json()["anomalies_recorded"]) == (1, 1, 1)
    assert (again.json()["already_confirmed"], again.json()["duplicates"], again.json()["anomalies_recorded"]) == (
        1,
        1,
        0,
    )
    assert await conn.fetchval("SELECT kind FROM payment_anomalies") == "double_payment"
    assert await conn.fetchval("SELECT approved_amount FROM orders") == Decimal("50000.00")


@pytest.mark.scenario("EFECTY-ADMIN-CONFIRMATION", "EFECTY-RECONCILIATION")
async def test_a_second_payment_line_after_an_admin_confirmation_is_a_double_payment(
    database: Database, conn: asyncpg.Connection
) -> None:
    # The admin confirmed one cash payment by hand; the file then shows two payments of the code. The first is
    # the one the admin saw; the second is a double payment, exactly as without the admin (attack a12).
    today = datetime.now(UTC).astimezone(BOGOTA).date()
    gateways = FakeGateways()
    async with running_core(make_settings(database.url), gateways) as core:
        admin = core.auth("ops-1", "admin")
        _, code = await voucher(core, "buyer-1", "50000.00")
        assert (await core.client.post(f"/admin/efecty/{code}/confirm", headers=admin)).status_code == 200
        gateways.asobancaria[today] = asobancaria_file(today, [(code, Decimal("50000.00")), (code, Decimal("50000"))])
        r = await core.client.post(f"/admin/reconcile?date={today}", headers=admin)
        before = await snapshot(conn)
        again = await core.client.post(f"/admin/reconcile?date={today}", headers=admin)
        after = await snapshot(conn)
    first = r.json()
    assert (first["matched"], first["already_confirmed"], first["duplicates"]) == (0, 1, 1)
    assert first["anomalies_recorded"] == 1
    second = again.json()
    assert (second["already_confirmed"], second["duplicates"], second["anomalies_recorded"]) == (1, 1, 0)
    assert after == before  # the second run writes nothing: the first line stays the admin's evidence
    assert [r[0] for r in await conn.fetch("SELECT kind::text FROM payment_anomalies")] == ["double_payment"]
    assert await conn.fetchval("SELECT approved_amount FROM orders") == Decimal("50000.00")
    # The admin's confirmation keeps its own facts, beside Efecty's registration answer, and gains the first
    # file line as its evidence.
    kept = json.loads(await conn.fetchval("SELECT gateway_response FROM order_transactions"))
    assert (kept["payment_code"], kept["status"]) == (code, "PENDING")
    confirmation = kept["confirmation"]
    assert (confirmation["via"], confirmation["admin"]) == ("admin", "ops-1")
    assert confirmation["source_key"] == f"{today.isoformat()}:1:{code}"


async def test_overdue_vouchers_expire_only_when_efecty_says_so(database: Database, conn: asyncpg.Connection) -> None:
    gateways = FakeGateways()
    async with running_core(make_settings(database.url), gateways) as core:
        gone, gone_code = await voucher(core, "buyer-1", "10000")
        paid, paid_code = await voucher(core, "buyer-2", "10000")
        fresh, _ = await voucher(core, "buyer-3", "10000")
        gateways.voucher_status[gone_code] = "EXPIRED"
        gateways.voucher_status[paid_code] = "PAID"
        later = datetime.now(UTC) + timedelta(hours=80)  # past the 72 h voucher lifetime...
        await conn.execute(
            "UPDATE efecty_payments SET expires_at = now() + interval '100 hours' WHERE order_id = $1", fresh["id"]
        )  # ...except for this one
        expired = await expire_overdue(core.app.state.services, now=later)
        repeat = await expire_overdue(core.app.state.services, now=later)
    assert (expired, repeat) == (1, 0)
    rows = {
        r["order_id"]: (r["status"], r["txn"], r["order_status"])
        for r in await conn.fetch(
            "SELECT e.order_id, e.status, t.status AS txn, o.status AS order_status FROM efecty_payments e "
            "JOIN order_transactions t ON t.id = e.transaction_id JOIN orders o ON o.id = e.order_id"
        )
    }
    assert rows[gone["id"]] == ("expired", "expired", "failed")
    assert rows[paid["id"]] == ("pending", "pending", "pending")  # paid at Efecty: the file will confirm it
    assert rows[fresh["id"]] == ("pending", "pending", "pending")


@pytest.mark.scenario("EFECTY-ADMIN-CONFIRMATION")
async def test_admin_confirmation_is_idempotent_and_refuses_expired_or_unknown_codes(
    database: Database, conn: asyncpg.Connection
) -> None:
    async with running_core(make_settings(database.url)) as core:
        order, code = await voucher(core, "buyer-1", "50000.00")
        _, expired_code = await voucher(core, "buyer-2", "50000.00")
        await conn.execute("UPDATE efecty_payments SET status = 'expired' WHERE payment_code = $1", expired_code)
        admin = core.auth("ops-1", "admin")
        first = await core.client.post(f"/admin/efecty/{code}/confirm", headers=admin)
        before = await snapshot(conn)
        second = await core.client.post(f"/admin/efecty/{code}/confirm", headers=admin)
        after = await snapshot(conn)
        expired = await core.client.post(f"/admin/efecty/{expired_code}/confirm", headers=admin)
        unknown = await core.client.post("/admin/efecty/EFE-1-NOPE00/confirm", headers=admin)
    assert first.status_code == 200, first.text
    assert first.json() == {
        "payment_code": code,
        "order_id": order["id"],
        "order_status": "paid",
        "transaction_status": "approved",
        "already_confirmed": False,
    }
    assert second.json()["already_confirmed"] is True and after == before
    assert (expired.status_code, expired.json()["error"]["code"]) == (409, "voucher_expired")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "voucher_not_found")
    evidence = await conn.fetchval("SELECT gateway_response::text FROM order_transactions WHERE reference = $1", code)
    assert '"via": "admin"' in evidence and '"payment_code"' in evidence  # the registration answer is kept


async def test_a_malformed_file_is_refused_and_changes_nothing(database: Database, conn: asyncpg.Connection) -> None:
    today = datetime.now(UTC).astimezone(BOGOTA).date()
    gateways = FakeGateways()
    async with running_core(make_settings(database.url), gateways) as core:
        _, code = await voucher(core, "buyer-1", "50000.00")
        good = asobancaria_file(today, [(code, Decimal("50000.00"))])
        gateways.asobancaria[today] = good.replace("09000000001", "09000000002")  # the control count lies
        before = await snapshot(conn)
        r = await core.client.post(f"/admin/reconcile?date={today}", headers=core.auth("ops-1", "admin"))
        after = await snapshot(conn)
    assert (r.status_code, r.json()["error"]["code"]) == (502, "efecty_file_malformed")
    assert after == before


async def test_a_corrected_file_line_with_another_finding_is_recorded_once_more(
    database: Database, conn: asyncpg.Connection
) -> None:
    # Efecty re-issues a day's file: the same line (day, sequence, code) now carries the right amount, so what
    # is wrong with it changes — an amount mismatch first, a payment after expiry now. Each finding is recorded
    # once per line; a second finding of the line is not hidden behind the first.
    today = datetime.now(UTC).astimezone(BOGOTA).date()
    gateways = FakeGateways()
    async with running_core(make_settings(database.url), gateways) as core:
        admin = core.auth("ops-1", "admin")
        _, code = await voucher(core, "buyer-1", "50000.00")
        await conn.execute("UPDATE efecty_payments SET status = 'expired'")
        gateways.asobancaria[today] = asobancaria_file(today, [(code, Decimal("49000"))])
        first = await core.client.post(f"/admin/reconcile?date={today}", headers=admin)
        gateways.asobancaria[today] = asobancaria_file(today, [(code, Decimal("50000"))])
        corrected = await core.client.post(f"/admin/reconcile?date={today}", headers=admin)
        again = await core.client.post(f"/admin/reconcile?date={today}", headers=admin)
    assert [r.json()["anomalies_recorded"] for r in (first, corrected, again)] == [1, 1, 0]
    rows = await conn.fetch("SELECT kind::text, gateway::text, detail FROM payment_anomalies ORDER BY id")
    assert [(r["kind"], r["gateway"]) for r in rows] == [("amount_mismatch", "efecty"), ("paid_after_expiry", "efecty")]
    assert {json.loads(r["detail"])["source_key"] for r in rows} == {f"{today.isoformat()}:1:{code}"}
