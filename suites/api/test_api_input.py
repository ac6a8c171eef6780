"""Input rules against the live core over HTTP: storable strings, bigint ids, the amount pattern, the header cap."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import httpx
import pytest

from harness.target.target import Target
from suites.conftest import Live
from suites.support.api import Actor, wompi_card_token
from suites.support.faults import PAYU_CARD, PAYU_PAYER, charges
from suites.support.http import client as http_client

HEAD_LIMIT = 16 * 1024  # core.httpserver.MAX_HEAD_BYTES, restated: the suite checks the core from outside


@pytest.mark.scenario("API-STORABLE-INPUT")
async def test_a_nul_in_the_email_of_a_wompi_card_payment_is_422_and_nothing_is_charged(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    buyer = Actor.buyer(live)
    order = await buyer.create_order("50000.00")
    body = {"order_id": order["id"], "amount": "50000.00", "currency": "COP", "method": "CARD",
            "customer_email": "comprador\u0000@example.com", "card": {"token": await wompi_card_token(live)}}
    response = await core.post("/payments/process", content=json.dumps(body).encode(),
                               headers={**buyer.headers, "content-type": "application/json",
                                        "idempotency-key": "nul-email-0001"})
    assert response.status_code == 422, response.text
    assert await charges(live, "wompi") == []
    assert await core_db.fetchval("SELECT count(*) FROM order_transactions") == 0
    assert await core_db.fetchval("SELECT count(*) FROM idempotency_keys") == 0


@pytest.mark.scenario("API-STORABLE-INPUT")
@pytest.mark.parametrize("url", ["/orders/%00", "/orders/9223372036854775808", "/orders/1%00"])
async def test_a_hostile_order_id_in_the_path_is_a_4xx(live: Live, core: httpx.AsyncClient, url: str) -> None:
    response = await core.get(url, headers=Actor.buyer(live).headers)
    assert response.status_code == 422, response.text


@pytest.mark.scenario("API-STORABLE-INPUT")
async def test_a_nul_in_an_efecty_code_in_the_path_is_422(live: Live, core: httpx.AsyncClient) -> None:
    response = await core.post("/admin/efecty/EFE-1-%00/confirm", headers=Actor.admin(live).headers)
    assert response.status_code == 422, response.text


@pytest.mark.scenario("API-STORABLE-INPUT")
async def test_an_order_id_of_2_to_the_63_is_422(live: Live, core: httpx.AsyncClient) -> None:
    buyer = Actor.buyer(live)
    response = await buyer.pay(core, 2**63, "50000.00", "wompi.nequi", nequi_phone="3991111111")
    assert response.status_code == 422, response.text


@pytest.mark.scenario("API-AMOUNT-PATTERN")
@pytest.mark.parametrize("amount", ["1e5", "+50000", "-0", "65_000", " 65000", "65000.000", "６５０００", "٦٥٠٠٠"])
async def test_an_amount_string_outside_the_published_pattern_is_422(
    live: Live, core: httpx.AsyncClient, target: Target, amount: str
) -> None:
    response = await core.post("/orders", json={"amount": amount}, headers=Actor.buyer(live).headers)
    assert response.status_code == 422, response.text
    assert await target.order_count() == 0


async def _send_head(url: str, head_bytes: int) -> tuple[str | None, int]:
    """Send a GET whose one header is ``head_bytes`` long, in 64 KiB writes; (status line or None, bytes sent).

    None: the core closed the connection before answering (a refusal too, as long as it came early).
    """
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    sent = 0
    try:
        writer.write(b"GET /payments/config HTTP/1.1\r\nHost: core\r\nX-Padding: ")
        piece = b"a" * 65536
        try:
            while sent < head_bytes:
                writer.write(piece)
                await writer.drain()
                sent += len(piece)
            writer.write(b"\r\n\r\n")
            await writer.drain()
        except (ConnectionResetError, BrokenPipeError):
            pass
        try:
            line = await asyncio.wait_for(reader.readline(), timeout=10)
        except (ConnectionResetError, BrokenPipeError):
            return None, sent
        return (line.decode("latin-1").strip() or None), sent
    finally:
        writer.close()


@pytest.mark.scenario("API-HEADER-LIMIT")
async def test_an_8_mb_header_is_refused_with_431_or_a_closed_connection(live: Live) -> None:
    status, sent = await _send_head(live.urls["core"], 8 * 1024 * 1024)
    if status is None:
        # Closed: the core stopped reading long before the 8 MB were through.
        assert sent < 8 * 1024 * 1024
    else:
        assert status.startswith("HTTP/1.1 431"), status


@pytest.mark.scenario("API-HEADER-LIMIT")
async def test_a_header_just_over_the_limit_gets_431(live: Live) -> None:
    status, _ = await _send_head(live.urls["core"], HEAD_LIMIT + 2048)
    assert status is not None and status.startswith("HTTP/1.1 431"), status


@pytest.mark.scenario("API-HEADER-LIMIT")
async def test_a_head_over_the_limit_that_arrives_in_one_read_gets_431(live: Live) -> None:
    # Small enough for one socket read: the server sees the whole head at once, never an incomplete one.
    host, port = live.urls["core"].removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(b"GET /payments/config HTTP/1.1\r\nHost: core\r\n"
                     + b"".join(b"X-Pad-%d: %s\r\n" % (n, b"a" * 1000) for n in range(20)) + b"\r\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout=10)
    finally:
        writer.close()
    assert line.startswith(b"HTTP/1.1 431"), line


@pytest.mark.scenario("API-HEADER-LIMIT")
async def test_requests_under_the_header_limit_and_large_bodies_still_pass(live: Live, core: httpx.AsyncClient) -> None:
    buyer = Actor.buyer(live)
    padded = await core.get("/payments/config", headers={"x-padding": "a" * (HEAD_LIMIT // 2)})
    assert padded.status_code == 200
    # A body arriving in the same reads as its head is not held against the head's limit.
    big = json.dumps({"amount": "50000.00", "currency": "COP"}).encode().ljust(60_000)
    created = await core.post("/orders", content=big, headers={**buyer.headers, "content-type": "application/json"})
    assert created.status_code == 201, created.text


@pytest.mark.scenario("API-RATE-LIMIT")
async def test_a_client_chosen_x_forwarded_for_is_not_the_address_payu_or_the_limits_see(
    live: Live, core: httpx.AsyncClient
) -> None:
    # uvicorn believes X-Forwarded-For from 127.0.0.1 by default: a client on the core's host (or behind a
    # proxy passing the header on) would pick the address the per-IP limit counts and PayU's anti-fraud gets.
    buyer = Actor.buyer(live)
    order = await buyer.create_order("65000.00")
    body = {"order_id": order["id"], "amount": "65000.00", "currency": "COP", "method": "CARD", "gateway": "payu",
            "customer_email": "comprador@example.com", "card": PAYU_CARD, "payer": PAYU_PAYER}
    paid = await core.post("/payments/process", json=body, headers={
        **buyer.headers, "idempotency-key": "xff-test-key-1", "X-Forwarded-For": "203.0.113.99"})
    assert paid.status_code == 200, paid.text
    payu_id = paid.json()["transaction"]["gateway_transaction_id"]
    async with http_client(base_url=live.urls["payu"]) as client:
        seen = (await client.get("/__admin/payu/orders")).json()["orders"]
    addresses = {tx.get("ipAddress") for o in seen for tx in o.get("transactions", []) if tx.get("id") == payu_id}
    assert addresses == {"127.0.0.1"}, addresses
