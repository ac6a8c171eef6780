"""Fuzzing Wompi's /v1 endpoints (no published schema): never a 5xx, every refusal in Wompi's error envelope."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulators.tests._fuzz import FUZZ, FUZZ_RICH, RAW_BODIES, encode, hostile_path_text, mutated, send, settle
from simulators.wompi import WompiConfig, create_app
from simulators.wompi.signing import integrity_signature

CONFIG = WompiConfig()
PUBLIC = {"Authorization": f"Bearer {CONFIG.public_key}"}
PRIVATE = {"Authorization": f"Bearer {CONFIG.private_key}"}
ERROR_TYPES = {"INVALID_ACCESS_TOKEN", "NOT_FOUND_ERROR", "INPUT_VALIDATION_ERROR", "UNPROCESSABLE"}
_n = itertools.count()


@pytest.fixture
def wompi(live_server: Callable[[Any], str]) -> Iterator[tuple[Any, httpx.Client, dict[str, Any]]]:
    """The app, a client, and what a valid transaction needs (acceptance tokens, a card token)."""
    app = create_app(CONFIG)
    with httpx.Client(base_url=live_server(app), timeout=10) as client:
        merchant = client.get(f"/v1/merchants/{CONFIG.public_key}").json()["data"]
        card = {
            "number": "4242424242424242",
            "cvc": "123",
            "exp_month": "08",
            "exp_year": "35",
            "card_holder": "Pedro Pérez",
        }
        token = client.post("/v1/tokens/cards", json=card, headers=PUBLIC).json()["data"]["id"]
        settle(app, 2)
        needs = {
            "acceptance": merchant["presigned_acceptance"]["acceptance_token"],
            "personal": merchant["presigned_personal_data_auth"]["acceptance_token"],
            "card_token": token,
        }
        yield app, client, needs


def wompi_error(response: httpx.Response) -> None:
    """2xx with data, or Wompi's ``{"error": {"type", "reason"|"messages"}}`` with the status its type has."""
    data = response.json()
    if response.status_code < 400:
        assert "data" in data
        return
    error = data["error"]
    assert error["type"] in ERROR_TYPES
    expected = {"INVALID_ACCESS_TOKEN": 401, "NOT_FOUND_ERROR": 404}.get(error["type"], 422)
    assert response.status_code == expected
    if error["type"] == "INPUT_VALIDATION_ERROR":
        assert set(error) == {"type", "messages"} and error["messages"]
    else:
        assert set(error) == {"type", "reason"} and isinstance(error["reason"], str)


def transaction(needs: dict[str, Any], method: str) -> dict[str, Any]:
    reference = f"fz-{next(_n)}"
    methods = {
        "CARD": {"type": "CARD", "token": needs["card_token"], "installments": 1},
        "NEQUI": {"type": "NEQUI", "phone_number": "3991111111"},
        "PSE": {
            "type": "PSE",
            "user_type": 0,
            "user_legal_id_type": "CC",
            "user_legal_id": "1999888777",
            "financial_institution_code": "1",
            "payment_description": "Pago de prueba",
        },
    }
    body = {
        "acceptance_token": needs["acceptance"],
        "accept_personal_auth": needs["personal"],
        "amount_in_cents": 2490000,
        "currency": "COP",
        "customer_email": "comprador@example.com",
        "reference": reference,
        "expiration_time": "2099-06-09T20:28:50.000Z",
        "signature": integrity_signature(
            reference, 2490000, "COP", CONFIG.integrity_secret, "2099-06-09T20:28:50.000Z"
        ),
        "payment_method": methods[method],
        "customer_data": {"phone_number": "573001234567", "full_name": "Pedro Pérez"},
        "redirect_url": "https://tienda.example/gracias",
        "taxes": [{"type": "VAT", "amount_in_cents": 19000}],
    }
    return body


@FUZZ_RICH
@given(method=st.sampled_from(["CARD", "NEQUI", "PSE"]), data=st.data())
def test_transactions_answer_every_body_in_wompis_envelope(
    wompi: tuple[Any, httpx.Client, dict[str, Any]], method: str, data: st.DataObject
) -> None:
    app, client, needs = wompi
    raw = data.draw(st.one_of(mutated(transaction(needs, method)).map(encode), st.sampled_from(RAW_BODIES)))
    send(
        client,
        app,
        "POST",
        "/v1/transactions",
        content=raw,
        headers={**PRIVATE, "content-type": "application/json"},
        shape=wompi_error,
    )


TOKEN_SEEDS = {
    "/v1/tokens/cards": {
        "number": "4242424242424242",
        "cvc": "123",
        "exp_month": "08",
        "exp_year": "35",
        "card_holder": "Pedro Pérez",
    },
    "/v1/tokens/nequi": {"phone_number": "3991111111"},
}


@FUZZ
@given(path=st.sampled_from(sorted(TOKEN_SEEDS)), data=st.data())
def test_tokens_answer_every_body_in_wompis_envelope(
    wompi: tuple[Any, httpx.Client, dict[str, Any]], path: str, data: st.DataObject
) -> None:
    app, client, _ = wompi
    raw = data.draw(st.one_of(mutated(TOKEN_SEEDS[path]).map(encode), st.sampled_from(RAW_BODIES)))
    send(
        client,
        app,
        "POST",
        path,
        content=raw,
        headers={**PUBLIC, "content-type": "application/json"},
        shape=wompi_error,
    )


@FUZZ
@given(
    template=st.sampled_from(
        [
            "/v1/transactions/{}",
            "/v1/transactions?reference={}",
            "/v1/merchants/{}",
            "/v1/tokens/nequi/{}",
            "/pse/bank/{}",
        ]
    ),
    text=hostile_path_text(),
    auth=st.sampled_from([PRIVATE, PUBLIC, {}, {"Authorization": b"Bearer \xff"}, {"Authorization": "Basic x"}]),
)
def test_lookups_answer_every_id_in_wompis_envelope(
    wompi: tuple[Any, httpx.Client, dict[str, Any]], template: str, text: str, auth: dict[str, Any]
) -> None:
    app, client, _ = wompi
    path = template.format(text)

    def shape(response: httpx.Response) -> None:
        if template.startswith("/pse/") and response.status_code == 200:
            return  # the stand-in bank page is HTML
        wompi_error(response)

    send(client, app, "GET", path, headers=auth, shape=shape)
