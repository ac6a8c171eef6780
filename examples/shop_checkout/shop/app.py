"""The shop's web app: checkout, order status, and the two gateways' webhooks.

Usage: ``app = create_app(ShopSettings(wompi=WompiAccount(...), payu=PayUAccount(...)))``, then serve it
with uvicorn.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel

from examples.shop_checkout.shop.gateways import Card, GatewayUnavailable, PaymentRefused, PayUGateway, WompiGateway
from examples.shop_checkout.shop.orders import Order, OrderBook
from examples.shop_checkout.shop.settings import ShopSettings

# Wompi's and PayU's words for a final result, in the shop's terms.
WOMPI_STATUS = {"APPROVED": "PAID", "DECLINED": "DECLINED", "VOIDED": "DECLINED", "ERROR": "DECLINED"}
PAYU_STATE_POL = {"4": "PAID", "6": "DECLINED", "5": "DECLINED"}
PAYU_STATE = {"APPROVED": "PAID", "DECLINED": "DECLINED", "PENDING": "PENDING"}


class CardIn(BaseModel):
    number: str
    cvc: str
    exp_month: str
    exp_year: str
    holder: str


class CheckoutIn(BaseModel):
    reference: str
    amount: str
    gateway: str
    email: str
    card: CardIn


def create_app(settings: ShopSettings) -> FastAPI:
    """Build the shop app with its own order book and one HTTP client for both gateways."""
    orders = OrderBook()
    clients: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=settings.gateway_timeout) as http:
            clients["wompi"] = WompiGateway(settings.wompi, http)
            clients["payu"] = PayUGateway(settings.payu, http)
            yield

    app = FastAPI(title="Shop checkout", lifespan=lifespan)
    app.state.orders = orders

    @app.post("/checkout", status_code=201)
    async def checkout(body: CheckoutIn) -> dict[str, object]:
        if body.gateway not in ("wompi", "payu"):
            raise HTTPException(422, "gateway must be wompi or payu")
        try:
            amount = Decimal(body.amount)
        except InvalidOperation:
            raise HTTPException(422, "amount must be a decimal string such as 65000.00") from None
        order = orders.get(body.reference)
        if order is None:
            order = orders.add(Order(body.reference, amount, body.gateway))
        elif order.status != "GATEWAY_ERROR":
            # Charging twice for one order is the one mistake a checkout must never make.
            raise HTTPException(409, f"order {body.reference} is {order.status}")
        card = Card(**body.card.model_dump())
        try:
            if body.gateway == "wompi":
                charge = await clients["wompi"].charge(body.reference, amount, card, body.email)
                status = "PENDING"
            else:
                # Without a public URL, PayU uses the confirmation URL set on the account.
                notify = settings.public_url + "/webhooks/payu" if settings.public_url else None
                charge = await clients["payu"].charge(body.reference, amount, card, body.email, notify)
                status = PAYU_STATE.get(charge.status, "DECLINED")
        except GatewayUnavailable as exc:
            orders.set_status(body.reference, "GATEWAY_ERROR")
            raise HTTPException(503, f"payment provider unavailable, try again: {exc}") from exc
        except PaymentRefused as exc:
            orders.set_status(body.reference, "DECLINED")
            raise HTTPException(402, str(exc)) from exc
        orders.set_status(body.reference, status, gateway_id=charge.gateway_id)
        return order.to_json()

    @app.get("/orders/{reference}")
    async def get_order(reference: str) -> dict[str, object]:
        order = orders.get(reference)
        if order is None:
            raise HTTPException(404, "no such order")
        return order.to_json()

    @app.post("/webhooks/wompi")
    async def wompi_event(request: Request) -> dict[str, str]:
        event = await request.json()
        if not clients["wompi"].event_is_authentic(event):
            raise HTTPException(401, "bad checksum")
        if event.get("event") == "transaction.updated":
            tx = event["data"]["transaction"]
            status = WOMPI_STATUS.get(tx["status"])
            if status is not None:
                orders.set_status(tx["reference"], status, gateway_id=tx["id"])
        return {"ok": "received"}

    @app.post("/webhooks/payu")
    async def payu_confirmation(request: Request) -> dict[str, str]:
        form = {k: str(v) for k, v in (await request.form()).items()}
        if not clients["payu"].confirmation_is_authentic(form):
            raise HTTPException(401, "bad sign")
        status = PAYU_STATE_POL.get(form.get("state_pol", ""))
        if status is not None:
            orders.set_status(form["reference_sale"], status, gateway_id=form.get("transaction_id"))
        return {"ok": "received"}

    return app
