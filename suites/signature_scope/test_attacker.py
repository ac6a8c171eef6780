"""The signature-scope attacker against the live core: events built only from captured genuine events.

Invariant: no forged event — one asking the core to act on data no genuine event carried — changes an
order's status, its approved amount, its refund flag or a transaction's status, or answers 5xx; and the
genuine event the attacker captured early is still applied when it arrives.

The core is reached through its profile (``target``): each example's two orders (the victim's and the
attacker's own) are paid through ``[api.pay.<gateway>]`` and left pending, the events go to its webhook paths,
and the snapshot is read through its observe queries. Core-only (``CoreOnly``): the fresh buyers' tokens, the
refund flag (no profile observes it) and the core's answer word ``applied``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.target.target import Target
from suites.conftest import Live
from suites.portable.payments import Payment, encode, event_fields, pending_payment
from suites.signature_scope.forgery import Forgery, payu_acted, payu_forgeries, wompi_acted, wompi_attacks
from suites.support.api import Actor
from suites.support.core_target import CoreOnly

pytestmark = pytest.mark.scenario("WH-SIGNATURE-SCOPE", "WH-PROPERTY-LIST", "WH-REJECTED-NO-IDENTITY")
TOTAL = Decimal("50000.00")
LIVE_FIXTURES = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


async def _snapshot(target: Target, core_only: CoreOnly, payments: tuple[Payment, ...]) -> list[tuple[Any, ...]]:
    seen = []
    async with core_only.schema() as db:
        for p in payments:
            rows = sorted((r["gateway_id"], r["status"]) for r in await target.transactions(p.order_id))
            flagged = await db.fetchval("SELECT flagged_for_refund FROM orders WHERE id = $1", int(p.order_id))
            seen.append((p.order_id, await target.order_status(p.order_id), await target.amount_paid(p.order_id),
                         flagged, rows))
    return seen


async def _attack(target: Target, core_only: CoreOnly, gateway: str, forgeries: list[Forgery],
                  genuine: set[tuple[Any, ...]], payments: tuple[Payment, ...]) -> None:
    before = await _snapshot(target, core_only, payments)
    for forged in forgeries:
        if forged.acted in genuine:
            continue  # the data of a genuine event, however re-packed: applying it is not a forgery
        response = await target.post_webhook(gateway, forged.body, forged.headers)
        assert response.status_code < 500, (response.status_code, response.text, forged.how)
        assert await _snapshot(target, core_only, payments) == before, (response.status_code, response.text,
                                                                        forged.how)


async def _two_pending(live: Live, target: Target, gateway: str) -> tuple[Payment, Payment]:
    """The victim's pending payment and the attacker's own, each by a buyer of its own."""
    theirs = await pending_payment(target, gateway, TOTAL, user=Actor.buyer(live).headers)
    own = await pending_payment(target, gateway, TOTAL, user=Actor.buyer(live).headers)
    return theirs, own


async def _genuine_applies(target: Target, payment: Payment, fields: dict[str, Any], outcome: str) -> None:
    applied = await target.post_webhook(payment.gateway, *encode(payment, fields))
    assert applied.status_code == 200 and applied.json()["status"] == "applied", applied.text  # the core's word
    assert [r["status"] for r in await target.transactions(payment.order_id)] == [outcome.lower()]


@LIVE_FIXTURES
@given(data=st.data(), outcome=st.sampled_from(["APPROVED", "DECLINED"]))
async def test_no_event_built_from_captured_wompi_events_moves_money_and_the_genuine_one_still_applies(
    live: Live, target: Target, core_only: CoreOnly, data: st.DataObject, outcome: str
) -> None:
    theirs, own = await _two_pending(live, target, "wompi")
    # The attacker's own paid order, and the target's genuine event, sniffed before it reached the core.
    own_event = event_fields(target, own, status="APPROVED")
    assert (await target.post_webhook("wompi", *encode(own, own_event))).status_code == 200
    target_event = event_fields(target, theirs, status=outcome)
    captured = [own_event, target_event]
    forgeries = data.draw(st.lists(wompi_attacks(captured, ids=[theirs.gateway_id, own.gateway_id]),
                                   min_size=1, max_size=4))
    await _attack(target, core_only, "wompi", forgeries, {wompi_acted(e) for e in captured}, (theirs, own))
    await _genuine_applies(target, theirs, target_event, outcome)


@LIVE_FIXTURES
@given(data=st.data(), outcome=st.sampled_from(["APPROVED", "DECLINED"]))
async def test_no_confirmation_built_from_captured_payu_ones_moves_money_and_the_genuine_one_still_applies(
    live: Live, target: Target, core_only: CoreOnly, data: st.DataObject, outcome: str
) -> None:
    theirs, own = await _two_pending(live, target, "payu")
    own_form, target_form = event_fields(target, own, status="APPROVED"), event_fields(target, theirs, status=outcome)
    assert (await target.post_webhook("payu", *encode(own, own_form))).status_code == 200
    captured = [own_form, target_form]
    forgeries = data.draw(st.lists(payu_forgeries(captured), min_size=1, max_size=4))
    await _attack(target, core_only, "payu", forgeries, {payu_acted(f) for f in captured}, (theirs, own))
    await _genuine_applies(target, theirs, target_form, outcome)
