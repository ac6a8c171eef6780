"""Efecty HTTP API: merchant vouchers, the cashier's terminal, reconciliation, and admin helpers."""

import hmac
import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exception_handlers import http_exception_handler
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from simulators.common.jsonbody import parse_json
from simulators.common.runtime import SimRuntime
from simulators.efecty import asobancaria
from simulators.efecty.config import EfectyConfig
from simulators.efecty.errors import EfectyError, Unauthorized, ValidationFailed, VoucherNotFound
from simulators.efecty.money import BOGOTA, format_amount, iso, parse_amount, parse_iso, to_cents
from simulators.efecty.notify import PaymentNotice, payment_message
from simulators.efecty.state import EfectyBook, Payment, Voucher

_CODE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def json_response(payload: Any, status: int = 200) -> Response:
    # Plain json.dumps: FastAPI's encoder dominates the cost of a cheap request under load.
    return Response(json.dumps(payload, separators=(",", ":")), status_code=status, media_type="application/json")


async def read_json(request: Request) -> dict[str, Any]:
    try:
        data = parse_json(await request.body())
    except ValueError:
        raise ValidationFailed({"body": "must be a JSON object"}) from None
    if not isinstance(data, dict):
        raise ValidationFailed({"body": "must be a JSON object"})
    return data


def _check_key(supplied: str | None, expected: str, what: str) -> None:
    if supplied is None or not hmac.compare_digest(supplied.encode(), expected.encode()):
        raise Unauthorized(f"missing or invalid {what}")


def _text(data: dict[str, Any], name: str, limit: int, errors: dict[str, str], *, required: bool = True) -> str:
    value = data.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        errors[name] = "is required and must be a non-empty string"
        return ""
    if len(value) > limit:
        errors[name] = f"must be at most {limit} characters"
    return value


class EfectyService:
    """The operations behind the routes, shared by the cashier endpoint and the admin helpers."""

    def __init__(self, sim: SimRuntime, config: EfectyConfig) -> None:
        self.sim = sim
        self.config = config
        self.book: EfectyBook = sim.state
        # Where payment pushes go; /__admin/notify-url changes it mid-run, a reset restores the config's.
        self.notify_url: str | None = config.notify_url

    def reset(self) -> None:
        self.book.clear()
        self.notify_url = self.config.notify_url

    def now(self) -> datetime:
        return self.sim.clock.now()

    def register(self, data: dict[str, Any]) -> Voucher:
        errors: dict[str, str] = {}
        code = _text(data, "payment_code", 50, errors)
        if code and "payment_code" not in errors and not set(code) <= _CODE_CHARS:
            errors["payment_code"] = "may hold only letters, digits, '-' and '_'"
        amount = parse_amount(data.get("amount"))
        low, high = self.config.min_amount, self.config.max_amount
        if amount is None:
            errors["amount"] = 'must be a string with two decimals, e.g. "12345.00"'
        elif not low <= amount <= high:
            errors["amount"] = f"must be between {format_amount(low)} and {format_amount(high)} COP"
        if data.get("currency") != "COP":
            errors["currency"] = 'must be "COP"'
        expires_at = parse_iso(data.get("expires_at"))
        now = self.now()
        if expires_at is None:
            errors["expires_at"] = "must be an ISO-8601 timestamp with an offset"
        elif expires_at <= now:
            errors["expires_at"] = "must be in the future"
        reference = _text(data, "reference", 100, errors)
        description = data.get("description")
        if description is not None and (not isinstance(description, str) or len(description) > 200):
            errors["description"] = "must be a string of at most 200 characters"
        if errors:
            raise ValidationFailed(errors)
        assert amount is not None and expires_at is not None
        voucher = Voucher(code, amount, "COP", expires_at, now, reference, description)
        return self.book.register(voucher)

    def pay(self, code: str, amount: Decimal, point_id: str) -> Payment:
        payment = self.book.pay(code, amount, point_id, self.now())
        self.sim.journal.record(
            "state", gateway="efecty", payment_code=code, status="PAID", amount=format_amount(amount)
        )
        if self.notify_url:
            notice = PaymentNotice(payment, self.config.convenio, self.config.notify_secret, iso(self.now()))
            self.sim.dispatcher.send(payment_message(notice, self.notify_url))
        return payment

    def reconciliation(self, day: date) -> dict[str, Any]:
        payments = self.book.payments_on(day)
        return {
            "date": day.isoformat(),
            "convenio": self.config.convenio,
            "payments": [p.to_json() for p in payments],
            "total": format_amount(sum((p.amount for p in payments), Decimal("0.00"))),
        }

    def asobancaria_file(self, day: date) -> str:
        details = tuple(
            asobancaria.Detail(
                reference=p.payment_code,
                cents=to_cents(p.amount),
                operation_id=p.operation_id,
                authorization_code=p.authorization_code,
                branch=asobancaria.branch_of(p.point_id),
            )
            for p in self.book.payments_on(day)
        )
        file = asobancaria.RecaudoFile(
            nit=self.config.merchant_nit,
            collected_on=day,
            bank_code=self.config.bank_code,
            account_number=self.config.account_number,
            account_type=self.config.account_type,
            service_code=self.config.convenio,
            generated_at=self.now().astimezone(BOGOTA),
            details=details,
        )
        return asobancaria.render(file, control_length=self.config.control_record_length)


