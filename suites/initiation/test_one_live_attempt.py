"""Payment initiation under attack: many requests for one order with fresh Idempotency-Keys, at once and in turn.

A second key is what a double click, a second tab or a retry after a timeout produces; the per-key guard
cannot see it. The guard attacked here is the one-live-attempt index (migration 0004,
``uq_order_transactions_one_live_attempt``) behind the checkout's ``INSERT … ON CONFLICT DO NOTHING``.

Invariant, checked on what reached each simulator (its journal), not on what the core says: at most one
charge per order while an attempt is live, the order's approved amount never above its total, and every
refused request a 409 — ``payment_attempt_live`` naming the live attempt, or ``order_not_payable`` once
the order is paid.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from harness.target.target import Target
from suites.conftest import Live
from suites.support.api import Actor, advance_clock
from suites.support.faults import (
    WOMPI_TRANSACTIONS,
    charges,
    pinned_core,
    put_faults,
    rule,
)
from suites.support.target import WOMPI_SETTLE_SECONDS

AMOUNT = "65000.00"
METHODS = ("wompi-card", "payu-card", "nequi", "pse", "efecty")
PENDING_METHODS = ("wompi-card", "nequi", "pse", "efecty")  # the sandbox leaves these pending at first
GATEWAY = {"wompi-card": "wompi", "nequi": "wompi", "pse": "wompi", "payu-card": "payu", "efecty": "efecty"}


def fields(method: str, *, outcome: str = "approved") -> dict[str, str]:
    """``how`` and the payer's choices for ``method`` through the core's profile (sandbox values deciding
    ``outcome``), for ``Actor.pay(core, order_id, amount, **fields(method))``."""
    if method == "wompi-card":
        return {"how": "wompi", "card_number": "4242424242424242" if outcome == "approved" else "4111111111111111"}
    if method == "payu-card":
        return {"how": "payu", "card_holder": "APPROVED"}
    if method == "nequi":
        return {"how": "wompi.nequi", "nequi_phone": "3991111111" if outcome == "approved" else "3992222222"}
    if method == "pse":
        return {"how": "wompi.pse", "pse_bank": "1" if outcome == "approved" else "2"}
    return {"how": "efecty"}


async def charges_for(live: Live, order: dict[str, Any]) -> list[tuple[str, str]]:
    """(gateway, reference) of every charge or voucher the simulators accepted for this order."""
    found: list[tuple[str, str]] = []
    for gateway in ("wompi", "payu"):
        found += [(gateway, c["reference"]) for c in await charges(live, gateway)
                  if str(c.get("reference", "")).startswith(f"{order['reference']}-")]
    found += [("efecty", e["summary"]["payment_code"]) for e in await charges(live, "efecty")
              if e["summary"]["payment_code"].startswith(f"EFE-{order['id']}-")]
    return found


def assert_refused_naming(response: httpx.Response, live_attempt: dict[str, Any]) -> None:
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "payment_attempt_live", response.text
    named = error["live_attempt"]
    assert (named["id"], named["reference"], named["status"]) == (live_attempt["id"], live_attempt["reference"],
                                                                  "pending")
    assert named["payment_method"] == live_attempt["payment_method"] and named["gateway"] == live_attempt["gateway"]


async def assert_money_within_total(core: httpx.AsyncClient, buyer: Actor, order: dict[str, Any]) -> dict[str, Any]:
    view = await buyer.order(order["id"])
    assert Decimal(view["approved_amount"]) <= Decimal(view["amount"]), view
    return view


@pytest.fixture
async def wide_core(live: Live) -> Any:
    # Every request of a burst in flight at once, spread over both uvicorn workers.
    async with httpx.AsyncClient(base_url=live.urls["core"], timeout=30,
                                 limits=httpx.Limits(max_connections=32)) as client:
        yield client


@pytest.mark.scenario("INIT-CONCURRENT-KEYS")
@pytest.mark.parametrize("method", METHODS)
async def test_ten_requests_at_once_with_fresh_keys_charge_the_order_once(
    live: Live, wide_core: httpx.AsyncClient, target: Target, method: str
) -> None:
    buyer = Actor.buyer(live)
    order = await buyer.create_order(AMOUNT)
    body = fields(method)
    answers = await asyncio.gather(*(buyer.pay(wide_core, order["id"], AMOUNT, **body) for _ in range(10)))
    won = [a for a in answers if a.status_code == 200]
    assert len(won) == 1, [a.text for a in answers]
    attempt = won[0].json()["transaction"]
    for refused in (a for a in answers if a is not won[0]):
        if refused.status_code == 409 and refused.json()["error"]["code"] == "order_not_payable":
            assert attempt["status"] == "approved", refused.text  # only a paid order stops being payable
            continue
        assert_refused_naming(refused, attempt)
    assert await charges_for(live, order) == [(GATEWAY[method], attempt["reference"])]
    assert len(await target.transactions(str(order["id"]))) == 1
    await assert_money_within_total(wide_core, buyer, order)


@pytest.mark.scenario("INIT-SEQUENTIAL-KEYS", "INIT-CROSS-METHOD")
@pytest.mark.parametrize("first", PENDING_METHODS)
async def test_while_an_attempt_is_pending_no_method_can_charge_the_order_again(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection, first: str
) -> None:
    buyer = Actor.buyer(live)
    order = await buyer.create_order(AMOUNT)
    pending = await buyer.pay(core, order["id"], AMOUNT, **fields(first))
    assert pending.status_code == 200 and pending.json()["transaction"]["status"] == "pending", pending.text
    attempt = pending.json()["transaction"]
    for second in METHODS:  # the same method again (a retry with a new key) and every other one
        assert_refused_naming(await buyer.pay(core, order["id"], AMOUNT, **fields(second)), attempt)
    assert await charges_for(live, order) == [(GATEWAY[first], attempt["reference"])]
    view = await assert_money_within_total(core, buyer, order)
    assert [t["status"] for t in view["transactions"]] == ["pending"]


@pytest.mark.scenario("INIT-SEQUENTIAL-KEYS", "INIT-CROSS-METHOD")
@pytest.mark.parametrize("first", ["nequi", "pse", "wompi-card"])
async def test_once_the_pending_attempt_has_failed_a_new_one_may_charge_and_then_the_order_is_done(
    live: Live, core: httpx.AsyncClient, first: str
) -> None:
    buyer = Actor.buyer(live)
    order = await buyer.create_order(AMOUNT)
    failing = await buyer.pay(core, order["id"], AMOUNT, **fields(first, outcome="declined"))
    assert failing.status_code == 200, failing.text
    await advance_clock(live, "wompi", WOMPI_SETTLE_SECONDS)  # the sandbox declines; its signed event reaches the core
    for _ in range(50):
        if (await buyer.order(order["id"]))["status"] == "failed":
            break
        await asyncio.sleep(0.1)
    paid = await buyer.pay(core, order["id"], AMOUNT, **fields("payu-card"))
    assert paid.status_code == 200 and paid.json()["transaction"]["status"] == "approved", paid.text
    late = await buyer.pay(core, order["id"], AMOUNT, **fields("nequi"))
    assert (late.status_code, late.json()["error"]["code"]) == (409, "order_not_payable")
    references = [failing.json()["transaction"]["reference"], paid.json()["transaction"]["reference"]]
    assert sorted(r for _, r in await charges_for(live, order)) == sorted(references)
    view = await assert_money_within_total(core, buyer, order)
    assert (view["status"], view["approved_amount"]) == ("paid", AMOUNT)


@pytest.mark.scenario("INIT-SEQUENTIAL-KEYS", "FLOW-EFECTY")
async def test_an_expired_efecty_voucher_frees_the_order_for_a_card(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    buyer, admin = Actor.buyer(live), Actor.admin(live)
    order = await buyer.create_order(AMOUNT)
    voucher = await buyer.pay(core, order["id"], AMOUNT, "efecty")
    code = voucher.json()["efecty"]["payment_code"]
    assert_refused_naming(await buyer.pay(core, order["id"], AMOUNT, **fields("payu-card")),
                          voucher.json()["transaction"])
    # Time passes: past its expiry for the core, expired at the network; the sweep closes the attempt.
    await core_db.execute("UPDATE efecty_payments SET expires_at = now() - interval '2 days' WHERE payment_code = $1",
                          code)
    async with httpx.AsyncClient(base_url=live.urls["efecty"], timeout=10) as client:
        (await client.post(f"/__admin/vouchers/{code}/expire")).raise_for_status()
    yesterday = (await core_db.fetchval("SELECT (now() AT TIME ZONE 'America/Bogota')::date - 1")).isoformat()
    swept = await core.post("/admin/reconcile", params={"date": yesterday}, headers=admin.headers)
    assert swept.status_code == 200 and swept.json()["vouchers_expired"] == 1, swept.text
    paid = await buyer.pay(core, order["id"], AMOUNT, **fields("payu-card"))
    assert paid.status_code == 200 and paid.json()["order_status"] == "paid", paid.text
    assert len(await charges_for(live, order)) == 2  # the voucher (never paid) and the card
    assert (await assert_money_within_total(core, buyer, order))["approved_amount"] == AMOUNT


@pytest.mark.scenario("INIT-OUTCOME-UNKNOWN", "WOMPI-GATEWAY-FAULTS")
async def test_a_charge_whose_answer_was_lost_blocks_a_new_key(live: Live, core_db: asyncpg.Connection) -> None:
    # Wompi takes the charge and its answer arrives garbled: the money may have moved.
    await put_faults(live, "wompi", rule({"type": "malformed"}, path=WOMPI_TRANSACTIONS, method="POST", count=1))
    async with pinned_core(live) as core:
        buyer = Actor.buyer(live)
        order = await buyer.create_order(AMOUNT)
        lost = await buyer.pay(core, order["id"], AMOUNT, key="lost-answer-0001", **fields("nequi"))
        again = await buyer.pay(core, order["id"], AMOUNT, **fields("payu-card"))
        same_key = await buyer.pay(core, order["id"], AMOUNT, key="lost-answer-0001", **fields("nequi"))
        attempts = await charges_for(live, order)
    assert lost.status_code in (200, 502), lost.text
    attempt = await core_db.fetchrow(
        "SELECT id, reference, gateway::text, payment_method, status::text FROM order_transactions"
        " WHERE order_id = $1", order["id"])
    assert attempt["status"] == "pending"
    assert_refused_naming(again, {**dict(attempt), "status": "pending"})
    assert (same_key.status_code, same_key.json()) == (lost.status_code, lost.json())  # the stored answer
    assert attempts == [("wompi", attempt["reference"])]


@pytest.mark.scenario("INIT-OUTCOME-UNKNOWN")
async def test_a_gateway_answer_that_cannot_be_stored_leaves_no_key_in_progress_and_no_second_charge(
    live: Live, core: httpx.AsyncClient
) -> None:
    # The Wompi sandbox echoes customer_email; a NUL in it once made Postgres refuse the stored answer after
    # the charge. Refused up front (422, nothing charged) or answered 502 with a support reference, the key
    # must answer at once on a retry and a new key must not charge again.
    buyer = Actor.buyer(live)
    order = await buyer.create_order(AMOUNT)
    body = {**fields("nequi"), "customer_email": "comprador\u0000@example.com"}
    first = await buyer.pay(core, order["id"], AMOUNT, key="nul-email-00001", **body)
    retry = await buyer.pay(core, order["id"], AMOUNT, key="nul-email-00001", **body)
    other = await buyer.pay(core, order["id"], AMOUNT, **fields("payu-card"))
    assert first.status_code in (422, 502), first.text
    assert "\\u0000" not in first.text and "asyncpg" not in first.text
    if first.status_code == 502:
        assert first.json()["error"]["code"] == "payment_outcome_unknown"
        assert first.json()["error"]["support_reference"].startswith("SUP-")
        assert (retry.status_code, retry.json()) == (502, first.json())
        assert other.status_code == 409 and other.json()["error"]["code"] == "payment_attempt_live", other.text
        assert len(await charges_for(live, order)) == 1
    else:
        assert retry.status_code == 422 and other.status_code == 200  # nothing was charged, nothing is live
