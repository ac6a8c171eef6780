"""Efecty scenarios on any profiled service: cash paid at a counter reaches its order in the time the profile states.

Efecty publishes no webhook a shop could rely on (its collection is a daily file): a service learns of the cash by
polling its vouchers, by a reconciliation job (``[efecty.reconcile]``, which payharness makes as the service's
scheduler would), or not at all, and then its buyer's order waits for someone to confirm it by hand (seed S15).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from harness.target.target import Target
from suites.portable.payments import new_order, pay_at_counter, pay_patiently

TOTAL = Decimal("50000.00")
POLL_S = 0.25


def _how(target: Target) -> str:
    """How the profile says the service learns of cash payments, for the evidence."""
    if target.profile.efecty.reconcile is not None:
        return f"its reconciliation request {target.profile.efecty.reconcile.path} made once after the payment"
    return "no [efecty.reconcile] request: the service must learn of the payment by itself"


@pytest.mark.scenario("T-EFECTY-CASH-REACHES-ORDER")
async def test_cash_paid_at_an_efecty_counter_pays_the_order_within_the_profiles_bound(target: Target) -> None:
    order = await new_order(target, TOTAL)
    started = await pay_patiently(target, "efecty", order, TOTAL)
    assert 200 <= started.status < 300 and started.code, (
        f"starting an Efecty payment of order {order} answered {started.status}: {started.text[:200]}")
    assert await target.order_state(order) != "paid", f"order {order} was paid before any cash reached Efecty"
    bound = target.profile.efecty.confirm_within
    receipt = await pay_at_counter(target, started.code)
    at, clock = datetime.now(UTC), time.monotonic()
    reconciled = await target.reconcile_efecty()
    while True:
        state, paid = await target.order_state(order), await target.amount_paid(order)
        waited = time.monotonic() - clock
        if (state == "paid" and paid == TOTAL) or waited >= bound:
            break
        await asyncio.sleep(POLL_S)
    answer = "" if reconciled is None else (
        f"; the reconciliation answered {reconciled.status_code} {reconciled.text[:160]!r}")
    assert (state, paid) == ("paid", TOTAL), (
        f"code {started.code} paid at the counter at {at.isoformat(timespec='seconds')} "
        f"(receipt {receipt.get('authorization_code')}, {receipt.get('amount')}); order {order} still "
        f"{await target.order_status(order)} ({state}), amount paid {paid}, after {waited:.1f} s "
        f"(bound efecty.confirm_within = {bound:g} s; {_how(target)}{answer})")
