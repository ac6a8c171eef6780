"""Efecty reconciliation: the day's Asobancaria 2001 file against the codes the core issued.

For each detail line (user reference = payment code):

| what the core finds | what it does | summary field |
|---|---|---|
| no such code | anomaly ``unknown_reference`` | ``unknown`` |
| amount differs from the voucher | ``amount_mismatch``, nothing confirmed, order flagged | ``mismatched`` |
| code expired, or collected after the expiry day (Bogota) | ``paid_after_expiry``, order flagged | ``expired`` |
| code paid by this same line, or by an admin (the line becomes its evidence) | nothing | ``already_confirmed`` |
| code already paid by another line | anomaly ``double_payment``, order flagged | ``duplicates`` |
| pending code, amount equal, in time | confirm through the ledger (transaction approved, voucher paid) | ``matched`` |

Then unpaid vouchers past their expiry are asked about at Efecty; those Efecty reports expired (or never
registered) are closed as expired. A voucher Efecty reports paid is left for the file — only the file is
evidence of the money.

Running twice changes nothing the second time: a line's identity (day, sequence, code) is stored with the
confirmation and with each anomaly, an anomaly is recorded only if none with that identity exists, and
each line is processed under a transaction-level advisory lock on its identity, so two concurrent runs
cannot both record it. A line is the one that confirmed its code only if its operation id and authorization
code match that confirmation's as well: a file may repeat a sequence number, and a second payment must not pass
for the first. Amounts and codes are compared exactly; the file carries no time of day, so a
payment on the expiry day counts as in time and ``paid_at`` is the start of the collection day in Bogota.

Usage::

    summary = await reconcile_day(services, date(2025, 1, 31))
"""

from __future__ import annotations

import dataclasses
import enum
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.db.models import (
    AnomalyKind,
    EfectyPayment,
    EfectyStatus,
    Gateway,
    Order,
    OrderTransaction,
    PaymentAnomaly,
    TransactionStatus,
)
from core.efecty_codes import BOGOTA
from core.gateways.asobancaria import AsobancariaFile, Detail, parse_asobancaria
from core.gateways.errors import AsobancariaFormatError, EfectyNotFoundError, GatewayError
from core.money import format_amount
from core.payments.ledger import LockedOrder, apply_status, lock_order, read_transaction, record_anomaly
from core.services import Services

log = logging.getLogger("payharness.core.reconcile")
efecty_t = cast(Table, EfectyPayment.__table__)
anomalies_t = cast(Table, PaymentAnomaly.__table__)
txns_t = cast(Table, OrderTransaction.__table__)
orders_t = cast(Table, Order.__table__)
SWEEP_LIMIT = 500


class LineResult(enum.StrEnum):
    MATCHED = "matched"
    ALREADY_CONFIRMED = "already_confirmed"
    UNKNOWN = "unknown"
    MISMATCHED = "mismatched"
    EXPIRED = "expired"
    DUPLICATE = "duplicates"


@dataclass(frozen=True, slots=True)
class ReconcileSummary:
    day: date
    lines: int = 0
    matched: int = 0
    already_confirmed: int = 0
    unknown: int = 0
    mismatched: int = 0
    expired: int = 0
    duplicates: int = 0
    anomalies_recorded: int = 0
    vouchers_expired: int = 0

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["day"] = self.day.isoformat()
        return out


def line_key(day: date, detail: Detail) -> str:
    return f"{day.isoformat()}:{detail.sequence}:{detail.user_reference}"


async def _anomaly_once(
    conn: AsyncConnection,
    kind: AnomalyKind,
    key: str,
    detail: dict[str, Any],
    *,
    order_id: int | None = None,
    transaction_id: int | None = None,
) -> bool:
    exists = (
        await conn.execute(
            select(anomalies_t.c.id)
            .where(
                anomalies_t.c.kind == kind,
                anomalies_t.c.gateway == Gateway.EFECTY,
                anomalies_t.c.detail["source_key"].astext == key,
            )
            .limit(1)
        )
    ).first()
    if exists:
        return False
    await record_anomaly(
        conn,
        kind,
        {"source_key": key, **detail},
        gateway=Gateway.EFECTY,
        order_id=order_id,
        transaction_id=transaction_id,
    )
    return True


async def _uncounted_cash(conn: AsyncConnection, kind: AnomalyKind, key: str, facts: dict[str, Any],
                         order: LockedOrder, payment: Any, reason: str) -> bool:
    """Cash the file shows and the core counts nowhere is owed back: the anomaly (once per line) and, the first
    time, the order flagged, as the webhook path flags an approval it cannot count (ledger.change_for). The
    caller holds the order's lock. Whether the anomaly is new."""
    new = await _anomaly_once(conn, kind, key, facts, order_id=payment.order_id, transaction_id=payment.transaction_id)
    if new:
        await conn.execute(update(orders_t).where(orders_t.c.id == order.id)
                           .values(flagged_for_refund=True, flag_reason=reason))
    return new


