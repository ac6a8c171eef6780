"""The signature-scope attacker against the live core: events built only from captured genuine events.

Invariant: no forged event — one asking the core to act on data no genuine event carried — changes an
order's status, its approved amount, its refund flag or a transaction's status, or answers 5xx; and the
genuine event the attacker captured early is still applied when it arrives.
"""

from __future__ import annotations

import itertools
from typing import Any

import asyncpg
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suites.conftest import Live, seed_transaction
from suites.signature_scope.forgery import Forgery, payu_acted, payu_forgeries, wompi_acted, wompi_attacks
from suites.support.events import form_body, payu_confirmation, wompi_event_dict

pytestmark = pytest.mark.scenario("WH-SIGNATURE-SCOPE", "WH-PROPERTY-LIST", "WH-REJECTED-NO-IDENTITY")
CENTS = 5_000_000
_examples = itertools.count(1)  # fresh gateway ids per example: the database is reset per test, not per example
LIVE_FIXTURES = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


async def _snapshot(db: asyncpg.Connection, *order_ids: object) -> list[tuple[Any, ...]]:
    rows = await db.fetch(
        "SELECT o.id, o.status, o.approved_amount, o.flagged_for_refund, t.id, t.status FROM orders o"
        " JOIN order_transactions t ON t.order_id = o.id WHERE o.id = ANY($1::bigint[]) ORDER BY t.id", list(order_ids))
    return [tuple(r) for r in rows]


async def _attack(core: httpx.AsyncClient, db: asyncpg.Connection, path: str, forgeries: list[Forgery],
                  genuine: set[tuple[Any, ...]], order_ids: tuple[object, ...]) -> None:
    before = await _snapshot(db, *order_ids)
    for forged in forgeries:
        if forged.acted in genuine:
            continue  # the data of a genuine event, however re-packed: applying it is not a forgery
        response = await core.post(path, content=forged.body, headers=forged.headers)
        assert response.status_code < 500, (response.status_code, response.text, forged.how)
        assert await _snapshot(db, *order_ids) == before, (response.status_code, response.text, forged.how)


@LIVE_FIXTURES
@given(data=st.data(), outcome=st.sampled_from(["APPROVED", "DECLINED"]))
async def test_no_event_built_from_captured_wompi_events_moves_money_and_the_genuine_one_still_applies(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection, data: st.DataObject, outcome: str
) -> None:
    n, secret = next(_examples), live.creds["wompi"]["events_secret"]
    target = await seed_transaction(core_db, gateway="wompi", gateway_transaction_id=f"118437-8-{n:05d}")
    own = await seed_transaction(core_db, gateway="wompi", gateway_transaction_id=f"118437-9-{n:05d}",
                                 buyer_id="attacker")
    # The attacker's own paid order, and the target's genuine event, sniffed before it reached the core.
    own_event = wompi_event_dict(tx_id=f"118437-9-{n:05d}", status="APPROVED", amount_in_cents=CENTS,
                                 reference=str(own["reference"]), secret=secret)
    assert (await core.post("/webhooks/wompi", json=own_event)).status_code == 200
    target_event = wompi_event_dict(tx_id=f"118437-8-{n:05d}", status=outcome, amount_in_cents=CENTS,
                                    reference=str(target["reference"]), secret=secret)
    captured = [own_event, target_event]
    forgeries = data.draw(st.lists(wompi_attacks(captured, ids=[f"118437-8-{n:05d}", f"118437-9-{n:05d}"]),
                                   min_size=1, max_size=4))
    await _attack(core, core_db, "/webhooks/wompi", forgeries, {wompi_acted(e) for e in captured},
                  (target["order_id"], own["order_id"]))
    applied = await core.post("/webhooks/wompi", json=target_event)
    assert applied.status_code == 200 and applied.json()["status"] == "applied", applied.text
    assert await core_db.fetchval("SELECT status FROM order_transactions WHERE id = $1",
                                  target["transaction_id"]) == outcome.lower()


@LIVE_FIXTURES
@given(data=st.data(), outcome=st.sampled_from(["APPROVED", "DECLINED"]))
async def test_no_confirmation_built_from_captured_payu_ones_moves_money_and_the_genuine_one_still_applies(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection, data: st.DataObject, outcome: str
) -> None:
    n, creds = next(_examples), live.creds["payu"]
    target = await seed_transaction(core_db, gateway="payu", gateway_transaction_id=f"aa2f50b2-8-{n:05d}")
    own = await seed_transaction(core_db, gateway="payu", gateway_transaction_id=f"aa2f50b2-9-{n:05d}",
                                 buyer_id="attacker")

    def confirmation(seeded: dict[str, Any], status: str) -> dict[str, str]:
        return payu_confirmation(reference_sale=str(seeded["reference"]), value=seeded["amount"], status=status,
                                 api_key=creds["api_key"], merchant_id=creds["merchant_id"],
                                 transaction_id=str(seeded["gateway_transaction_id"]))

    own_form, target_form = confirmation(own, "APPROVED"), confirmation(target, outcome)
    body, headers = form_body(own_form)
    assert (await core.post("/webhooks/payu", content=body, headers=headers)).status_code == 200
    captured = [own_form, target_form]
    forgeries = data.draw(st.lists(payu_forgeries(captured), min_size=1, max_size=4))
    await _attack(core, core_db, "/webhooks/payu", forgeries, {payu_acted(f) for f in captured},
                  (target["order_id"], own["order_id"]))
    body, headers = form_body(target_form)
    applied = await core.post("/webhooks/payu", content=body, headers=headers)
    assert applied.status_code == 200 and applied.json()["status"] == "applied", applied.text
