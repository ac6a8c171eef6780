"""Wompi's error envelopes as one exception tree, mapped to HTTP in one handler.

    WompiError                      {"error": {"type": ..., "reason"|"messages": ...}}
     ├── InvalidAccessToken         401 INVALID_ACCESS_TOKEN  (missing/wrong/other-environment key)
     ├── NotFound                   404 NOT_FOUND_ERROR       ("La entidad solicitada no existe")
     ├── InputValidationError       422 INPUT_VALIDATION_ERROR with per-field "messages"
     └── Unprocessable              422 UNPROCESSABLE         (a well-formed request Wompi refuses)

Routing misses (no such path, or a method the path does not take) answer in the same envelope, as
NOT_FOUND_ERROR: chosen, since Wompi documents no other shape for them.

Usage: ``app.add_exception_handler(WompiError, wompi_error_handler)``;
``app.add_exception_handler(StarletteHTTPException, routing_error_handler)``
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

# Field messages may nest (payment_method -> token -> [...]), as Wompi's own validation output does.
Messages = dict[str, Any]


class WompiError(Exception):
    """Base of every error the Wompi simulator answers with."""

    status_code = 400
    error_type = "ERROR"

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason or self.error_type)
        self.reason = reason

    def body(self) -> dict[str, Any]:
        return {"error": {"type": self.error_type, "reason": self.reason}}


class InvalidAccessToken(WompiError):
    status_code = 401
    error_type = "INVALID_ACCESS_TOKEN"

    def __init__(self, reason: str = "La llave proporcionada no es válida") -> None:
        super().__init__(reason)


class NotFound(WompiError):
    status_code = 404
    error_type = "NOT_FOUND_ERROR"

    def __init__(self, reason: str = "La entidad solicitada no existe") -> None:
        super().__init__(reason)


class InputValidationError(WompiError):
    status_code = 422
    error_type = "INPUT_VALIDATION_ERROR"

    def __init__(self, messages: Messages) -> None:
        super().__init__("")
        self.messages = messages

    def body(self) -> dict[str, Any]:
        return {"error": {"type": self.error_type, "messages": self.messages}}


class Unprocessable(WompiError):
    status_code = 422
    error_type = "UNPROCESSABLE"


class FieldErrors:
    """Collects per-field messages (dotted paths become nested objects) and raises them at once.

    Usage: ``errs.add("payment_method.token", "Token inválido"); errs.raise_if_any()``
    """

    def __init__(self) -> None:
        self.messages: Messages = {}

    def add(self, path: str, message: str) -> None:
        """A message about a whole object wins over messages about its fields, in either order."""
        node = self.messages
        *parents, leaf = path.split(".")
        for key in parents:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):  # the object itself is wrong; its fields are moot
                return
            node = child
        existing = node.get(leaf)
        if isinstance(existing, dict):
            node[leaf] = [message]
        else:
            node.setdefault(leaf, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.messages)

    def raise_if_any(self) -> None:
        if self.messages:
            raise InputValidationError(self.messages)


async def wompi_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    """Render any WompiError as Wompi's envelope and status."""
    assert isinstance(exc, WompiError)
    return JSONResponse(exc.body(), status_code=exc.status_code)


async def routing_error_handler(request: Request, exc: Exception) -> Response:
    """404 and 405 from routing in Wompi's envelope; other HTTP errors (admin routes) as FastAPI renders them."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code in (404, 405):
        return JSONResponse(NotFound().body(), status_code=404)
    return await http_exception_handler(request, exc)
