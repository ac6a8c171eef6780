"""Where money state changes: lock the order, apply the state machine to one transaction, keep the order in step.

Every writer of money state goes through here — synchronous gateway answers, Efecty confirmation and
reconciliation through ``apply_status``; webhooks through ``change_for``, whose writes the hot path carries
out on bare asyncpg (core/webhooks/store.py).

Locking rule (no deadlocks, no lost updates): a writer holds the **order** row's lock, taken before the
transaction's, whenever it writes either of them, and decides only on values that cannot have moved under
that lock. Two ways to get there:

- pessimistic (API, reconciliation, in a database transaction the caller opened): ``lock_order`` here
  (``SELECT … FOR UPDATE``), then read the transaction in a new statement — under READ COMMITTED each
  statement sees the latest committed data, so the status read after the lock is current;
- optimistic (webhooks): read both rows unlocked, decide, then one statement that locks the order and then
  the transaction (``FOR UPDATE OF o, t``) *only if* both still hold what was read, and writes. A row
  that changed — before the statement, or while it waited for the lock — fails the check (after a wait
  Postgres re-reads the locked rows and re-checks the condition), nothing is written, and the event is
  decided again on a fresh read; after a few losses the webhook takes the pessimistic way.

Locking the order through a plain join that also reads the transaction would re-check only the locked row
after a wait and could act on a stale status; that is why the optimistic statement locks both.

Isolation: READ COMMITTED plus that explicit lock, not SERIALIZABLE. Every event for an order is
serialised on its row lock, which is exactly the conflict that matters; SERIALIZABLE would add retries on
false conflicts (predicate locks on the unique indexes of webhook_events) for no extra safety here.

Usage::

    async with engine.begin() as conn:
        order = await lock_order(conn, order_id)
        txn = await read_transaction(conn, transaction_id)
        outcome = await apply_status(conn, order=order, transaction=txn, incoming=TransactionStatus.APPROVED)
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.db.models import AnomalyKind, Gateway, Order, OrderStatus, OrderTransaction, PaymentAnomaly, TransactionStatus
from core.payments.statemachine import FAILED, Decision, decide, order_after

orders_t = cast(Table, Order.__table__)
txns_t = cast(Table, OrderTransaction.__table__)
anomalies_t = cast(Table, PaymentAnomaly.__table__)


@dataclass(frozen=True)
class LockedOrder:
    id: int
    status: OrderStatus
    total_amount: Decimal
    approved_amount: Decimal
    currency: str
    flagged_for_refund: bool


@dataclass(frozen=True)
class TransactionRow:
    id: int
    order_id: int
    gateway: Gateway
    status: TransactionStatus
    amount: Decimal
    currency: str
    reference: str
    gateway_transaction_id: str | None


@dataclass(frozen=True)
class Outcome:
    decision: Decision
    order_status: OrderStatus
    transaction_status: TransactionStatus
    flagged_for_refund: bool


_ORDER_COLUMNS = (orders_t.c.id, orders_t.c.status, orders_t.c.total_amount, orders_t.c.approved_amount,
                  orders_t.c.currency, orders_t.c.flagged_for_refund)
_TXN_COLUMNS = (txns_t.c.id, txns_t.c.order_id, txns_t.c.gateway, txns_t.c.status, txns_t.c.amount,
                txns_t.c.currency, txns_t.c.reference, txns_t.c.gateway_transaction_id)


async def lock_order(conn: AsyncConnection, order_id: int) -> LockedOrder | None:
    row = (await conn.execute(select(*_ORDER_COLUMNS).where(orders_t.c.id == order_id).with_for_update())).one_or_none()
    return LockedOrder(*row) if row else None


async def read_transaction(conn: AsyncConnection, transaction_id: int) -> TransactionRow | None:
    row = (await conn.execute(select(*_TXN_COLUMNS).where(txns_t.c.id == transaction_id))).one_or_none()
    return TransactionRow(*row) if row else None



async def record_anomaly(
    conn: AsyncConnection,
    kind: AnomalyKind,
    detail: dict[str, Any],
    *,
    gateway: Gateway | None = None,
    order_id: int | None = None,
    transaction_id: int | None = None,
    webhook_event_id: int | None = None,
) -> None:
    await conn.execute(insert(anomalies_t).values(kind=kind, detail=detail, gateway=gateway, order_id=order_id,
                                                  transaction_id=transaction_id,
                                                  webhook_event_id=webhook_event_id))


@dataclass(frozen=True)
class Change:
    """What applying a status to a locked order's transaction does, before anything is written.

    The writes are data so that two executors can carry them out: ``apply_status`` below (SQLAlchemy, the
    API and reconciliation) and the webhook hot path (core/webhooks/store.py, bare asyncpg, one statement).
    """

    outcome: Outcome
    transaction_status: TransactionStatus | None  # the transaction's new status; None: leave it
    order_status: OrderStatus | None  # the order's new status and approved amount; None: leave the order
    approved_amount: Decimal
    flag_reason: str | None  # set: flag the order for a refund, with this reason
    anomaly: tuple[AnomalyKind, dict[str, Any]] | None


def untouched(gateway: Gateway, amount: Decimal, currency: str, gateway_transaction_id: str | None = None,
              ) -> tuple[LockedOrder, TransactionRow]:
    """A pending attempt of ``amount`` that nothing has happened to yet, and its pending order with nothing
    approved and no flag: the state a gateway's first word about an attempt finds. The webhook path decides
    on it before reading (``change_for`` as for any state) and writes only if the rows turn out to hold it
    (core/webhooks/store.py ``write_if_fresh``); the ids are unknown until then (0). The order's total is
    taken as ``amount``: ``change_for`` reads it only for a double payment, which needs money approved."""
    order = LockedOrder(0, OrderStatus.PENDING, amount, Decimal(0), currency, False)
    txn = TransactionRow(0, 0, gateway, TransactionStatus.PENDING, amount, currency, "", gateway_transaction_id)
    return order, txn


def change_for(order: LockedOrder, transaction: TransactionRow, incoming: TransactionStatus) -> Change:
    """The state machine applied to one transaction of a locked order (pure: nothing is written)."""
    decision = decide(transaction.status, incoming)
    unchanged = Outcome(decision, order.status, transaction.status, order.flagged_for_refund)
    if decision in (Decision.SAME, Decision.LATE):
        return Change(unchanged, None, None, order.approved_amount, None, None)
    if decision == Decision.CONFLICT:
        refused = (AnomalyKind.STATE_REGRESSION_REFUSED, {"current": transaction.status.value,
                                                          "incoming": incoming.value})
        if incoming == TransactionStatus.APPROVED and transaction.status in FAILED:
            # The gateway took money for an attempt the core had closed as failed (its buyer was told "not
            # charged" and may have paid again). The status stays refused — a final state never regresses —
            # but the money is real and counted nowhere: flag the order so a human refunds it. Its status and
            # approved amount are written back unchanged; only the flag moves.
            flagged = Outcome(decision, order.status, transaction.status, True)
            return Change(flagged, None, order.status, order.approved_amount,
                          f"approved by the gateway after the core closed the attempt as {transaction.status.value}",
                          refused)
        return Change(unchanged, None, None, order.approved_amount, None, refused)

    approved = order.approved_amount
    if transaction.status == TransactionStatus.APPROVED:  # leaving APPROVED (a void)
        approved -= transaction.amount
    other_approved = approved > 0
    if incoming == TransactionStatus.APPROVED:
        approved += transaction.amount
    status = order_after(order.status, incoming, other_approved=other_approved)
    if incoming == TransactionStatus.APPROVED and other_approved:
        # Two different approved payments for one order: both stay recorded; a human refunds one.
        double = (AnomalyKind.DOUBLE_PAYMENT, {"approved_amount": str(approved),
                                               "total_amount": str(order.total_amount)})
        return Change(Outcome(decision, status, incoming, True), incoming, status, approved,
                      "double payment: more than one approved transaction", double)
    return Change(Outcome(decision, status, incoming, order.flagged_for_refund), incoming, status, approved,
                  None, None)


def foreign_approval(order: LockedOrder, transaction: TransactionRow) -> Change:
    """Another gateway transaction than the attempt's own charge took money under the attempt's reference.

    PayU sends one confirmation per attempt of a sale (gateways.md §4), so a second approved charge under our
    reference is money the order already counts once, or may count when our own charge settles: the attempt is
    left to its own charge's word, and the order is flagged so that a human refunds one charge (pure)."""
    reason = "double payment: another gateway transaction under the attempt's reference was approved"
    anomaly = (AnomalyKind.DOUBLE_PAYMENT, {"approved_amount": str(order.approved_amount),
                                            "total_amount": str(order.total_amount), "foreign_transaction": True})
    return Change(Outcome(Decision.CONFLICT, order.status, transaction.status, True), None, order.status,
                  order.approved_amount, reason, anomaly)


