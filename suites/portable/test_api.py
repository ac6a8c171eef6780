"""API scenarios on any profiled service: input validation, ownership, card-testing limits, error shape."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from harness.target.applicability import webhook_gateway
from harness.target.target import Answer, Target
from suites.portable.payments import charges, event, new_order, pending_payment

BAD_TOTALS = ("-100.00", "0", "0.00", "abc", "", "NaN", "Infinity", "1e400", "99999999999999999999999.99")
ATTEMPTS = 40


def _gateway(target: Target) -> str:
    return webhook_gateway(target.profile) or next(iter(target.profile.api.pay))


@pytest.mark.scenario("T-API-VALIDATION")
async def test_orders_with_impossible_totals_are_refused_and_write_nothing(target: Target) -> None:
    counted = target.profile.observe.order_count is not None
    before = await target.order_count() if counted else None
    answers = {total: await target.create_order(total) for total in BAD_TOTALS}
    accepted = {t: f"{a.status} {a.text[:80]}" for t, a in answers.items() if not 400 <= a.status < 500}
    after = await target.order_count() if counted else None
    assert not accepted, f"totals not refused with a 4xx: {accepted}"
    assert before == after, f"refused orders were written anyway: {before} orders before, {after} after"


@pytest.mark.scenario("T-API-OWNERSHIP")
async def test_another_user_can_neither_pay_nor_read_a_buyers_order(target: Target) -> None:
    total = Decimal("50000.00")
    order = await new_order(target, total, user="buyer")
    before = await target.transactions(order)
    paid = await target.pay(_gateway(target), order, total, user="other")
    answers = {"pay": paid.status}
    missing, probe = _missing_order_id(order), None
    if target.profile.api.get_order is not None:
        answers["read"] = (await target.get_order(order, user="other")).status_code
        if missing is not None:
            probe = (await target.get_order(missing, user="other")).status_code
    after = await target.transactions(order)
    assert all(code in (403, 404) for code in answers.values()), (
        f"user 'other' on user 'buyer''s order {order}: {answers} (403 or 404 expected); "
        f"pay answered {paid.text[:120]}")
    assert before == after, f"other's attempt changed the order's transactions: {before} → {after}"
    # A read that tells another's order from a missing one lets ids be probed and counted. Only the read: the
    # seed's shops answer another's payment 403 and a missing order's 404: a leak this scenario leaves alone.
    assert probe not in (403, 404) or probe == answers["read"], (
        f"user 'other' reading user 'buyer''s order {order} got {answers['read']}, reading order {missing} "
        f"(none such) got {probe}: the answer tells an existing order from a missing one")


def _missing_order_id(order_id: str) -> str | None:
    """An id of the same form that no order has (None for a form we cannot extend safely)."""
    if order_id.isdigit():
        return str(int(order_id) + 1_000_000)  # far past every order these scenarios create
    try:
        uuid.UUID(order_id)
    except ValueError:
        return None
    return str(uuid.uuid4())


@pytest.mark.scenario("T-API-PAID-AGAIN")
async def test_a_paid_order_cannot_be_paid_again_by_its_own_buyer(target: Target) -> None:
    gateway = webhook_gateway(target.profile)
    assert gateway is not None  # applicability runs this scenario only with a signed gateway
    payment = await pending_payment(target, gateway, Decimal("50000.00"))
    approved = await target.post_webhook(gateway, *event(target, payment))
    state, paid = await target.order_state(payment.order_id), await target.amount_paid(payment.order_id)
    assert (state, paid) == ("paid", payment.total), (
        f"a signed {gateway} approval (answered {approved.status_code}) left order {payment.order_id} {state}, "
        f"amount paid {paid}: the scenario needs a paid order to start from")
    before = await charges(target, gateway)
    again = await target.pay(gateway, payment.order_id, payment.total)
    after = await charges(target, gateway)
    paid_after = await target.amount_paid(payment.order_id)
    seen = (f"order {payment.order_id}, paid {payment.total}: the buyer's second payment answered {again.status} "
            f"{again.text[:160]!r}; {gateway} charges {len(before)} before it, {len(after)} after "
            f"({after[len(before):]}); amount paid {paid_after}")
    assert 400 <= again.status < 500, f"a paid order was not refused: {seen}"
    assert len(after) == len(before), f"a second charge reached {gateway}: {seen}"
    assert paid_after == payment.total, f"the amount paid changed: {seen}"


@pytest.mark.scenario("T-API-RATE-LIMIT")
async def test_forty_payment_attempts_in_a_few_seconds_meet_a_429(target: Target) -> None:
    total = Decimal("50000.00")
    gateway = _gateway(target)
    orders = [await new_order(target, total) for _ in range(4)]
    gate = asyncio.Semaphore(8)

    async def attempt(i: int) -> int:
        async with gate:
            return (await target.pay(gateway, orders[i % len(orders)], total)).status
    answers = Counter(await asyncio.gather(*(attempt(i) for i in range(ATTEMPTS))))
    assert answers.get(429), f"{ATTEMPTS} payment attempts from one client answered {dict(answers)}, never 429"


async def _answer(pending: Awaitable[Any]) -> tuple[int, str]:
    answer = await pending
    status = answer.status if isinstance(answer, Answer) else answer.status_code
    return int(status), str(answer.text)


def _has_code(body: Any) -> bool:
    if not isinstance(body, dict):
        return False
    error = body.get("error")
    return bool(body.get("code")) or (isinstance(error, str) and bool(error)) or (
        isinstance(error, dict) and bool(error.get("code") or error.get("type")))


@pytest.mark.scenario("T-API-ERROR-SHAPE")
async def test_errors_are_json_with_a_code_never_a_trace_or_html(target: Target) -> None:
    spec = target.profile.api.create_order
    requests: dict[str, Callable[[], Awaitable[tuple[int, str]]]] = {
        "an order with a non-numeric total": lambda: _answer(target.create_order("abc")),
        "an order whose body is not JSON": lambda: _answer(target.request(spec, {"amount": "1"},
                                                                          raw_body=b"{not json")),
    }
    if target.profile.api.pay:
        requests["paying an order that does not exist"] = lambda: _answer(
            target.pay(_gateway(target), "987654321", Decimal("50000.00")))
    bad: dict[str, str] = {}
    for what, send in requests.items():
        try:
            status, text = await send()
        except httpx.HTTPError as exc:  # no answer at all is the worst error shape
            bad[what] = f"no answer: the connection ended ({type(exc).__name__})"
            continue
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if status < 400:
            bad[what] = f"answered {status}, not an error"
        elif "traceback" in text.lower() or "<html" in text.lower() or not _has_code(body):
            bad[what] = f"{status} {text[:160]!r}"
    assert not bad, f"errors without a JSON body and a machine-readable code: {bad}"
