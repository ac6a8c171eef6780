"""WompiClient against httpx.MockTransport: auth per call, signatures, parsing, errors, idempotent create."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from core.gateways.errors import (
    WompiAuthenticationError,
    WompiError,
    WompiNetworkError,
    WompiNotFoundError,
    WompiTransactionError,
    WompiValidationError,
)
from core.gateways.resilience import BreakerPolicy
from core.gateways.wompi import WompiClient, WompiConfig
from core.gateways.wompi_models import CardMethod, NequiMethod, PseMethod
from core.signing.wompi import integrity_signature
from core.tests.support import FakeSleep, Recorder, sequence

PUB = "pub_test_Kw4aC0rZVgLZQn209NbEKPuXLzBD28Zx"
PRV = "prv_test_434092Xa65F54dd6a181D1f87DFa03CzS"
INTEGRITY = "test_integrity_ep4b3kSYJg2bWHwL7ulhPCDvaiyGDW7V"


def make(rec: Recorder, sleep: FakeSleep) -> tuple[WompiClient, httpx.AsyncClient]:
    http = rec.client()
    cfg = WompiConfig(
        public_key=PUB,
        private_key=SecretStr(PRV),
        integrity_secret=SecretStr(INTEGRITY),
        base_url="http://wompi.test/v1",
        breaker=BreakerPolicy(failure_threshold=50),
    )
    return WompiClient(http, cfg, sleep=sleep, rand=lambda: 0.0), http


def transaction(status: str = "PENDING", **over: Any) -> dict[str, Any]:
    tx = {
        "id": "1234-1610641025-49201",
        "created_at": "2021-01-14T16:17:05.000Z",
        "finalized_at": None,
        "amount_in_cents": 2490000,
        "reference": "sk8-438k4-xmxm392-sn2m",
        "customer_email": "buyer@example.com",
        "currency": "COP",
        "payment_method_type": "PSE",
        "payment_method": {"type": "PSE", "extra": {"async_payment_url": "https://bank.test/pay"}},
        "status": status,
        "status_message": None,
        "redirect_url": None,
    }
    tx.update(over)
    return tx


def data(payload: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json={"data": payload, "meta": {}})


def error(status: int, **err: Any) -> httpx.Response:
    return httpx.Response(status, json={"error": err})


@pytest.fixture
def sleep() -> FakeSleep:
    return FakeSleep()


async def test_create_transaction_sends_cents_signature_and_private_key(sleep: FakeSleep) -> None:
    rec = Recorder(sequence(data(transaction())))
    wompi, http = make(rec, sleep)
    method = PseMethod(
        user_type=0,
        user_legal_id_type="CC",
        user_legal_id="1999888777",
        financial_institution_code="1",
        payment_description="Pago a Tienda " + "x" * 80,
    )
    async with http:
        tx = await wompi.create_transaction(
            reference="sk8-438k4-xmxm392-sn2m",
            amount=Decimal("24900.00"),
            customer_email="buyer@example.com",
            payment_method=method,
            acceptance_token="eyJhbGciOi",
            accept_personal_auth="eyJhbGciOj",
            customer_data={"phone_number": "573145678901", "full_name": "Juan Perez"},
        )
    request = rec.requests[0]
    assert (request.method, str(request.url)) == ("POST", "http://wompi.test/v1/transactions")
    assert request.headers["Authorization"] == f"Bearer {PRV}"
    body = json.loads(request.content)
    assert body["amount_in_cents"] == 2490000 and isinstance(body["amount_in_cents"], int)
    assert body["signature"] == integrity_signature("sk8-438k4-xmxm392-sn2m", 2490000, "COP", INTEGRITY)
    assert body["currency"] == "COP"
    assert body["acceptance_token"] == "eyJhbGciOi" and body["accept_personal_auth"] == "eyJhbGciOj"
    assert body["payment_method"]["type"] == "PSE"
    assert len(body["payment_method"]["payment_description"]) == 64
    assert body["customer_data"]["full_name"] == "Juan Perez"
    assert tx.amount == Decimal("24900.00") and tx.status == "PENDING"
    assert tx.async_payment_url == "https://bank.test/pay"


def test_documented_integrity_example_is_what_create_would_sign() -> None:
    assert integrity_signature(
        "sk8-438k4-xmxm392-sn2m", 2490000, "COP", "prod_integrity_Z5mMke9x0k8gpErbDqwrJXMqsI6SFli6"
    ) == ("37c8407747e595535433ef8f6a811d853cd943046624a0ec04662b17bbf33bf5")


async def test_create_retried_after_timeout_finds_its_own_transaction(sleep: FakeSleep) -> None:
    used = error(422, type="INPUT_VALIDATION_ERROR", messages={"reference": ["La referencia ya ha sido usada"]})
    rec = Recorder(sequence(httpx.ReadTimeout("slow"), used, data([transaction()])))
    wompi, http = make(rec, sleep)
    async with http:
        tx = await wompi.create_transaction(
            reference="sk8-438k4-xmxm392-sn2m",
            amount=Decimal(24900),
            customer_email="b@e.co",
            payment_method=NequiMethod("3991111111"),
            acceptance_token="t",
        )
    assert [r.method for r in rec.requests] == ["POST", "POST", "GET"]
    assert rec.requests[2].url.params["reference"] == "sk8-438k4-xmxm392-sn2m"
    assert rec.requests[2].headers["Authorization"] == f"Bearer {PRV}"
    assert tx.id == "1234-1610641025-49201"
    assert sleep.delays == [1.0]


async def test_reference_taken_with_another_amount_is_refused(sleep: FakeSleep) -> None:
    used = error(422, type="INPUT_VALIDATION_ERROR", messages={"reference": ["La referencia ya ha sido usada"]})
    rec = Recorder(sequence(used, data([transaction(amount_in_cents=100000)])))
    wompi, http = make(rec, sleep)
    async with http:
        with pytest.raises(WompiValidationError) as info:
            await wompi.create_transaction(
                reference="sk8-438k4-xmxm392-sn2m",
                amount=Decimal(24900),
                customer_email="b@e.co",
                payment_method=NequiMethod("3991111111"),
                acceptance_token="t",
            )
    assert info.value.error_code == "REFERENCE_CONFLICT"


async def test_reference_refusal_without_a_transaction_is_raised_as_is(sleep: FakeSleep) -> None:
    used = error(422, type="INPUT_VALIDATION_ERROR", messages={"reference": ["invalid"]})
    rec = Recorder(sequence(used, data([])))
    wompi, http = make(rec, sleep)
    async with http:
        with pytest.raises(WompiValidationError) as info:
            await wompi.create_transaction(
                reference="r",
                amount=Decimal(24900),
                customer_email="b@e.co",
                payment_method=NequiMethod("3991111111"),
                acceptance_token="t",
            )
    assert info.value.details == {"reference": ["invalid"]}


async def test_other_validation_errors_carry_field_messages_and_are_not_retried(sleep: FakeSleep) -> None:
    rec = Recorder(
        sequence(error(422, type="INPUT_VALIDATION_ERROR", messages={"payment_method.token": ["Token inválido"]}))
    )
    wompi, http = make(rec, sleep)
    async with http:
        with pytest.raises(WompiValidationError) as info:
            await wompi.create_transaction(
                reference="r",
                amount=Decimal(1000),
                customer_email="b@e.co",
                payment_method=CardMethod("tok_test_1"),
                acceptance_token="t",
            )
    assert info.value.details == {"payment_method.token": ["Token inválido"]}
    assert info.value.error_code == "INPUT_VALIDATION_ERROR"
    assert len(rec.requests) == 1


async def test_synchronously_declined_create_raises_transaction_error(sleep: FakeSleep) -> None:
    rec = Recorder(sequence(data(transaction("DECLINED", status_message="Fondos Insuficientes"))))
    wompi, http = make(rec, sleep)
    async with http:
        with pytest.raises(WompiTransactionError, match="Fondos Insuficientes") as info:
            await wompi.create_transaction(
                reference="r",
                amount=Decimal(24900),
                customer_email="b@e.co",
                payment_method=CardMethod("tok_test_1"),
                acceptance_token="t",
            )
    assert info.value.result.status == "DECLINED"


async def test_unprocessable_maps_to_transaction_error(sleep: FakeSleep) -> None:
    rec = Recorder(sequence(error(422, type="UNPROCESSABLE", reason="La fuente de pago ha sido declinada")))
    wompi, http = make(rec, sleep)
    async with http:
        with pytest.raises(WompiTransactionError, match="declinada"):
            await wompi.create_transaction(
                reference="r",
                amount=Decimal(24900),
                customer_email="b@e.co",
                payment_method=CardMethod("tok_test_1"),
                acceptance_token="t",
            )


async def test_invalid_key_maps_to_authentication_error(sleep: FakeSleep) -> None:
    rec = Recorder(
        sequence(
            error(401, type="INVALID_ACCESS_TOKEN", reason="La llave proporcionada no corresponde a este ambiente.")
        )
    )
    wompi, http = make(rec, sleep)
    async with http:
        with pytest.raises(WompiAuthenticationError, match="no corresponde"):
            await wompi.get_transaction("x")
    assert len(rec.requests) == 1


async def test_unknown_transaction_maps_to_not_found(sleep: FakeSleep) -> None:
    rec = Recorder(sequence(error(404, type="NOT_FOUND_ERROR", reason="La entidad solicitada no existe")))
    wompi, http = make(rec, sleep)
    async with http:
        with pytest.raises(WompiNotFoundError) as info:
            await wompi.get_transaction("1234-1610641025-49201")
    assert str(rec.requests[0].url) == "http://wompi.test/v1/transactions/1234-1610641025-49201"
    assert isinstance(info.value, WompiValidationError)


async def test_get_transaction_reports_a_decline_without_raising(sleep: FakeSleep) -> None:
    rec = Recorder(sequence(data(transaction("DECLINED", finalized_at="2021-01-14T16:18:00.000Z"))))
    wompi, http = make(rec, sleep)
    async with http:
        tx = await wompi.get_transaction("1234-1610641025-49201")
    assert tx.status == "DECLINED" and tx.is_final
    assert tx.finalized_at is not None and tx.finalized_at.tzinfo is not None


async def test_reads_retry_on_5xx_and_honour_retry_after(sleep: FakeSleep) -> None:
    rec = Recorder(
        sequence(httpx.Response(502), httpx.Response(429, headers={"Retry-After": "4"}), data(transaction()))
    )
    wompi, http = make(rec, sleep)
    async with http:
        await wompi.get_transaction("1234-1610641025-49201")
    assert sleep.delays == [1.0, 4.0]


async def test_fractional_cents_amount_is_a_malformed_payload(sleep: FakeSleep) -> None:
    bad = httpx.Response(
        200,
        content=b'{"data": '
        + json.dumps(transaction()).replace('"amount_in_cents": 2490000', '"amount_in_cents": 2490000.5').encode()
        + b"}",
    )
    rec = Recorder(sequence(bad, bad, bad))
    wompi, http = make(rec, sleep)
    async with http:
        with pytest.raises(WompiNetworkError, match="malformed"):
            await wompi.get_transaction("x")


async def test_find_by_reference_none_one_or_ambiguous(sleep: FakeSleep) -> None:
    rec = Recorder(sequence(data([]), data([transaction()]), data([transaction(), transaction(id="2")])))
    wompi, http = make(rec, sleep)
    async with http:
        assert await wompi.find_by_reference("nope") is None
        found = await wompi.find_by_reference("sk8-438k4-xmxm392-sn2m")
        assert found is not None and found.reference == "sk8-438k4-xmxm392-sn2m"
        with pytest.raises(WompiError, match="share one reference"):
            await wompi.find_by_reference("sk8-438k4-xmxm392-sn2m")


async def test_acceptance_tokens_use_the_public_key_path(sleep: FakeSleep) -> None:
    merchant = {
        "id": 1,
        "presigned_acceptance": {"acceptance_token": "eyJ1", "permalink": "https://x/t.pdf", "type": "END_USER_POLICY"},
        "presigned_personal_data_auth": {
            "acceptance_token": "eyJ2",
            "permalink": "https://x/p.pdf",
            "type": "PERSONAL_DATA_AUTH",
        },
    }
    rec = Recorder(sequence(data(merchant)))
    wompi, http = make(rec, sleep)
    async with http:
        tokens = await wompi.acceptance_tokens()
    assert str(rec.requests[0].url) == f"http://wompi.test/v1/merchants/{PUB}"
    assert PRV not in rec.requests[0].headers.get("Authorization", "")
    assert (tokens.acceptance_token, tokens.personal_data_token) == ("eyJ1", "eyJ2")


async def test_pse_banks_and_tokens_use_the_public_key(sleep: FakeSleep) -> None:
    banks = [
        {"financial_institution_code": "1", "financial_institution_name": "Banco que aprueba"},
        {"financial_institution_code": "2", "financial_institution_name": "Banco que declina"},
    ]
    card = {
        "id": "tok_test_1_abc",
        "brand": "VISA",
        "name": "VISA-4242",
        "last_four": "4242",
        "exp_month": "08",
        "exp_year": "28",
        "card_holder": "Pedro Pérez",
        "expires_at": "2028-08-31T23:59:59.000Z",
    }
    rec = Recorder(sequence(data(banks), httpx.Response(201, json={"status": "CREATED", "data": card})))
    wompi, http = make(rec, sleep)
    async with http:
        result = await wompi.pse_banks()
        token = await wompi.tokenize_card(
            number="4242424242424242", cvc="789", exp_month="08", exp_year="28", card_holder="Pedro Pérez"
        )
    assert [b.code for b in result] == ["1", "2"]
    assert str(rec.requests[0].url) == "http://wompi.test/v1/pse/financial_institutions"
    for request in rec.requests:
        assert request.headers["Authorization"] == f"Bearer {PUB}"
    assert json.loads(rec.requests[1].content)["number"] == "4242424242424242"
    assert token.id == "tok_test_1_abc" and token.last_four == "4242"


async def test_nequi_tokenisation_is_not_retried(sleep: FakeSleep) -> None:
    rec = Recorder(sequence(httpx.Response(503)))
    wompi, http = make(rec, sleep)
    async with http:
        with pytest.raises(WompiNetworkError):
            await wompi.tokenize_nequi("3991111111")
    assert len(rec.requests) == 1
    assert sleep.delays == []


def test_card_token_and_keys_stay_out_of_repr() -> None:
    assert "tok_test_1" not in repr(CardMethod("tok_test_1"))
    cfg = WompiConfig(public_key=PUB, private_key=SecretStr(PRV), integrity_secret=SecretStr(INTEGRITY))
    assert PRV not in repr(cfg) and INTEGRITY not in repr(cfg)


# -- a create whose first try may have charged ends in success or "outcome unknown", never "not charged" -----

USED = {"type": "INPUT_VALIDATION_ERROR", "messages": {"reference": ["La referencia ya ha sido usada"]}}
GARBLED = httpx.Response(200, content=b"\x00{not json")


async def _create(wompi: WompiClient) -> Any:
    return await wompi.create_transaction(
        reference="sk8-438k4-xmxm392-sn2m",
        amount=Decimal(24900),
        customer_email="b@e.co",
        payment_method=CardMethod(token="tok_test_1", installments=1),
        acceptance_token="t",
    )


@pytest.mark.parametrize(
    "lookup",
    [
        [httpx.Response(429, json={"error": {"type": "RATE_LIMITED"}})] * 3,  # b08: the lookup is rate limited
        [error(404, type="NOT_FOUND_ERROR", reason="not found")],  # the lookup says not found
        [data([])],  # the reference is taken but not listed yet
        [httpx.ReadTimeout("slow")] * 3,
    ],
    ids=["lookup-429", "lookup-404", "lookup-empty", "lookup-timeout"],
)
async def test_garbled_create_then_reference_taken_then_lookup_fails_is_outcome_unknown(
    sleep: FakeSleep, lookup: list[Any]
) -> None:
    rec = Recorder(sequence(GARBLED, error(422, **USED), *lookup))
    wompi, http = make(rec, sleep)
    async with http:
        with pytest.raises(WompiError) as info:
            await _create(wompi)
    assert info.value.outcome_unknown and not info.value.retryable
    assert [r.method for r in rec.requests][:3] == ["POST", "POST", "GET"]


async def test_garbled_create_then_rate_limited_retries_is_outcome_unknown(sleep: FakeSleep) -> None:
    # b09: the retried POST itself gets 429 until the retries run out.
    limited = httpx.Response(429, json={"error": {"type": "RATE_LIMITED"}})
    rec = Recorder(sequence(GARBLED, limited, limited))
    wompi, http = make(rec, sleep)
    async with http:
        with pytest.raises(WompiNetworkError) as info:
            await _create(wompi)
    assert info.value.outcome_unknown and not info.value.retryable
    assert len(rec.requests) == 3


@pytest.mark.parametrize(
    "refusal",
    [
        error(422, type="INPUT_VALIDATION_ERROR", messages={"payment_method.token": ["Token ya usado"]}),
        error(422, type="UNPROCESSABLE", reason="payment source declined"),
    ],
    ids=["4xx-field", "unprocessable"],
)
async def test_create_timing_out_then_refused_is_outcome_unknown(sleep: FakeSleep, refusal: httpx.Response) -> None:
    rec = Recorder(sequence(httpx.ReadTimeout("slow"), refusal))
    wompi, http = make(rec, sleep)
    async with http:
        with pytest.raises(WompiError) as info:
            await _create(wompi)
    assert info.value.outcome_unknown


async def test_create_failing_with_5xx_then_meeting_the_open_breaker_is_outcome_unknown(sleep: FakeSleep) -> None:
    http = Recorder(sequence(httpx.Response(502, text="bad gateway"))).client()
    cfg = WompiConfig(public_key=PUB, private_key=SecretStr(PRV), integrity_secret=SecretStr(INTEGRITY),
                      base_url="http://wompi.test/v1", breaker=BreakerPolicy(failure_threshold=1))
    wompi = WompiClient(http, cfg, sleep=sleep, rand=lambda: 0.0)
    async with http:
        with pytest.raises(WompiError) as info:
            await _create(wompi)
    assert info.value.outcome_unknown


async def test_garbled_create_then_lookup_finding_it_is_success(sleep: FakeSleep) -> None:
    rec = Recorder(sequence(GARBLED, error(422, **USED), data([transaction("APPROVED")])))
    wompi, http = make(rec, sleep)
    async with http:
        tx = await _create(wompi)
    assert tx.status == "APPROVED"


async def test_reference_refusal_on_the_only_try_with_a_failing_lookup_is_the_lookups_error(sleep: FakeSleep) -> None:
    # No earlier try could have charged: the lookup's own error stands (here: not found).
    rec = Recorder(sequence(error(422, **USED), error(404, type="NOT_FOUND_ERROR", reason="not found")))
    wompi, http = make(rec, sleep)
    async with http:
        with pytest.raises(WompiNotFoundError) as info:
            await _create(wompi)
    assert not info.value.outcome_unknown
