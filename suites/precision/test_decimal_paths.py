"""Decimal precision, with Hypothesis: amounts survive every hop exactly, and the two PayU rounding rules hold.

The core's money rules (core/money.py, core/signing) are checked against the simulators' independent
implementations (simulators/payu/signing.py, simulators/wompi/signing.py): one bug cannot hide in both.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import money
from core.signing import payu as core_payu
from harness.target.target import Target
from simulators.payu import signing as sim_payu
from suites.conftest import Live
from suites.support.api import Actor, advance_clock
from suites.support.target import WOMPI_SETTLE_SECONDS

pytestmark = pytest.mark.scenario("DB-PRECISION")

CENT = Decimal("0.01")
amounts = st.decimals(min_value=Decimal("1000.00"), max_value=Decimal("50000000.00"), places=2,
                      allow_nan=False, allow_infinity=False)
any_money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9999999999.99"), places=2,
                        allow_nan=False, allow_infinity=False)


def _no_floats(text: str) -> Any:
    def refuse(value: str) -> None:
        raise AssertionError(f"a JSON float in a core response: {value}")

    return json.loads(text, parse_float=refuse)


@given(value=any_money)
def test_payu_confirmation_new_value_agrees_with_the_simulators_rule(value: Decimal) -> None:
    assert money.payu_confirmation_value(value) == sim_payu.confirmation_new_value(value)


@given(value=any_money)
def test_payu_response_new_value_agrees_with_the_simulators_rule(value: Decimal) -> None:
    assert money.payu_response_value(value) == sim_payu.response_new_value(value)


@given(value=any_money, state=st.sampled_from(["4", "5", "6", "7"]),
       reference=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1, max_size=40))
def test_core_and_simulator_compute_the_same_confirmation_sign(value: Decimal, state: str, reference: str) -> None:
    key = "4Vj8eK4rloUd272L48hsrarnUA"
    ours = core_payu.confirmation_sign(key, "508029", reference, f"{value:.2f}", "COP", state)
    theirs = sim_payu.confirmation_sign(api_key=key, merchant_id="508029", reference_sale=reference,
                                        value=f"{value:.2f}", currency="COP", state_pol=state)
    assert ours == theirs


@given(value=any_money)
def test_cents_conversion_is_exact_both_ways(value: Decimal) -> None:
    cents = money.to_cents(value)
    assert isinstance(cents, int) and cents == int(value * 100)
    assert money.from_cents(cents) == value


@given(value=st.decimals(min_value=Decimal("0.001"), max_value=Decimal("1000"), places=3))
def test_a_third_decimal_is_refused_not_rounded(value: Decimal) -> None:
    if value == value.quantize(CENT):
        return
    with pytest.raises(ValueError):
        money.to_cents(value)


@settings(max_examples=8, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amount=amounts)
async def test_any_amount_survives_api_db_gateway_webhook_db_exactly(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection, amount: Decimal
) -> None:
    buyer = Actor.buyer(live)
    async with Target(live.core_run) as target:  # the profile's [api.create_order]; its raw text is read below
        created = await target.create_order(amount, user=buyer.headers)
    assert created.status == 201, created.text
    order = _no_floats(created.text)
    assert Decimal(order["amount"]) == amount
    paid = await buyer.pay(core, order["id"], str(amount), "wompi.nequi", nequi_phone="3991111111")
    assert paid.status_code in (200, 201), paid.text
    _no_floats(paid.text)
    await advance_clock(live, "wompi", WOMPI_SETTLE_SECONDS)
    row = None
    for _ in range(300):  # up to 30 s for the event: the machine may be busy
        row = await core_db.fetchrow("SELECT o.status, o.approved_amount, t.amount, t.gateway_response"
                                     " FROM orders o JOIN order_transactions t ON t.order_id = o.id WHERE o.id = $1",
                                     order["id"])
        if row["status"] == "paid":
            break
        await asyncio.sleep(0.1)
    assert row is not None and row["status"] == "paid"
    assert row["approved_amount"] == amount and row["amount"] == amount
    # What the gateway was asked to charge, read back from the simulator: exactly the amount in cents.
    async with httpx.AsyncClient(base_url=live.urls["wompi"], timeout=10) as client:
        tx_id = json.loads(row["gateway_response"])["id"]  # asyncpg hands JSONB over as text
        tx = (await client.get(f"/v1/transactions/{tx_id}")).json()["data"]
    assert tx["amount_in_cents"] == int(amount * 100)
    final = _no_floats((await core.get(f"/orders/{order['id']}", headers=buyer.headers)).text)
    assert Decimal(final["approved_amount"]) == amount


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(amounts, min_size=1, max_size=40))
async def test_sums_over_many_transactions_equal_the_total_to_the_cent(database: Any, values: list[Decimal]) -> None:
    conn = await asyncpg.connect(database.dsn)
    try:
        async with conn.transaction():
            order_id = await conn.fetchval("INSERT INTO orders (reference, buyer_id, total_amount) VALUES"
                                           " ('ORD-SUM-' || gen_random_uuid(), 'b', $1) RETURNING id", sum(values))
            # Settled (approved) rows: one order may hold only one pending attempt (migration 0004).
            await conn.executemany(
                "INSERT INTO order_transactions (order_id, gateway, reference, payment_method, amount, currency,"
                " status) VALUES ($1, 'wompi', gen_random_uuid()::text, 'CARD', $2, 'COP', 'approved')",
                [(order_id, v) for v in values])
            total, summed = await conn.fetchrow("SELECT o.total_amount, sum(t.amount) FROM orders o JOIN"
                                                " order_transactions t ON t.order_id = o.id WHERE o.id = $1"
                                                " GROUP BY o.total_amount", order_id)
            assert total == summed == sum(values)
            assert isinstance(summed, Decimal)
            await conn.execute("DELETE FROM order_transactions WHERE order_id = $1", order_id)
            await conn.execute("DELETE FROM orders WHERE id = $1", order_id)
    finally:
        await conn.close()
