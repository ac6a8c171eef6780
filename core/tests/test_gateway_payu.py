"""PayUClient against httpx.MockTransport: request shapes, parsing, error mapping, retries, SUBMIT recovery."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from core.gateways.errors import (
    CircuitOpenError,
    PayUAuthenticationError,
    PayUNetworkError,
    PayUTransactionError,
    PayUValidationError,
)
from core.gateways.payu import PayUClient, PayUConfig
from core.gateways.payu_models import PayUAddress, PayUBuyer, PayUCard, PayUDevice, PayUPse
from core.gateways.resilience import BreakerPolicy, RetryPolicy
from core.tests.support import FakeSleep, Recorder, sequence

KEY = "4Vj8eK4rloUd272L48hsrarnUA"
LOGIN = "pRRXKOl8ikMmt9u"
REF = "PRODUCT_TEST_2021-06-23T19:59:43.229Z"

BUYER = PayUBuyer(
    full_name="First name and second buyer name",
    email="buyer_test@test.com",
    contact_phone="7563126",
    dni_number="123456789",
    merchant_buyer_id="1",
    address=PayUAddress(street1="Cr 23 No. 53-50", city="Bogotá", state="Bogotá D.C.", postal_code="000000"),
)
CARD = PayUCard(number="4037997623271984", security_code="321", expiration_date="2030/12", name="APPROVED")
DEVICE = PayUDevice(
    ip_address="127.0.0.1",
    device_session_id="vghs6tvkcle931686k1900o6e1",
    cookie="pt1t38347bs6jc9ruv2ecpv7o2",
    user_agent="Mozilla/5.0",
)


def config(**over: Any) -> PayUConfig:
    base: dict[str, Any] = {
        "api_key": SecretStr(KEY),
        "api_login": SecretStr(LOGIN),
        "merchant_id": "508029",
        "account_id": "512321",
        "base_url": "http://payu.test",
        "notify_url": "http://core.test/webhooks/payu",
        "breaker": BreakerPolicy(failure_threshold=50),
    }
    base.update(over)
    return PayUConfig(**base)


def ok(**body: Any) -> httpx.Response:
    return httpx.Response(200, json={"code": "SUCCESS", "error": None, **body})


def tx_response(state: str = "APPROVED", **over: Any) -> dict[str, Any]:
    response = {
        "orderId": 1400449660,
        "transactionId": "aa2f50b2-62a8-42de-b3be-c6fe08ec712f",
        "state": state,
        "paymentNetworkResponseCode": "81",
        "trazabilityCode": "CRED - 666039677",
        "authorizationCode": "123238",
        "pendingReason": None,
        "responseCode": "APPROVED" if state == "APPROVED" else "ENTITY_DECLINED",
        "responseMessage": "Approved by the merchant",
        "operationDate": 1624461913704,
        "extraParameters": {"BANK_REFERENCED_CODE": "CREDIT"},
        "additionalInfo": {"paymentNetwork": "CREDIBANCO"},
    }
    response.update(over)
    return response


def order_payload(state: str = "APPROVED") -> dict[str, Any]:
    return {
        "id": 1400449660,
        "accountId": 512321,
        "status": "CAPTURED" if state == "APPROVED" else "DECLINED",
        "referenceCode": REF,
        "additionalValues": {"TX_VALUE": {"value": 65000.00, "currency": "COP"}},
        "transactions": [
            {
                "id": "aa2f50b2-62a8-42de-b3be-c6fe08ec712f",
                "type": "AUTHORIZATION_AND_CAPTURE",
                "paymentMethod": "VISA",
                "transactionResponse": tx_response(state, orderId=None),
            },
        ],
    }


@pytest.fixture
def sleep() -> FakeSleep:
    return FakeSleep()


def client(rec: Recorder, sleep: FakeSleep, **over: Any) -> tuple[PayUClient, httpx.AsyncClient]:
    http = rec.client()
    return PayUClient(http, config(**over), sleep=sleep, rand=lambda: 0.0), http


@pytest.fixture
def approved() -> Iterator[Recorder]:
    yield Recorder(sequence(ok(transactionResponse=tx_response())))


async def test_submit_card_request_is_shaped_and_signed_like_the_docs(approved: Recorder, sleep: FakeSleep) -> None:
    payu, http = client(approved, sleep)
    async with http:
        result = await payu.submit_card(
            reference=REF,
            description="Payment test description",
            amount=Decimal("65000.00"),
            buyer=BUYER,
            card=CARD,
            device=DEVICE,
        )
    request = approved.requests[0]
    assert request.method == "POST"
    assert str(request.url) == "http://payu.test/payments-api/4.0/service.cgi"
    body = approved.json(0)
    assert body["command"] == "SUBMIT_TRANSACTION"
    assert body["test"] is True
    assert body["merchant"] == {"apiLogin": LOGIN, "apiKey": KEY}
    tx = body["transaction"]
    order = tx["order"]
    # The documented Colombia example's signature: amount signed and sent as 65000, no decimals.
    assert order["signature"] == "1d6c33aed575c4974ad5c0be7c6a1c87"
    assert order["additionalValues"]["TX_VALUE"] == {"value": 65000, "currency": "COP"}
    assert order["additionalValues"]["TX_TAX"] == {"value": 0, "currency": "COP"}
    assert order["accountId"] == "512321"
    assert order["notifyUrl"] == "http://core.test/webhooks/payu"
    assert order["buyer"]["shippingAddress"]["city"] == "Bogotá"
    assert tx["payer"]["billingAddress"]["street1"] == "Cr 23 No. 53-50"
    assert tx["creditCard"] == {
        "number": "4037997623271984",
        "securityCode": "321",
        "expirationDate": "2030/12",
        "name": "APPROVED",
    }
    assert tx["type"] == "AUTHORIZATION_AND_CAPTURE"
    assert (tx["paymentMethod"], tx["paymentCountry"], tx["ipAddress"]) == ("VISA", "CO", "127.0.0.1")
    assert tx["extraParameters"] == {"INSTALLMENTS_NUMBER": 1}
    assert result.approved and result.order_id == 1400449660
    assert result.transaction_id == "aa2f50b2-62a8-42de-b3be-c6fe08ec712f"
    assert result.operation_date == datetime(2021, 6, 23, 15, 25, 13, 704000, tzinfo=UTC)


def test_card_number_and_cvv_stay_out_of_repr() -> None:
    assert "4037997623271984" not in repr(CARD)
    assert "321" not in repr(CARD).replace("2030/12", "")
    assert CARD.masked == "403799******1984"


def test_config_repr_hides_the_keys() -> None:
    text = repr(config())
    assert KEY not in text and LOGIN not in text


async def test_fractional_cop_amount_is_refused_before_sending(sleep: FakeSleep) -> None:
    rec = Recorder(sequence())
    payu, http = client(rec, sleep)
    async with http:
        with pytest.raises(ValueError, match="COP"):
            await payu.submit_card(
                reference=REF, description="x", amount=Decimal("65000.50"), buyer=BUYER, card=CARD, device=DEVICE
            )
    assert rec.requests == []


async def test_decline_raises_transaction_error_with_the_parsed_result(sleep: FakeSleep) -> None:
    rec = Recorder(sequence(ok(transactionResponse=tx_response("DECLINED", responseMessage="Declined"))))
    payu, http = client(rec, sleep)
    async with http:
        with pytest.raises(PayUTransactionError) as info:
            await payu.submit_card(
                reference=REF, description="x", amount=Decimal(65000), buyer=BUYER, card=CARD, device=DEVICE
            )
    assert info.value.result.state == "DECLINED"
    assert info.value.error_code == "ENTITY_DECLINED"
    assert not info.value.retryable


@pytest.mark.parametrize("status", [401, 403])
async def test_auth_statuses_map_to_authentication_error(status: int, sleep: FakeSleep) -> None:
    rec = Recorder(sequence(httpx.Response(status, text="<html>denied</html>")))
    payu, http = client(rec, sleep)
    async with http:
        with pytest.raises(PayUAuthenticationError) as info:
            await payu.ping()
    assert info.value.status_code == status
    assert len(rec.requests) == 1  # not retried


async def test_error_envelope_maps_to_validation_error(sleep: FakeSleep) -> None:
    rec = Recorder(
        sequence(
            httpx.Response(200, json={"code": "ERROR", "error": "Invalid request format", "transactionResponse": None})
        )
    )
    payu, http = client(rec, sleep)
    async with http:
        with pytest.raises(PayUValidationError, match="Invalid request format"):
            await payu.submit_card(
                reference=REF, description="x", amount=Decimal(65000), buyer=BUYER, card=CARD, device=DEVICE
            )
    assert len(rec.requests) == 1


async def test_errors_never_carry_the_api_key(sleep: FakeSleep) -> None:
    rec = Recorder(sequence(httpx.Response(200, json={"code": "ERROR", "error": "bad"})))
    payu, http = client(rec, sleep)
    async with http:
        with pytest.raises(PayUValidationError) as info:
            await payu.ping()
    assert KEY not in str(info.value) and KEY not in repr(info.value.log_context())


async def test_submit_timeout_asks_by_reference_instead_of_resubmitting(sleep: FakeSleep) -> None:
    rec = Recorder(
        sequence(
            httpx.ReadTimeout("read timed out"),
            ok(result={"payload": [order_payload("APPROVED")]}),
        )
    )
    payu, http = client(rec, sleep)
    async with http:
        result = await payu.submit_card(
            reference=REF, description="x", amount=Decimal(65000), buyer=BUYER, card=CARD, device=DEVICE
        )
    assert rec.commands() == ["SUBMIT_TRANSACTION", "ORDER_DETAIL_BY_REFERENCE_CODE"]
    assert str(rec.requests[1].url) == "http://payu.test/reports-api/4.0/service.cgi"
    assert rec.json(1)["details"] == {"referenceCode": REF}
    assert result.approved and result.order_id == 1400449660


async def test_submit_5xx_then_found_declined_raises_transaction_error(sleep: FakeSleep) -> None:
    rec = Recorder(sequence(httpx.Response(503), ok(result={"payload": [order_payload("DECLINED")]})))
    payu, http = client(rec, sleep)
    async with http:
        with pytest.raises(PayUTransactionError):
            await payu.submit_card(
                reference=REF, description="x", amount=Decimal(65000), buyer=BUYER, card=CARD, device=DEVICE
            )
    assert rec.commands().count("SUBMIT_TRANSACTION") == 1


async def test_submit_outcome_unknown_when_no_order_found(sleep: FakeSleep) -> None:
    rec = Recorder(sequence(httpx.RemoteProtocolError("peer closed"), ok(result={"payload": None})))
    payu, http = client(rec, sleep)
    async with http:
        with pytest.raises(PayUNetworkError) as info:
            await payu.submit_card(
                reference=REF, description="x", amount=Decimal(65000), buyer=BUYER, card=CARD, device=DEVICE
            )
    assert info.value.outcome_unknown and not info.value.retryable
    assert rec.commands() == ["SUBMIT_TRANSACTION", "ORDER_DETAIL_BY_REFERENCE_CODE"]


async def test_submit_lookup_is_itself_retried_but_submit_is_not(sleep: FakeSleep) -> None:
    rec = Recorder(
        sequence(
            httpx.ReadTimeout("slow"),
            httpx.Response(502),
            ok(result={"payload": [order_payload("APPROVED")]}),
        )
    )
    payu, http = client(rec, sleep)
    async with http:
        result = await payu.submit_card(
            reference=REF, description="x", amount=Decimal(65000), buyer=BUYER, card=CARD, device=DEVICE
        )
    assert result.approved
    assert rec.commands() == ["SUBMIT_TRANSACTION", "ORDER_DETAIL_BY_REFERENCE_CODE", "ORDER_DETAIL_BY_REFERENCE_CODE"]
    assert sleep.delays == [1.0]


async def test_submit_never_delivered_is_not_looked_up_and_says_safe_to_resend(sleep: FakeSleep) -> None:
    rec = Recorder(sequence(httpx.ConnectError("refused")))
    payu, http = client(rec, sleep)
    async with http:
        with pytest.raises(PayUNetworkError) as info:
            await payu.submit_card(
                reference=REF, description="x", amount=Decimal(65000), buyer=BUYER, card=CARD, device=DEVICE
            )
    assert not info.value.outcome_unknown and info.value.retryable
    assert rec.commands() == ["SUBMIT_TRANSACTION"]


async def test_reads_are_retried_with_backoff_on_network_errors(sleep: FakeSleep) -> None:
    rec = Recorder(sequence(httpx.ConnectTimeout("slow"), httpx.Response(500), ok(transactionResponse=None)))
    payu, http = client(rec, sleep)
    async with http:
        assert await payu.ping() is True
    assert rec.commands() == ["PING", "PING", "PING"]
    assert sleep.delays == [1.0, 2.0]


async def test_reads_give_up_after_the_configured_attempts(sleep: FakeSleep) -> None:
    rec = Recorder(sequence(*(httpx.Response(500) for _ in range(4))))
    payu, http = client(rec, sleep, retry=RetryPolicy(attempts=4, initial_delay=0.5))
    async with http:
        with pytest.raises(PayUNetworkError) as info:
            await payu.ping()
    assert info.value.status_code == 500
    assert len(rec.requests) == 4
    assert sleep.delays == [0.5, 1.0, 2.0]


async def test_429_honours_retry_after(sleep: FakeSleep) -> None:
    rec = Recorder(sequence(httpx.Response(429, headers={"Retry-After": "5"}), ok(transactionResponse=None)))
    payu, http = client(rec, sleep)
    async with http:
        await payu.ping()
    assert sleep.delays == [5.0]


async def test_malformed_body_is_a_network_error(sleep: FakeSleep) -> None:
    rec = Recorder(sequence(*(httpx.Response(200, text="<html>proxy</html>") for _ in range(3))))
    payu, http = client(rec, sleep)
    async with http:
        with pytest.raises(PayUNetworkError, match="unreadable"):
            await payu.ping()


async def test_breaker_opens_and_stops_sending(sleep: FakeSleep) -> None:
    rec = Recorder(sequence(*(httpx.Response(503) for _ in range(3))))
    payu, http = client(
        rec, sleep, breaker=BreakerPolicy(failure_threshold=3, reset_timeout=30), retry=RetryPolicy(attempts=1)
    )
    async with http:
        for _ in range(3):
            with pytest.raises(PayUNetworkError):
                await payu.ping()
        with pytest.raises(CircuitOpenError):
            await payu.ping()
    assert len(rec.requests) == 3


async def test_submit_pse_sends_pse_parameters_and_exposes_bank_url(sleep: FakeSleep) -> None:
    pending = tx_response(
        "PENDING",
        pendingReason="AWAITING_NOTIFICATION",
        responseCode="PENDING_TRANSACTION_CONFIRMATION",
        extraParameters={"BANK_URL": "https://bank.test/pse?x=1", "TRANSACTION_CYCLE": "1"},
    )
    rec = Recorder(sequence(ok(transactionResponse=pending)))
    payu, http = client(rec, sleep)
    pse = PayUPse(
        financial_institution_code="1022",
        user_type="N",
        document_type="CC",
        document_number="123456789",
        response_url="http://shop.test/return",
    )
    async with http:
        result = await payu.submit_pse(
            reference="pse-1", description="x", amount=Decimal(20000), buyer=BUYER, pse=pse, device=DEVICE
        )
    tx = rec.json(0)["transaction"]
    assert tx["paymentMethod"] == "PSE"
    assert tx["extraParameters"] == {
        "RESPONSE_URL": "http://shop.test/return",
        "PSE_REFERENCE1": "127.0.0.1",
        "FINANCIAL_INSTITUTION_CODE": "1022",
        "USER_TYPE": "N",
        "PSE_REFERENCE2": "CC",
        "PSE_REFERENCE3": "123456789",
    }
    assert result.state == "PENDING" and not result.is_final
    assert result.bank_url == "https://bank.test/pse?x=1"


async def test_submit_cash_sends_utc_expiration_and_parses_voucher_fields(sleep: FakeSleep) -> None:
    pending = tx_response(
        "PENDING",
        orderId=1400449740,
        pendingReason="AWAITING_NOTIFICATION",
        extraParameters={
            "REFERENCE": 1400449740,
            "EXPIRATION_DATE": 1624568315804,
            "URL_PAYMENT_RECEIPT_HTML": "https://checkout.test/app/v2?vid=1400449740Y1",
            "URL_PAYMENT_RECEIPT_PDF": "https://checkout.test/receipt?vid=1400449740Y1",
        },
    )
    rec = Recorder(sequence(ok(transactionResponse=pending)))
    payu, http = client(rec, sleep)
    async with http:
        result = await payu.submit_cash(
            reference="cash-1",
            description="x",
            amount=Decimal(50000),
            buyer=BUYER,
            ip_address="127.0.0.1",
            expires_at=datetime(2021, 6, 24, 20, 58, 35, tzinfo=UTC),
        )
    tx = rec.json(0)["transaction"]
    assert (tx["paymentMethod"], tx["expirationDate"], tx["ipAddress"]) == (
        "EFECTY",
        "2021-06-24T20:58:35",
        "127.0.0.1",
    )
    assert "creditCard" not in tx
    assert result.payment_reference == "1400449740"
    assert result.expiration_date == datetime(2021, 6, 24, 20, 58, 35, 804000, tzinfo=UTC)
    assert result.receipt_url_html and result.receipt_url_pdf


async def test_submit_cash_refuses_unknown_method_and_naive_dates(sleep: FakeSleep) -> None:
    payu, http = client(Recorder(sequence()), sleep)
    async with http:
        with pytest.raises(ValueError):
            await payu.submit_cash(
                reference="c",
                description="x",
                amount=Decimal(50000),
                buyer=BUYER,
                ip_address="127.0.0.1",
                method="BALOTO",
            )
        with pytest.raises(ValueError):
            await payu.submit_cash(
                reference="c",
                description="x",
                amount=Decimal(50000),
                buyer=BUYER,
                ip_address="127.0.0.1",
                expires_at=datetime(2030, 1, 1),
            )


async def test_banks_drop_the_placeholder_and_payment_methods_parse(sleep: FakeSleep) -> None:
    rec = Recorder(
        sequence(
            ok(
                banks=[
                    {"id": "1", "description": "A continuación seleccione su banco", "pseCode": "0"},
                    {"id": "e5a0d0c4", "description": "BANCO UNION COLOMBIANO", "pseCode": "1022"},
                ]
            ),
            ok(
                paymentMethods=[{"id": "36", "description": "EFECTY", "country": "co", "enabled": True, "reason": None}]
            ),
        )
    )
    payu, http = client(rec, sleep)
    async with http:
        banks = await payu.banks()
        methods = await payu.payment_methods()
    assert rec.json(0)["bankListInformation"] == {"paymentMethod": "PSE", "paymentCountry": "CO"}
    assert [b.pse_code for b in banks] == ["1022"]
    assert methods[0].country == "CO" and methods[0].enabled


async def test_order_detail_and_transaction_detail_parse_decimal_amounts(sleep: FakeSleep) -> None:
    rec = Recorder(
        sequence(
            ok(result={"payload": order_payload("APPROVED")}),
            ok(result={"payload": tx_response("DECLINED")}),
        )
    )
    payu, http = client(rec, sleep)
    async with http:
        order = await payu.order_detail(1400449660)
        detail = await payu.transaction_detail("aa2f50b2-62a8-42de-b3be-c6fe08ec712f")
    assert rec.json(0)["details"] == {"orderId": 1400449660}
    assert rec.json(1)["command"] == "TRANSACTION_RESPONSE_DETAIL"
    assert order.amount == Decimal("65000.00") and isinstance(order.amount, Decimal)
    latest = order.latest_payment()
    assert latest is not None and latest.response is not None
    assert latest.response.order_id == 1400449660
    assert detail.state == "DECLINED"  # a read reports, it does not raise


async def test_missing_fields_in_a_read_are_a_network_error(sleep: FakeSleep) -> None:
    rec = Recorder(sequence(*(ok(result={"payload": {"id": 1}}) for _ in range(3))))
    payu, http = client(rec, sleep)
    async with http:
        with pytest.raises(PayUNetworkError, match="malformed"):
            await payu.order_detail(1)


async def test_garbled_submit_answer_is_looked_up_not_resent(sleep: FakeSleep) -> None:
    rec = Recorder(sequence(ok(transactionResponse={"orderId": 1}), ok(result={"payload": [order_payload()]})))
    payu, http = client(rec, sleep)
    async with http:
        result = await payu.submit_card(
            reference=REF, description="x", amount=Decimal(65000), buyer=BUYER, card=CARD, device=DEVICE
        )
    assert result.approved
    assert rec.commands() == ["SUBMIT_TRANSACTION", "ORDER_DETAIL_BY_REFERENCE_CODE"]


async def test_submit_recovery_refuses_to_guess_between_several_orders(sleep: FakeSleep) -> None:
    rec = Recorder(sequence(httpx.ReadTimeout("slow"), ok(result={"payload": [order_payload(), order_payload()]})))
    payu, http = client(rec, sleep)
    async with http:
        with pytest.raises(PayUNetworkError, match="2 orders share reference") as info:
            await payu.submit_card(
                reference=REF, description="x", amount=Decimal(65000), buyer=BUYER, card=CARD, device=DEVICE
            )
    assert info.value.outcome_unknown and not info.value.retryable
    assert rec.commands().count("SUBMIT_TRANSACTION") == 1


async def test_submit_recovery_lookup_failing_leaves_the_outcome_unknown(sleep: FakeSleep) -> None:
    rec = Recorder(sequence(httpx.ReadTimeout("slow"), *(httpx.Response(503) for _ in range(3))))
    payu, http = client(rec, sleep)
    async with http:
        with pytest.raises(PayUNetworkError, match="lookup failed") as info:
            await payu.submit_card(
                reference=REF, description="x", amount=Decimal(65000), buyer=BUYER, card=CARD, device=DEVICE
            )
    assert info.value.outcome_unknown and not info.value.retryable
    assert rec.commands() == ["SUBMIT_TRANSACTION"] + ["ORDER_DETAIL_BY_REFERENCE_CODE"] * 3
