"""What reconciliation leaves for an auditor: each anomaly's facts, the confirmation beside the registration,
the collection day's start as paid_at, the expiry day in Bogota, and the per-line advisory lock."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from core.efecty_codes import BOGOTA
from core.gateways.asobancaria import parse_asobancaria
from core.reconcile import ReconcileSummary, line_key, reconcile_file
from core.tests.apikit import FakeGateways, asobancaria_file, make_settings, running_core
from core.tests.test_reconcile import voucher

if TYPE_CHECKING:
    from conftest import Database

pytestmark = pytest.mark.scenario("EFECTY-RECONCILIATION")


def _today() -> date:
    return datetime.now(UTC).astimezone(BOGOTA).date()


async def _anomalies(conn: asyncpg.Connection) -> dict[str, list[asyncpg.Record]]:
    found: dict[str, list[asyncpg.Record]] = {}
    query = "SELECT kind, gateway, order_id, transaction_id, detail FROM payment_anomalies ORDER BY id"
    for r in await conn.fetch(query):
        found.setdefault(r["kind"], []).append(r)
    return found


async def test_each_anomaly_records_the_line_it_came_from_and_what_it_disagrees_with(
    database: Database, conn: asyncpg.Connection
) -> None:
    today = _today()
    gateways = FakeGateways()
    async with running_core(make_settings(database.url), gateways) as core:
        short, short_code = await voucher(core, "buyer-1", "30000.00")
        late, late_code = await voucher(core, "buyer-2", "20000.00")
        paid, paid_code = await voucher(core, "buyer-3", "50000.00")
        await conn.execute(
            "UPDATE efecty_payments SET expires_at = now() - interval '3 days' WHERE payment_code = $1", late_code)
        gateways.voucher_status[late_code] = "PAID"
        lines = [(short_code, Decimal("29000.00")), ("EFE-999999-NOTOUR", Decimal("10000.00")),
                 ("EFE-888888-NOTOUR", Decimal("12000.00")), (late_code, Decimal("20000.00")),
                 (paid_code, Decimal("50000.00")), (paid_code, Decimal("50000.00"))]
        gateways.asobancaria[today] = asobancaria_file(today, lines)
        r = await core.client.post(f"/admin/reconcile?date={today}", headers=core.auth("ops-1", "admin"))
    assert r.status_code == 200, r.text
    assert {k: r.json()[k] for k in ("lines", "unknown", "mismatched", "expired", "matched", "duplicates")} == {
        "lines": 6, "unknown": 2, "mismatched": 1, "expired": 1, "matched": 1, "duplicates": 1}
    details = parse_asobancaria(gateways.asobancaria[today]).details
    keys = [line_key(today, d) for d in details]
    found = await _anomalies(conn)
    assert {k: len(v) for k, v in found.items()} == {
        "amount_mismatch": 1, "unknown_reference": 2, "paid_after_expiry": 1, "double_payment": 1}
    assert all(a["gateway"] == "efecty" for rows in found.values() for a in rows)

    mismatch = found["amount_mismatch"][0]
    txn_short = await conn.fetchval("SELECT transaction_id FROM efecty_payments WHERE payment_code = $1", short_code)
    assert (mismatch["order_id"], mismatch["transaction_id"]) == (short["id"], txn_short)
    assert json.loads(mismatch["detail"]) == {
        "source_key": keys[0], "payment_code": short_code, "amount": "29000.00", "expected_amount": "30000.00",
        "date": today.isoformat(), "line": details[0].line, "operation_id": details[0].operation_id,
        "authorization_code": details[0].authorization_code,
    }
    # Two unknown codes on two lines: two anomalies, each with its own line's identity.
    assert [json.loads(a["detail"])["source_key"] for a in found["unknown_reference"]] == keys[1:3]
    assert [json.loads(a["detail"])["payment_code"] for a in found["unknown_reference"]] == [
        "EFE-999999-NOTOUR", "EFE-888888-NOTOUR"]

    expiry = found["paid_after_expiry"][0]
    expires_at = await conn.fetchval("SELECT expires_at FROM efecty_payments WHERE payment_code = $1", late_code)
    assert expiry["order_id"] == late["id"] and expiry["transaction_id"] is not None
    assert datetime.fromisoformat(json.loads(expiry["detail"])["expires_at"]) == expires_at
    assert json.loads(expiry["detail"])["source_key"] == keys[3]

    double = found["double_payment"][0]
    assert double["order_id"] == paid["id"] and double["transaction_id"] is not None
    assert json.loads(double["detail"])["source_key"] == keys[5]
    # The second line names the line that was already confirmed.
    assert json.loads(double["detail"])["confirmed_by"] == keys[4]


async def test_a_match_keeps_the_registration_answer_adds_the_confirmation_and_dates_it_to_the_day(
    database: Database, conn: asyncpg.Connection
) -> None:
    today = _today()
    gateways = FakeGateways()
    async with running_core(make_settings(database.url), gateways) as core:
        await voucher(core, "buyer-1", "15000.00")  # another transaction, whose answer must not be taken
        _, code = await voucher(core, "buyer-2", "50000.00")
        before = await conn.fetchval(
            "SELECT t.gateway_response FROM order_transactions t JOIN efecty_payments e ON e.transaction_id = t.id"
            " WHERE e.payment_code = $1", code)
        gateways.asobancaria[today] = asobancaria_file(today, [(code, Decimal("50000.00"))])
        r = await core.client.post(f"/admin/reconcile?date={today}", headers=core.auth("ops-1", "admin"))
    assert r.json()["matched"] == 1
    row = await conn.fetchrow(
        "SELECT t.gateway_response, e.paid_at FROM order_transactions t JOIN efecty_payments e"
        " ON e.transaction_id = t.id WHERE e.payment_code = $1", code)
    registration = json.loads(before)
    response = json.loads(row["gateway_response"])
    assert registration and {k: response[k] for k in registration} == registration
    detail = parse_asobancaria(gateways.asobancaria[today]).details[0]
    assert response["confirmation"] == {
        "source_key": line_key(today, detail), "via": "asobancaria", "payment_code": code, "amount": "50000.00",
        "date": today.isoformat(), "line": detail.line, "operation_id": detail.operation_id,
        "authorization_code": detail.authorization_code,
    }
    # The file has no time of day: the payment is dated to the start of the collection day in Bogota.
    assert row["paid_at"] == datetime.combine(today, time(0, 0), BOGOTA)


async def test_a_payment_on_the_expiry_day_in_bogota_is_in_time_and_the_next_day_is_not(
    database: Database, conn: asyncpg.Connection
) -> None:
    today = _today()
    gateways = FakeGateways()
    async with running_core(make_settings(database.url), gateways) as core:
        _, on_time = await voucher(core, "buyer-1", "10000.00")
        _, too_late = await voucher(core, "buyer-2", "10000.00")
        # Expires today at 23:59 Bogota; and yesterday at 22:00 Bogota, which is already today in UTC.
        await conn.execute("UPDATE efecty_payments SET expires_at = $1 WHERE payment_code = $2",
                           datetime.combine(today, time(23, 59), BOGOTA), on_time)
        await conn.execute("UPDATE efecty_payments SET expires_at = $1 WHERE payment_code = $2",
                           datetime.combine(today - timedelta(days=1), time(22, 0), BOGOTA), too_late)
        gateways.asobancaria[today] = asobancaria_file(today, [(on_time, Decimal("10000.00")),
                                                               (too_late, Decimal("10000.00"))])
        r = await core.client.post(f"/admin/reconcile?date={today}", headers=core.auth("ops-1", "admin"))
    assert (r.json()["matched"], r.json()["expired"]) == (1, 1)
    assert await conn.fetchval("SELECT status FROM efecty_payments WHERE payment_code = $1", on_time) == "paid"
    assert await conn.fetchval("SELECT kind FROM payment_anomalies") == "paid_after_expiry"


async def test_a_line_waits_for_the_advisory_lock_on_its_identity(database: Database) -> None:
    """The guard that keeps two concurrent runs from both recording a line: held elsewhere, the line waits."""
    today = _today()
    parsed = parse_asobancaria(asobancaria_file(today, [("EFE-777777-NOTOUR", Decimal("1000.00"))]))
    holder = await asyncpg.connect(database.dsn)
    engine = create_async_engine(database.url)
    try:
        async with holder.transaction():
            await holder.execute("SELECT pg_advisory_xact_lock(hashtext($1))", line_key(today, parsed.details[0]))
            run = asyncio.create_task(reconcile_file(engine, parsed, today))
            await asyncio.sleep(0.5)
            assert not run.done(), "the line was processed while another run held its lock"
            assert await holder.fetchval("SELECT count(*) FROM payment_anomalies") == 0
        summary = await asyncio.wait_for(run, timeout=10)
    finally:
        await holder.close()
        await engine.dispose()
    assert (summary.unknown, summary.anomalies_recorded) == (1, 1)


def test_the_summary_is_plain_json_with_an_iso_day_for_the_cli() -> None:
    summary = ReconcileSummary(day=date(2025, 1, 31), lines=3, matched=2, unknown=1, anomalies_recorded=1)
    assert json.loads(json.dumps(summary.as_dict())) == {
        "day": "2025-01-31", "lines": 3, "matched": 2, "already_confirmed": 0, "unknown": 1, "mismatched": 0,
        "expired": 0, "duplicates": 0, "anomalies_recorded": 1, "vouchers_expired": 0,
    }
