"""Wompi's edges: amount bounds, expiration_time, and the types of the fields it stores and echoes back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from simulators.wompi import WompiConfig, create_app
from simulators.wompi.signing import integrity_signature
from simulators.wompi.testing import WompiDriver

CONFIG = WompiConfig(finalize_delay_seconds=5.0)
NEQUI = {"type": "NEQUI", "phone_number": "3991111111"}


@pytest.fixture
async def wompi() -> AsyncIterator[WompiDriver]:
    app = create_app(CONFIG)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://wompi.test") as http:
        yield WompiDriver(http, CONFIG)


def messages(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["type"] == "INPUT_VALIDATION_ERROR"
    return dict(error["messages"])


async def signed(wompi: WompiDriver, reference: str, amount: int, expiration: str | None = None) -> dict[str, Any]:
    """A NEQUI body whose integrity signature is right for exactly these inputs."""
    body = await wompi.transaction_body(reference, amount, NEQUI)
    secret = CONFIG.integrity_secret
    body["signature"] = integrity_signature(reference, amount, "COP", secret, expiration)
    if expiration is not None:
        body["expiration_time"] = expiration
    return body


async def status_after(wompi: WompiDriver, tx_id: str, seconds: float) -> dict[str, Any]:
    (await wompi.http.post("/__admin/clock/advance", json={"seconds": seconds})).raise_for_status()
    data: dict[str, Any] = (await wompi.http.get(f"/v1/transactions/{tx_id}")).json()["data"]
    return data


async def test_a_signed_amount_of_ten_to_the_30_is_refused_and_nothing_is_charged(wompi: WompiDriver) -> None:
    response = await wompi.create(await signed(wompi, "huge-1", 10**30))
    assert list(messages(response)) == ["amount_in_cents"]
    found = await wompi.http.get("/v1/transactions?reference=huge-1", headers=wompi.private_auth)
    assert found.json()["data"] == []


async def test_the_maximum_amount_is_accepted_and_one_cent_more_is_not(wompi: WompiDriver) -> None:
    top = CONFIG.max_amount_in_cents
    assert (await wompi.create(await signed(wompi, "top-1", top))).status_code == 201
    assert list(messages(await wompi.create(await signed(wompi, "top-2", top + 1)))) == ["amount_in_cents"]


async def test_a_configured_minimum_is_enforced() -> None:
    config = WompiConfig(min_amount_in_cents=150_000)
    app = create_app(config)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://wompi.test") as http:
        wompi = WompiDriver(http, config)
        assert "amount_in_cents" in messages(await wompi.create(await wompi.transaction_body("low-1", 149_999, NEQUI)))
        assert (await wompi.create(await wompi.transaction_body("low-2", 150_000, NEQUI))).status_code == 201


@pytest.mark.parametrize(
    "expiration",
    ["not-a-date", "2020-01-01T00:00:00.000Z", "2099-01-01T00:00:00", "2099-13-01T00:00:00Z", "9" * 50],
)
async def test_an_unreadable_unzoned_or_past_expiration_is_refused(wompi: WompiDriver, expiration: str) -> None:
    response = await wompi.create(await signed(wompi, f"exp-{len(expiration)}-{expiration[:4]}", 100000, expiration))
    assert list(messages(response)) == ["expiration_time"]


async def test_an_expiration_that_is_not_text_is_refused(wompi: WompiDriver) -> None:
    body = await signed(wompi, "exp-int", 100000)
    body["expiration_time"] = 1893456000
    assert list(messages(await wompi.create(body))) == ["expiration_time"]


def later(seconds: float) -> str:
    moment = datetime.now(UTC) + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


async def test_a_payment_still_pending_at_its_expiration_is_declined_not_approved(wompi: WompiDriver) -> None:
    response = await wompi.create(await signed(wompi, "exp-soon", 100000, later(3)))
    assert response.status_code == 201
    data = await status_after(wompi, response.json()["data"]["id"], 10)
    assert data["status"] == "DECLINED"
    assert "expiró" in data["status_message"]


async def test_a_payment_settled_before_its_expiration_keeps_its_outcome(wompi: WompiDriver) -> None:
    response = await wompi.create(await signed(wompi, "exp-later", 100000, later(3600)))
    assert response.status_code == 201
    assert (await status_after(wompi, response.json()["data"]["id"], 10))["status"] == "APPROVED"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"taxes": 5}, "taxes"),
        ({"taxes": "VAT"}, "taxes"),
        ({"taxes": [{"type": "VAT", "amount_in_cents": -1}]}, "taxes"),
        ({"customer_data": {"full_name": 5}}, "customer_data"),
        ({"customer_data": {"phone_number": "3" * 300}}, "customer_data"),
        ({"shipping_address": {"city": ["Bogotá"]}}, "shipping_address"),
        ({"redirect_url": "https://x.co/" + "a" * 3000}, "redirect_url"),
    ],
)
async def test_echoed_optional_fields_must_have_their_types_and_lengths(
    wompi: WompiDriver, change: dict[str, Any], field: str
) -> None:
    body = await wompi.transaction_body(f"opt-{field}-{len(str(change))}", 100000, NEQUI, **change)
    assert list(messages(await wompi.create(body))) == [field]


async def test_documented_taxes_are_accepted_and_echoed(wompi: WompiDriver) -> None:
    taxes = [{"type": "VAT", "amount_in_cents": 19000}, {"type": "CONSUMPTION", "amount_in_cents": 8000}]
    response = await wompi.create(await wompi.transaction_body("tax-ok", 100000, NEQUI, taxes=taxes))
    assert response.status_code == 201
    assert response.json()["data"]["taxes"] == taxes


@pytest.mark.parametrize(
    ("card", "field"),
    [({"exp_year": "²²"}, "exp_year"), ({"exp_month": "²²"}, "exp_month"), ({"number": "４２４２" * 4}, "number")],
)
async def test_card_tokens_take_ascii_digits_only(wompi: WompiDriver, card: dict[str, str], field: str) -> None:
    body = {
        "number": "4242424242424242",
        "cvc": "123",
        "exp_month": "08",
        "exp_year": "35",
        "card_holder": "Pedro Pérez",
    }
    response = await wompi.http.post("/v1/tokens/cards", json={**body, **card}, headers=wompi.public_auth)
    assert field in messages(response)


async def test_nequi_phones_take_ascii_digits_only(wompi: WompiDriver) -> None:
    response = await wompi.http.post("/v1/tokens/nequi", json={"phone_number": "٣" * 10}, headers=wompi.public_auth)
    assert "phone_number" in messages(response)


async def test_the_admin_finalize_refuses_a_status_that_is_not_text(wompi: WompiDriver) -> None:
    tx_id = (await wompi.pay_nequi("adm-odd", 100000)).json()["data"]["id"]
    response = await wompi.http.post(f"/__admin/wompi/transactions/{tx_id}/finalize", json={"status": ["APPROVED"]})
    assert "status" in messages(response)


@pytest.mark.parametrize(
    "raw",
    [b"[" * 30000 + b"]" * 30000, b'{"reference": "\\ud800"}', b'{"amount_in_cents": NaN}', b"\xff\xfe"],
)
async def test_hostile_bodies_are_input_validation_errors(wompi: WompiDriver, raw: bytes) -> None:
    headers = {**wompi.private_auth, "content-type": "application/json"}
    response = await wompi.http.post("/v1/transactions", content=raw, headers=headers)
    assert list(messages(response)) == ["body"]


PSE = {
    "type": "PSE",
    "user_type": 0,
    "user_legal_id_type": "CC",
    "user_legal_id": "1999888777",
    "financial_institution_code": "1",
    "payment_description": "Pago de prueba",
}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"payment_method": {**PSE, "user_legal_id_type": {"CC": 1}}}, "payment_method"),
        ({"payment_method": {**PSE, "user_legal_id_type": ["CC"]}}, "payment_method"),
        ({"payment_method": PSE, "customer_data": "Pedro"}, "customer_data"),
        ({"payment_method": PSE, "customer_data": [1]}, "customer_data"),
    ],
)
async def test_pse_fields_of_the_wrong_type_are_reported_not_crashed_on(
    wompi: WompiDriver, change: dict[str, Any], field: str
) -> None:
    body = await wompi.transaction_body(f"pse-odd-{len(str(change))}", 100000, NEQUI)
    body.update(change)
    assert field in messages(await wompi.create(body))


async def test_a_whole_object_message_wins_over_its_fields_messages(wompi: WompiDriver) -> None:
    body = await wompi.transaction_body("pse-obj", 100000, PSE, customer_data="Pedro")
    assert messages(await wompi.create(body))["customer_data"] == ["Debe ser un objeto"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/nothing"),
        ("GET", "/v1/transactions/a/b"),
        ("GET", "/v1/transactions/"),
        ("DELETE", "/v1/transactions"),
    ],
)
async def test_paths_and_methods_wompi_lacks_are_not_found_in_its_envelope(
    wompi: WompiDriver, method: str, path: str
) -> None:
    response = await wompi.http.request(method, path, headers=wompi.private_auth)
    assert response.status_code == 404
    assert response.json() == {"error": {"type": "NOT_FOUND_ERROR", "reason": "La entidad solicitada no existe"}}
