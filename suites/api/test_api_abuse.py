"""API abuse against the live core: auth and roles, ownership, amounts, body size, malformed bodies, rate limits."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from suites.conftest import Live
from suites.support.api import Actor


@pytest.mark.scenario("API-AUTH")
async def test_orders_need_a_valid_buyer_token_and_stay_private(live: Live, core: httpx.AsyncClient) -> None:
    assert (await core.post("/orders", json={"amount": "50000"})).status_code == 401
    forged = {"authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4Iiwicm9sZSI6ImFkbWluIn0."}
    assert (await core.post("/orders", json={"amount": "50000"}, headers=forged)).status_code == 401
    alice, bob, admin = Actor.buyer(live), Actor.buyer(live), Actor.admin(live)
    order = await alice.create_order("50000")
    assert (await core.get(f"/orders/{order['id']}", headers=bob.headers)).status_code == 404
    assert (await core.get(f"/orders/{order['id']}", headers=admin.headers)).status_code == 200
    paid_by_bob = await bob.pay(core, order["id"], "50000.00", "wompi.nequi", nequi_phone="3991111111")
    assert paid_by_bob.status_code == 404
    # An admin token is not a buyer token: roles are not a hierarchy on the payment path.
    assert (await core.post("/orders", json={"amount": "50000"}, headers=admin.headers)).status_code == 403


@pytest.mark.scenario("API-VALIDATION")
@pytest.mark.parametrize("amount", ["999.99", "50000000.01", "0", "-5", "100.001", 50000.5, "NaN", "Infinity"])
async def test_amounts_outside_the_range_or_not_exact_are_refused(live: Live, core: httpx.AsyncClient,
                                                                 amount: object) -> None:
    buyer = Actor.buyer(live)
    response = await core.post("/orders", json={"amount": amount, "currency": "COP"}, headers=buyer.headers)
    assert response.status_code == 422, response.text


@pytest.mark.scenario("API-VALIDATION")
async def test_a_currency_other_than_cop_is_refused(live: Live, core: httpx.AsyncClient) -> None:
    buyer = Actor.buyer(live)
    response = await core.post("/orders", json={"amount": "50000", "currency": "USD"}, headers=buyer.headers)
    assert response.status_code == 422


@pytest.mark.scenario("API-LARGE-PAYLOAD")
async def test_an_oversize_body_is_refused_with_413_announced_or_chunked(
    live: Live, core: httpx.AsyncClient
) -> None:
    buyer = Actor.buyer(live)
    big = b'{"amount": "50000", "pad": "' + b"x" * 200_000 + b'"}'
    announced = await core.post("/orders", content=big, headers={**buyer.headers, "content-type": "application/json"})
    assert announced.status_code == 413

    # No Content-Length: the limit must hold while the body streams in chunks.
    status = await _post_chunked(live.urls["core"], "/webhooks/wompi", big[:70_000])
    assert status == 413


async def _post_chunked(base_url: str, path: str, body: bytes) -> int:
    """POST with Transfer-Encoding: chunked over a raw socket (no terminating chunk); returns the status."""
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n".encode())
        for start in range(0, len(body), 8192):
            piece = body[start:start + 8192]
            writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout=10)
        return int(status_line.split()[1])
    finally:
        writer.close()


@pytest.mark.scenario("API-MALFORMED")
async def test_malformed_json_is_a_422_without_an_echo_of_the_input(live: Live, core: httpx.AsyncClient) -> None:
    buyer = Actor.buyer(live)
    response = await core.post("/orders", content=b'{"amount": "50000", "card": "4242424242424242"',
                               headers={**buyer.headers, "content-type": "application/json"})
    assert response.status_code == 422
    assert "4242424242424242" not in response.text


@pytest.mark.scenario("API-RATE-LIMIT")
async def test_payment_attempts_are_rate_limited_per_buyer_with_retry_after(
    live: Live, core: httpx.AsyncClient
) -> None:
    buyer = Actor.buyer(live)
    # 20/minute per buyer in this stack, counted per worker (2 workers): by request 41 a 429 must have come.
    codes, retry_after = [], None
    for _ in range(45):
        response = await buyer.pay(core, 987654, "50000.00", "wompi.nequi", nequi_phone="3991111111")
        codes.append(response.status_code)
        if response.status_code == 429:
            retry_after = response.headers.get("retry-after")
    assert 429 in codes, codes
    assert codes.index(429) >= 20  # the first 20 are never limited
    assert retry_after is not None and 0 < int(retry_after) <= 60


@pytest.mark.scenario("API-CONFIG")
async def test_public_config_carries_no_secret(live: Live, core: httpx.AsyncClient) -> None:
    response = await core.get("/payments/config")
    assert response.status_code == 200
    secrets = [live.creds["wompi"][k] for k in ("private_key", "integrity_secret", "events_secret")]
    secrets += [live.creds["payu"]["api_key"], live.creds["payu"]["api_login"], live.creds["efecty"]["api_key"],
                live.core_env["PAYHARNESS_AUTH__TOKEN_SECRET"]]
    assert not [s for s in secrets if s in response.text]
    assert live.creds["wompi"]["public_key"] in response.text


@pytest.mark.scenario("API-ERRORS-SANITIZED")
async def test_concurrent_bad_requests_never_leak_internals(live: Live, core: httpx.AsyncClient) -> None:
    buyer = Actor.buyer(live)
    json_headers = {**buyer.headers, "content-type": "application/json"}
    probes = [core.post("/orders", content=b"\xff\xfe", headers=json_headers),
              core.get("/orders/not-a-number", headers=buyer.headers),
              core.post("/webhooks/payu", content=b"%%%",
                        headers={"content-type": "application/x-www-form-urlencoded"})]
    for response in await asyncio.gather(*probes):
        assert 400 <= response.status_code < 500
        assert "Traceback" not in response.text and "sqlalchemy" not in response.text.lower()
