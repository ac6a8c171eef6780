"""Idempotency-Key on ``POST /payments/process``: retries, concurrent duplicates and reused keys never charge twice."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import asyncpg
import pytest

from core.api.idempotency import CheckoutOptions, get_checkout_options
from core.tests.apikit import FakeGateways, make_settings, running_core
from core.tests.test_api_process import card_body

if TYPE_CHECKING:
    from conftest import Database

KEY = {"Idempotency-Key": "0b7a6c1e-5d1f-4c53-9a0e-3f1d2c4b5a69"}


@pytest.mark.scenario("PAYU-CONCURRENT-CHARGES")
async def test_a_sequential_retry_gets_the_first_answer_and_charges_once(
    database: Database, conn: asyncpg.Connection
) -> None:
    async with running_core(make_settings(database.url)) as core:
        order = await core.create_order("buyer-1")
        first = await core.client.post("/payments/process", json=card_body(order), headers=core.auth("buyer-1", **KEY))
        # The same body written differently (an integer amount) is the same request.
        retry = await core.client.post(
            "/payments/process", json=card_body(order, amount=65000), headers=core.auth("buyer-1", **KEY)
        )
    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json()
    assert "idempotent-replayed" not in first.headers and retry.headers["idempotent-replayed"] == "true"
    assert core.gateways.calls["create"] == 1
    assert await conn.fetchval("SELECT count(*) FROM order_transactions") == 1
    stored = await conn.fetchrow("SELECT status_code, transaction_id FROM idempotency_keys")
    assert stored["status_code"] == 200 and stored["transaction_id"] is not None


async def test_a_key_reused_with_another_body_is_refused(database: Database, conn: asyncpg.Connection) -> None:
    async with running_core(make_settings(database.url)) as core:
        order = await core.create_order("buyer-1")
        await core.client.post("/payments/process", json=card_body(order), headers=core.auth("buyer-1", **KEY))
        other = await core.client.post(
            "/payments/process", json=card_body(order, card={"token": "tok_other"}), headers=core.auth("buyer-1", **KEY)
        )
    assert (other.status_code, other.json()["error"]["code"]) == (409, "idempotency_key_reused")
    assert core.gateways.calls["create"] == 1


async def test_the_key_header_is_required_and_checked(database: Database, conn: asyncpg.Connection) -> None:
    async with running_core(make_settings(database.url)) as core:
        order = await core.create_order("buyer-1")
        missing = await core.client.post("/payments/process", json=card_body(order), headers=core.auth("buyer-1"))
        short = await core.client.post(
            "/payments/process", json=card_body(order), headers=core.auth("buyer-1", **{"Idempotency-Key": "k1"})
        )
    assert (missing.status_code, missing.json()["error"]["code"]) == (400, "idempotency_key_required")
    assert (short.status_code, short.json()["error"]["code"]) == (400, "idempotency_key_invalid")
    assert core.gateways.calls["create"] == 0
    assert await conn.fetchval("SELECT count(*) FROM order_transactions") == 0


async def test_keys_belong_to_one_buyer(database: Database) -> None:
    async with running_core(make_settings(database.url)) as core:
        mine = await core.create_order("buyer-1")
        theirs = await core.create_order("buyer-2")
        a = await core.client.post("/payments/process", json=card_body(mine), headers=core.auth("buyer-1", **KEY))
        b = await core.client.post("/payments/process", json=card_body(theirs), headers=core.auth("buyer-2", **KEY))
    assert a.status_code == b.status_code == 200
    assert a.json()["order_id"] != b.json()["order_id"]
    assert core.gateways.calls["create"] == 2


@pytest.mark.scenario("PAYU-CONCURRENT-CHARGES")
async def test_idempotency_unique_key_lets_one_of_ten_concurrent_duplicates_charge(
    database: Database, conn: asyncpg.Connection
) -> None:
    gateways = FakeGateways(create_gate=asyncio.Event())
    async with running_core(make_settings(database.url), gateways) as core:
        order = await core.create_order("buyer-1")

        async def pay() -> Any:
            return await core.client.post(
                "/payments/process", json=card_body(order), headers=core.auth("buyer-1", **KEY)
            )

        async def open_gate_when_the_charge_is_in_flight() -> None:
            await gateways.wait_for("create")
            await asyncio.sleep(0.1)  # let the other nine find the key taken and start polling
            assert gateways.create_gate is not None
            gateways.create_gate.set()

        async with asyncio.timeout(10):
            *answers, _ = await asyncio.gather(*(pay() for _ in range(10)), open_gate_when_the_charge_is_in_flight())
    assert [a.status_code for a in answers] == [200] * 10
    assert all(a.json() == answers[0].json() for a in answers)
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 9
    assert gateways.calls["create"] == 1
    assert await conn.fetchval("SELECT count(*) FROM order_transactions") == 1
    assert await conn.fetchval("SELECT approved_amount FROM orders") == Decimal("65000.00")


async def test_a_duplicate_while_the_first_is_in_flight_gets_409_in_progress(database: Database) -> None:
    gateways = FakeGateways(create_gate=asyncio.Event())
    async with running_core(make_settings(database.url), gateways) as core:
        core.app.dependency_overrides[get_checkout_options] = lambda: CheckoutOptions(idempotency_wait_seconds=0.2)
        order = await core.create_order("buyer-1")
        first = asyncio.create_task(
            core.client.post("/payments/process", json=card_body(order), headers=core.auth("buyer-1", **KEY))
        )
        await gateways.wait_for("create")
        assert gateways.create_gate is not None
        try:
            # Bounded: were the key not guarded, this duplicate would block on the gate too.
            async with asyncio.timeout(5):
                duplicate = await core.client.post(
                    "/payments/process", json=card_body(order), headers=core.auth("buyer-1", **KEY)
                )
        finally:
            gateways.create_gate.set()
        done = await first
        later = await core.client.post("/payments/process", json=card_body(order), headers=core.auth("buyer-1", **KEY))
    assert (duplicate.status_code, duplicate.json()["error"]["code"]) == (409, "idempotency_in_progress")
    assert duplicate.headers["retry-after"] == "1"
    assert done.status_code == 200 and later.json() == done.json()
    assert gateways.calls["create"] == 1