async def _evidence(conn: AsyncConnection, transaction_id: int | None) -> dict[str, Any]:
    """How the voucher's payment was confirmed (``confirm_voucher``'s evidence); empty when it never was."""
    if transaction_id is None:
        return {}
    response = (
        await conn.execute(select(txns_t.c.gateway_response).where(txns_t.c.id == transaction_id))
    ).scalar_one_or_none()
    return dict((response or {}).get("confirmation") or {})


# What tells two payments of one code apart within a day besides the sequence number: a file may repeat a
# sequence (numbered per batch, or simply wrong), and a line's key (day, sequence, code) would then take a
# second payment for the first. Evidence written before these were kept lacks them and counts as the same line.
_PAYMENT_FIELDS = ("operation_id", "authorization_code")


def _same_line(evidence: dict[str, Any], key: str, facts: dict[str, Any]) -> bool:
    return evidence.get("source_key") == key and all(
        evidence.get(name) is None or evidence[name] == facts[name] for name in _PAYMENT_FIELDS)


async def _claim_admin_confirmation(conn: AsyncConnection, transaction_id: int, key: str,
                                    facts: dict[str, Any]) -> None:
    """Record file line ``key`` as the evidence of an admin-confirmed voucher (the caller holds the order lock)."""
    response = (await conn.execute(select(txns_t.c.gateway_response).where(txns_t.c.id == transaction_id))).scalar()
    response = response or {}
    confirmation = {**(response.get("confirmation") or {}), "source_key": key,
                    **{name: facts[name] for name in _PAYMENT_FIELDS}}
    await conn.execute(
        update(txns_t)
        .where(txns_t.c.id == transaction_id)
        .values(gateway_response={**response, "confirmation": confirmation})
    )


async def locked_voucher(conn: AsyncConnection, code: str) -> tuple[LockedOrder, Any] | None:
    """Lock the voucher's order, then read the voucher row, so its status is current (ledger locking rule)."""
    order_id = (await conn.execute(select(efecty_t.c.order_id).where(efecty_t.c.payment_code == code))).scalar()
    if order_id is None:
        return None
    order = await lock_order(conn, order_id)
    payment = (await conn.execute(select(efecty_t).where(efecty_t.c.payment_code == code))).one()
    assert order is not None  # orders are never deleted (foreign keys are RESTRICT)
    return order, payment


async def confirm_voucher(
    conn: AsyncConnection, order: LockedOrder, payment: Any, *, paid_at: datetime, evidence: dict[str, Any]
) -> TransactionStatus:
    """Mark a pending voucher paid and approve its transaction through the ledger; returns the transaction status.

    Call with what ``locked_voucher`` returned, in the same database transaction.
    """
    txn = await read_transaction(conn, payment.transaction_id) if payment.transaction_id else None
    if txn is None:
        raise LookupError(f"voucher {payment.payment_code} has no order transaction")
    outcome = await apply_status(conn, order=order, transaction=txn, incoming=TransactionStatus.APPROVED)
    # Keep the gateway's registration answer and add how the payment was confirmed next to it.
    response = (await conn.execute(select(txns_t.c.gateway_response).where(txns_t.c.id == txn.id))).scalar()
    await conn.execute(
        update(txns_t)
        .where(txns_t.c.id == txn.id)
        .values(gateway_response={**(response or {}), "confirmation": evidence})
    )
    await conn.execute(
        update(efecty_t).where(efecty_t.c.id == payment.id).values(status=EfectyStatus.PAID, paid_at=paid_at)
    )
    return outcome.transaction_status


