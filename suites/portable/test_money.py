"""Money scenarios on any profiled service: exact decimal totals, and approvals for less than the total.

Both run once per gateway; exact decimal totals not through PayU, whose Colombian amounts are whole pesos
(``harness.target.applicability``).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from harness.target.target import Target
from suites.portable.payments import event, pending_payment

# Totals a binary float cannot hold: 1234567.89 is 1234567.8899999999 as a double, 0.10 + 0.20 is
# 0.30000000000000004, and cents times 100 truncated lose one cent.
TOTALS = ("1234567.89", "10000.30", "1000.10", "45000000.07", "20000.01")


@pytest.mark.scenario("T-MONEY-DECIMAL")
async def test_totals_a_float_cannot_hold_are_paid_exactly(target: Target, gateway: str) -> None:
    wrong: dict[str, str] = {}
    for text in TOTALS:
        total = Decimal(text)
        payment = await pending_payment(target, gateway, total)
        answer = await target.post_webhook(payment.gateway, *event(target, payment))
        paid = await target.amount_paid(payment.order_id)
        if paid != total:
            wrong[text] = f"amount paid {paid} (approval answered {answer.status_code})"
    assert not wrong, f"approvals of the exact total did not pay it exactly: {wrong}"


@pytest.mark.scenario("T-MONEY-AMOUNT-MISMATCH")
async def test_an_approval_for_less_than_the_total_does_not_pay_the_order(target: Target, gateway: str) -> None:
    payment = await pending_payment(target, gateway, Decimal("50000.00"))
    short = payment.total - Decimal("1000.00")
    answer = await target.post_webhook(payment.gateway, *event(target, payment, amount=short))
    state, paid = await target.order_state(payment.order_id), await target.amount_paid(payment.order_id)
    assert state != "paid", (f"an approval of {short} for an order of {payment.total} (answer {answer.status_code})"
                             f" left it {state} with {paid} paid")
