"""Abuse resistance: body limit (413, chunked too), rate limits (429 + Retry-After), CORS, sanitized 500s."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import asyncpg
import pytest

from core.tests.apikit import SECRETS, make_settings, running_core
from core.tests.test_api_process import card_body

if TYPE_CHECKING:
    from conftest import Database

NO_DB = "postgresql+asyncpg://nobody@127.0.0.1:1/none"


@pytest.mark.scenario("API-LARGE-PAYLOAD")
async def test_a_body_over_the_limit_is_413_by_content_length(database: Database, conn: asyncpg.Connection) -> None:
    settings = make_settings(database.url, limits={"max_body_bytes": 1024})
    async with running_core(settings) as core:
        big = b'{"amount": "5000", "pad": "' + b"x" * 2000 + b'"}'
        r = await core.client.post(
            "/orders", content=big, headers={**core.auth("buyer-1"), "Content-Type": "application/json"}
        )
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    assert await conn.fetchval("SELECT count(*) FROM orders") == 0


@pytest.mark.scenario("API-LARGE-PAYLOAD")
async def test_a_chunked_body_over_the_limit_is_413(database: Database, conn: asyncpg.Connection) -> None:
    settings = make_settings(database.url, limits={"max_body_bytes": 1024})
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"amount": "5000", "pad": "'
        for _ in range(100):  # 100 × 256 bytes, far past the limit; no Content-Length is sent
            sent += 1
            yield b"x" * 256
        yield b'"}'

    async with running_core(settings) as core:
        r = await core.client.post(
            "/orders", content=chunks(), headers={**core.auth("buyer-1"), "Content-Type": "application/json"}
        )
    assert r.status_code == 413
    assert sent < 10, "the body was read far past the limit"
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert await conn.fetchval("SELECT count(*) FROM orders") == 0


@pytest.mark.scenario("API-RATE-LIMIT")
async def test_the_buyer_rate_limit_answers_429_with_retry_after(database: Database) -> None:
    settings = make_settings(database.url, limits={"payments_per_buyer": "2/minute", "payments_per_ip": "100/minute"})
    async with running_core(settings) as core:
        order = await core.create_order("buyer-1")
        codes = []
        for n in range(3):
            r = await core.client.post(
                "/payments/process",
                json=card_body(order, amount="1"),
                headers=core.auth("buyer-1", **{"Idempotency-Key": f"rate-limit-{n}"}),
            )
            codes.append(r.status_code)
        other_buyer = await core.client.post(
            "/payments/process",
            json=card_body(order, amount="1"),
            headers=core.auth("buyer-2", **{"Idempotency-Key": "rate-limit-x"}),
        )
    assert codes[:2] == [422, 422]  # counted even when refused: limits protect the endpoint, not success
    assert codes[2] == 429
    assert r.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(r.headers["retry-after"]) <= 60
    assert other_buyer.status_code != 429  # another buyer has an allowance of their own


@pytest.mark.scenario("API-RATE-LIMIT")
async def test_the_ip_rate_limit_spans_buyers(database: Database) -> None:
    settings = make_settings(database.url, limits={"payments_per_buyer": "100/minute", "payments_per_ip": "2/minute"})
    async with running_core(settings) as core:
        order = await core.create_order("buyer-1")
        codes = []
        for n in range(3):
            headers = core.auth(f"buyer-{n}", **{"Idempotency-Key": f"ip-limit-{n}"})
            r = await core.client.post("/payments/process", json=card_body(order, amount="1"), headers=headers)
            codes.append(r.status_code)
    assert codes[2] == 429 and 429 not in codes[:2]


@pytest.mark.scenario("API-CORS")
@pytest.mark.parametrize(("origin", "allowed"), [("https://shop.example", True), ("https://evil.example", False)])
async def test_cors_answers_only_configured_origins(origin: str, allowed: bool) -> None:
    settings = make_settings(NO_DB, cors_origins=["https://shop.example"])
    async with running_core(settings) as core:
        preflight = await core.client.options(
            "/payments/process",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type,idempotency-key",
            },
        )
        simple = await core.client.get("/payments/config", headers={"Origin": origin})
    if allowed:
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == origin
        assert "idempotency-key" in preflight.headers["access-control-allow-headers"].lower()
        assert simple.headers["access-control-allow-origin"] == origin
    else:
        assert preflight.status_code == 400
        assert "access-control-allow-origin" not in preflight.headers
        assert "access-control-allow-origin" not in simple.headers


@pytest.mark.scenario("API-ERRORS-SANITIZED")
async def test_an_unexpected_error_is_a_sanitized_500_with_a_logged_support_reference(
    database: Database, conn: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_core(make_settings(database.url)) as core:
        order = await core.create_order("buyer-1")
        # Break the schema under the running core: the next query fails inside the database driver.
        await conn.execute("ALTER TABLE order_transactions RENAME TO order_transactions_gone")
        with caplog.at_level(logging.ERROR, logger="payharness.core"):
            r = await core.client.get(f"/orders/{order['id']}", headers=core.auth("buyer-1"))
    assert r.status_code == 500
    error = r.json()["error"]
    assert error["code"] == "internal_error"
    assert re.fullmatch(r"SUP-[0-9A-F]{12}", error["support_reference"])
    for leak in (
        "SELECT",
        "order_transactions",
        "Traceback",
        "asyncpg",
        "sqlalchemy",
        database.name,
        *SECRETS.values(),
    ):
        assert leak not in r.text
    logged = [rec for rec in caplog.records if error["support_reference"] in rec.getMessage()]
    assert logged and logged[0].exc_info is not None  # the details are in the log, with the same reference
