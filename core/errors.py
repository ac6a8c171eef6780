"""The core API's one error tree, mapped to HTTP in one exception handler (STYLE.md 10).

```
CoreError                         # an answer the client can act on: status, code, message
├── BadRequest            400     # e.g. a body that is not what the endpoint takes
├── Unauthorized          401     # missing/invalid bearer token, missing/invalid webhook signature
├── Forbidden             403     # wrong role, someone else's order
├── NotFound              404
├── Conflict              409     # order not payable, idempotency key reused with another body,
│                                 # a webhook identity replayed with other data
├── Unprocessable         422     # validation: amount range, currency, mismatched webhook amount
├── TooManyRequests       429     # carries Retry-After
└── GatewayUnavailable    502/503 # a gateway failed or its breaker is open; nothing was charged twice
```

The database out of reach (``core.db.session.UNAVAILABLE``: refused, reset, starting up after a crash, also
wrapped by SQLAlchemy) is no bug either: 503 ``database_unavailable`` with ``Retry-After``, so a gateway
delivers the webhook again.

Anything else is a bug: ``core.middleware.UnexpectedErrorMiddleware`` logs it with a support reference
and answers 500 with that reference only — never a stack trace, SQL, or a secret. Every 5xx carries a
``support_reference``: the handlers below add one (logged with the details), and that middleware adds one
to any 5xx that still has none.

Usage::

    raise Conflict("order_not_payable", "order 12 is paid")
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("payharness.core")
DATABASE_RETRY_AFTER_SECONDS = 1  # a restarted Postgres is back within seconds (load/README.md, the crash run)


class CoreError(Exception):
    status = 400
    code = "error"

    def __init__(self, code: str | None = None, message: str = "", *, headers: dict[str, str] | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(message or code or self.code)
        self.code = code or self.code
        self.message = message or self.code
        self.headers = headers or {}
        self.extra = extra or {}


class BadRequest(CoreError):
    status, code = 400, "bad_request"


class Unauthorized(CoreError):
    status, code = 401, "unauthorized"


class Forbidden(CoreError):
    status, code = 403, "forbidden"


class NotFound(CoreError):
    status, code = 404, "not_found"


class Conflict(CoreError):
    status, code = 409, "conflict"


class Unprocessable(CoreError):
    status, code = 422, "unprocessable"


class TooManyRequests(CoreError):
    status, code = 429, "rate_limited"


class GatewayUnavailable(CoreError):
    status, code = 503, "gateway_unavailable"


def new_support_reference() -> str:
    return "SUP-" + secrets.token_hex(6).upper()


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def unreadable_json(exc: StarletteHTTPException) -> str | None:
    """Why a JSON body could not be parsed, when ``exc`` is FastAPI's bare 400 for it; else None.

    FastAPI answers a body ``json.loads`` refuses with ``JSONDecodeError`` as a 422, but any other error of the
    parse — nesting past the interpreter's recursion limit, bytes that are not UTF-8 — as a 400 "There was an
    error parsing the body". One malformed body, one answer: these are 422 ``malformed_json`` as well."""
    if exc.status_code != 400:
        return None
    cause = exc.__cause__
    if isinstance(cause, RecursionError):
        return "the JSON body nests too deeply"
    if isinstance(cause, UnicodeError):
        return "the JSON body is not UTF-8 text"
    if isinstance(cause, ValueError):
        return "the body is not valid JSON"
    return None


def install_error_handlers(app: FastAPI) -> None:
    """Map the tree above and FastAPI's validation errors to JSON (the unexpected: see the middleware)."""

    @app.exception_handler(CoreError)
    async def _core(request: Request, exc: CoreError) -> JSONResponse:
        extra = exc.extra
        if exc.status >= 500:
            # Raise sites may bring their own (a stored answer that replays must quote the same one).
            reference = extra.get("support_reference") or new_support_reference()
            extra = {**extra, "support_reference": reference}
            log.warning("%s %s on %s %s: %s", exc.status, reference, request.method, request.url.path, exc.message)
        return JSONResponse(error_body(exc.code, exc.message, **extra), status_code=exc.status,
                            headers=exc.headers)

    from core.gateways.errors import GatewayError

    @app.exception_handler(GatewayError)
    async def _gateway(request: Request, exc: GatewayError) -> JSONResponse:
        # A gateway we had to ask (e.g. PayU's Queries API while checking a confirmation) failed or its
        # breaker is open: an expected condition, not a bug. 503 so a webhook sender retries later.
        reference = new_support_reference()
        log.warning("gateway unavailable %s on %s %s: %s", reference, request.method, request.url.path, exc,
                    extra=exc.log_context())
        return JSONResponse(error_body("gateway_unavailable", "a payment gateway is unavailable; retry later",
                                       support_reference=reference), status_code=503)

    from core.db.session import UNAVAILABLE

    async def _database(request: Request, exc: Exception) -> JSONResponse:
        # Down, restarting or recovering: the request was fine, and its retry is safe (a webhook's dedupe, an
        # API call's Idempotency-Key). Not "nothing was written": a commit may have gone through just before
        # its connection died. One line per request, no traceback: an outage is hundreds of them.
        reference = new_support_reference()
        log.warning("database unavailable %s on %s %s: %s: %s", reference, request.method, request.url.path,
                    type(exc).__name__, exc)
        return JSONResponse(error_body("database_unavailable", "the database is unavailable; retry later",
                                       support_reference=reference), status_code=503,
                            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)})

    for kind in UNAVAILABLE:
        app.add_exception_handler(kind, _database)

    from sqlalchemy.exc import DBAPIError

    from core.db.session import is_unavailable

    @app.exception_handler(DBAPIError)
    async def _wrapped(request: Request, exc: DBAPIError) -> JSONResponse:
        # The API's engine wraps the driver's errors: a lost server is a 503 like above, anything else (a
        # constraint, a broken query) stays a bug for UnexpectedErrorMiddleware's 500.
        if is_unavailable(exc):
            return await _database(request, exc)
        raise exc

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Field paths and messages only: pydantic's "input" echo could carry card data back.
        errors = exc.errors()
        if errors and errors[0].get("type") == "json_invalid":
            # The same code as the bodies FastAPI could not parse at all (unreadable_json) and repeated keys.
            error = str((errors[0].get("ctx") or {}).get("error", "JSON decode error"))[:64]
            return JSONResponse(error_body("malformed_json", f"the body is not valid JSON: {error}",
                                           fields=[{"loc": [str(p) for p in errors[0]["loc"]], "msg": error}]), 422)
        fields = [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"]} for e in errors]
        return JSONResponse(error_body("validation_error", "the request is not valid", fields=fields), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        unreadable = unreadable_json(exc)
        if unreadable is not None:
            return JSONResponse(error_body("malformed_json", unreadable), 422)
        extra: dict[str, Any] = {}
        if exc.status_code >= 500:
            extra["support_reference"] = reference = new_support_reference()
            log.warning("%s %s on %s %s: %s", exc.status_code, reference, request.method, request.url.path,
                        exc.detail)
        return JSONResponse(error_body(f"http_{exc.status_code}", str(exc.detail), **extra), exc.status_code,
                            headers=getattr(exc, "headers", None))
