"""Wompi faults seen through ``POST /payments/process``: retried as configured, charged once, a clear answer.

The core retries ``POST /v1/transactions`` because Wompi refuses a second transaction with the same
reference; a damaged answer after the charge is resolved by reading the reference back, never by a
second charge. Retries are counted in the simulator's journal; charges are Wompi's own count of
transactions under the attempt's reference. Every test talks to one uvicorn worker (``pinned``).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from suites.conftest import Live
from suites.support.faults import (
    NEQUI_APPROVES,
    WOMPI_TRANSACTIONS,
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
    wompi_by_reference,
)
from suites.support.target import RESILIENCE

pytestmark = pytest.mark.scenario("WOMPI-GATEWAY-FAULTS")


@pytest.fixture
async def pinned(live: Live) -> AsyncIterator[httpx.AsyncClient]:
    async with pinned_core(live, calm=("wompi",)) as client:
        yield client


def _post(fault: dict[str, object], *, count: int | None = None) -> dict[str, object]:
    return rule(fault, path=WOMPI_TRANSACTIONS, method="POST", count=count)


async def _posts(live: Live) -> int:
    return len(await requests(live, "wompi", path=WOMPI_TRANSACTIONS, method="POST"))


async def _attempt(db: asyncpg.Connection, order_id: int) -> asyncpg.Record:
    return await db.fetchrow(
        "SELECT status, reference, gateway_transaction_id FROM order_transactions WHERE order_id = $1", order_id
    )


async def test_latency_below_the_timeout_is_waited_out_with_one_call(live: Live, pinned: httpx.AsyncClient) -> None:
    await put_faults(live, "wompi", _post({"type": "latency", "ms": 400}))
    started = time.monotonic()
    _, _, response = await pay(pinned, live, "wompi")
    assert response.status_code == 200, response.text
    assert time.monotonic() - started >= 0.4
    assert await _posts(live) == 1
    assert len(await charges(live, "wompi")) == 1


async def test_each_5xx_is_retried_as_configured_then_the_outcome_is_unknown_and_the_key_kept(
    live: Live, pinned: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    await put_faults(live, "wompi", *(_post({"type": "http_error", "status": s}, count=1) for s in (500, 502, 503)))
    buyer, order, response = await pay(pinned, live, "wompi", key="wompi-5xx-0001")
    error = assert_clear_error(response, 502, "payment_outcome_unknown", live)
    assert await fired(live, "wompi") == [1, 1, 1]
    assert await _posts(live) == RESILIENCE.attempts
    assert await charges(live, "wompi") == []
    attempt = await _attempt(core_db, order["id"])
    # A 5xx may come after the gateway acted: the attempt waits for Wompi's event, the answer stays on the key.
    assert attempt["status"] == "pending" and error["transaction_reference"] == attempt["reference"]
    replay = await buyer.pay(
        pinned, order["id"], "65000.00", "wompi.nequi", nequi_phone=NEQUI_APPROVES, key="wompi-5xx-0001"
    )
    assert replay.status_code == 502 and replay.headers.get("idempotent-replayed") == "true", replay.text
    assert await _posts(live) == RESILIENCE.attempts


async def test_a_gateway_failing_n_times_then_succeeding_is_charged_once_after_n_retries(
    live: Live, pinned: httpx.AsyncClient
) -> None:
    await put_faults(live, "wompi", _post({"type": "fail_then_succeed", "times": RESILIENCE.attempts - 1}))
    _, _, response = await pay(pinned, live, "wompi")
    assert response.status_code == 200, response.text
    assert response.json()["transaction"]["status"] == "pending"
    assert await _posts(live) == RESILIENCE.attempts
    assert len(await charges(live, "wompi")) == 1


async def test_a_429_is_retried_no_sooner_than_its_retry_after(live: Live, pinned: httpx.AsyncClient) -> None:
    await put_faults(live, "wompi", _post({"type": "rate_limited", "retry_after": 1}, count=1))
    started = time.monotonic()
    _, _, response = await pay(pinned, live, "wompi")
    assert response.status_code == 200, response.text
    assert time.monotonic() - started >= 1.0
    assert await _posts(live) == 2
    assert len(await charges(live, "wompi")) == 1


async def test_a_429_asking_longer_than_the_cap_stops_at_once_and_frees_the_key(
    live: Live, pinned: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    await put_faults(live, "wompi", _post({"type": "rate_limited", "retry_after": 30}))
    buyer, order, response = await pay(pinned, live, "wompi", key="wompi-429-0001")
    assert_clear_error(response, 503, "gateway_unreachable", live)
    assert await _posts(live) == 1
    assert (await _attempt(core_db, order["id"]))["status"] == "error"
    # Nothing was charged, so the key was released: the same request later goes through, once.
    await put_faults(live, "wompi")
    again = await buyer.pay(
        pinned, order["id"], "65000.00", "wompi.nequi", nequi_phone=NEQUI_APPROVES, key="wompi-429-0001"
    )
    assert again.status_code == 200 and "idempotent-replayed" not in again.headers, again.text
    assert len(await charges(live, "wompi")) == 1


async def test_a_hang_past_the_timeout_is_abandoned_and_the_retry_charges_once(
    live: Live, pinned: httpx.AsyncClient
) -> None:
    await put_faults(live, "wompi", _post({"type": "hang", "seconds": 10}, count=1))
    started = time.monotonic()
    _, _, response = await pay(pinned, live, "wompi")
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    # Abandoned at the core's timeout, not waited out (the journal, not an upper bound on elapsed time).
    assert elapsed >= RESILIENCE.gateway_timeout_seconds
    assert await hangs_cut_short(live, "wompi") == [0]
    assert await fired(live, "wompi") == [1]
    assert len(await charges(live, "wompi")) == 1


async def test_a_reset_connection_is_retried_and_charges_once(live: Live, pinned: httpx.AsyncClient) -> None:
    await put_faults(live, "wompi", _post({"type": "connection_reset"}, count=1))
    _, _, response = await pay(pinned, live, "wompi")
    assert response.status_code == 200, response.text
    assert await fired(live, "wompi") == [1]
    assert len(await charges(live, "wompi")) == 1


@pytest.mark.parametrize("damage", ["malformed", "truncated"])
async def test_a_damaged_answer_after_the_charge_is_read_back_by_reference_never_charged_twice(
    live: Live, pinned: httpx.AsyncClient, core_db: asyncpg.Connection, damage: str
) -> None:
    await put_faults(live, "wompi", _post({"type": damage}, count=1))
    _, order, response = await pay(pinned, live, "wompi")
    assert response.status_code == 200, response.text
    # The retry was sent and refused for its reference (422), then the reference was read back.
    assert [e["status"] for e in await requests(live, "wompi", path=WOMPI_TRANSACTIONS)] == [201, 422, 200]
    attempt = await _attempt(core_db, order["id"])
    at_wompi = await wompi_by_reference(live, attempt["reference"])
    assert [t["id"] for t in at_wompi] == [attempt["gateway_transaction_id"]]


async def test_wompi_down_before_the_charge_tells_the_buyer_nothing_was_charged(
    live: Live, pinned: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    await put_faults(live, "wompi", rule({"type": "http_error", "status": 503}, path="/v1/merchants/*"))
    _, order, response = await pay(pinned, live, "wompi")
    assert await _posts(live) == 0  # the charge was never sent: only the merchant's acceptance token was asked for
    attempt = await _attempt(core_db, order["id"])
    assert (response.status_code, response.json()["error"]["code"], attempt["status"]) == (
        503,
        "gateway_unreachable",
        "error",
    ), response.text


_RATE_LIMITED = {"type": "rate_limited", "retry_after": 1}


@pytest.mark.parametrize(
    "after",
    [
        # b08: the retry meets "reference already used"; the reference lookup is rate limited, or answers 404.
        rule(_RATE_LIMITED, path=WOMPI_TRANSACTIONS, method="GET", count=20),
        rule({"type": "http_error", "status": 404}, path=WOMPI_TRANSACTIONS, method="GET", count=20),
        # b09: the retried POST itself is rate limited until the retries run out.
        _post(_RATE_LIMITED, count=20),
    ],
    ids=["lookup-429", "lookup-404", "retry-429"],
)
async def test_a_lost_answer_then_a_failed_lookup_or_retry_keeps_the_attempt_live_and_charges_once(
    live: Live, pinned: httpx.AsyncClient, core_db: asyncpg.Connection, after: dict[str, object]
) -> None:
    # Wompi creates the charge but its answer is unreadable; whatever the core meets afterwards (a 429, a 404)
    # speaks only for the later call. Read as "not charged", it freed the order for a second charge.
    await hold_webhooks(live, "wompi")  # the first charge's APPROVED event must not settle the order meanwhile
    await put_faults(live, "wompi", _post({"type": "malformed"}, count=1), after)
    buyer, order, first = await pay(pinned, live, "wompi-card")
    error = assert_clear_error(first, 502, "payment_outcome_unknown", live)
    attempt = await _attempt(core_db, order["id"])
    assert attempt["status"] == "pending" and error["transaction_reference"] == attempt["reference"]
    await put_faults(live, "wompi")
    second = await buyer.pay(pinned, order["id"], "65000.00", "wompi")
    # The second request makes the core ask Wompi by the live attempt's reference (core/api/resolve.py): the
    # charge is found, so either it is still pending at Wompi (409 naming the live attempt) or Wompi has
    # approved it by now (the attempt adopts it, the order is paid, 409 order_not_payable) — which one depends
    # on how long the first request's retries took. Never a second charge.
    code = second.json()["error"]["code"]
    assert second.status_code == 409 and code in ("payment_attempt_live", "order_not_payable"), second.text
    if code == "order_not_payable":
        adopted = await _attempt(core_db, order["id"])
        assert (adopted["reference"], adopted["status"]) == (attempt["reference"], "approved")
    assert len(await charges(live, "wompi")) == 1
    # The one charge is the first attempt's.
    assert len(await wompi_by_reference(live, attempt["reference"])) == 1
