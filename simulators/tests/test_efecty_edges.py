"""Efecty's edges: dates at the ends of the calendar, hostile bodies, and days the reconciliation file cannot write."""

from typing import Any

import pytest

from simulators.tests._efecty import POINT, efecty, voucher


def fields_of(response: Any) -> dict[str, str]:
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["message"]) == ("VALIDATION_ERROR", "the request has invalid fields")
    return dict(error["fields"])


@pytest.mark.parametrize(
    "expires_at", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00", "2030-01-01T00:00:00", "2" * 100]
)
async def test_an_expiry_python_cannot_place_in_utc_is_a_validation_error(expires_at: str) -> None:
    async with efecty() as (_, client):
        response = await client.post("/api/v1/vouchers", json=voucher(expires_at=expires_at))
        assert list(fields_of(response)) == ["expires_at"]


async def test_an_injected_payment_at_the_end_of_time_is_a_validation_error() -> None:
    async with efecty() as (_, client):
        body = {"payment_code": "X1", "amount": "1000.00", "paid_at": "9999-12-31T23:59:59-05:00"}
        response = await client.post("/__admin/reconciliation/inject", json=body)
        assert list(fields_of(response)) == ["paid_at"]


@pytest.mark.parametrize(
    "raw", [b"[" * 30000 + b"]" * 30000, b'{"payment_code": "\\ud800"}', b'{"amount": Infinity}', b"\xff"]
)
@pytest.mark.parametrize("path", ["/api/v1/vouchers", "/api/v1/cashier/payments"])
async def test_hostile_bodies_are_validation_errors(raw: bytes, path: str) -> None:
    async with efecty() as (_, client):
        response = await client.post(path, content=raw, headers={**POINT, "content-type": "application/json"})
        assert list(fields_of(response)) == ["body"]


@pytest.mark.parametrize("day", ["0001-01-01", "1999-12-31", "２０２６-０１-０１"])
@pytest.mark.parametrize("suffix", ["", "/asobancaria"])
async def test_a_day_the_file_cannot_write_in_four_digits_is_refused(day: str, suffix: str) -> None:
    async with efecty() as (_, client):
        assert list(fields_of(await client.get(f"/api/v1/reconciliation/{day}{suffix}"))) == ["date"]


async def test_the_first_day_of_the_format_still_renders_its_file() -> None:
    async with efecty() as (_, client):
        response = await client.get("/api/v1/reconciliation/2000-01-01/asobancaria")
        assert response.status_code == 200
        assert response.text.splitlines()[0][12:20] == "20000101"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/nothing"),
        ("GET", "/api/v1/vouchers/a/b"),
        ("GET", "/api/v1/vouchers/"),
        ("PUT", "/api/v1/vouchers"),
    ],
)
async def test_paths_and_methods_it_lacks_are_not_found_in_its_envelope(method: str, path: str) -> None:
    async with efecty() as (_, client):
        response = await client.request(method, path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NOT_FOUND"
        assert set(response.json()["error"]) == {"code", "message"}