async def _reconcile_line(conn: AsyncConnection, day: date, detail: Detail) -> tuple[LineResult, bool]:
    key = line_key(day, detail)
    await conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(key))))
    facts = {
        "payment_code": detail.user_reference,
        "amount": format_amount(detail.amount),
        "date": day.isoformat(),
        "line": detail.line,
        "operation_id": detail.operation_id,
        "authorization_code": detail.authorization_code,
    }
    found = await locked_voucher(conn, detail.user_reference)
    if found is None:
        return LineResult.UNKNOWN, await _anomaly_once(conn, AnomalyKind.UNKNOWN_REFERENCE, key, facts)
    order, payment = found
    if payment.amount != detail.amount:
        facts["expected_amount"] = format_amount(payment.amount)
        # The cash is received all the same, and confirms nothing.
        return LineResult.MISMATCHED, await _uncounted_cash(
            conn, AnomalyKind.AMOUNT_MISMATCH, key, facts, order, payment,
            f"Efecty code {detail.user_reference} paid with another amount")
    if payment.status is EfectyStatus.PAID:
        evidence = await _evidence(conn, payment.transaction_id)
        confirmed_by = evidence.get("source_key")
        if confirmed_by is None and payment.transaction_id is not None:
            # Confirmed by an admin, who saw one cash payment but no file line. The first line for the code
            # is that same payment: it takes the confirmation's place as its evidence, so any other line (a
            # second payment) is a double payment, as it is for a code the file itself confirmed.
            # Without this every later line would be "already confirmed" and a second payment would vanish.
            await _claim_admin_confirmation(conn, payment.transaction_id, key, facts)
            return LineResult.ALREADY_CONFIRMED, False
        if confirmed_by is None or _same_line(evidence, key, facts):
            return LineResult.ALREADY_CONFIRMED, False
        facts["confirmed_by"] = confirmed_by
        return LineResult.DUPLICATE, await _uncounted_cash(
            conn, AnomalyKind.DOUBLE_PAYMENT, key, facts, order, payment,
            f"double payment: Efecty code {detail.user_reference} paid again")
    if payment.status is EfectyStatus.EXPIRED or day > payment.expires_at.astimezone(BOGOTA).date():
        facts["expires_at"] = payment.expires_at.isoformat()
        return LineResult.EXPIRED, await _uncounted_cash(
            conn, AnomalyKind.PAID_AFTER_EXPIRY, key, facts, order, payment,
            f"Efecty code {detail.user_reference} paid after its expiry")
    paid_at = datetime.combine(day, time(0, 0), BOGOTA)
    evidence = {"source_key": key, "via": "asobancaria", **facts}
    await confirm_voucher(conn, order, payment, paid_at=paid_at, evidence=evidence)
    return LineResult.MATCHED, False


async def reconcile_file(engine: AsyncEngine, parsed: AsobancariaFile, day: date) -> ReconcileSummary:
    """Apply one parsed file; each line in its own transaction (one bad line does not undo the others)."""
    counts: dict[str, int] = {r.value: 0 for r in LineResult}
    recorded = 0
    for detail in parsed.details:
        async with engine.begin() as conn:
            result, new_anomaly = await _reconcile_line(conn, day, detail)
        counts[result.value] += 1
        recorded += int(new_anomaly)
    return ReconcileSummary(day=day, lines=len(parsed.details), anomalies_recorded=recorded, **counts)


async def _expire_one(engine: AsyncEngine, code: str) -> bool:
    async with engine.begin() as conn:
        found = await locked_voucher(conn, code)
        if found is None or found[1].status is not EfectyStatus.PENDING:
            return False
        order, payment = found
        txn = await read_transaction(conn, payment.transaction_id) if payment.transaction_id else None
        if txn is not None:
            await apply_status(conn, order=order, transaction=txn, incoming=TransactionStatus.EXPIRED)
        await conn.execute(update(efecty_t).where(efecty_t.c.id == payment.id).values(status=EfectyStatus.EXPIRED))
    return True


async def expire_overdue(services: Services, *, now: datetime | None = None, limit: int = SWEEP_LIMIT) -> int:
    """Close unpaid vouchers past their expiry that Efecty reports expired or does not know; returns how many."""
    now = now or datetime.now(UTC)
    async with services.engine.connect() as conn:
        codes = (
            (
                await conn.execute(
                    select(efecty_t.c.payment_code)
                    .where(efecty_t.c.status == EfectyStatus.PENDING, efecty_t.c.expires_at < now)
                    .order_by(efecty_t.c.expires_at)
                    .limit(limit)
                )
            )
            .scalars()
            .all()
        )
    expired = 0
    for code in codes:
        try:
            voucher = await services.efecty.get_voucher(code)
        except EfectyNotFoundError:
            voucher = None  # never registered (its registration failed): it can never be paid
        except GatewayError as exc:
            log.warning("expiry check for %s skipped: %s", code, exc)
            continue
        if voucher is None or voucher.status == "EXPIRED":
            expired += int(await _expire_one(services.engine, code))
    return expired


async def reconcile_day(services: Services, day: date, *, now: datetime | None = None) -> ReconcileSummary:
    """Fetch the day's file from Efecty, apply it, then close overdue vouchers. Raises GatewayError."""
    parsed = parse_asobancaria(await services.efecty.reconciliation_file(day))
    if parsed.header.collection_date != day:
        raise AsobancariaFormatError(f"asked for {day}, the file is for {parsed.header.collection_date}", line=1)
    summary = await reconcile_file(services.engine, parsed, day)
    swept = await expire_overdue(services, now=now)
    return dataclasses.replace(summary, vouchers_expired=swept)
