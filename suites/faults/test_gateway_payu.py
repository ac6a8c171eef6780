"""PayU faults seen through ``POST /payments/process``: SUBMIT_TRANSACTION is never resent, the reference is looked up.

PayU has no idempotency key, so a charge whose answer was lost (timeout, 5xx, reset, damaged body) is
resolved by ``ORDER_DETAIL_BY_REFERENCE_CODE``: found → that result; not found → 502
``payment_outcome_unknown``, stored on the Idempotency-Key so no retry with it can charge again. Only the
lookups are retried. Charges are counted from the simulator's journal (a SUBMIT with a transaction id).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from harness.target.target import Target
from suites.conftest import Live
from suites.support.api import Actor
from suites.support.faults import (
    PAYU_PAYMENTS,
    PAYU_REPORTS,
    SUBMIT,
    assert_clear_error,
    charges,
    fired,
    hangs_cut_short,
    hold_webhooks,
    pay,
    pinned_core,
    put_faults,
    requests,
    rule,
)
from suites.support.target import RESILIENCE

pytestmark = pytest.mark.scenario("PAYU-TIMEOUT")


@pytest.fixture
async def pinned(live: Live) -> AsyncIterator[httpx.AsyncClient]:
    async with pinned_core(live, calm=("payu",)) as client:
        yield client


def _submit(fault: dict[str, object], *, count: int | None = None) -> dict[str, object]:
    return rule(fault, path=PAYU_PAYMENTS, method="POST", command=SUBMIT, count=count)


async def _submits(live: Live) -> int:
    return len(await requests(live, "payu", path=PAYU_PAYMENTS, command=SUBMIT))


async def _lookups(live: Live) -> int:
    return len(await requests(live, "payu", path=PAYU_REPORTS))


async def _attempt_status(target: Target, order_id: int) -> str:
    """The order's attempt's status, through the core's profile (``observe.transactions``)."""
    return str((await target.transactions(str(order_id)))[0]["status"])


async def _pay_again(pinned: httpx.AsyncClient, buyer: Actor, order_id: int, key: str) -> httpx.Response:
    return await buyer.pay(pinned, order_id, "65000.00", "payu", key=key, card_holder="APPROVED")


async def test_latency_below_the_timeout_is_waited_out_with_one_submit(live: Live, pinned: httpx.AsyncClient) -> None:
    await put_faults(live, "payu", _submit({"type": "latency", "ms": 400}))
    _, _, response = await pay(pinned, live, "payu")
    assert response.status_code == 200 and response.json()["order_status"] == "paid", response.text
    assert await _submits(live) == 1
    assert len(await charges(live, "payu")) == 1


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_a_5xx_on_submit_is_never_resent_and_an_unknown_outcome_is_kept_on_the_key(
    live: Live, pinned: httpx.AsyncClient, target: Target, status: int
) -> None:
    await put_faults(live, "payu", _submit({"type": "http_error", "status": status}))
    buyer, order, response = await pay(pinned, live, "payu", key=f"payu-5xx-{status}")
    assert_clear_error(response, 502, "payment_outcome_unknown", live)
    assert await fired(live, "payu") == [1]  # one SUBMIT reached PayU (and was refused there, unhandled)
    assert await _lookups(live) == 1  # asked, found nothing: PayU has no order under the reference
    assert await charges(live, "payu") == []
    assert await _attempt_status(target, order["id"]) == "pending"
    replay = await _pay_again(pinned, buyer, order["id"], f"payu-5xx-{status}")
    assert replay.status_code == 502 and replay.headers.get("idempotent-replayed") == "true", replay.text
    assert await fired(live, "payu") == [1]


@pytest.mark.scenario("API-TIMEOUT")
async def test_a_hanging_submit_gives_the_buyer_a_clear_502_soon_after_the_timeout(
    live: Live, pinned: httpx.AsyncClient, target: Target
) -> None:
    await put_faults(live, "payu", _submit({"type": "hang", "seconds": 10}))
    started = time.monotonic()
    _, order, response = await pay(pinned, live, "payu")
    elapsed = time.monotonic() - started
    assert_clear_error(response, 502, "payment_outcome_unknown", live)
    # Abandoned at the core's timeout, not waited out: read from the journal, not from the clock (an upper
    # bound on elapsed time fails on a busy machine); pytest-timeout bounds a real hang.
    assert elapsed >= RESILIENCE.gateway_timeout_seconds
    assert await hangs_cut_short(live, "payu") == [0]
    assert await fired(live, "payu") == [1]
    assert await _lookups(live) == 1
    assert await _attempt_status(target, order["id"]) == "pending"


