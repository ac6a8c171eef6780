"""The model-free money checks, the only ones a checkout or Efecty order gets (it has no event log to replay).

A live run with the API's ledger writing the approved amount but not the order's status (Efecty's confirmation
goes through ``core.payments.ledger.apply_status``) was clean: the transaction approved, the approved amount
right, the order still pending. The property states every order's invariants once, from the order's side.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from load import audit as audit_module
from load.audit import OrderRow, TxRow, audit
from load.tests.test_audit import _edit, kinds, world


def test_an_api_order_left_pending_with_its_money_approved_is_flagged() -> None:
    ledger, snapshot, sim = world()
    orders = _edit(list(snapshot.orders), 4, status="pending")  # ORD-X: its transaction approved, 20.00 counted
    report = audit(ledger, replace(snapshot, orders=orders), sim=sim)
    assert kinds(report) == {"order_mismatch"}, report.to_dict()


STATUSES = st.sampled_from(["pending", "approved", "declined", "error", "expired", "voided"])
ORDER_STATUSES = st.sampled_from(["pending", "paid", "failed", "expired", "cancelled"])
AMOUNTS = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2)


@st.composite
def orders(draw: st.DrawFn) -> tuple[OrderRow, list[TxRow]]:
    total = draw(AMOUNTS)
    txs = [TxRow(i, 1, "wompi", f"g{i}", f"R-{i}", draw(st.one_of(st.just(total), AMOUNTS)), draw(STATUSES))
           for i in range(draw(st.integers(1, 3)))]
    approved_sum = sum((t.amount for t in txs if t.status == "approved"), Decimal(0))
    approved = draw(st.one_of(st.just(approved_sum), AMOUNTS, st.just(Decimal(0))))
    order = OrderRow(1, "R", total, approved, draw(ORDER_STATUSES), draw(st.booleans()),
                     draw(st.sampled_from(["seeded", "api"])))
    return order, txs


@given(orders())
def test_an_order_passes_the_money_checks_exactly_when_its_money_adds_up(case: tuple[OrderRow, list[TxRow]]) -> None:
    order, txs = case
    approved = [t for t in txs if t.status == "approved"]
    consistent = (
        order.approved == sum(t.amount for t in approved)  # the approved amount is its approved payments
        and (order.status == "paid") == bool(approved)  # paid exactly when some payment is approved
        and (order.flagged or (len(approved) <= 1 and order.approved <= order.total))  # paid twice: flagged
    )
    assert (audit_module._money_checks(order, txs) == []) == consistent