# Asobancaria writes the year in four digits; days before this are refused (chosen: the format is from 2001).
FIRST_DAY = date(2000, 1, 1)


def _day(value: str) -> date:
    if len(value) == 10 and value.isascii():
        try:
            day = date.fromisoformat(value)
        except ValueError:
            pass
        else:
            if day >= FIRST_DAY:
                return day
    raise ValidationFailed({"date": f"must be YYYY-MM-DD, from {FIRST_DAY.isoformat()}"})


def build_routes(service: EfectyService) -> list[Route]:
    """The public API under /api/v1 (merchant and cashier).

    Plain Starlette routes, not FastAPI ones: FastAPI's per-request dependency solving costs more
    than everything else a cheap call does, and the simulator must never limit a load test.
    """
    config = service.config

    def merchant(request: Request) -> None:
        auth = request.headers.get("authorization", "")
        token = auth[7:] if auth[:7].lower() == "bearer " else None
        _check_key(token, config.merchant_api_key, "merchant API key")

    async def create_voucher(request: Request) -> Response:
        merchant(request)
        voucher = service.register(await read_json(request))
        request.state.journal_summary = {
            "operation": "register",
            "payment_code": voucher.payment_code,
            "amount": format_amount(voucher.amount),
        }
        return json_response({"voucher": voucher.to_json()}, 201)

    async def get_voucher(request: Request) -> Response:
        merchant(request)
        payment_code = request.path_params["payment_code"]
        voucher = service.book.get(payment_code, service.now())
        if voucher is None:
            raise VoucherNotFound(f"no voucher with payment code {payment_code!r}")
        return json_response({"voucher": voucher.to_json()})

    async def cashier_payment(request: Request) -> Response:
        _check_key(request.headers.get("x-point-key"), config.point_key, "point key")
        data = await read_json(request)
        errors: dict[str, str] = {}
        code = _text(data, "payment_code", 50, errors)
        point_id = _text(data, "point_id", 20, errors)
        amount = parse_amount(data.get("amount"), strict=False)
        if amount is None:
            errors["amount"] = 'must be a string amount, e.g. "12345.00"'
        if errors:
            raise ValidationFailed(errors)
        assert amount is not None
        request.state.journal_summary = {
            "operation": "pay",
            "payment_code": code,
            "amount": format_amount(amount),
            "point_id": point_id,
        }
        return json_response({"receipt": service.pay(code, amount, point_id).to_json()}, 201)

    async def reconciliation(request: Request) -> Response:
        merchant(request)
        return json_response(service.reconciliation(_day(request.path_params["day"])))

    async def reconciliation_file(request: Request) -> Response:
        merchant(request)
        text = service.asobancaria_file(_day(request.path_params["day"]))
        return Response(text, media_type="text/plain; charset=us-ascii")

    async def health(request: Request) -> Response:
        return json_response({"status": "ok"})

    return [
        Route("/api/v1/vouchers", create_voucher, methods=["POST"]),
        Route("/api/v1/vouchers/{payment_code}", get_voucher, methods=["GET"]),
        Route("/api/v1/cashier/payments", cashier_payment, methods=["POST"]),
        Route("/api/v1/reconciliation/{day}", reconciliation, methods=["GET"]),
        Route("/api/v1/reconciliation/{day}/asobancaria", reconciliation_file, methods=["GET"]),
        Route("/api/v1/health", health, methods=["GET"]),
    ]


