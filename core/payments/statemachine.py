"""The monotonic payment state machine, as pure functions: what an incoming status does to a transaction.

A final state never regresses. Gateways deliver at least once and in any order, so a late PENDING after
APPROVED, or a second, different final state for the same transaction, is recorded and not applied.

| current \\ incoming | pending | approved | declined / error / expired | voided |
|---|---|---|---|---|
| pending   | same (record)  | **apply** | **apply** | **apply** |
| approved  | record (late)  | same      | refuse (conflict) | **apply** (a void of an approved card) |
| declined / error / expired | record (late) | refuse (conflict; the ledger flags the order) | same or refuse | refuse |
| voided    | record (late)  | refuse    | refuse    | same |

Usage::

    decision = decide(TransactionStatus.PENDING, TransactionStatus.APPROVED)   # Decision.APPLY
"""

from __future__ import annotations

import enum

from core.db.models import OrderStatus, TransactionStatus

FINAL = frozenset(
    {TransactionStatus.APPROVED, TransactionStatus.DECLINED, TransactionStatus.ERROR, TransactionStatus.EXPIRED,
     TransactionStatus.VOIDED}
)
FAILED = frozenset({TransactionStatus.DECLINED, TransactionStatus.ERROR, TransactionStatus.EXPIRED})


class Decision(enum.StrEnum):
    APPLY = "apply"  # move the transaction (and maybe the order) to the incoming status
    SAME = "same"  # already there: nothing to do
    LATE = "late"  # an older, non-final status arriving after a final one: record only
    CONFLICT = "conflict"  # a different final status for a transaction already final: record and flag


def decide(current: TransactionStatus, incoming: TransactionStatus) -> Decision:
    """What an incoming status does to a transaction whose status is ``current``."""
    if incoming == current:
        return Decision.SAME
    if current == TransactionStatus.PENDING:
        return Decision.APPLY
    if incoming == TransactionStatus.PENDING:
        return Decision.LATE
    if current == TransactionStatus.APPROVED and incoming == TransactionStatus.VOIDED:
        return Decision.APPLY
    return Decision.CONFLICT


def order_after(order: OrderStatus, transaction: TransactionStatus, *, other_approved: bool) -> OrderStatus:
    """The order's status once one of its transactions has moved to ``transaction``.

    ``other_approved``: whether the order holds approved money from its *other* transactions.
    """
    if transaction == TransactionStatus.APPROVED:
        return OrderStatus.PAID  # money was taken: the order is paid, whatever it was before
    if transaction in FAILED:
        # A failed attempt leaves a paid order paid, and makes a pending one payable again.
        return OrderStatus.PAID if other_approved else (order if order != OrderStatus.PENDING else OrderStatus.FAILED)
    if transaction == TransactionStatus.VOIDED:
        return OrderStatus.PAID if other_approved else OrderStatus.CANCELLED
    return order