async def test_a_reset_submit_is_looked_up_not_resent(live: Live, pinned: httpx.AsyncClient) -> None:
    await put_faults(live, "payu", _submit({"type": "connection_reset"}))
    _, _, response = await pay(pinned, live, "payu")
    assert_clear_error(response, 502, "payment_outcome_unknown", live)
    assert await fired(live, "payu") == [1]
    assert await _lookups(live) == 1
    assert await charges(live, "payu") == []


@pytest.mark.parametrize("damage", ["malformed", "truncated"])
async def test_a_damaged_answer_after_the_charge_is_recovered_by_lookup_never_charged_twice(
    live: Live, pinned: httpx.AsyncClient, damage: str
) -> None:
    await put_faults(live, "payu", _submit({"type": damage}))
    _, _, response = await pay(pinned, live, "payu")
    assert response.status_code == 200 and response.json()["order_status"] == "paid", response.text
    assert response.json()["transaction"]["status"] == "approved"
    assert await _submits(live) == 1
    assert len(await charges(live, "payu")) == 1


@pytest.mark.scenario("PAYU-PARTIAL-FAILURE")
async def test_lookups_failing_n_times_then_succeeding_are_retried_and_find_the_one_charge(
    live: Live, pinned: httpx.AsyncClient
) -> None:
    lookup_fails = RESILIENCE.attempts - 1
    await hold_webhooks(live, "payu")  # the confirmation's own lookup would share the failing ones
    await put_faults(
        live,
        "payu",
        _submit({"type": "malformed"}),
        rule({"type": "fail_then_succeed", "times": lookup_fails}, path=PAYU_REPORTS),
    )
    _, _, response = await pay(pinned, live, "payu")
    assert response.status_code == 200 and response.json()["order_status"] == "paid", response.text
    assert await _lookups(live) == lookup_fails + 1
    assert len(await charges(live, "payu")) == 1


@pytest.mark.scenario("PAYU-PARTIAL-FAILURE")
async def test_a_submit_failing_once_is_not_retried_and_a_new_key_pays_once_payu_says_it_has_no_such_order(
    live: Live, pinned: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    # This test once let the buyer's next attempt (a new key) charge blindly. The core cannot tell a 5xx PayU
    # never handled from one after it charged, so the attempt stays live — until PayU, asked by the
    # attempt's reference, says it has no such order (core/README: an attempt whose outcome is unknown).
    # Before that lookup the same 5xx blocked the order for ever (outside tester, b02).
    await put_faults(live, "payu", _submit({"type": "fail_then_succeed", "times": 1}))
    buyer, order, first = await pay(pinned, live, "payu")
    error = assert_clear_error(first, 502, "payment_outcome_unknown", live)
    assert (await buyer.order(order["id"]))["status"] == "pending"
    assert await _submits(live) == 0  # the failed SUBMIT was never handled, and was not resent
    second = await _pay_again(pinned, buyer, order["id"], "payu-next-0001")
    assert second.status_code == 200 and second.json()["order_status"] == "paid", second.text
    status = await core_db.fetchval("SELECT status::text FROM order_transactions WHERE reference = $1",
                                    error["transaction_reference"])
    assert status == "error"
    assert await _submits(live) == 1 and len(await charges(live, "payu")) == 1  # one charge in all


async def test_a_429_on_submit_is_not_resent_and_frees_the_key_for_a_later_retry(
    live: Live, pinned: httpx.AsyncClient, target: Target
) -> None:
    await put_faults(live, "payu", _submit({"type": "rate_limited", "retry_after": 1}))
    buyer, order, response = await pay(pinned, live, "payu", key="payu-429-0001")
    # 429 means PayU did not take the request: nothing to look up, safe to send again later.
    assert_clear_error(response, 503, "gateway_unreachable", live)
    assert await _submits(live) == 0 and await fired(live, "payu") == [1]
    assert await _lookups(live) == 0
    assert await _attempt_status(target, order["id"]) == "error"
    await put_faults(live, "payu")
    again = await _pay_again(pinned, buyer, order["id"], "payu-429-0001")
    assert again.status_code == 200 and "idempotent-replayed" not in again.headers, again.text
    assert len(await charges(live, "payu")) == 1
