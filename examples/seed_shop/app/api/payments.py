"""Orders and payments: ``POST /api/orders``, ``GET /api/orders/{id}``, ``POST /api/orders/{id}/pay``."""

from __future__ import annotations

import logging
import secrets
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from examples.seed_shop.app.money import amount_in_cents, as_text
from examples.seed_shop.app.security import current_user
from examples.seed_shop.app.services import PaymentError
from examples.seed_shop.app.services.efecty_service import DuplicateCode, generate_code

logger = logging.getLogger("seed_shop.payments")
router = APIRouter(prefix="/api")
User = Annotated[int, Depends(current_user)]
PAYABLE = ("PENDING", "FAILED")  # a declined order may be paid again; a paid one never


class CreateOrderWeak(BaseModel):
    total: float  # seed S3 and S11: a float, any sign, any size
    currency: str = "COP"


class CreateOrderHardened(BaseModel):
    # Fix for seed S11: a positive COP amount in cents precision, within the seed's suggested maximum.
    total: Decimal = Field(gt=0, le=Decimal("50000000"), decimal_places=2, allow_inf_nan=False)
    currency: Literal["COP"] = "COP"


class PayRequest(BaseModel):
    gateway: str
    card_token: str | None = None  # Wompi: the token the buyer's browser got from Wompi
    card: dict[str, str] | None = None  # PayU: the card itself (number, cvc, expiration_date, name)


