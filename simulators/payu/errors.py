"""PayU's ``code: ERROR`` envelopes as one exception tree, rendered in one exception handler.

    PayUError                  {"code": "ERROR", "error": <message>, "transactionResponse"|"result": null}
     ├── BadRequest            unreadable body, unknown command, missing or invalid field
     │    ├── InvalidCard      Luhn failure, number not of the named franchise, bad expiry
     │    └── AmountOutOfRange cash amount outside the method's limits
     ├── InvalidCredentials    merchant apiLogin/apiKey not recognised
     ├── InvalidSignature      transaction.order.signature does not match
     └── DuplicateReference    referenceCode already used while "validate unique" is on

The payments API answers with ``transactionResponse: null``, the queries API with ``result: null``.
The HTTP status is a config choice (UNCONFIRMED at PayU; default 200, the body says ERROR).

Usage: ``app.add_exception_handler(PayUError, payu_error_handler)``
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from simulators.payu.jsonio import json_response


class PayUError(Exception):
    """Base of every error the PayU simulator answers with."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(PayUError):
    pass


class InvalidCard(BadRequest):
    pass


class AmountOutOfRange(BadRequest):
    pass


class InvalidCredentials(PayUError):
    def __init__(self, message: str = "Invalid credentials: apiLogin or apiKey not recognised") -> None:
        super().__init__(message)


class InvalidSignature(PayUError):
    def __init__(self, message: str = "Invalid signature for the order") -> None:
        super().__init__(message)


class DuplicateReference(PayUError):
    def __init__(self, reference: str) -> None:
        super().__init__(f"An order with reference code [{reference}] already exists")


def error_body(exc: PayUError, *, payload_key: str) -> dict[str, Any]:
    """The ERROR envelope for one API: ``payload_key`` is "transactionResponse" or "result"."""
    return {"code": "ERROR", "error": exc.message, payload_key: None}


def payload_key_for(path: str) -> str:
    """The queries API wraps results in ``result``; the payments API in ``transactionResponse``."""
    return "result" if path.startswith("/reports-api/") else "transactionResponse"


async def payu_error_handler(request: Request, exc: Exception) -> Response:
    """Render a PayUError as PayU's envelope with the configured HTTP status."""
    assert isinstance(exc, PayUError)
    status = request.app.state.sim.state.config.error_http_status
    return json_response(error_body(exc, payload_key=payload_key_for(request.url.path)), status=status)