async def apply_status(
    conn: AsyncConnection,
    *,
    order: LockedOrder,
    transaction: TransactionRow,
    incoming: TransactionStatus,
    gateway_response: dict[str, Any] | None = None,
    webhook_event_id: int | None = None,
    foreign: bool = False,
) -> Outcome:
    """Apply ``incoming`` to a transaction of a locked order; returns what happened. Caller commits.

    ``foreign``: ``incoming`` is about another gateway transaction than the attempt's own charge; only an approval
    does anything (``foreign_approval``: the order is flagged), the attempt is left to its own charge's word."""
    if foreign and incoming is not TransactionStatus.APPROVED:
        return Outcome(Decision.SAME, order.status, transaction.status, order.flagged_for_refund)
    change = foreign_approval(order, transaction) if foreign else change_for(order, transaction, incoming)
    if change.transaction_status is not None:
        values: dict[str, Any] = {"status": change.transaction_status}
        if gateway_response is not None:
            values["gateway_response"] = gateway_response
        await conn.execute(update(txns_t).where(txns_t.c.id == transaction.id).values(**values))
    if change.order_status is not None:
        order_values: dict[str, Any] = {"status": change.order_status, "approved_amount": change.approved_amount}
        if change.flag_reason is not None:
            order_values.update(flagged_for_refund=True, flag_reason=change.flag_reason)
        await conn.execute(update(orders_t).where(orders_t.c.id == order.id).values(**order_values))
    if change.anomaly is not None:
        kind, detail = change.anomaly
        await record_anomaly(conn, kind, detail, gateway=transaction.gateway, order_id=order.id,
                             transaction_id=transaction.id, webhook_event_id=webhook_event_id)
    return change.outcome
