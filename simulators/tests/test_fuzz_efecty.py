"""Fuzzing Efecty's /api/v1 (no published schema): never a 5xx, every refusal in the simulator's error envelope."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulators.efecty import EfectyConfig, create_app
from simulators.tests._fuzz import FUZZ, FUZZ_RICH, RAW_BODIES, encode, hostile_path_text, mutated, send, settle

CONFIG = EfectyConfig()
MERCHANT = {"Authorization": f"Bearer {CONFIG.merchant_api_key}"}
POINT = {"X-Point-Key": CONFIG.point_key}
CODES = {
    "UNAUTHORIZED": 401,
    "VALIDATION_ERROR": 422,
    "DUPLICATE_CODE": 409,
    "NOT_FOUND": 404,
    "UNKNOWN_CODE": 404,
    "AMOUNT_MISMATCH": 422,
    "EXPIRED": 410,
    "ALREADY_PAID": 409,
}
_n = itertools.count()


@pytest.fixture
def efecty(live_server: Callable[[Any], str]) -> Iterator[tuple[Any, httpx.Client]]:
    """The app and a client, with one voucher ``PAYME`` registered for the cashier to be fuzzed against."""
    app = create_app(CONFIG)
    with httpx.Client(base_url=live_server(app), timeout=10) as client:
        client.post("/api/v1/vouchers", json=voucher("PAYME"), headers=MERCHANT).raise_for_status()
        settle(app, 1)
        yield app, client


def voucher(code: str) -> dict[str, Any]:
    expires = (datetime.now(UTC) + timedelta(days=3)).isoformat().replace("+00:00", "Z")
    return {
        "payment_code": code,
        "amount": "65000.00",
        "currency": "COP",
        "expires_at": expires,
        "reference": f"ORDER-{code}",
        "description": "Pedido de prueba",
    }


def efecty_error(response: httpx.Response) -> None:
    """2xx, or ``{"error": {"code", "message", ["fields"]}}`` with the status its code has."""
    if response.status_code < 400:
        return
    error = response.json()["error"]
    assert response.status_code == CODES[error["code"]]
    assert isinstance(error["message"], str) and error["message"]
    if error["code"] == "VALIDATION_ERROR":
        assert set(error) == {"code", "message", "fields"} and error["fields"]
    else:
        assert set(error) == {"code", "message"}


@FUZZ_RICH
@given(data=st.data(), path=st.sampled_from(["/api/v1/vouchers", "/api/v1/cashier/payments"]))
def test_writes_answer_every_body_in_the_error_envelope(
    efecty: tuple[Any, httpx.Client], data: st.DataObject, path: str
) -> None:
    app, client = efecty
    seed = (
        voucher(f"FZ-{next(_n)}")
        if path.endswith("vouchers")
        else {"payment_code": "PAYME", "amount": "65000", "point_id": "PT-0042"}
    )
    raw = data.draw(st.one_of(mutated(seed).map(encode), mutated(seed).map(encode), st.sampled_from(RAW_BODIES)))
    headers = {**MERCHANT, **POINT, "content-type": "application/json"}
    send(client, app, "POST", path, content=raw, headers=headers, shape=efecty_error)


@FUZZ
@given(
    template=st.sampled_from(
        ["/api/v1/vouchers/{}", "/api/v1/reconciliation/{}", "/api/v1/reconciliation/{}/asobancaria"]
    ),
    text=st.one_of(hostile_path_text(), st.dates().map(str)),
    auth=st.sampled_from([MERCHANT, {}, {"Authorization": b"Bearer \xff"}]),
)
def test_reads_answer_every_id_in_the_error_envelope(
    efecty: tuple[Any, httpx.Client], template: str, text: str, auth: dict[str, Any]
) -> None:
    app, client = efecty

    def shape(response: httpx.Response) -> None:
        if template.endswith("asobancaria") and response.status_code == 200:
            lines = response.text.splitlines()
            assert all(len(line) == CONFIG.control_record_length or len(line) == 162 for line in lines)
            return
        efecty_error(response)

    send(client, app, "GET", template.format(text), headers=auth, shape=shape)
