"""Database scenarios on any profiled service: a gateway transaction id is stored once; Efecty codes are unique."""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal

import pytest

from harness.target.target import Target
from suites.portable.payments import event, new_order, pay_patiently, pending_payment

EFECTY_PAYMENTS = 20


@pytest.mark.scenario("T-DB-UNIQUE-GATEWAY-ID")
async def test_two_events_with_one_gateway_transaction_id_leave_one_row_with_it(target: Target,
                                                                               gateway: str) -> None:
    first = await pending_payment(target, gateway, Decimal("50000.00"))
    second = await pending_payment(target, gateway, Decimal("60000.00"))
    shared = first.gateway_id
    answers = [(await target.post_webhook(first.gateway, *event(target, first, gateway_id=shared))).status_code,
               (await target.post_webhook(second.gateway, *event(target, second, gateway_id=shared))).status_code]
    rows = [*await target.transactions(first.order_id), *await target.transactions(second.order_id)]
    carrying = [r for r in rows if str(r.get("gateway_id")) == shared]
    assert await target.amount_paid(first.order_id) == first.total, (
        f"the first event (answer {answers[0]}) was not applied; rows: {rows}")
    assert len(carrying) == 1, (f"{len(carrying)} transaction rows carry gateway id {shared} after two events "
                                f"(answers {answers}): {carrying}")


@pytest.mark.scenario("T-EFECTY-CODE-UNIQUE")
async def test_efecty_payments_started_at_once_get_distinct_codes(target: Target) -> None:
    total = Decimal("50000.00")
    orders = [await new_order(target, total) for _ in range(EFECTY_PAYMENTS)]
    answers = await asyncio.gather(*(pay_patiently(target, "efecty", order, total) for order in orders))
    failed = [f"{a.status}: {a.text[:120]}" for a in answers if not 200 <= a.status < 300 or not a.code]
    assert not failed, f"{len(failed)} of {EFECTY_PAYMENTS} Efecty payments gave no code: {failed[:3]}"
    repeated = {code: n for code, n in Counter(a.code for a in answers).items() if n > 1}
    assert not repeated, f"Efecty codes given to more than one payment: {repeated}"
