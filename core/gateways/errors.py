"""The gateway clients' one error tree.

```
GatewayError                      # anything that went wrong talking to a gateway
├── CircuitOpenError              # the breaker refused the call; nothing was sent
├── PayUError
│   ├── PayUNetworkError          # transport error, timeout, 5xx, 429, unreadable body
│   ├── PayUAuthenticationError   # 401/403: apiKey/apiLogin refused
│   ├── PayUValidationError       # 4xx or a `code: ERROR` envelope: the request was refused
│   └── PayUTransactionError      # the payment was processed and DECLINED / ERROR / EXPIRED
├── WompiError
│   ├── WompiNetworkError
│   ├── WompiAuthenticationError  # 401/403 INVALID_ACCESS_TOKEN
│   ├── WompiValidationError      # 422 INPUT_VALIDATION_ERROR and other 4xx
│   │   └── WompiNotFoundError    # 404 NOT_FOUND_ERROR
│   └── WompiTransactionError     # UNPROCESSABLE (e.g. a declined payment source) or a final decline
└── EfectyError
    ├── EfectyNetworkError
    ├── EfectyAuthenticationError # 401/403 UNAUTHORIZED
    ├── EfectyValidationError     # 422 VALIDATION_ERROR and other refusals
    │   ├── EfectyNotFoundError   # 404: no such voucher
    │   └── EfectyDuplicateCodeError  # 409 DUPLICATE_CODE for a voucher that is not ours
    ├── EfectyTransactionError    # 410 EXPIRED, 409 ALREADY_PAID, 422 AMOUNT_MISMATCH
    └── AsobancariaFormatError    # the reconciliation file is malformed or its totals disagree
```

Every error carries ``retryable`` (a later identical attempt may succeed) and ``outcome_unknown``
(the request may have reached the gateway, so for a charge the result must be looked up, never
resent). Messages hold the gateway, the operation and the gateway's own error code, never a key,
a card number or a request body.

Usage::

    try:
        result = await payu.submit_card(...)
    except PayUTransactionError as exc:
        record_decline(exc.result)
    except GatewayError as exc:
        log.warning("payu failed", extra=exc.log_context())
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AsobancariaFormatError",
    "CircuitOpenError",
    "EfectyAuthenticationError",
    "EfectyDuplicateCodeError",
    "EfectyError",
    "EfectyNetworkError",
    "EfectyNotFoundError",
    "EfectyTransactionError",
    "EfectyValidationError",
    "GatewayError",
    "PayUAuthenticationError",
    "PayUError",
    "PayUNetworkError",
    "PayUTransactionError",
    "PayUValidationError",
    "WompiAuthenticationError",
    "WompiError",
    "WompiNetworkError",
    "WompiNotFoundError",
    "WompiTransactionError",
    "WompiValidationError",
]


class GatewayError(Exception):
    """Base of the tree: a call to a payment gateway failed."""

    gateway: str = "gateway"
    default_retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        operation: str = "",
        status_code: int | None = None,
        error_code: str | None = None,
        retryable: bool | None = None,
        outcome_unknown: bool = False,
        retry_after: float | None = None,
        details: dict[str, Any] | None = None,
        result: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.operation = operation
        self.status_code = status_code
        self.error_code = error_code
        self.retryable = self.default_retryable if retryable is None else retryable
        self.outcome_unknown = outcome_unknown
        # The request may have reached the gateway and no answer came back (a read timeout, a dropped
        # connection), on this try or an earlier one of the same call: the gateway may still be carrying it
        # out, so its records may not show it yet. A gateway's own answer (a 5xx) is the gateway done with it.
        self.unanswered = outcome_unknown and status_code is None
        self.retry_after = retry_after
        # Field-level messages from the gateway (e.g. Wompi's per-field validation list).
        self.details = details or {}
        # The parsed gateway answer when there is one (a declined transaction, say).
        self.result = result

    def log_context(self) -> dict[str, Any]:
        """Fields safe to log: no secrets, no request bodies."""
        return {
            "gateway": self.gateway,
            "operation": self.operation,
            "status_code": self.status_code,
            "error_code": self.error_code,
            "retryable": self.retryable,
            "outcome_unknown": self.outcome_unknown,
        }

    def __str__(self) -> str:
        where = f"{self.gateway} {self.operation}".strip()
        code = f" [{self.error_code}]" if self.error_code else ""
        status = f" (HTTP {self.status_code})" if self.status_code is not None else ""
        return f"{where}: {self.message}{code}{status}"


class CircuitOpenError(GatewayError):
    """The gateway's breaker is open: the call was not attempted."""

    # Not retryable inside the same call: waiting out the cool-down is the caller's decision.
    default_retryable = False

    def __init__(self, gateway: str, *, reopens_in: float, operation: str = "") -> None:
        super().__init__(f"circuit open, next probe in {reopens_in:.1f}s", operation=operation)
        self.gateway = gateway
        self.reopens_in = reopens_in


class PayUError(GatewayError):
    gateway = "payu"


class PayUNetworkError(PayUError):
    default_retryable = True


class PayUAuthenticationError(PayUError):
    pass


class PayUValidationError(PayUError):
    pass


class PayUTransactionError(PayUError):
    pass


class WompiError(GatewayError):
    gateway = "wompi"


class WompiNetworkError(WompiError):
    default_retryable = True


class WompiAuthenticationError(WompiError):
    pass


class WompiValidationError(WompiError):
    pass


class WompiNotFoundError(WompiValidationError):
    pass


class WompiTransactionError(WompiError):
    pass


class EfectyError(GatewayError):
    gateway = "efecty"


class EfectyNetworkError(EfectyError):
    default_retryable = True


class EfectyAuthenticationError(EfectyError):
    pass


class EfectyValidationError(EfectyError):
    pass


class EfectyNotFoundError(EfectyValidationError):
    pass


class EfectyDuplicateCodeError(EfectyValidationError):
    pass


class EfectyTransactionError(EfectyError):
    pass


class AsobancariaFormatError(EfectyError):
    def __init__(self, message: str, *, line: int | None = None) -> None:
        where = f"line {line}: " if line is not None else ""
        super().__init__(where + message, operation="parse_asobancaria")
        self.line = line