def _body(model: type[BaseModel], data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None


async def _json(request: Request, hardened: bool) -> Any:
    if not hardened:
        return await request.json()  # seed S13: a body that is not JSON is an unhandled error (a traceback)
    try:
        return await request.json()
    except ValueError:
        raise HTTPException(400, "The body is not JSON") from None


def _order_json(order: Any) -> dict[str, Any]:
    return {"id": order.id, "buyer_id": order.buyer_id, "total": order.total, "currency": order.currency,
            "status": order.status, "amount_paid": order.amount_paid}


@router.post("/orders", status_code=201)
async def create_order(request: Request, user: User) -> dict[str, Any]:
    st = request.app.state
    model = CreateOrderHardened if st.settings.hardened else CreateOrderWeak
    body = _body(model, await _json(request, st.settings.hardened))
    async with st.engine.begin() as conn:
        order = (await conn.execute(insert(st.tables.orders).values(
            buyer_id=user, total=body.total, currency=body.currency).returning(st.tables.orders))).one()
    return _order_json(order)


@router.get("/orders/{order_id}")
async def get_order(order_id: int, request: Request, user: User) -> dict[str, Any]:
    st = request.app.state
    t = st.tables
    async with st.engine.connect() as conn:
        order = (await conn.execute(select(t.orders).where(t.orders.c.id == order_id))).one_or_none()
        if order is None or order.buyer_id != user:
            raise HTTPException(404, "Order not found")
        rows = (await conn.execute(select(t.transactions).where(t.transactions.c.order_id == order_id))).all()
    return {**_order_json(order), "transactions": [
        {"gateway": r.gateway, "gateway_transaction_id": r.gateway_transaction_id, "status": r.status,
         "amount": r.amount, "reference": r.gateway_reference} for r in rows]}


async def _rate_limited(conn: AsyncConnection, st: Any, user: int) -> bool:
    """Fix for seed S9: count this buyer's card attempts in the window; the advisory lock makes count-then-insert
    atomic per buyer, so forty concurrent attempts cannot all see an empty window."""
    limit, seconds = st.settings.pay_rate_limit
    await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": user})
    attempts = st.tables.payment_attempts
    recent = (await conn.execute(select(func.count()).select_from(attempts).where(
        attempts.c.buyer_id == user,
        attempts.c.created_at > func.now() - text(f"interval '{int(seconds)} seconds'")))).scalar_one()
    if recent >= limit:
        return True
    await conn.execute(insert(attempts).values(buyer_id=user))
    return False


@router.post("/orders/{order_id}/pay")
async def pay_order(order_id: int, request: Request, user: User) -> dict[str, Any]:
    st = request.app.state
    hardened = st.settings.hardened
    body = _body(PayRequest, await _json(request, hardened))
    async with st.engine.connect() as conn:
        order = (await conn.execute(select(st.tables.orders).where(st.tables.orders.c.id == order_id))).one_or_none()
    if order is None:
        raise HTTPException(404, "Order not found")
    if order.buyer_id != user:  # the seed's shop does check the buyer
        raise HTTPException(403, "Not your order")
    if hardened and body.gateway in ("wompi", "payu"):
        # Fix for seed S9, before anything else about the order: every card attempt counts.
        async with st.engine.begin() as conn:
            if await _rate_limited(conn, st, user):
                raise HTTPException(429, "Too many payment attempts, try again later",
                                    headers={"Retry-After": str(st.settings.pay_rate_limit[1])})
    if hardened and order.status not in PAYABLE:
        # Fix for seed S12: the weak shop checks the buyer but not the status, and charges a paid order again.
        raise HTTPException(409, f"Order is {order.status}, not payable")
    reference = f"ORD-{order.id}-{secrets.token_hex(4)}"
    try:
        if body.gateway == "wompi":
            return await _pay_wompi(st, order, reference, body, user)
        if body.gateway == "payu":
            return await _pay_payu(st, order, reference, body, user)
        if body.gateway == "efecty":
            return await _pay_efecty(st, order, reference)
    except PaymentError as exc:
        logger.error("payment failed for order %s: %s", order.id, exc)
        if not hardened:
            raise HTTPException(500, "Internal payment processing error") from exc  # seed S13: generic, no reference
        raise HTTPException(502, {"code": "gateway_error", "message": "The payment provider refused or failed",
                                  "support_reference": f"SUP-{reference}"}) from exc
    raise HTTPException(400, "Unsupported gateway")


async def _pay_wompi(st: Any, order: Any, reference: str, body: PayRequest, user: int) -> dict[str, Any]:
    if not body.card_token:
        raise HTTPException(400, "card_token is required")
    cents = amount_in_cents(order.total, st.settings.hardened)
    tx = await st.wompi.create_card_transaction(reference, cents, body.card_token, f"buyer{user}@shop.example")
    if st.settings.hardened:
        # The fix behind S4 and S7: the payment is recorded now, with Wompi's id, so that an event is matched by
        # that signed id. The weak shop writes its row when an event arrives, trusting the event's reference.
        async with st.engine.begin() as conn:
            await conn.execute(insert(st.tables.transactions).values(
                order_id=order.id, gateway="wompi", gateway_transaction_id=str(tx["id"]), gateway_reference=reference,
                amount=order.total, status="PENDING"))
    return {"order_id": order.id, "reference": reference, "transaction_id": tx["id"], "status": tx["status"],
            "amount_in_cents": cents}


async def _pay_payu(st: Any, order: Any, reference: str, body: PayRequest, user: int) -> dict[str, Any]:
    result = await st.payu.submit_card(reference, as_text(order.total), body.card or {}, f"buyer{user}@shop.example")
    state = {"APPROVED": "APPROVED", "DECLINED": "DECLINED", "PENDING": "PENDING"}.get(result["state"], "ERROR")
    t = st.tables
    async with st.engine.begin() as conn:
        # seed S4: inserted with no uniqueness check; PayU's confirmation inserts its own row again (webhooks.py).
        await conn.execute(insert(t.transactions).values(
            order_id=order.id, gateway="payu", gateway_transaction_id=str(result["transactionId"]),
            gateway_reference=reference, amount=order.total, status=state, gateway_response=str(result)))
        if state == "APPROVED":
            await conn.execute(t.orders.update().where(t.orders.c.id == order.id).values(
                status="PAID", amount_paid=order.total))
    return {"order_id": order.id, "reference": reference, "transaction_id": str(result["transactionId"]),
            "status": state}


async def _pay_efecty(st: Any, order: Any, reference: str) -> dict[str, Any]:
    t = st.tables
    for _ in range(5 if st.settings.hardened else 1):
        code = generate_code(st.settings.efecty_code_prefix, order.id)
        try:
            async with st.engine.begin() as conn:
                # seed S5: nothing but chance keeps this code unique in the weak schema; the hardened one has
                # uq_efecty_payment_code, and a collision (here or at Efecty) draws a new code.
                await conn.execute(insert(t.transactions).values(
                    order_id=order.id, gateway="efecty", gateway_reference=code, amount=order.total,
                    status="PENDING"))
                voucher = await st.efecty.register_voucher(code, as_text(order.total), reference)
        except (IntegrityError, DuplicateCode):
            if not st.settings.hardened:
                raise
            continue
        return {"order_id": order.id, "reference": code, "payment_code": code, "status": voucher["status"],
                "expires_at": voucher["expires_at"]}
    raise HTTPException(503, "Could not allocate an Efecty payment code")
