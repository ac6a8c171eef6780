"""What the buyer is told when a gateway refused or never got a payment request (nothing was charged).

``core.api.checkout._not_charged_error`` turns the gateway error into the API's answer: a retry-later 503
when the gateway could not be asked, a 502 when it refused the merchant's credentials (the buyer can do
nothing about those), a 422 when it refused this request.
"""

from __future__ import annotations

import pytest

from core.api.checkout import _not_charged_error
from core.errors import CoreError
from core.gateways.errors import (
    CircuitOpenError,
    EfectyValidationError,
    GatewayError,
    PayUAuthenticationError,
    PayUNetworkError,
    WompiAuthenticationError,
    WompiNetworkError,
    WompiValidationError,
)


def answer(error: CoreError) -> tuple[int, str, str]:
    return error.status, error.code, error.message


def test_an_open_breaker_is_a_retry_later_503() -> None:
    assert answer(_not_charged_error(CircuitOpenError("wompi", reopens_in=12.0))) == (
        503, "gateway_circuit_open", "wompi is failing; retry later")


@pytest.mark.parametrize("error", [
    WompiNetworkError("transport error: ConnectError", operation="create_transaction"),
    PayUNetworkError("transport error: ConnectError", operation="SUBMIT_TRANSACTION"),
])
def test_a_gateway_never_reached_is_a_retry_later_503(error: GatewayError) -> None:
    assert error.retryable
    assert answer(_not_charged_error(error)) == (
        503, "gateway_unreachable", f"{error.gateway} could not be reached; retry later")


@pytest.mark.parametrize("error", [
    WompiAuthenticationError("invalid key", status_code=401),
    PayUAuthenticationError("credentials refused", status_code=403),
    # An authentication error is about the merchant's credentials whatever status it arrived with.
    PayUAuthenticationError("credentials refused"),
    # And a 401 or 403 is about them whichever error class it was read into.
    EfectyValidationError("forbidden", status_code=403),
    WompiValidationError("unauthorized", status_code=401),
], ids=["wompi-401", "payu-403", "payu-no-status", "efecty-403", "wompi-validation-401"])
def test_refused_merchant_credentials_are_a_502_the_buyer_cannot_fix(error: GatewayError) -> None:
    assert answer(_not_charged_error(error)) == (
        502, "gateway_refused_credentials", f"{error.gateway} refused the merchant credentials")


@pytest.mark.parametrize("status", [400, 402, 404, 422])
def test_a_refused_request_is_a_422_quoting_the_gateway(status: int) -> None:
    error = WompiValidationError("amount_in_cents is too small", status_code=status)
    assert answer(_not_charged_error(error)) == (
        422, "gateway_refused", "wompi refused the payment request: amount_in_cents is too small")
