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
from typing import TYPE_CHECKING

import asyncpg
import httpx
import pytest

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
