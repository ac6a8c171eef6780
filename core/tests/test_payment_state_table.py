"""The state machine's table, cell by cell, and what each transaction outcome does to its order."""

from __future__ import annotations

import pytest

from core.db.models import OrderStatus, TransactionStatus
from core.payments.statemachine import FAILED, FINAL, Decision, decide, order_after

P, A, D, E, X, V = (TransactionStatus.PENDING, TransactionStatus.APPROVED, TransactionStatus.DECLINED,
                    TransactionStatus.ERROR, TransactionStatus.EXPIRED, TransactionStatus.VOIDED)
APPLY, SAME, LATE, CONFLICT = Decision.APPLY, Decision.SAME, Decision.LATE, Decision.CONFLICT

# Rows: current status; columns: incoming P, A, D, E, X, V (the module docstring's table).
TABLE = {
    P: (SAME, APPLY, APPLY, APPLY, APPLY, APPLY),
    A: (LATE, SAME, CONFLICT, CONFLICT, CONFLICT, APPLY),
    D: (LATE, CONFLICT, SAME, CONFLICT, CONFLICT, CONFLICT),
    E: (LATE, CONFLICT, CONFLICT, SAME, CONFLICT, CONFLICT),
    X: (LATE, CONFLICT, CONFLICT, CONFLICT, SAME, CONFLICT),
    V: (LATE, CONFLICT, CONFLICT, CONFLICT, CONFLICT, SAME),
}


@pytest.mark.parametrize("current", list(TABLE))
def test_every_cell_of_the_table(current: TransactionStatus) -> None:
    assert tuple(decide(current, incoming) for incoming in (P, A, D, E, X, V)) == TABLE[current]


def test_the_table_covers_every_status_and_no_final_state_regresses() -> None:
    assert set(TABLE) == set(TransactionStatus)
    for current in FINAL:
        assert all(decide(current, incoming) is not APPLY for incoming in TransactionStatus
                   if not (current is A and incoming is V))
    assert set(TransactionStatus) - {P} == FINAL and {D, E, X} == FAILED


@pytest.mark.parametrize("order", list(OrderStatus))
def test_approved_money_makes_any_order_paid(order: OrderStatus) -> None:
    assert order_after(order, A, other_approved=False) is OrderStatus.PAID
    assert order_after(order, A, other_approved=True) is OrderStatus.PAID


@pytest.mark.parametrize("failed", sorted(FAILED))
def test_a_failed_attempt_fails_a_pending_order_and_leaves_others_as_they_were(failed: TransactionStatus) -> None:
    assert order_after(OrderStatus.PENDING, failed, other_approved=False) is OrderStatus.FAILED
    for order in set(OrderStatus) - {OrderStatus.PENDING}:
        assert order_after(order, failed, other_approved=False) is order
    # Money from another transaction keeps the order paid whatever this attempt did.
    for order in OrderStatus:
        assert order_after(order, failed, other_approved=True) is OrderStatus.PAID


def test_a_void_cancels_the_order_unless_other_money_was_approved() -> None:
    for order in OrderStatus:
        assert order_after(order, V, other_approved=False) is OrderStatus.CANCELLED
        assert order_after(order, V, other_approved=True) is OrderStatus.PAID


@pytest.mark.parametrize("order", list(OrderStatus))
def test_pending_changes_no_order(order: OrderStatus) -> None:
    assert order_after(order, P, other_approved=False) is order
    assert order_after(order, P, other_approved=True) is order
