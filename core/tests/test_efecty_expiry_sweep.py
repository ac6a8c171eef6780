"""The sweep that closes overdue Efecty vouchers: which vouchers it asks about, in what order and how many,
what it does when Efecty fails or a voucher is paid meanwhile, and how reconcile_day reports it."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import asyncpg
import pytest

from core.efecty_codes import BOGOTA
from core.gateways.errors import AsobancariaFormatError
from core.reconcile import expire_overdue, reconcile_day
from core.tests.apikit import Core, FakeGateways, asobancaria_file, make_settings, running_core
from core.tests.test_reconcile import voucher

if TYPE_CHECKING:
    from conftest import Database

pytestmark = pytest.mark.scenario("EFECTY-RECONCILIATION")


async def _overdue(core: Core, conn: asyncpg.Connection, buyer: str, hours_ago: float) -> str:
    _, code = await voucher(core, buyer, "10000.00")
    await conn.execute("UPDATE efecty_payments SET expires_at = now() - make_interval(secs => $1) "
                       "WHERE payment_code = $2", hours_ago * 3600, code)
    return code


def _asked(gateways: FakeGateways) -> list[str]:
    return [r.url.path.rsplit("/", 1)[1] for r in gateways.requests
            if r.method == "GET" and "/api/v1/vouchers/" in r.url.path]


async def _statuses(conn: asyncpg.Connection) -> dict[str, str]:
    rows = await conn.fetch("SELECT payment_code, status FROM efecty_payments")
    return {r["payment_code"]: r["status"] for r in rows}


async def test_the_sweep_takes_the_oldest_overdue_vouchers_first_up_to_its_limit(
    database: Database, conn: asyncpg.Connection
) -> None:
    gateways = FakeGateways()
    async with running_core(make_settings(database.url), gateways) as core:
        newest = await _overdue(core, conn, "buyer-1", 1)
        oldest = await _overdue(core, conn, "buyer-2", 30)
        middle = await _overdue(core, conn, "buyer-3", 10)
        for code in (newest, oldest, middle):
            gateways.voucher_status[code] = "EXPIRED"
        expired = await expire_overdue(core.app.state.services, limit=2)
    assert expired == 2
    assert _asked(gateways) == [oldest, middle]
    assert await _statuses(conn) == {oldest: "expired", middle: "expired", newest: "pending"}


async def test_only_pending_vouchers_past_their_expiry_are_asked_about(
    database: Database, conn: asyncpg.Connection
) -> None:
    gateways = FakeGateways()
    async with running_core(make_settings(database.url), gateways) as core:
        now = datetime.now(UTC).replace(microsecond=0)
        due = await _overdue(core, conn, "buyer-1", 2)
        _, exactly_now = await voucher(core, "buyer-2", "10000.00")
        _, fresh = await voucher(core, "buyer-3", "10000.00")
        paid = await _overdue(core, conn, "buyer-4", 3)
        await conn.execute("UPDATE efecty_payments SET expires_at = $1 WHERE payment_code = $2", now, exactly_now)
        await conn.execute("UPDATE efecty_payments SET status = 'paid', paid_at = now() WHERE payment_code = $1", paid)
        for code in (due, exactly_now, fresh, paid):
            gateways.voucher_status[code] = "EXPIRED"
        gateways.requests.clear()
        expired = await expire_overdue(core.app.state.services, now=now)
    # Expiring at this very instant is not yet past expiry.
    assert (expired, _asked(gateways)) == (1, [due])


async def test_without_a_time_given_the_sweep_uses_the_current_time(
    database: Database, conn: asyncpg.Connection
) -> None:
    gateways = FakeGateways()
    async with running_core(make_settings(database.url), gateways) as core:
        due = await _overdue(core, conn, "buyer-1", 1)
        _, fresh = await voucher(core, "buyer-2", "10000.00")
        gateways.voucher_status[due] = gateways.voucher_status[fresh] = "EXPIRED"
        expired = await expire_overdue(core.app.state.services)
    assert expired == 1 and (await _statuses(conn))[due] == "expired"


async def test_the_default_time_is_utc_aware_whatever_the_machines_timezone(
    database: Database, conn: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateways = FakeGateways()
    async with running_core(make_settings(database.url), gateways) as core:
        due = await _overdue(core, conn, "buyer-1", 1)
        gateways.voucher_status[due] = "EXPIRED"
        # A server set to Bogota time (POSIX spelling, so no tz database is needed): local clocks run 5 h behind.
        monkeypatch.setenv("TZ", "COT+5")
        time.tzset()
        try:
            expired = await expire_overdue(core.app.state.services)
        finally:
            monkeypatch.undo()
            time.tzset()
    assert expired == 1


async def test_a_voucher_efecty_never_registered_is_closed(database: Database, conn: asyncpg.Connection) -> None:
    gateways = FakeGateways()
    async with running_core(make_settings(database.url), gateways) as core:
        lost = await _overdue(core, conn, "buyer-1", 2)
        del gateways.voucher_status[lost]  # Efecty answers 404 for it
        expired = await expire_overdue(core.app.state.services)
    assert expired == 1 and (await _statuses(conn))[lost] == "expired"


async def test_when_efecty_fails_each_voucher_is_skipped_with_a_warning_and_the_sweep_goes_on(
    database: Database, conn: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="payharness.core.reconcile")
    gateways = FakeGateways()
    async with running_core(make_settings(database.url), gateways) as core:
        first = await _overdue(core, conn, "buyer-1", 5)
        second = await _overdue(core, conn, "buyer-2", 4)
        gateways.fail.add("get_voucher")
        expired = await expire_overdue(core.app.state.services)
    assert expired == 0 and set(_asked(gateways)) == {first, second}
    skipped = [r.getMessage() for r in caplog.records if r.name == "payharness.core.reconcile"]
    assert [m.split(":")[0] for m in skipped] == [f"expiry check for {c} skipped" for c in (first, second)]
    assert all("efecty" in m for m in skipped)


async def test_a_voucher_paid_while_the_sweep_asks_efecty_is_not_expired(
    database: Database, conn: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateways = FakeGateways()
    async with running_core(make_settings(database.url), gateways) as core:
        code = await _overdue(core, conn, "buyer-1", 2)
        gateways.voucher_status[code] = "EXPIRED"
        efecty = core.app.state.services.efecty
        ask = efecty.get_voucher

        async def paid_meanwhile(c: str) -> Any:
            # The day's file confirms the payment between the sweep's list and its update.
            await conn.execute("UPDATE efecty_payments SET status = 'paid', paid_at = now() WHERE payment_code = $1", c)
            return await ask(c)

        monkeypatch.setattr(efecty, "get_voucher", paid_meanwhile)
        expired = await expire_overdue(core.app.state.services)
    assert expired == 0 and (await _statuses(conn))[code] == "paid"


async def test_reconcile_day_reports_the_vouchers_its_sweep_expired(
    database: Database, conn: asyncpg.Connection
) -> None:
    today = datetime.now(UTC).astimezone(BOGOTA).date()
    gateways = FakeGateways()
    async with running_core(make_settings(database.url), gateways) as core:
        _, code = await voucher(core, "buyer-1", "10000.00")
        gateways.voucher_status[code] = "EXPIRED"
        gateways.asobancaria[today] = asobancaria_file(today, [("EFE-1-NOTOUR", Decimal("1.00"))])
        # A sweep run 80 hours from now, past the 72-hour voucher lifetime.
        summary = await reconcile_day(core.app.state.services, today, now=datetime.now(UTC) + timedelta(hours=80))
    assert (summary.unknown, summary.vouchers_expired) == (1, 1)


async def test_a_file_for_another_day_is_refused_at_its_header(database: Database, conn: asyncpg.Connection) -> None:
    today = datetime.now(UTC).astimezone(BOGOTA).date()
    yesterday = today - timedelta(days=1)
    gateways = FakeGateways()
    async with running_core(make_settings(database.url), gateways) as core:
        gateways.asobancaria[today] = asobancaria_file(yesterday, [("EFE-1-NOTOUR", Decimal("1.00"))])
        with pytest.raises(AsobancariaFormatError) as refused:
            await reconcile_day(core.app.state.services, today)
    assert refused.value.line == 1
    assert f"asked for {today}, the file is for {yesterday}" in str(refused.value)
    assert await conn.fetchval("SELECT count(*) FROM payment_anomalies") == 0
