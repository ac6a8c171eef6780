"""The ``target`` fixture: the suites' own core reached only through its profile (harness/target/core.toml).

A PayU payment started through the profile's request templates and settled by a signed confirmation sent to
the profile's webhook path must read the same through the profile's observe queries as through the core's
API and through its schema (``CoreOnly``): if the two paths disagreed, the built-in suites and the portable
scenarios would be measuring different things.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from harness.target.target import Target
from suites.portable.payments import event, pending_payment
from suites.support.core_target import CoreOnly

TOTAL = Decimal("65000.00")


async def test_a_payu_payment_through_the_cores_profile_reads_the_same_through_its_api_and_its_schema(
    target: Target, core_only: CoreOnly
) -> None:
    assert await target.order_count() == 0  # the per-test reset (live) ran before the target was handed out
    payment = await pending_payment(target, "payu", TOTAL)
    assert (await target.order_state(payment.order_id), await target.amount_paid(payment.order_id)) == (
        "pending", Decimal("0"))
    answer = await target.post_webhook("payu", *event(target, payment))
    assert answer.status_code == 200, answer.text
    api = (await target.get_order(payment.order_id)).json()
    async with core_only.schema() as db:
        row = await db.fetchrow("SELECT status::text, approved_amount FROM orders WHERE id = $1",
                                int(payment.order_id))
    assert row is not None
    observed = (await target.order_status(payment.order_id), await target.amount_paid(payment.order_id))
    assert observed == (api["status"], Decimal(api["approved_amount"])) == (row["status"], row["approved_amount"])
    assert observed == ("paid", TOTAL)
    rows = await target.transactions(payment.order_id)
    assert [(r["status"], r["amount"]) for r in rows] == [("approved", TOTAL)]
    assert await target.webhook_events(payment.gateway_id) == 1
    assert await target.order_count() == 1


@pytest.mark.parametrize(("how", "method"), [("wompi", "CARD"), ("wompi.nequi", "NEQUI"), ("wompi.pse", "PSE"),
                                             ("payu", "CARD"), ("efecty", "EFECTY")])
async def test_each_payment_method_of_the_cores_profile_starts_one_pending_attempt_of_that_method(
    target: Target, core_only: CoreOnly, how: str, method: str
) -> None:
    # What Actor.pay and the suites rely on: core.toml's [api.pay.<gateway>] and [api.pay.<gateway>.<method>]
    # tables, with their default values, start the payment they are named for.
    gateway, _, name = how.partition(".")
    order = await target.create_order(TOTAL)
    assert order.order_id is not None, order.text
    paid = await target.pay(gateway, order.order_id, TOTAL, method=name or None)
    assert paid.status == 200 and paid.reference, paid.text
    assert [r["status"] for r in await target.transactions(order.order_id)] == ["pending"]
    async with core_only.schema() as db:
        row = await db.fetchrow("SELECT gateway::text, payment_method, reference FROM order_transactions"
                                " WHERE order_id = $1", int(order.order_id))
    assert row is not None
    assert (row["gateway"], row["payment_method"], row["reference"]) == (gateway, method, paid.reference)
