"""Efecty simulator errors, each with its HTTP status and error code.

    EfectyError
     ├── Unauthorized        401 UNAUTHORIZED     bad merchant key or point key
     ├── ValidationFailed    422 VALIDATION_ERROR with per-field messages
     ├── DuplicateCode       409 DUPLICATE_CODE   payment code already registered
     ├── VoucherNotFound     404 NOT_FOUND        merchant asked for an unknown code
     ├── UnknownCode         404 UNKNOWN_CODE     cashier typed an unknown code
     ├── AmountMismatch      422 AMOUNT_MISMATCH  cash offered differs from the voucher
     ├── Expired             410 EXPIRED          voucher past its expiry
     └── AlreadyPaid         409 ALREADY_PAID     voucher paid before

Mapped to ``{"error": {"code", "message", ["fields"]}}`` by one handler in ``app.py``.
"""

from typing import Any


class EfectyError(Exception):
    status = 400
    code = "BAD_REQUEST"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


class Unauthorized(EfectyError):
    status, code = 401, "UNAUTHORIZED"


class ValidationFailed(EfectyError):
    status, code = 422, "VALIDATION_ERROR"

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("the request has invalid fields")
        self.fields = fields

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "fields": self.fields}}


class DuplicateCode(EfectyError):
    status, code = 409, "DUPLICATE_CODE"


class VoucherNotFound(EfectyError):
    status, code = 404, "NOT_FOUND"


class UnknownCode(EfectyError):
    status, code = 404, "UNKNOWN_CODE"


class AmountMismatch(EfectyError):
    status, code = 422, "AMOUNT_MISMATCH"


class Expired(EfectyError):
    status, code = 410, "EXPIRED"


class AlreadyPaid(EfectyError):
    status, code = 409, "ALREADY_PAID"
