"""Contract tests for the Efecty API: vouchers, the cashier's refusals, expiry, admin helpers."""

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI

from simulators.efecty import EfectyConfig
from simulators.tests._efecty import MERCHANT, POINT, efecty, pay, voucher


@pytest.fixture
async def sim() -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async with efecty() as pair:
        yield pair


async def test_register_then_get_a_pending_voucher(sim) -> None:
    _, client = sim
    created = await client.post("/api/v1/vouchers", json=voucher())
    assert created.status_code == 201
    body = created.json()["voucher"]
    assert body["status"] == "PENDING" and body["amount"] == "65000.00" and body["currency"] == "COP"
    assert body["reference"] == "ORDER-7700123456" and "paid_at" not in body
    fetched = await client.get("/api/v1/vouchers/7700123456")
    assert fetched.status_code == 200 and fetched.json()["voucher"] == body


async def test_merchant_key_is_required(sim) -> None:
    _, client = sim
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
        response = await client.post("/api/v1/vouchers", json=voucher(), headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "UNAUTHORIZED"
    assert (await client.get("/api/v1/reconciliation/2026-01-01", headers={"Authorization": ""})).status_code == 401


async def test_duplicate_code_is_409(sim) -> None:
    _, client = sim
    assert (await client.post("/api/v1/vouchers", json=voucher())).status_code == 201
    again = await client.post("/api/v1/vouchers", json=voucher(amount="1000.00"))
    assert again.status_code == 409 and again.json()["error"]["code"] == "DUPLICATE_CODE"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": "65000"}, "amount"),
        ({"amount": 65000}, "amount"),
        ({"amount": "65000.5"}, "amount"),
        ({"amount": "999.99"}, "amount"),
        ({"amount": "6000000.01"}, "amount"),
        ({"currency": "USD"}, "currency"),
        ({"payment_code": "x" * 51}, "payment_code"),
        ({"payment_code": "has space"}, "payment_code"),
        ({"expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
        ({"expires_at": "2030-01-01T00:00:00"}, "expires_at"),
        ({"reference": ""}, "reference"),
    ],
)
async def test_invalid_vouchers_are_422_naming_the_field(sim, overrides, field) -> None:
    _, client = sim
    response = await client.post("/api/v1/vouchers", json=voucher(**overrides))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and list(error["fields"]) == [field]


async def test_amount_limits_are_inclusive_and_configurable() -> None:
    async with efecty() as (_, client):
        assert (await client.post("/api/v1/vouchers", json=voucher("A1", "1000.00"))).status_code == 201
        assert (await client.post("/api/v1/vouchers", json=voucher("A2", "6000000.00"))).status_code == 201
    async with efecty(EfectyConfig(min_amount=Decimal("20000.00"))) as (_, client):
        assert (await client.post("/api/v1/vouchers", json=voucher("A3", "19999.99"))).status_code == 422


async def test_non_json_body_is_a_validation_error(sim) -> None:
    _, client = sim
    response = await client.post("/api/v1/vouchers", content=b"[1, 2]")
    assert response.status_code == 422 and response.json()["error"]["fields"] == {"body": "must be a JSON object"}


async def test_unknown_voucher_is_404(sim) -> None:
    _, client = sim
    response = await client.get("/api/v1/vouchers/nope")
    assert response.status_code == 404 and response.json()["error"]["code"] == "NOT_FOUND"


async def test_cashier_pays_a_voucher_and_gets_a_receipt(sim) -> None:
    app, client = sim
    await client.post("/api/v1/vouchers", json=voucher())
    receipt = await pay(client, "7700123456", "65000")
    assert receipt.status_code == 201
    body = receipt.json()["receipt"]
    assert body["amount"] == "65000.00" and body["point_id"] == "PT-0042"
    assert len(body["authorization_code"]) == 6 and re.fullmatch(r"\d{6}", body["operation_id"])
    fetched = (await client.get("/api/v1/vouchers/7700123456")).json()["voucher"]
    assert fetched["status"] == "PAID" and fetched["paid_at"] == body["paid_at"]
    summaries = [e.get("summary") for e in app.state.sim.journal.entries("request")]
    assert {"operation": "pay", "payment_code": "7700123456", "amount": "65000.00", "point_id": "PT-0042"} in summaries


async def test_cashier_refuses_like_a_real_point(sim) -> None:
    app, client = sim
    await client.post("/api/v1/vouchers", json=voucher("C1", "50000.00"))
    await client.post("/api/v1/vouchers", json=voucher("C2", "50000.00"))
    cases = [
        (await pay(client, "UNKNOWN", "50000.00"), 404, "UNKNOWN_CODE"),
        (await pay(client, "C1", "49999.00"), 422, "AMOUNT_MISMATCH"),
        (await pay(client, "C1", "50000.01"), 422, "AMOUNT_MISMATCH"),
    ]
    assert (await pay(client, "C1", "50000.00")).status_code == 201
    cases.append((await pay(client, "C1", "50000.00"), 409, "ALREADY_PAID"))
    await client.post("/__admin/vouchers/C2/expire")
    cases.append((await pay(client, "C2", "50000.00"), 410, "EXPIRED"))
    for response, status, code in cases:
        assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert len(app.state.sim.state.payments) == 1


async def test_cashier_needs_the_point_key_and_valid_fields(sim) -> None:
    _, client = sim
    body = {"payment_code": "C1", "amount": "1000.00", "point_id": "PT-1"}
    assert (await client.post("/api/v1/cashier/payments", json=body)).status_code == 401
    bad = await client.post("/api/v1/cashier/payments", json={"amount": 1000}, headers=POINT)
    assert bad.status_code == 422 and set(bad.json()["error"]["fields"]) == {"payment_code", "point_id", "amount"}


async def test_voucher_expires_by_the_simulated_clock(sim) -> None:
    _, client = sim
    expires = datetime.now(UTC) + timedelta(hours=2)
    await client.post("/api/v1/vouchers", json=voucher("E1", expires_at=expires.isoformat()))
    await client.post("/__admin/clock/advance", json={"seconds": 7100})
    assert (await client.get("/api/v1/vouchers/E1")).json()["voucher"]["status"] == "PENDING"
    await client.post("/__admin/clock/advance", json={"seconds": 200})
    assert (await client.get("/api/v1/vouchers/E1")).json()["voucher"]["status"] == "EXPIRED"
    response = await pay(client, "E1", "65000.00")
    assert response.status_code == 410


async def test_admin_pays_with_the_voucher_amount_and_expire_refuses_a_paid_one(sim) -> None:
    _, client = sim
    await client.post("/api/v1/vouchers", json=voucher("P1", "12345.00"))
    paid = await client.post("/__admin/vouchers/P1/pay", json={"point_id": "PT-0777"})
    assert paid.status_code == 201 and paid.json()["receipt"]["amount"] == "12345.00"
    assert paid.json()["receipt"]["point_id"] == "PT-0777"
    assert (await client.post("/__admin/vouchers/P1/pay")).json()["error"]["code"] == "ALREADY_PAID"
    assert (await client.post("/__admin/vouchers/P1/expire")).status_code == 409
    assert (await client.post("/__admin/vouchers/NOPE/pay")).status_code == 404
    listed = (await client.get("/__admin/vouchers")).json()["vouchers"]
    assert [(v["payment_code"], v["status"]) for v in listed] == [("P1", "PAID")]


async def test_reset_forgets_vouchers_and_payments(sim) -> None:
    app, client = sim
    await client.post("/api/v1/vouchers", json=voucher("R1"))
    await client.post("/__admin/vouchers/R1/pay")
    await client.post("/__admin/reset")
    assert app.state.sim.state.vouchers == {} and app.state.sim.state.payments == []
    assert (await client.get("/api/v1/vouchers/R1")).status_code == 404


async def test_same_seed_gives_same_authorization_codes() -> None:
    codes = []
    for _ in range(2):
        async with efecty(EfectyConfig(seed=5)) as (_, client):
            await client.post("/api/v1/vouchers", json=voucher("S1"))
            codes.append((await client.post("/__admin/vouchers/S1/pay")).json()["receipt"]["authorization_code"])
    assert codes[0] == codes[1]


def test_served_over_real_http_with_faults(live_server) -> None:
    from simulators.common import FaultPlan, FaultRule, HttpError
    from simulators.efecty import create_app

    plan = FaultPlan((FaultRule(HttpError(503), path="/api/v1/vouchers", method="POST", count=1),))
    url = live_server(create_app(EfectyConfig(faults=plan)))
    with httpx.Client(base_url=url, headers=MERCHANT) as client:
        assert client.post("/api/v1/vouchers", json=voucher()).status_code == 503
        assert client.post("/api/v1/vouchers", json=voucher()).status_code == 201
        assert client.get("/api/v1/health").json() == {"status": "ok"}
