"""What applying a status to a locked order's transaction changes (ledger.change_for, pure): money, flags, anomalies."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.db.models import AnomalyKind, Gateway, OrderStatus, TransactionStatus
from core.payments.ledger import LockedOrder, Outcome, TransactionRow, change_for
from core.payments.statemachine import FAILED, Decision, decide

T = TransactionStatus


def _order(status: OrderStatus = OrderStatus.PENDING, approved: str = "0", flagged: bool = False) -> LockedOrder:
    return LockedOrder(7, status, Decimal("50000.00"), Decimal(approved), "COP", flagged)


def _txn(status: TransactionStatus, amount: str = "50000.00") -> TransactionRow:
    return TransactionRow(11, 7, Gateway.WOMPI, status, Decimal(amount), "COP", "ORD-7-1", "w-1")


def test_an_approval_adds_the_transaction_amount_and_pays_the_order() -> None:
    change = change_for(_order(), _txn(T.PENDING), T.APPROVED)
    assert (change.transaction_status, change.order_status, change.approved_amount) == (
        T.APPROVED, OrderStatus.PAID, Decimal("50000.00"))
    assert change.outcome == Outcome(Decision.APPLY, OrderStatus.PAID, T.APPROVED, False)
    assert change.flag_reason is None and change.anomaly is None


def test_a_void_of_the_only_approved_payment_takes_its_money_back_and_cancels() -> None:
    change = change_for(_order(OrderStatus.PAID, "50000.00"), _txn(T.APPROVED), T.VOIDED)
    assert (change.approved_amount, change.order_status, change.transaction_status) == (
        Decimal("0.00"), OrderStatus.CANCELLED, T.VOIDED)


def test_a_void_leaves_the_order_paid_when_other_money_remains() -> None:
    change = change_for(_order(OrderStatus.PAID, "50000.01"), _txn(T.APPROVED), T.VOIDED)
    assert (change.approved_amount, change.order_status) == (Decimal("0.01"), OrderStatus.PAID)


def test_a_second_approved_payment_is_recorded_flagged_and_reported_as_a_double_payment() -> None:
    change = change_for(_order(OrderStatus.PAID, "50000.00"), _txn(T.PENDING, "50000.00"), T.APPROVED)
    assert (change.transaction_status, change.order_status, change.approved_amount) == (
        T.APPROVED, OrderStatus.PAID, Decimal("100000.00"))
    assert change.outcome.flagged_for_refund and change.flag_reason == (
        "double payment: more than one approved transaction")
    assert change.anomaly == (AnomalyKind.DOUBLE_PAYMENT, {"approved_amount": "100000.00",
                                                           "total_amount": "50000.00"})


def test_a_cent_of_other_approved_money_is_enough_to_make_an_approval_a_double_payment() -> None:
    change = change_for(_order(OrderStatus.PAID, "0.01"), _txn(T.PENDING), T.APPROVED)
    assert change.anomaly is not None and change.anomaly[0] is AnomalyKind.DOUBLE_PAYMENT


def test_a_failure_after_no_approval_fails_the_order_and_keeps_the_amount() -> None:
    change = change_for(_order(), _txn(T.PENDING), T.DECLINED)
    assert (change.order_status, change.approved_amount, change.anomaly) == (OrderStatus.FAILED, Decimal("0"), None)


@pytest.mark.parametrize(("current", "incoming", "decision"), [
    (T.APPROVED, T.APPROVED, Decision.SAME), (T.APPROVED, T.PENDING, Decision.LATE)])
def test_same_and_late_statuses_change_nothing(current: T, incoming: T, decision: Decision) -> None:
    order = _order(OrderStatus.PAID, "50000.00", flagged=True)
    change = change_for(order, _txn(current), incoming)
    assert change.outcome.decision is decision
    assert (change.transaction_status, change.order_status, change.anomaly, change.flag_reason) == (
        None, None, None, None)
    assert change.approved_amount == order.approved_amount
    assert (change.outcome.order_status, change.outcome.transaction_status, change.outcome.flagged_for_refund) == (
        OrderStatus.PAID, current, True)


def test_a_conflicting_final_status_is_refused_and_reported() -> None:
    order = _order(OrderStatus.PAID, "50000.00")
    change = change_for(order, _txn(T.APPROVED), T.DECLINED)
    assert change.outcome.decision is Decision.CONFLICT
    assert (change.transaction_status, change.order_status, change.approved_amount) == (
        None, None, Decimal("50000.00"))
    assert change.anomaly == (AnomalyKind.STATE_REGRESSION_REFUSED, {"current": "approved", "incoming": "declined"})
    assert change.outcome.transaction_status is T.APPROVED and change.outcome.order_status is OrderStatus.PAID


@pytest.mark.parametrize("closed", [T.ERROR, T.DECLINED, T.EXPIRED])
@pytest.mark.parametrize(("order_status", "approved"), [(OrderStatus.FAILED, "0"), (OrderStatus.PAID, "50000.00")])
def test_a_late_approval_of_a_failed_attempt_is_refused_but_flags_the_order_for_a_refund(
    closed: T, order_status: OrderStatus, approved: str
) -> None:
    # Money the gateway took for an attempt the core had closed: not counted (a final state never regresses),
    # but never only an anomaly row — the order is flagged so a human refunds it.
    order = _order(order_status, approved)
    change = change_for(order, _txn(closed), T.APPROVED)
    assert change.outcome.decision is Decision.CONFLICT
    assert change.transaction_status is None
    assert (change.order_status, change.approved_amount) == (order_status, Decimal(approved))
    assert change.flag_reason and closed.value in change.flag_reason
    assert change.anomaly == (AnomalyKind.STATE_REGRESSION_REFUSED, {"current": closed.value, "incoming": "approved"})
    assert change.outcome.flagged_for_refund and change.outcome.transaction_status is closed


def test_only_a_late_approval_of_a_failed_attempt_flags_among_all_refused_conflicts() -> None:
    order = _order(OrderStatus.FAILED)
    conflicts = [(current, incoming) for current in T for incoming in T
                 if decide(current, incoming) is Decision.CONFLICT]
    assert conflicts  # the table has final states that refuse another
    for current, incoming in conflicts:
        change = change_for(order, _txn(current), incoming)
        late_approval = incoming is T.APPROVED and current in FAILED
        assert change.outcome.flagged_for_refund is late_approval, (current, incoming)
        assert (change.flag_reason is not None) is late_approval, (current, incoming)
        # Either way nothing moves but the flag: the order keeps its status, the transaction its own.
        assert (change.outcome.order_status, change.outcome.transaction_status) == (OrderStatus.FAILED, current)
        assert change.transaction_status is None and change.approved_amount == Decimal("0")
