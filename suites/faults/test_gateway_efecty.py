"""Efecty faults seen through ``POST /payments/process`` (cash): voucher registration retried, one voucher per code.

The payment code is the core's own key at Efecty: a retry after a damaged answer meets 409
DUPLICATE_CODE and reads the voucher back, so a retry can never register a second voucher. Vouchers are
counted at the simulator (``GET /__admin/vouchers``).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from suites.conftest import Live
from suites.support.faults import (
    EFECTY_VOUCHERS,
    assert_clear_error,
    fired,
    pay,
    pinned_core,
    put_faults,
    requests,
    rule,
)
from suites.support.http import client
from suites.support.target import RESILIENCE

pytestmark = pytest.mark.scenario("EFECTY-GATEWAY-FAULTS")


@pytest.fixture
async def pinned(live: Live) -> AsyncIterator[httpx.AsyncClient]:
    async with pinned_core(live, calm=("efecty",)) as client:
        yield client


def _register(fault: dict[str, object], *, count: int | None = None) -> dict[str, object]:
    return rule(fault, path=EFECTY_VOUCHERS, method="POST", count=count)


async def _vouchers(live: Live) -> list[dict[str, Any]]:
    async with client() as http:
        response = await http.get(f"{live.urls['efecty']}/__admin/vouchers")
    response.raise_for_status()
    return list(response.json()["vouchers"])


async def _registrations(live: Live) -> list[int]:
    return [e["status"] for e in await requests(live, "efecty", path=EFECTY_VOUCHERS, method="POST")]


async def _one_voucher_for(live: Live, response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    code = response.json()["efecty"]["payment_code"]
    assert [v["payment_code"] for v in await _vouchers(live)] == [code]


async def test_latency_below_the_timeout_is_waited_out_with_one_registration(
    live: Live, pinned: httpx.AsyncClient
) -> None:
    await put_faults(live, "efecty", _register({"type": "latency", "ms": 400}))
    _, _, response = await pay(pinned, live, "efecty")
    await _one_voucher_for(live, response)
    assert await _registrations(live) == [201]


async def test_each_5xx_is_retried_as_configured_then_the_outcome_is_unknown(
    live: Live, pinned: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    await put_faults(
        live, "efecty", *(_register({"type": "http_error", "status": s}, count=1) for s in (500, 502, 503))
    )
    _, order, response = await pay(pinned, live, "efecty")
    assert_clear_error(response, 502, "payment_outcome_unknown", live)
    assert await fired(live, "efecty") == [1, 1, 1]
    assert await _registrations(live) == [500, 502, 503][: RESILIENCE.attempts]
    assert await _vouchers(live) == []
    status = await core_db.fetchval("SELECT status FROM order_transactions WHERE order_id = $1", order["id"])
    assert status == "pending"


async def test_a_registration_failing_n_times_then_succeeding_gives_one_voucher(
    live: Live, pinned: httpx.AsyncClient
) -> None:
    await put_faults(live, "efecty", _register({"type": "fail_then_succeed", "times": RESILIENCE.attempts - 1}))
    _, _, response = await pay(pinned, live, "efecty")
    await _one_voucher_for(live, response)
    assert len(await _registrations(live)) == RESILIENCE.attempts


async def test_a_429_asking_longer_than_the_cap_stops_at_once_and_the_code_is_closed(
    live: Live, pinned: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    await put_faults(live, "efecty", _register({"type": "rate_limited", "retry_after": 30}))
    _, order, response = await pay(pinned, live, "efecty")
    assert_clear_error(response, 503, "gateway_unreachable", live)
    assert await _registrations(live) == [429]
    # A code Efecty never registered can never be paid: the core closes it rather than leave it pending.
    row = await core_db.fetchrow(
        "SELECT p.status AS voucher, t.status AS attempt FROM efecty_payments p"
        " JOIN order_transactions t ON t.id = p.transaction_id WHERE t.order_id = $1",
        order["id"],
    )
    assert dict(row) == {"voucher": "expired", "attempt": "error"}


async def test_a_hang_past_the_timeout_is_abandoned_and_the_retry_registers_one_voucher(
    live: Live, pinned: httpx.AsyncClient
) -> None:
    await put_faults(live, "efecty", _register({"type": "hang", "seconds": 10}, count=1))
    started = time.monotonic()
    _, _, response = await pay(pinned, live, "efecty")
    assert time.monotonic() - started >= RESILIENCE.gateway_timeout_seconds
    await _one_voucher_for(live, response)
    assert await fired(live, "efecty") == [1]


async def test_a_reset_connection_is_retried_and_registers_one_voucher(live: Live, pinned: httpx.AsyncClient) -> None:
    await put_faults(live, "efecty", _register({"type": "connection_reset"}, count=1))
    _, _, response = await pay(pinned, live, "efecty")
    await _one_voucher_for(live, response)
    assert await fired(live, "efecty") == [1]


@pytest.mark.parametrize("damage", ["malformed", "truncated"])
async def test_a_damaged_answer_after_registration_is_read_back_never_registered_twice(
    live: Live, pinned: httpx.AsyncClient, damage: str
) -> None:
    await put_faults(live, "efecty", _register({"type": damage}, count=1))
    _, _, response = await pay(pinned, live, "efecty")
    await _one_voucher_for(live, response)
    # Registered (answer damaged), refused as a duplicate code on the retry, then read back.
    assert await _registrations(live) == [201, 409]
    code = response.json()["efecty"]["payment_code"]
    reads = await requests(live, "efecty", path=f"{EFECTY_VOUCHERS}/{code}", method="GET")
    assert [e["status"] for e in reads] == [200]