def build_admin_extra(service: EfectyService) -> APIRouter:
    """Gateway-specific admin routes, mounted under /__admin by the shared admin router."""
    router = APIRouter()

    async def optional_json(request: Request) -> dict[str, Any]:
        return await read_json(request) if await request.body() else {}

    @router.get("/notify-url")
    async def get_notify_url() -> Response:
        return json_response({"url": service.notify_url})

    @router.put("/notify-url")
    async def set_notify_url(request: Request) -> Response:
        url = (await read_json(request)).get("url")
        if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
            raise ValidationFailed({"url": "must be an http(s) URL or null"})
        service.notify_url = url
        service.sim.journal.record("admin", action="notify_url.set", url=url)
        return json_response({"url": url})

    @router.get("/vouchers")
    async def list_vouchers() -> Response:
        now = service.now()
        for voucher in service.book.vouchers.values():
            voucher.refresh(now)
        return json_response({"vouchers": [v.to_json() for v in service.book.vouchers.values()]})

    @router.post("/vouchers/{payment_code}/pay")
    async def pay_voucher(payment_code: str, request: Request) -> Response:
        data = await optional_json(request)
        voucher = service.book.get(payment_code, service.now())
        amount = voucher.amount if voucher is not None else Decimal("0.00")
        point_id = str(data.get("point_id") or "ADMIN-0001")
        payment = service.pay(payment_code, amount, point_id)
        service.sim.journal.record("admin", action="voucher.pay", payment_code=payment_code)
        return json_response({"receipt": payment.to_json()}, 201)

    @router.post("/vouchers/{payment_code}/expire")
    async def expire_voucher(payment_code: str) -> Response:
        voucher = service.book.expire(payment_code, service.now())
        service.sim.journal.record("admin", action="voucher.expire", payment_code=payment_code)
        return json_response({"voucher": voucher.to_json()})

    @router.post("/reconciliation/inject")
    async def inject(request: Request) -> Response:
        data = await read_json(request)
        errors: dict[str, str] = {}
        code = _text(data, "payment_code", 50, errors)
        amount = parse_amount(data.get("amount"), strict=False)
        if amount is None:
            errors["amount"] = 'must be a string amount, e.g. "12345.00"'
        paid_at = parse_iso(data["paid_at"]) if "paid_at" in data else service.now()
        if paid_at is None:
            errors["paid_at"] = "must be an ISO-8601 timestamp with an offset"
        point_id = str(data.get("point_id") or "ADMIN-0001")
        if errors:
            raise ValidationFailed(errors)
        assert amount is not None and paid_at is not None
        payment = service.book.inject(code, amount, point_id, paid_at)
        service.sim.journal.record("admin", action="reconciliation.inject", payment_code=code)
        return json_response({"payment": payment.to_json()}, 201)

    return router


def routing_error_handler() -> Callable[[Request, Exception], Any]:
    """404 and 405 from routing in the simulator's envelope; other HTTP errors as FastAPI renders them."""

    async def handle(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code in (404, 405):
            return json_response(VoucherNotFound(f"no route {request.method} {request.url.path}").body(), 404)
        return await http_exception_handler(request, exc)

    return handle


def error_handler() -> Callable[[Request, Exception], Any]:
    async def handle(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, EfectyError)
        return json_response(exc.body(), exc.status)

    return handle
