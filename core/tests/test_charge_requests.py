"""What one charge attempt sends to Wompi or PayU, and what the core makes of each answer (core/api/charges.py).

The real gateway clients run over an ``httpx.MockTransport`` that records every request and answers as a
test tells it to, so a test reads the exact JSON the gateway would receive; no database is involved.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType, SimpleNamespace
from typing import Any, cast

import httpx
import pytest
from pydantic import SecretStr

from core.api.charges import ChargeResult, ClientInfo, charge, jsonable
from core.api.schemas import ProcessPaymentIn
from core.db.models import TransactionStatus
from core.gateways.errors import GatewayError, PayUValidationError, WompiTransactionError
from core.gateways.payu import PayUClient, PayUConfig
from core.gateways.resilience import RetryPolicy
from core.gateways.wompi import WompiClient, WompiConfig
from core.services import Services

INTEGRITY_SECRET = "test_integrity_charges_5d1e"
PAYU_API_KEY = "payu-api-key-charges"
MERCHANT_ID = "508029"
REFERENCE = "ORD-7-1a2b3c4d"
DESCRIPTION = "Order ORD-7"
CLIENT = ClientInfo(ip="203.0.113.7", user_agent="Mozilla/5.0 (checkout)")
PAYER = {"full_name": "Ana Pérez", "phone": "3001234567", "dni_number": "123456789", "dni_type": "CC"}


@dataclass
class Gateways:
    """Wompi and PayU on one MockTransport. ``answers`` queues (status, body) for the charge call; when it is
    empty Wompi echoes the request with ``wompi_status`` and PayU answers ``payu_response``."""

    wompi_status: str = "APPROVED"
    wompi_echo: dict[str, Any] = field(default_factory=dict)  # fields that replace the echoed ones
    payu_response: dict[str, Any] = field(default_factory=lambda: {"state": "APPROVED"})
    answers: list[tuple[int, Any]] = field(default_factory=list)
    acceptance_status: int = 200
    requests: list[httpx.Request] = field(default_factory=list)

    def sent(self, path: str) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if r.url.path == path and r.method == "POST"]

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.host == "wompi.test":
            return self._wompi(request)
        return self._payu(request)

    def _wompi(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/v1/merchants/"):
            return httpx.Response(self.acceptance_status, json={"data": {
                "presigned_acceptance": {"acceptance_token": "acc-fetched"},
                "presigned_personal_data_auth": {"acceptance_token": "personal-fetched"},
            }})
        if self.answers:
            status, body = self.answers.pop(0)
            return httpx.Response(status, json=body)
        sent = json.loads(request.content)
        tx = {
            "id": "wompi-tx-1",
            "reference": sent["reference"],
            "amount_in_cents": sent["amount_in_cents"],
            "currency": sent["currency"],
            "status": self.wompi_status,
            "status_message": None,
            "payment_method": {"type": sent["payment_method"]["type"], "extra": {}},
            **self.wompi_echo,
        }
        return httpx.Response(201, json={"data": tx})

    def _payu(self, request: httpx.Request) -> httpx.Response:
        if self.answers:
            status, body = self.answers.pop(0)
            return httpx.Response(status, json=body)
        return httpx.Response(200, json={"code": "SUCCESS", "error": None, "transactionResponse": self.payu_response})


def services(gateways: Gateways, attempts: int = 1) -> Services:
    http = httpx.AsyncClient(transport=httpx.MockTransport(gateways.handle))
    retry = RetryPolicy(attempts=attempts, initial_delay=0.0)
    wompi = WompiClient(http, WompiConfig(
        public_key="pub_test_charges", private_key=SecretStr("prv_test_charges"),
        integrity_secret=SecretStr(INTEGRITY_SECRET), base_url="http://wompi.test/v1", retry=retry,
    ))
    payu = PayUClient(http, PayUConfig(
        api_key=SecretStr(PAYU_API_KEY), api_login=SecretStr("payu-login"), merchant_id=MERCHANT_ID,
        account_id="512321", base_url="http://payu.test", retry=retry,
    ))
    return cast(Services, SimpleNamespace(wompi=wompi, payu=payu))


def body(method: str = "CARD", **fields: Any) -> ProcessPaymentIn:
    values: dict[str, Any] = {
        "order_id": 7, "amount": "65000.50", "currency": "COP", "method": method, "customer_email": "ana@example.co",
    }
    if method == "CARD":
        values["card"] = {"token": "tok_test_4242", "installments": 3}
    values.update(fields)
    return ProcessPaymentIn.model_validate(values)


def payu_body(**card: Any) -> ProcessPaymentIn:
    return body(
        amount="65000",
        gateway="payu",
        payer=PAYER,
        card={"number": "4037997623271984", "cvc": "321", "exp_month": 7, "exp_year": 2030, "holder": "ANA PEREZ",
              "brand": "MASTERCARD", "installments": 2, **card},
    )


async def pay(gateways: Gateways, request: ProcessPaymentIn, *, attempts: int = 1,
              client: ClientInfo = CLIENT) -> ChargeResult:
    return await charge(services(gateways, attempts), request, reference=REFERENCE, amount=request.amount,
                        description=DESCRIPTION, client=client)


# -- what a Wompi transaction carries ------------------------------------------------------------------------


async def test_a_wompi_card_charge_sends_integer_cents_the_integrity_signature_and_fetched_acceptance() -> None:
    gateways = Gateways()
    await pay(gateways, body())
    assert gateways.paths() == ["/v1/merchants/pub_test_charges", "/v1/transactions"]
    [sent] = gateways.sent("/v1/transactions")
    expected_signature = hashlib.sha256(f"{REFERENCE}6500050COP{INTEGRITY_SECRET}".encode()).hexdigest()
    assert sent == {
        "acceptance_token": "acc-fetched",
        "accept_personal_auth": "personal-fetched",
        "amount_in_cents": 6500050,
        "currency": "COP",
        "customer_email": "ana@example.co",
        "payment_method": {"type": "CARD", "token": "tok_test_4242", "installments": 3},
        "reference": REFERENCE,
        "signature": expected_signature,
    }
    assert type(sent["amount_in_cents"]) is int


async def test_an_acceptance_token_the_payer_accepted_is_sent_without_asking_wompi_for_one() -> None:
    gateways = Gateways()
    await pay(gateways, body(acceptance_token="acc-from-checkout-page"))
    assert gateways.paths() == ["/v1/transactions"]
    [sent] = gateways.sent("/v1/transactions")
    assert sent["acceptance_token"] == "acc-from-checkout-page"
    assert "accept_personal_auth" not in sent


async def test_nequi_sends_the_phone_and_the_payer_as_customer_data() -> None:
    gateways = Gateways(wompi_status="PENDING")
    await pay(gateways, body("NEQUI", nequi_phone="3991111111", payer=PAYER))
    [sent] = gateways.sent("/v1/transactions")
    assert sent["payment_method"] == {"type": "NEQUI", "phone_number": "3991111111"}
    assert sent["customer_data"] == {"phone_number": "3001234567", "full_name": "Ana Pérez"}


async def test_a_wompi_charge_without_a_payer_sends_no_customer_data() -> None:
    gateways = Gateways(wompi_status="PENDING")
    await pay(gateways, body("NEQUI", nequi_phone="3991111111"))
    [sent] = gateways.sent("/v1/transactions")
    assert "customer_data" not in sent


async def test_pse_maps_the_bank_the_legal_id_and_the_order_description() -> None:
    gateways = Gateways(wompi_status="PENDING")
    pse = {"bank_code": "1007", "user_type": 1, "legal_id_type": "NIT", "legal_id": "900123456"}
    await pay(gateways, body("PSE", pse=pse, payer=PAYER))
    [sent] = gateways.sent("/v1/transactions")
    assert sent["payment_method"] == {
        "type": "PSE",
        "user_type": 1,
        "user_legal_id_type": "NIT",
        "user_legal_id": "900123456",
        "financial_institution_code": "1007",
        "payment_description": DESCRIPTION,
    }
    assert sent["customer_data"] == {"phone_number": "3001234567", "full_name": "Ana Pérez"}


# -- what the core makes of Wompi's answer -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wompi", "recorded"),
    [
        ("APPROVED", TransactionStatus.APPROVED),
        ("PENDING", TransactionStatus.PENDING),
        ("DECLINED", TransactionStatus.DECLINED),
        ("VOIDED", TransactionStatus.VOIDED),
        ("ERROR", TransactionStatus.ERROR),
        ("SOMETHING_NEW", TransactionStatus.PENDING),  # a status the core does not know settles later
    ],
)
async def test_every_wompi_status_maps_to_the_attempts_outcome(wompi: str, recorded: TransactionStatus) -> None:
    gateways = Gateways(wompi_status=wompi, wompi_echo={"status_message": f"said {wompi}"})
    result = await pay(gateways, body())
    assert result.status is recorded
    assert result.gateway_transaction_id == "wompi-tx-1"
    assert result.message == f"said {wompi}"
    assert result.amount_matches is True
    assert result.raw["status"] == wompi and result.raw["amount_in_cents"] == 6500050
    assert result.raw["reference"] == REFERENCE


async def test_a_pse_answer_carries_the_bank_redirect() -> None:
    gateways = Gateways(wompi_status="PENDING", wompi_echo={
        "payment_method": {"type": "PSE", "extra": {"async_payment_url": "https://bank.test/pse/9"}}})
    pse = {"bank_code": "1", "legal_id": "1234567"}
    result = await pay(gateways, body("PSE", pse=pse, payer=PAYER))
    assert result.redirect_url == "https://bank.test/pse/9"
    assert (await pay(Gateways(), body())).redirect_url is None


@pytest.mark.parametrize(
    "echo", [{"amount_in_cents": 6500000}, {"amount_in_cents": 650005000}, {"currency": "USD"}],
    ids=["fewer-cents", "more-cents", "other-currency"],
)
async def test_an_answer_for_another_amount_or_currency_is_flagged(echo: dict[str, Any]) -> None:
    result = await pay(Gateways(wompi_echo=echo), body())
    assert result.status is TransactionStatus.APPROVED
    assert result.amount_matches is False


async def test_a_refused_payment_source_is_a_decline_without_a_gateway_transaction() -> None:
    refusal = {"error": {"type": "UNPROCESSABLE", "reason": "La fuente de pago fue rechazada"}}
    gateways = Gateways(answers=[(422, refusal)])
    result = await pay(gateways, body())
    assert result == ChargeResult(
        status=TransactionStatus.DECLINED,
        gateway_transaction_id=None,
        raw={"error": "UNPROCESSABLE", "reason": "La fuente de pago fue rechazada"},
        message="La fuente de pago fue rechazada",
    )


async def test_a_refusal_after_a_try_that_may_have_charged_is_not_a_decline() -> None:
    refusal = {"error": {"type": "UNPROCESSABLE", "reason": "La fuente de pago fue rechazada"}}
    gateways = Gateways(answers=[(500, {"error": "boom"}), (422, refusal)])
    with pytest.raises(WompiTransactionError) as caught:
        await pay(gateways, body(), attempts=2)
    assert caught.value.outcome_unknown is True
    assert len(gateways.sent("/v1/transactions")) == 2


async def test_a_failed_acceptance_read_means_nothing_was_charged() -> None:
    gateways = Gateways(acceptance_status=500)
    with pytest.raises(GatewayError) as caught:
        await pay(gateways, body())
    # A 5xx would read "outcome unknown" for a charge; no charge was sent, so the buyer may simply retry.
    assert caught.value.outcome_unknown is False
    assert gateways.sent("/v1/transactions") == []


# -- what a PayU card charge carries -------------------------------------------------------------------------


async def test_a_payu_card_charge_sends_the_card_buyer_payer_and_signed_whole_pesos() -> None:
    gateways = Gateways()
    await pay(gateways, payu_body(device_session_id="fp-session-77"))
    [sent] = gateways.sent("/payments-api/4.0/service.cgi")
    tx = sent["transaction"]
    person = {"fullName": "Ana Pérez", "emailAddress": "ana@example.co", "contactPhone": "3001234567",
              "dniNumber": "123456789", "dniType": "CC"}
    assert tx["order"]["referenceCode"] == REFERENCE and tx["order"]["description"] == DESCRIPTION
    assert tx["order"]["additionalValues"]["TX_VALUE"] == {"value": 65000, "currency": "COP"}
    signed = f"{PAYU_API_KEY}~{MERCHANT_ID}~{REFERENCE}~65000~COP"
    assert tx["order"]["signature"] == hashlib.md5(signed.encode(), usedforsecurity=False).hexdigest()
    assert tx["order"]["buyer"] == {"merchantBuyerId": "", **person}
    assert tx["payer"] == {"merchantPayerId": "", **person}
    assert tx["creditCard"] == {"number": "4037997623271984", "securityCode": "321",
                                "expirationDate": "2030/07", "name": "ANA PEREZ"}
    assert tx["paymentMethod"] == "MASTERCARD"
    assert tx["extraParameters"] == {"INSTALLMENTS_NUMBER": 2}
    assert (tx["deviceSessionId"], tx["ipAddress"], tx["userAgent"]) == (
        "fp-session-77", "203.0.113.7", "Mozilla/5.0 (checkout)")


async def test_a_payu_charge_without_a_device_session_gets_one_derived_from_the_reference() -> None:
    sessions = []
    for _ in range(2):  # a retry of the attempt presents the same device
        gateways = Gateways()
        await pay(gateways, payu_body())
        sessions.append(gateways.sent("/payments-api/4.0/service.cgi")[0]["transaction"]["deviceSessionId"])
    assert sessions[0] == sessions[1] == hashlib.md5(REFERENCE.encode(), usedforsecurity=False).hexdigest()


async def test_a_payer_without_a_document_type_sends_none() -> None:
    gateways = Gateways()
    await pay(gateways, body(amount="65000", gateway="payu", payer={**PAYER, "dni_type": None},
                             card={"number": "4037997623271984", "cvc": "321", "exp_month": 12, "exp_year": 2031,
                                   "holder": "ANA"}))
    tx = gateways.sent("/payments-api/4.0/service.cgi")[0]["transaction"]
    assert "dniType" not in tx["payer"]
    assert tx["creditCard"]["expirationDate"] == "2031/12"
    assert tx["paymentMethod"] == "VISA" and tx["extraParameters"] == {"INSTALLMENTS_NUMBER": 1}


async def test_the_user_agent_sent_to_payu_is_capped_at_512_characters() -> None:
    gateways = Gateways()
    await pay(gateways, payu_body(), client=ClientInfo(ip="198.51.100.4", user_agent="A" * 600))
    tx = gateways.sent("/payments-api/4.0/service.cgi")[0]["transaction"]
    assert tx["userAgent"] == "A" * 512 and tx["ipAddress"] == "198.51.100.4"


# -- what the core makes of PayU's answer --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "recorded"),
    [
        ("APPROVED", TransactionStatus.APPROVED),
        ("DECLINED", TransactionStatus.DECLINED),
        ("ERROR", TransactionStatus.ERROR),
        ("EXPIRED", TransactionStatus.EXPIRED),
        ("PENDING", TransactionStatus.PENDING),
        ("SUBMITTED", TransactionStatus.PENDING),  # sent to the card network, not finished
        ("SOMETHING_NEW", TransactionStatus.PENDING),
    ],
)
async def test_every_payu_state_maps_to_the_attempts_outcome(state: str, recorded: TransactionStatus) -> None:
    answer = {"state": state, "transactionId": "payu-tx-9", "orderId": 1400449660, "responseCode": state,
              "responseMessage": f"said {state}", "extraParameters": {"BANK_URL": "https://bank.test/payu"}}
    result = await pay(Gateways(payu_response=answer), payu_body())
    assert result.status is recorded
    assert result.gateway_transaction_id == "payu-tx-9"
    assert result.message == f"said {state}"
    assert result.redirect_url == "https://bank.test/payu"
    assert result.raw["state"] == state and result.raw["order_id"] == 1400449660
    assert result.raw["extra_parameters"] == {"BANK_URL": "https://bank.test/payu"}


async def test_a_payu_refusal_of_the_request_propagates() -> None:
    gateways = Gateways(answers=[(200, {"code": "ERROR", "error": "Invalid signature"})])
    with pytest.raises(PayUValidationError, match="Invalid signature"):
        await pay(gateways, payu_body())


async def test_wompi_is_never_asked_for_a_payu_card_and_payu_never_for_wompi() -> None:
    gateways = Gateways()
    await pay(gateways, payu_body())
    assert gateways.paths() == ["/payments-api/4.0/service.cgi"]
    gateways = Gateways()
    await pay(gateways, body(gateway="wompi"))
    assert all(p.startswith("/v1/") for p in gateways.paths())


# -- what is kept of an answer -------------------------------------------------------------------------------


class Colour(enum.Enum):
    RED = "red"


@dataclass(frozen=True)
class Answer:
    amount: Decimal
    at: datetime
    colour: Colour
    tags: tuple[str, ...]
    extra: dict[int, Any]
    note: object


def test_a_gateway_answer_becomes_plain_json_without_a_float() -> None:
    answer = Answer(
        amount=Decimal("6.5E+4"), at=datetime(2026, 12, 4, 3, 0, tzinfo=UTC), colour=Colour.RED,
        tags=("a", "b"), extra={7: [Decimal("0.10"), None, True, 3]}, note=SimpleNamespace(x=1),
    )
    assert jsonable(answer) == {
        "amount": "65000",
        "at": "2026-12-04T03:00:00+00:00",
        "colour": "red",
        "tags": ["a", "b"],
        "extra": {"7": ["0.10", None, True, 3]},
        "note": "namespace(x=1)",
    }
    assert jsonable(MappingProxyType({"k": Decimal("1.50")})) == {"k": "1.50"}
    assert jsonable(Answer) == str(Answer)  # a class is not an answer to take apart


def test_an_answer_postgres_can_keep_is_stored_as_it_came() -> None:
    result = ChargeResult(status=TransactionStatus.APPROVED, gateway_transaction_id="t" * 128, raw={"id": "t"},
                          redirect_url="https://bank.test/x", message="Aprobada")
    assert result.storable() == result


def test_text_postgres_refuses_is_escaped_and_an_unstorable_id_dropped() -> None:
    raw = {"id": "t-1", "status_message": "Aprobada\x00"}
    result = ChargeResult(status=TransactionStatus.APPROVED, gateway_transaction_id="t-1\x00", raw=raw,
                          redirect_url="https://bank.test/\x00", message="Aprobada\x00")
    kept = result.storable()
    assert kept.gateway_transaction_id is None  # the webhook path re-reads the id from the gateway
    assert kept.redirect_url == "https://bank.test/\\u0000" and kept.message == "Aprobada\\u0000"
    assert kept.status is TransactionStatus.APPROVED
    digest = hashlib.sha256(repr(raw).encode()).hexdigest()
    assert kept.raw == {"payharness_stored": {"form": "escaped", "raw_sha256": digest},
                        "event": {"id": "t-1", "status_message": "Aprobada\\u0000"}}


def test_an_id_longer_than_the_column_is_dropped_and_absent_text_stays_absent() -> None:
    result = ChargeResult(status=TransactionStatus.PENDING, gateway_transaction_id="t" * 129, raw={})
    kept = result.storable()
    assert kept.gateway_transaction_id is None
    assert (kept.redirect_url, kept.message, kept.raw) == (None, None, {})
    assert ChargeResult(TransactionStatus.PENDING, None, {}).storable().gateway_transaction_id is None


def test_a_lone_surrogate_in_the_answer_is_escaped_and_digested() -> None:
    raw = {"customer_email": "ana\ud800@example.co"}
    kept = ChargeResult(status=TransactionStatus.DECLINED, gateway_transaction_id="t-1", raw=raw).storable()
    digest = hashlib.sha256(repr(raw).encode("utf-8", "surrogatepass")).hexdigest()
    assert kept.raw == {"payharness_stored": {"form": "escaped", "raw_sha256": digest},
                        "event": {"customer_email": "ana\\ud800@example.co"}}
    assert kept.gateway_transaction_id == "t-1"


def test_an_answer_too_big_to_keep_whole_keeps_the_status_the_core_acted_on() -> None:
    raw = {"id": "t-1", "status_message": "x" * 70_000}
    kept = ChargeResult(status=TransactionStatus.DECLINED, gateway_transaction_id="t-1", raw=raw).storable()
    digest = hashlib.sha256(repr(raw).encode()).hexdigest()
    assert kept.raw == {"payharness_stored": {"form": "bounded", "raw_sha256": digest, "truncated": True},
                        "acted_on": {"status": "declined"}}
