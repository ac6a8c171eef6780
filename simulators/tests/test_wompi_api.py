"""Contract tests of the Wompi simulator's /v1 endpoints, in-process over httpx.ASGITransport."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from simulators.wompi import WompiConfig, create_app
from simulators.wompi.signing import integrity_signature
from simulators.wompi.testing import WompiDriver

CONFIG = WompiConfig(finalize_delay_seconds=5.0)


@pytest.fixture
async def wompi() -> AsyncIterator[WompiDriver]:
    app = create_app(CONFIG)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://wompi.test") as http:
        yield WompiDriver(http, CONFIG)


def error_of(response: httpx.Response) -> dict[str, Any]:
    return dict(response.json()["error"])


# -- merchants and acceptance tokens ---------------------------------------------------------------


async def test_merchant_returns_both_presigned_acceptance_tokens(wompi: WompiDriver) -> None:
    response = await wompi.http.get(f"/v1/merchants/{CONFIG.public_key}")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["presigned_acceptance"]["type"] == "END_USER_POLICY"
    assert data["presigned_personal_data_auth"]["type"] == "PERSONAL_DATA_AUTH"
    assert data["presigned_acceptance"]["acceptance_token"].count(".") == 2
    assert data["public_key"] == CONFIG.public_key
    assert response.json()["meta"] == {}


@pytest.mark.parametrize(
    ("key", "reason_part"),
    [("pub_test_SomebodyElse000000000000000000", "no es válida"), ("pub_prod_Kw4aC0rZVgLZQn20", "ambiente")],
)
async def test_merchant_with_unknown_or_production_key_is_401(wompi: WompiDriver, key: str, reason_part: str) -> None:
    response = await wompi.http.get(f"/v1/merchants/{key}")
    assert response.status_code == 401
    assert error_of(response)["type"] == "INVALID_ACCESS_TOKEN"
    assert reason_part in str(error_of(response)["reason"])


# -- auth per call ---------------------------------------------------------------------------------

PUBLIC_CALLS = [
    ("POST", "/v1/tokens/cards"),
    ("POST", "/v1/tokens/nequi"),
    ("GET", "/v1/pse/financial_institutions"),
]
PRIVATE_CALLS = [("POST", "/v1/transactions"), ("GET", "/v1/transactions?reference=x")]


@pytest.mark.parametrize(("method", "path"), PUBLIC_CALLS + PRIVATE_CALLS)
@pytest.mark.parametrize("header", [None, "Bearer prv_test_wrong", "Bearer pub_prod_x", "Basic abc"])
async def test_calls_without_a_valid_key_are_401(
    wompi: WompiDriver, method: str, path: str, header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    response = await wompi.http.request(method, path, json={}, headers=headers)
    assert response.status_code == 401
    assert error_of(response)["type"] == "INVALID_ACCESS_TOKEN"


@pytest.mark.parametrize(("method", "path"), PRIVATE_CALLS)
async def test_private_calls_refuse_the_public_key(wompi: WompiDriver, method: str, path: str) -> None:
    response = await wompi.http.request(method, path, json={}, headers=wompi.public_auth)
    assert response.status_code == 401


async def test_public_key_may_create_transactions_when_configured() -> None:
    config = WompiConfig(transactions_accept_public_key=True)
    app = create_app(config)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://w") as http:
        driver = WompiDriver(http, config)
        body = await driver.transaction_body("pub-1", 100000, {"type": "NEQUI", "phone_number": "3991111111"})
        response = await http.post("/v1/transactions", json=body, headers=driver.public_auth)
    assert response.status_code == 201


async def test_get_transaction_needs_no_key_but_rejects_a_wrong_one(wompi: WompiDriver) -> None:
    tx_id = (await wompi.pay_nequi("open-1", 150000)).json()["data"]["id"]
    assert (await wompi.http.get(f"/v1/transactions/{tx_id}")).status_code == 200
    wrong = await wompi.http.get(f"/v1/transactions/{tx_id}", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


# -- tokens ----------------------------------------------------------------------------------------


async def test_card_token_has_wompi_shape(wompi: WompiDriver) -> None:
    card = {"number": "4242424242424242", "cvc": "123", "exp_month": "08", "exp_year": "35", "card_holder": "Ana Gómez"}
    response = await wompi.http.post("/v1/tokens/cards", json=card, headers=wompi.public_auth)
    assert response.status_code == 201
    assert response.json()["status"] == "CREATED"
    data = response.json()["data"]
    assert data["id"].startswith("tok_test_")
    assert (data["brand"], data["name"], data["last_four"], data["bin"]) == ("VISA", "VISA-4242", "4242", "424242")
    assert "number" not in data and "cvc" not in data


@pytest.mark.parametrize(
    ("field", "value"),
    [("number", "4242abc"), ("cvc", "12"), ("exp_month", "13"), ("exp_year", "2030"), ("exp_year", "01")],
)
async def test_card_token_refuses_invalid_fields(wompi: WompiDriver, field: str, value: str) -> None:
    card = {"number": "4242424242424242", "cvc": "123", "exp_month": "08", "exp_year": "35", "card_holder": "Ana Gómez"}
    card[field] = value
    response = await wompi.http.post("/v1/tokens/cards", json=card, headers=wompi.public_auth)
    assert response.status_code == 422
    assert error_of(response)["type"] == "INPUT_VALIDATION_ERROR"
    assert field in error_of(response)["messages"]


@pytest.mark.parametrize(("phone", "final"), [("3991111111", "APPROVED"), ("3992222222", "DECLINED")])
async def test_nequi_token_starts_pending_and_settles_on_the_sim_clock(
    wompi: WompiDriver, phone: str, final: str
) -> None:
    response = await wompi.http.post("/v1/tokens/nequi", json={"phone_number": phone}, headers=wompi.public_auth)
    assert response.status_code == 201
    token = response.json()["data"]
    assert token["status"] == "PENDING" and token["id"].startswith("nequi_test_")
    await wompi.advance(CONFIG.nequi_token_delay_seconds)
    again = await wompi.http.get(f"/v1/tokens/nequi/{token['id']}", headers=wompi.public_auth)
    assert again.json()["data"]["status"] == final


async def test_nequi_token_needs_a_ten_digit_phone(wompi: WompiDriver) -> None:
    response = await wompi.http.post("/v1/tokens/nequi", json={"phone_number": "12345"}, headers=wompi.public_auth)
    assert response.status_code == 422
    assert "phone_number" in error_of(response)["messages"]


# -- transactions: sandbox outcomes ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "final"),
    [("4242424242424242", "APPROVED"), ("4111111111111111", "DECLINED"), ("5555555555554444", "ERROR")],
)
async def test_card_outcomes_after_the_pending_delay(
    frozen_wall: float, wompi: WompiDriver, number: str, final: str
) -> None:
    created = await wompi.pay_card(f"card-{number}", 2490000, number)
    assert created.status_code == 201
    tx = created.json()["data"]
    assert tx["status"] == "PENDING" and tx["finalized_at"] is None
    await wompi.advance(CONFIG.finalize_delay_seconds - 1)
    assert (await wompi.transaction(tx["id"]))["status"] == "PENDING"
    await wompi.advance(1.5)
    final_tx = await wompi.transaction(tx["id"])
    assert final_tx["status"] == final
    assert final_tx["finalized_at"] is not None
    assert final_tx["payment_method"]["extra"]["processor_response_code"]


@pytest.mark.parametrize(
    ("phone", "final"), [("3991111111", "APPROVED"), ("3992222222", "DECLINED"), ("3001234567", "ERROR")]
)
async def test_nequi_outcomes(wompi: WompiDriver, phone: str, final: str) -> None:
    tx = (await wompi.pay_nequi(f"nequi-{phone}", 4490000, phone)).json()["data"]
    assert tx["payment_method_type"] == "NEQUI"
    await wompi.advance(CONFIG.finalize_delay_seconds)
    assert (await wompi.transaction(tx["id"]))["status"] == final


@pytest.mark.parametrize(("code", "final"), [("1", "APPROVED"), ("2", "DECLINED"), ("3", "ERROR")])
async def test_pse_outcomes_and_async_payment_url(wompi: WompiDriver, code: str, final: str) -> None:
    tx = (await wompi.pay_pse(f"pse-{code}", 5000000, code)).json()["data"]
    url = tx["payment_method"]["extra"]["async_payment_url"]
    assert url.startswith("http://wompi.test/pse/bank/")
    page = await wompi.http.get(url)
    assert page.status_code == 200 and tx["id"] in page.text
    await wompi.advance(CONFIG.finalize_delay_seconds)
    assert (await wompi.transaction(tx["id"]))["status"] == final


async def test_pse_async_url_appears_only_after_its_delay() -> None:
    config = WompiConfig(async_url_delay_seconds=3.0)
    app = create_app(config)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://w") as http:
        driver = WompiDriver(http, config)
        tx = (await driver.pay_pse("pse-late", 100000)).json()["data"]
        assert "async_payment_url" not in tx["payment_method"]["extra"]
        await driver.advance(3.0)
        assert "async_payment_url" in (await driver.transaction(tx["id"]))["payment_method"]["extra"]


async def test_pse_bank_list(wompi: WompiDriver) -> None:
    response = await wompi.http.get("/v1/pse/financial_institutions", headers=wompi.public_auth)
    assert response.status_code == 200
    banks = {b["financial_institution_code"]: b["financial_institution_name"] for b in response.json()["data"]}
    assert banks == {"1": "Banco que aprueba", "2": "Banco que declina", "3": "Banco que simula un error"}


async def test_transaction_id_follows_the_documented_pattern(wompi: WompiDriver) -> None:
    tx = (await wompi.pay_nequi("id-shape", 100000)).json()["data"]
    number, stamp, digits = tx["id"].split("-")
    assert number == str(CONFIG.merchant_number)
    assert stamp.isdigit() and len(digits) == 5 and digits.isdigit()


# -- transactions: validation ----------------------------------------------------------------------


async def test_duplicate_reference_is_422_with_wompis_exact_envelope(wompi: WompiDriver) -> None:
    assert (await wompi.pay_nequi("dup-1", 100000)).status_code == 201
    again = await wompi.pay_nequi("dup-1", 100000)
    assert again.status_code == 422
    assert again.json() == {
        "error": {"type": "INPUT_VALIDATION_ERROR", "messages": {"reference": ["La referencia ya ha sido usada"]}}
    }


NEQUI = {"type": "NEQUI", "phone_number": "3991111111"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"signature": "0" * 64}, "signature"),
        ({"amount_in_cents": 0}, "amount_in_cents"),
        ({"amount_in_cents": "100000"}, "amount_in_cents"),
        ({"currency": "USD"}, "currency"),
        ({"customer_email": "not-an-email"}, "customer_email"),
        ({"acceptance_token": "a.b.c"}, "acceptance_token"),
        ({"payment_method": {"type": "BITCOIN"}}, "payment_method"),
        ({"payment_method": {"type": "CARD", "token": "tok_test_nope", "installments": 1}}, "payment_method"),
        ({"payment_source_id": 3891}, "payment_source_id"),
    ],
)
async def test_invalid_transaction_fields_are_reported_per_field(
    wompi: WompiDriver, change: dict[str, object], field: str
) -> None:
    body = await wompi.transaction_body("val-1", 100000, NEQUI)
    body.update(change)
    response = await wompi.create(body)
    assert response.status_code == 422
    assert error_of(response)["type"] == "INPUT_VALIDATION_ERROR"
    assert field in error_of(response)["messages"]


@pytest.mark.parametrize(
    "missing",
    ["acceptance_token", "amount_in_cents", "currency", "customer_email", "payment_method", "reference", "signature"],
)
async def test_each_required_field_is_required(wompi: WompiDriver, missing: str) -> None:
    body = await wompi.transaction_body("req-1", 100000, NEQUI)
    del body[missing]
    response = await wompi.create(body)
    assert response.status_code == 422
    assert missing in error_of(response)["messages"]


async def test_fractional_amount_is_refused_and_never_parsed_as_float(wompi: WompiDriver) -> None:
    body = await wompi.transaction_body("frac-1", 100000, NEQUI)
    raw = httpx.Request("POST", "/", json=body).content.replace(
        b'"amount_in_cents":100000', b'"amount_in_cents":1000.50'
    )
    response = await wompi.http.post(
        "/v1/transactions", content=raw, headers={**wompi.private_auth, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert "amount_in_cents" in error_of(response)["messages"]


async def test_nested_payment_method_messages(wompi: WompiDriver) -> None:
    method = {"type": "CARD", "token": "tok_test_unknown", "installments": 0}
    response = await wompi.create(await wompi.transaction_body("nest-1", 100000, method))
    messages = error_of(response)["messages"]
    assert set(messages["payment_method"]) == {"token", "installments"}


async def test_signature_with_expiration_time_is_checked(wompi: WompiDriver) -> None:
    expires = "2035-06-09T20:28:50.000Z"
    body = await wompi.transaction_body("exp-1", 100000, NEQUI, expiration_time=expires)
    assert (await wompi.create(body)).status_code == 422  # signed without the expiration time
    body["signature"] = integrity_signature("exp-1", 100000, "COP", CONFIG.integrity_secret, expires)
    assert (await wompi.create(body)).status_code == 201


async def test_personal_data_token_is_not_an_acceptance_token(wompi: WompiDriver) -> None:
    body = await wompi.transaction_body("swap-1", 100000, NEQUI)
    body["acceptance_token"], body["accept_personal_auth"] = body["accept_personal_auth"], body["acceptance_token"]
    messages = error_of(await wompi.create(body))["messages"]
    assert {"acceptance_token", "accept_personal_auth"} <= set(messages)


async def test_acceptance_token_expires_on_the_sim_clock(wompi: WompiDriver) -> None:
    body = await wompi.transaction_body("ttl-1", 100000, NEQUI)
    await wompi.advance(CONFIG.acceptance_token_ttl_seconds + 1)
    response = await wompi.create(body)
    assert "acceptance_token" in error_of(response)["messages"]


async def test_malformed_json_is_a_validation_error(wompi: WompiDriver) -> None:
    response = await wompi.http.post("/v1/transactions", content=b"{nope", headers=wompi.private_auth)
    assert response.status_code == 422
    assert error_of(response)["type"] == "INPUT_VALIDATION_ERROR"


# -- reads -----------------------------------------------------------------------------------------


async def test_get_unknown_transaction_is_404_not_found_error(wompi: WompiDriver) -> None:
    response = await wompi.http.get("/v1/transactions/1-1-00000")
    assert response.status_code == 404
    assert response.json() == {"error": {"type": "NOT_FOUND_ERROR", "reason": "La entidad solicitada no existe"}}


async def test_find_by_reference(wompi: WompiDriver) -> None:
    tx = (await wompi.pay_nequi("find-me", 100000)).json()["data"]
    found = await wompi.http.get("/v1/transactions", params={"reference": "find-me"}, headers=wompi.private_auth)
    assert found.status_code == 200
    assert [t["id"] for t in found.json()["data"]] == [tx["id"]]
    none = await wompi.http.get("/v1/transactions", params={"reference": "absent"}, headers=wompi.private_auth)
    assert none.json() == {"data": [], "meta": {}}


# -- journal ---------------------------------------------------------------------------------------


async def test_journal_counts_charges_at_the_gateway(wompi: WompiDriver) -> None:
    tx = (await wompi.pay_nequi("count-1", 4490000)).json()["data"]
    await wompi.pay_nequi("count-1", 4490000)  # refused duplicate: recorded, but no charge
    entries = (await wompi.http.get("/__admin/journal", params={"kind": "request"})).json()["entries"]
    creates = [e for e in entries if e["path"] == "/v1/transactions" and e["method"] == "POST"]
    assert [e["status"] for e in creates] == [201, 422]
    charges = [e["summary"] for e in creates if e["summary"]["transaction_id"]]
    assert charges == [
        {
            "operation": "CREATE_TRANSACTION",
            "reference": "count-1",
            "amount_in_cents": 4490000,
            "currency": "COP",
            "payment_method_type": "NEQUI",
            "transaction_id": tx["id"],
            "outcome": "APPROVED",
            "status": "PENDING",
        }
    ]


# -- admin -----------------------------------------------------------------------------------------


async def test_reset_forgets_transactions_and_restores_the_events_url(wompi: WompiDriver) -> None:
    tx = (await wompi.pay_nequi("reset-me", 100000)).json()["data"]
    await wompi.set_events_url("http://127.0.0.1:9/elsewhere")
    assert (await wompi.http.post("/__admin/reset")).status_code == 200
    assert (await wompi.http.get(f"/v1/transactions/{tx['id']}")).status_code == 404
    assert (await wompi.http.get("/__admin/wompi/events-url")).json() == {"url": CONFIG.events_url}
    assert (await wompi.pay_nequi("reset-me", 100000)).status_code == 201  # the reference is free again
    assert (await wompi.http.get("/__admin/scheduler")).json()["pending"][0]["name"].startswith("wompi finalize")


async def test_admin_lists_transactions_and_rejects_a_bad_events_url(wompi: WompiDriver) -> None:
    tx = (await wompi.pay_nequi("listed", 100000)).json()["data"]
    listed = (await wompi.http.get("/__admin/wompi/transactions")).json()["data"]
    assert [t["id"] for t in listed] == [tx["id"]]
    assert (await wompi.set_events_url("ftp://nope")).status_code == 422


def test_command_line_config_and_banner() -> None:
    from simulators.wompi.__main__ import banner, config_from_args, parse_args

    config = config_from_args(
        parse_args(
            ["--events-url", "http://127.0.0.1:9/e", "--finalize-delay", "0.5", "--regenerate-signature-on-retry"]
        )
    )
    assert (config.events_url, config.finalize_delay_seconds) == ("http://127.0.0.1:9/e", 0.5)
    assert config.regenerate_event_signature_on_retry is True
    text = banner(config, 8082)
    assert "http://127.0.0.1:8082/v1" in text
    assert config.public_key in text
    assert not any(secret in text for secret in (config.private_key, config.events_secret, config.integrity_secret))
    assert f"****{config.private_key[-4:]}" in text
