"""At most one live payment attempt per order, whatever the Idempotency-Key; and no key left open for ever.

The guard attacked is the one-live-attempt index (migration 0004, ``uq_order_transactions_one_live_attempt``)
behind the checkout's ``INSERT … ON CONFLICT DO NOTHING``; a second charge is what these tests count.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx
import pytest

from core.api.idempotency import CheckoutOptions, get_checkout_options
from core.tests.apikit import Core, FakeGateways, make_settings, running_core
from core.tests.test_api_process import card_body, key

if TYPE_CHECKING:
    from conftest import Database

PAYU = {
    "gateway": "payu",
    "card": {"number": "4037997623271984", "cvc": "321", "exp_month": 12, "exp_year": 2030, "holder": "APPROVED"},
    "payer": {"full_name": "Ana Pérez", "phone": "3001234567", "dni_number": "123456789"},
}


def nequi_body(order: dict[str, Any]) -> dict[str, Any]:
    return {**card_body(order), "method": "NEQUI", "card": None, "nequi_phone": "3991111111"}


def efecty_body(order: dict[str, Any]) -> dict[str, Any]:
    return {**card_body(order), "method": "EFECTY", "card": None}


async def pay(core: Core, body: dict[str, Any], n: int) -> httpx.Response:
    return await core.client.post("/payments/process", json=body, headers=core.auth("buyer-1", **key(n)))


def charges(gateways: FakeGateways) -> int:
    return gateways.calls["create"] + gateways.calls["payu_submit"] + gateways.calls["voucher"]


def assert_names_live_attempt(response: Any, first: dict[str, Any]) -> None:
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "payment_attempt_live"
    live = error["live_attempt"]
    assert (live["id"], live["reference"], live["status"]) == (first["id"], first["reference"], "pending")
    assert (live["payment_method"], live["gateway"]) == (first["payment_method"], first["gateway"])


@pytest.mark.parametrize("second", ["wompi-card", "payu-card", "nequi", "efecty"])
@pytest.mark.parametrize("first", ["nequi", "efecty", "pse"])
async def test_a_new_key_while_an_attempt_is_pending_gets_409_naming_it(
    database: Database, conn: asyncpg.Connection, first: str, second: str
) -> None:
    gateways = FakeGateways(wompi_status="PENDING")
    async with running_core(make_settings(database.url), gateways) as core:
        order = await core.create_order("buyer-1", "65000")
        bodies = {
            "nequi": nequi_body(order),
            "efecty": efecty_body(order),
            "pse": {
                **card_body(order),
                "method": "PSE",
                "card": None,
                "pse": {"bank_code": "1", "user_type": 0, "legal_id_type": "CC", "legal_id": "1234567"},
                "payer": PAYU["payer"],
            },
            "wompi-card": card_body(order),
            "payu-card": card_body(order, **PAYU),
        }
        pending = await pay(core, bodies[first], 1)
        gateways.wompi_status = "APPROVED"
        refused = await pay(core, bodies[second], 2)
        # The refused request changed nothing, so its key is free for the same request later.
        again = await pay(core, bodies[second], 2)
    assert pending.status_code == 200 and pending.json()["transaction"]["status"] == "pending"
    assert_names_live_attempt(refused, pending.json()["transaction"])
    assert again.status_code == 409 and "idempotent-replayed" not in again.headers
    assert charges(gateways) == 1
    assert await conn.fetchval("SELECT count(*) FROM order_transactions") == 1
    assert await conn.fetchval("SELECT count(*) FROM efecty_payments") == (1 if first == "efecty" else 0)
    assert await conn.fetchval("SELECT count(*) FROM idempotency_keys") == 1


@pytest.mark.parametrize("method", ["wompi-card", "payu-card"])
async def test_ten_keys_at_once_on_one_order_charge_the_gateway_once(
    database: Database, conn: asyncpg.Connection, method: str
) -> None:
    gateways = FakeGateways(create_gate=asyncio.Event())
    async with running_core(make_settings(database.url), gateways) as core:
        order = await core.create_order("buyer-1", "65000")
        body = card_body(order, **PAYU) if method == "payu-card" else card_body(order)

        async def one(n: int) -> httpx.Response:
            return await pay(core, body, n)

        async def open_the_gate_soon() -> None:
            await asyncio.sleep(0.3)  # the Wompi charge is held until every request has tried
            assert gateways.create_gate is not None
            gateways.create_gate.set()

        async with asyncio.timeout(15):
            opener = asyncio.create_task(open_the_gate_soon())
            answers = await asyncio.gather(*(one(n) for n in range(10)))
            await opener
        view = await core.client.get(f"/orders/{order['id']}", headers=core.auth("buyer-1"))
    assert sorted(a.status_code for a in answers) == [200] + [409] * 9, [a.text for a in answers]
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} <= {
        "payment_attempt_live",
        "order_not_payable",  # PayU approves at once: a late request finds the order paid
    }
    assert charges(gateways) == 1
    assert view.json()["approved_amount"] == "65000.00" and view.json()["status"] == "paid"
    assert await conn.fetchval("SELECT count(*) FROM order_transactions") == 1


@pytest.mark.parametrize("final", ["DECLINED", "ERROR"])
async def test_after_a_failed_attempt_a_new_key_may_pay(
    database: Database, conn: asyncpg.Connection, final: str
) -> None:
    gateways = FakeGateways(wompi_status=final)
    async with running_core(make_settings(database.url), gateways) as core:
        order = await core.create_order("buyer-1")
        failed = await pay(core, card_body(order), 1)
        gateways.wompi_status = "APPROVED"
        paid = await pay(core, card_body(order), 2)
        late = await pay(core, card_body(order), 3)
    assert failed.json()["transaction"]["status"] == final.lower()
    assert (paid.json()["transaction"]["status"], paid.json()["order_status"]) == ("approved", "paid")
    # An approved order is not payable at all: not "attempt live", the order is done.
    assert (late.status_code, late.json()["error"]["code"]) == (409, "order_not_payable")
    assert gateways.calls["create"] == 2


async def test_an_outcome_unknown_attempt_blocks_a_new_key_while_the_gateway_may_hold_it(
    database: Database, conn: asyncpg.Connection
) -> None:
    # The gateway cannot be asked (its lookup fails too): the attempt stays live. When the lookup works, the
    # gateway's word ends it (test_api_resolve_attempt.py).
    gateways = FakeGateways(fail={"create", "find"})
    async with running_core(make_settings(database.url), gateways) as core:
        order = await core.create_order("buyer-1")
        unknown = await pay(core, card_body(order), 1)
        gateways.fail.discard("create")
        second = await pay(core, card_body(order), 2)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (502, "payment_outcome_unknown")
    assert second.status_code == 409 and second.json()["error"]["code"] == "payment_attempt_live"
    live = second.json()["error"]["live_attempt"]
    assert live["reference"] == unknown.json()["error"]["transaction_reference"]
    assert gateways.calls["create"] == 1


async def test_an_attempt_held_for_another_amount_blocks_a_new_key(database: Database) -> None:
    gateways = FakeGateways(wompi_amount_in_cents=100)
    async with running_core(make_settings(database.url), gateways) as core:
        order = await core.create_order("buyer-1")
        held = await pay(core, card_body(order), 1)
        gateways.wompi_amount_in_cents = None
        second = await pay(core, card_body(order), 2)
    assert held.status_code == 200 and held.json()["transaction"]["status"] == "pending"
    assert_names_live_attempt(second, held.json()["transaction"])
    assert gateways.calls["create"] == 1


async def test_an_unreachable_gateway_ends_the_attempt_so_a_new_key_may_pay(database: Database) -> None:
    gateways = FakeGateways(unreachable={"voucher"})
    async with running_core(make_settings(database.url), gateways) as core:
        order = await core.create_order("buyer-1")
        down = await pay(core, efecty_body(order), 1)
        gateways.unreachable.clear()
        card = await pay(core, card_body(order), 2)
    assert (down.status_code, down.json()["error"]["code"]) == (503, "gateway_unreachable")
    assert card.status_code == 200 and card.json()["transaction"]["status"] == "approved"


async def test_the_database_refuses_a_second_live_attempt_even_when_python_does_not_ask(
    conn: asyncpg.Connection,
) -> None:
    order_id = await conn.fetchval(
        "INSERT INTO orders (reference, buyer_id, total_amount) VALUES ('ORD-X', 'b', 65000) RETURNING id"
    )
    insert = (
        "INSERT INTO order_transactions (order_id, gateway, reference, payment_method, amount, currency, status)"
        " VALUES ($1, 'wompi', $2, 'CARD', 65000, 'COP', $3)"
    )
    await conn.execute(insert, order_id, "ORD-X-1", "declined")
    await conn.execute(insert, order_id, "ORD-X-2", "pending")
    with pytest.raises(asyncpg.UniqueViolationError, match="uq_order_transactions_one_live_attempt"):
        await conn.execute(insert, order_id, "ORD-X-3", "pending")
    await conn.execute("UPDATE order_transactions SET status = 'expired' WHERE reference = 'ORD-X-2'")
    await conn.execute(insert, order_id, "ORD-X-3", "pending")


async def test_a_gateway_answer_echoing_nul_is_stored_escaped_and_applied(
    database: Database, conn: asyncpg.Connection
) -> None:
    # JSONB refuses \\u0000 and the gateway echoes text the buyer gave it directly (a card holder tokenised at
    # Wompi never passes our input rules): storing that answer used to fail after the charge.
    gateways = FakeGateways(wompi_status_message="Aprobada\x00")
    async with running_core(make_settings(database.url), gateways) as core:
        order = await core.create_order("buyer-1")
        first = await pay(core, card_body(order), 1)
    assert first.status_code == 200, first.text
    assert first.json()["transaction"]["status"] == "approved"
    stored = await conn.fetchval("SELECT gateway_response FROM order_transactions")
    assert '"form": "escaped"' in stored and "raw_sha256" in stored and "Aprobada\\\\u0000" in stored
    assert await conn.fetchval("SELECT status FROM orders") == "paid"


async def test_a_gateway_answer_the_database_refuses_is_502_stored_and_blocks_a_new_charge(
    database: Database, conn: asyncpg.Connection
) -> None:
    # Whatever makes the write of the gateway's answer fail after the charge (here a trigger refusing it).
    await conn.execute("CREATE FUNCTION refuse_answer() RETURNS trigger LANGUAGE plpgsql AS"
                       " $$ BEGIN RAISE EXCEPTION 'injected: the answer cannot be stored'; END $$")
    await conn.execute("CREATE TRIGGER refuse_answer BEFORE UPDATE OF gateway_response ON order_transactions"
                       " FOR EACH ROW EXECUTE FUNCTION refuse_answer()")
    gateways = FakeGateways()
    async with running_core(make_settings(database.url), gateways) as core:
        # "At once": a key left open would make the retry wait, and fail, after a fraction of a second.
        core.app.dependency_overrides[get_checkout_options] = lambda: CheckoutOptions(idempotency_wait_seconds=0.3)
        order = await core.create_order("buyer-1")
        first = await pay(core, card_body(order), 1)
        retry = await pay(core, card_body(order), 1)
        new_key = await pay(core, card_body(order), 2)
    assert first.status_code == 502, first.text
    error = first.json()["error"]
    assert error["code"] == "payment_outcome_unknown" and error["support_reference"].startswith("SUP-")
    assert "injected" not in first.text and "asyncpg" not in first.text
    # The same key answers the same 502 at once (no "in progress" for ever); a new key cannot charge again.
    assert (retry.status_code, retry.json(), retry.headers["idempotent-replayed"]) == (502, first.json(), "true")
    assert new_key.status_code == 409 and new_key.json()["error"]["code"] == "payment_attempt_live"
    assert new_key.json()["error"]["live_attempt"]["reference"] == error["transaction_reference"]
    assert gateways.calls["create"] == 1
    assert await conn.fetchval("SELECT status FROM order_transactions") == "pending"


@pytest.mark.parametrize("attempt_recorded", [True, False])
async def test_a_key_whose_request_died_is_settled_not_in_progress_for_ever(
    database: Database, conn: asyncpg.Connection, attempt_recorded: bool
) -> None:
    gateways = FakeGateways(wompi_status="PENDING")
    async with running_core(make_settings(database.url), gateways) as core:
        core.app.dependency_overrides[get_checkout_options] = lambda: CheckoutOptions(
            idempotency_wait_seconds=0.2, stale_key_seconds=0.0
        )
        order = await core.create_order("buyer-1")
        first = await pay(core, nequi_body(order), 1)
        # As if the worker had been killed before it stored the answer (and, without an attempt, before the
        # attempt's commit).
        await conn.execute("UPDATE idempotency_keys SET status_code = NULL, response_body = NULL")
        if not attempt_recorded:
            await conn.execute("UPDATE idempotency_keys SET transaction_id = NULL")
            await conn.execute("UPDATE order_transactions SET status = 'error'")
        # Bounded: a key the claim fails to settle would have the retry loop on it for ever.
        retry = await asyncio.wait_for(pay(core, nequi_body(order), 1), timeout=3)
    assert first.status_code == 200
    if attempt_recorded:
        assert (retry.status_code, retry.json()["error"]["code"]) == (502, "payment_outcome_unknown")
        assert gateways.calls["create"] == 1
    else:
        assert retry.status_code == 200 and retry.json()["transaction"]["status"] == "pending"
        assert gateways.calls["create"] == 2


async def test_the_live_attempt_guard_holds_under_generic_plans(database: Database, conn: asyncpg.Connection) -> None:
    # ON CONFLICT must prove the index's predicate from the statement's; asyncpg's prepared statements go
    # generic after five runs on a connection, and a bound parameter in the predicate then found no index
    # (500 on the live stack). Forcing generic plans shows it on the first run.
    await conn.execute(f'ALTER DATABASE "{database.name}" SET plan_cache_mode = force_generic_plan')
    gateways = FakeGateways(wompi_status="PENDING")
    async with running_core(make_settings(database.url), gateways) as core:
        order = await core.create_order("buyer-1")
        first = await pay(core, nequi_body(order), 1)
        second = await pay(core, nequi_body(order), 2)
    assert first.status_code == 200, first.text
    assert_names_live_attempt(second, first.json()["transaction"])
