"""A charge the gateway receives but answers too late is not closed as "not found" by the next payment.

Attack (attack4): Wompi is slow — every try of the core's ``POST /v1/transactions`` waits longer than the
core's timeout, and the simulator, like a real gateway, carries the first one out after the core gave up. The
core answers 502 ``payment_outcome_unknown`` and keeps the attempt pending. The buyer pays again at once with
a new key: the core asks Wompi by the attempt's reference (core/api/resolve.py). Wompi has nothing yet, so the
core closed the attempt as ``error``, charged the new attempt, and the first charge landed a moment later: two
charges for one order. The fix: a create that went unanswered is believed "not found" only after the grace
period (``live_attempt_grace_seconds``), so the second payment is 409 ``payment_attempt_live``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from suites.conftest import Live
from suites.support.faults import (
    WOMPI_TRANSACTIONS,
    assert_clear_error,
    charges,
    pay,
    pinned_core,
    put_faults,
    requests,
    rule,
)
from suites.support.target import RESILIENCE

pytestmark = pytest.mark.scenario("ATTACK-UNANSWERED-CREATE")
# Longer than the core spends on all its tries (timeouts plus backoff), so that the first try lands only
# after the buyer's second payment has been decided, with room to spare on a loaded machine.
LANDS_AFTER_MS = int((RESILIENCE.attempts * RESILIENCE.gateway_timeout_seconds + 3.0) * 1000)

# A rule that never applies (no request carries this command) but makes the simulator read each request's body
# before the delay, as a gateway that has received the whole request and is slow to act on it: otherwise the
# delayed handler would find its client gone and never read the body (nothing would land).
RECEIVED_BEFORE_THE_DELAY = rule({"type": "latency", "ms": 0}, path=WOMPI_TRANSACTIONS, command="NO_SUCH_COMMAND")


@pytest.fixture
async def pinned(live: Live) -> AsyncIterator[httpx.AsyncClient]:
    async with pinned_core(live, calm=("wompi",)) as client:
        yield client


async def _posts_done(live: Live, expected: int) -> None:
    """Wait (bounded) until the simulator has handled every delayed create, so none lands in a later test."""
    for _ in range(200):
        if len(await requests(live, "wompi", path=WOMPI_TRANSACTIONS, method="POST")) >= expected:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the delayed creates never completed")


async def test_a_create_landing_after_the_core_gave_up_is_not_charged_again_by_the_next_payment(
    live: Live, pinned: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    await put_faults(live, "wompi",
                     rule({"type": "latency", "ms": LANDS_AFTER_MS}, path=WOMPI_TRANSACTIONS, method="POST",
                          count=RESILIENCE.attempts),
                     RECEIVED_BEFORE_THE_DELAY)
    buyer, order, first = await pay(pinned, live, "wompi")
    error = assert_clear_error(first, 502, "payment_outcome_unknown", live)
    second = await buyer.pay(pinned, order["id"], "65000.00", "wompi")
    charged_meanwhile = await charges(live, "wompi")
    await _posts_done(live, RESILIENCE.attempts + (1 if second.status_code == 200 else 0))
    landed = await charges(live, "wompi")
    attempts = await core_db.fetch(
        "SELECT reference, status FROM order_transactions WHERE order_id = $1 ORDER BY id", order["id"])
    assert charged_meanwhile == [], "the second payment charged while the first create was still on its way"
    assert (second.status_code, second.json()["error"]["code"]) == (409, "payment_attempt_live"), second.text
    assert second.json()["error"]["live_attempt"]["reference"] == error["transaction_reference"]
    # The first try did land (the simulator carried it out after the core gave up): one charge in all, the
    # first attempt's, which is still live for its webhook or a later lookup to settle.
    assert [c.get("reference") for c in landed] == [error["transaction_reference"]], landed
    assert [(a["reference"], a["status"]) for a in attempts] == [(error["transaction_reference"], "pending")]
