"""An attempt whose creating request is still calling the gateway is never asked about, however old it is.

The hole (attack4): ``eligible`` let any attempt older than ``live_attempt_grace_seconds`` (60 s) be asked about,
even while the request that created it still held its key open. A create call can run longer than that (a
gateway answering 429 with ``Retry-After`` up to ``resilience.max_delay`` = 60 s, three tries of a 15 s
timeout, Wompi's acceptance tokens read first): the gateway then answers "no such reference" because the
charge has not reached it yet, the core closed the attempt as ``error``, a second payment of the order charged,
and the first charge landed a moment later — the buyer paid twice (the order flagged for a refund).

The class: whoever asks (a new payment of the order, an admin) and however old the attempt (young, or past the
grace period), an attempt whose key is still open is ``in_flight``: not asked about, not closed, and no second
charge goes out. The grace period is 0 here to stand for a request that has run past it.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx
import pytest

from core.api.idempotency import CheckoutOptions, get_checkout_options
from core.tests.apikit import Core, FakeGateways, make_settings, running_core
from core.tests.test_api_process import card_body, key

if TYPE_CHECKING:
    from conftest import Database


async def _second_word(core: Core, order_id: int, reference: str, asker: str) -> httpx.Response:
    if asker == "admin":
        return await core.client.post(f"/admin/attempts/{reference}/resolve", headers=core.auth("ops-1", "admin"))
    order = {"id": order_id, "outstanding_amount": "65000.00"}
    return await core.client.post("/payments/process", json=card_body(order),
                                  headers=core.auth("buyer-1", **key(2)))


async def _until_done_or_second_create(task: asyncio.Task[httpx.Response], gateways: FakeGateways) -> None:
    """Wait (bounded) until the second word is answered, or it has sent a second charge (held at the gate)."""
    for _ in range(300):
        if task.done() or gateways.calls["create"] >= 2:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the second request neither answered nor charged")


@pytest.mark.parametrize("grace", [0.0, 60.0], ids=["past-grace", "young"])
@pytest.mark.parametrize("asker", ["new-payment", "admin"])
async def test_an_attempt_whose_request_is_still_running_is_never_closed_nor_charged_again(
    database: Database, conn: asyncpg.Connection, asker: str, grace: float
) -> None:
    gateways = FakeGateways(create_gate=asyncio.Event())
    async with running_core(make_settings(database.url, live_attempt_grace_seconds=grace), gateways) as core:
        order = await core.create_order("buyer-1")
        first = asyncio.create_task(core.client.post("/payments/process", json=card_body(order),
                                                     headers=core.auth("buyer-1", **key(1))))
        await gateways.wait_for("create")
        reference = await conn.fetchval("SELECT reference FROM order_transactions")
        second = asyncio.create_task(_second_word(core, order["id"], reference, asker))
        await _until_done_or_second_create(second, gateways)
        assert gateways.create_gate is not None
        gateways.create_gate.set()
        answered, other = await first, await second
        flagged = await conn.fetchval("SELECT flagged_for_refund FROM orders WHERE id = $1", order["id"])
        attempts = await conn.fetch("SELECT reference, status FROM order_transactions ORDER BY id")
    assert gateways.calls["create"] == 1, "a second charge went out while the first was still being created"
    assert gateways.calls["find"] == 0  # the gateway's "not found" could only mean "not yet"
    if asker == "admin":
        assert other.status_code == 200 and other.json()["found"] == "in_flight", other.text
    else:
        assert (other.status_code, other.json()["error"]["code"]) == (409, "payment_attempt_live"), other.text
    assert answered.status_code == 200 and answered.json()["order_status"] == "paid", answered.text
    assert [(a["reference"], a["status"]) for a in attempts] == [(reference, "approved")]
    assert flagged is False


# A create the gateway may still be carrying out: the core sent it and got no answer (a read timeout, the
# connection dropped), so a lookup by reference a moment later can say "not found" for a charge still on its
# way. The hole (attack4): the attempt's key held a 502 at once, so the next payment asked straight away, closed
# the attempt as not found and charged again; the first charge landed after. A gateway *answer* (a 5xx) is the
# gateway done with the call: that case is still asked about at once (test_api_resolve_attempt.py).
UNANSWERED: dict[str, list[Exception | None]] = {
    "read-timeout": [httpx.ReadTimeout("no answer")],
    "dropped": [httpx.RemoteProtocolError("server disconnected")],
    "timeout-then-503": [httpx.ReadTimeout("no answer"), None],  # the retry's 503 does not speak for the first
}


class LateLanding(FakeGateways):
    """Wompi receives each create and answers per ``script`` (an exception: no answer; None: 503); the first
    charge lands — becomes visible to a lookup — only when the test calls ``land``."""

    script: list[Exception | None]
    pending: dict[str, Any]

    def land(self) -> None:
        self.created.update(self.pending)

    async def _wompi(self, request: httpx.Request, path: str) -> httpx.Response:
        if path == "/transactions" and request.method == "POST" and self.script:
            self.calls["create"] += 1
            outcome = self.script.pop(0)
            body = json.loads(request.content)
            self.pending.setdefault(body["reference"], {
                "id": "wompi-late-1", "reference": body["reference"], "amount_in_cents": body["amount_in_cents"],
                "currency": body["currency"], "status": "APPROVED", "status_message": None,
                "payment_method_type": "CARD", "customer_email": body["customer_email"],
                "payment_method": {"type": "CARD", "extra": {}},
            })
            if outcome is None:
                return httpx.Response(503, json={"error": {"type": "SERVICE_UNAVAILABLE"}})
            raise outcome
        return await super()._wompi(request, path)


@pytest.mark.parametrize("how", list(UNANSWERED))
@pytest.mark.parametrize("asker", ["new-payment", "admin"])
async def test_a_create_left_unanswered_is_not_closed_by_a_lookup_inside_the_grace_period(
    database: Database, conn: asyncpg.Connection, asker: str, how: str
) -> None:
    gateways = LateLanding()
    gateways.script, gateways.pending = list(UNANSWERED[how]), {}
    attempts = len(UNANSWERED[how])
    settings = make_settings(database.url, resilience={"attempts": attempts, "initial_delay": 0.0,
                                                       "breaker_failures": 5, "breaker_reset_seconds": 60})
    async with running_core(settings, gateways) as core:
        order = await core.create_order("buyer-1")
        first = await core.client.post("/payments/process", json=card_body(order),
                                       headers=core.auth("buyer-1", **key(1)))
        reference = first.json()["error"]["transaction_reference"]
        other = await _second_word(core, order["id"], reference, asker)
        gateways.land()  # the first charge reaches Wompi's records only now
        status = await conn.fetchval("SELECT status FROM order_transactions WHERE reference = $1", reference)
        count = await conn.fetchval("SELECT count(*) FROM order_transactions")
    assert (first.status_code, first.json()["error"]["code"]) == (502, "payment_outcome_unknown"), first.text
    assert gateways.calls["create"] == attempts, "a second charge went out while the first may still land"
    assert gateways.calls["find"] == 0
    if asker == "admin":
        assert other.status_code == 200 and other.json()["found"] == "in_flight", other.text
    else:
        assert (other.status_code, other.json()["error"]["code"]) == (409, "payment_attempt_live"), other.text
    assert (status, count) == ("pending", 1)


async def test_past_the_grace_period_an_unanswered_create_follows_the_gateway(
    database: Database, conn: asyncpg.Connection
) -> None:
    gateways = LateLanding()
    gateways.script, gateways.pending = [httpx.ReadTimeout("no answer")], {}
    async with running_core(make_settings(database.url, live_attempt_grace_seconds=0), gateways) as core:
        order = await core.create_order("buyer-1")
        first = await core.client.post("/payments/process", json=card_body(order),
                                       headers=core.auth("buyer-1", **key(1)))
        gateways.land()
        second = await _second_word(core, order["id"], first.json()["error"]["transaction_reference"], "new-payment")
        view = await core.client.get(f"/orders/{order['id']}", headers=core.auth("buyer-1"))
    assert (second.status_code, second.json()["error"]["code"]) == (409, "order_not_payable"), second.text
    assert view.json()["status"] == "paid" and gateways.calls["create"] == 1


async def test_a_payment_call_outlasting_its_budget_ends_as_unanswered_and_is_not_charged_again(
    database: Database, conn: asyncpg.Connection
) -> None:
    # The gateway never answers: the request must end (502, the key settled) before its key could pass for a
    # dead request's, and the attempt must wait out the grace period as a create left unanswered.
    gateways = FakeGateways(create_gate=asyncio.Event())
    async with running_core(make_settings(database.url), gateways) as core:
        core.app.dependency_overrides[get_checkout_options] = lambda: CheckoutOptions(charge_budget_seconds=0.3)
        order = await core.create_order("buyer-1")
        first = await asyncio.wait_for(core.client.post("/payments/process", json=card_body(order),
                                                        headers=core.auth("buyer-1", **key(1))), timeout=5)
        second = await _second_word(core, order["id"], "", "new-payment")
        stored = await conn.fetchval("SELECT status_code FROM idempotency_keys WHERE key = $1",
                                     key(1)["Idempotency-Key"])
        status = await conn.fetchval("SELECT status FROM order_transactions")
    assert (first.status_code, first.json()["error"]["code"]) == (502, "payment_outcome_unknown"), first.text
    assert stored == 502 and status == "pending"
    assert (second.status_code, second.json()["error"]["code"]) == (409, "payment_attempt_live"), second.text
    assert gateways.calls["create"] == 1 and gateways.calls["find"] == 0
