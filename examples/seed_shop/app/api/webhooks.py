"""Gateway webhooks: ``POST /webhooks/wompi`` (JSON events) and ``POST /webhooks/payu`` (form confirmations).

Wompi events carry no id of their own. The weak shop takes the event's checksum as its id, so a re-signed
copy (Wompi may resend with a fresh timestamp) is a new event to it; the hardened shop names it
``<transaction id>:<status>``, from signed fields only, so one status change is applied once however it is
resent. PayU confirmations: ``<transaction_id>`` (weak), ``<transaction_id>:<state_pol>`` (hardened).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from examples.seed_shop.app.money import amount_in_cents, from_cents
from examples.seed_shop.app.security import payu_confirmation_is_valid, wompi_event_is_valid

logger = logging.getLogger("seed_shop.webhooks")
router = APIRouter(prefix="/webhooks")

ORDER_STATUS = {"APPROVED": "PAID", "DECLINED": "FAILED", "ERROR": "FAILED", "VOIDED": "CANCELLED"}
PAYU_STATE_POL = {"4": "APPROVED", "6": "DECLINED", "5": "DECLINED", "7": "PENDING"}
OK = {"status": "ok"}


@dataclass(frozen=True)
class Event:
    """One gateway notification in the shop's terms."""

    gateway: str
    event_id: str
    transaction_id: str
    reference: str
    status: str  # APPROVED DECLINED ERROR VOIDED PENDING
    amount_in_cents: int
    signature: str
    payload: str

    @property
    def order_id(self) -> int:
        return int(self.reference.split("-")[1])  # references are ORD-<order id>-<random>


def wompi_event(event: dict[str, Any], raw: bytes, hardened: bool) -> Event:
    tx = event["data"]["transaction"]
    if hardened and (type(tx["amount_in_cents"]) is not int or not isinstance(tx["reference"], str)):
        raise TypeError("amount_in_cents must be an integer and reference a string")  # int(1.5) would be 1
    checksum = str((event.get("signature") or {}).get("checksum"))
    event_id = f"{tx['id']}:{tx['status']}" if hardened else checksum  # seed S7: weak, the checksum is the id
    return Event("wompi", event_id, str(tx["id"]), str(tx["reference"]), str(tx["status"]),
                 int(tx["amount_in_cents"]), checksum, raw.decode("utf-8", "replace"))


def payu_event(form: dict[str, str], raw: bytes, hardened: bool) -> Event:
    tx_id = form["transaction_id"]
    value = form["value"]
    cents = amount_in_cents(Decimal(value), True) if hardened else round(float(value) * 100)  # seed S3: float
    return Event("payu", f"{tx_id}:{form['state_pol']}" if hardened else tx_id, tx_id, form["reference_sale"],
                 PAYU_STATE_POL.get(form["state_pol"], "ERROR"), cents, form.get("sign", ""),
                 raw.decode("utf-8", "replace"))


@router.post("/wompi")
async def wompi_webhook(request: Request) -> dict[str, str]:
    st = request.app.state
    raw = await request.body()
    if not st.settings.hardened:
        try:
            event = json.loads(raw)
            valid = wompi_event_is_valid(event, st.settings.wompi_events_secret, hardened=False)
            await process_weak(st, wompi_event(event, raw, hardened=False), valid)
        except Exception:
            logger.exception("wompi webhook failed")  # seed S17: logged, and answered 200 all the same
        return OK
    try:
        event = json.loads(raw)
        parsed = wompi_event(event, raw, hardened=True)
    except (ValueError, KeyError, TypeError, IndexError):
        raise HTTPException(400, "Malformed Wompi event") from None
    if not wompi_event_is_valid(event, st.settings.wompi_events_secret, hardened=True):
        raise HTTPException(401, "Invalid webhook signature")  # the seed's own security recommendation 1
    return await process_hardened(st, parsed)


@router.post("/payu")
async def payu_webhook(request: Request) -> dict[str, str]:
    st = request.app.state
    raw = await request.body()
    form = dict(parse_qsl(raw.decode("utf-8", "replace")))
    if not st.settings.hardened:
        try:
            valid = payu_confirmation_is_valid(form, st.settings.payu_api_key, hardened=False)
            await process_weak(st, payu_event(form, raw, hardened=False), valid)
        except Exception:
            logger.exception("payu webhook failed")  # seed S17
        return OK
    if not payu_confirmation_is_valid(form, st.settings.payu_api_key, hardened=True):
        raise HTTPException(401, "Invalid webhook signature")
    try:
        parsed = payu_event(form, raw, hardened=True)
    except (ValueError, KeyError, ArithmeticError):
        raise HTTPException(400, "Malformed PayU confirmation") from None
    return await process_hardened(st, parsed)


async def process_weak(st: Any, ev: Event, signature_valid: bool) -> None:
    """The seed's handler: an idempotency SELECT, the event stored for the audit trail, then read-modify-write of
    the order with no lock, then the event marked processed: four steps, each its own commit."""
    t = st.tables
    events = t.webhook_events
    async with st.engine.begin() as conn:
        seen = (await conn.execute(select(events.c.id).where(
            events.c.gateway == ev.gateway, events.c.event_id == ev.event_id, events.c.processed))).first()
    if seen is not None:  # seed S7: idempotency by event_id alone, checked before anything is locked or claimed
        return
    async with st.engine.begin() as conn:
        # seed S6 and S10: the whole raw body is stored, and transaction_id is never set.
        event_row = (await conn.execute(insert(events).values(
            gateway=ev.gateway, event_id=ev.event_id, event_type="transaction.updated",
            gateway_transaction_id=ev.transaction_id, signature=ev.signature[:128], signature_valid=signature_valid,
            payload=ev.payload).returning(events.c.id))).scalar_one()
    if not signature_valid:
        return
    async with st.engine.begin() as conn:
        order = (await conn.execute(select(t.orders).where(t.orders.c.id == ev.order_id))).one()  # seed S1: no lock
        amount = from_cents(ev.amount_in_cents, hardened=False)
        # seed S4: a transaction row per event, no uniqueness check and no unique constraint.
        await conn.execute(insert(t.transactions).values(
            order_id=order.id, gateway=ev.gateway, gateway_transaction_id=ev.transaction_id,
            gateway_reference=ev.reference, amount=amount, status=ev.status, gateway_response=ev.payload))
        if ev.status in ORDER_STATUS:
            # seed S1/S2/S19: last writer wins, whatever the order's status was; the amount is not compared with
            # the total, and the float sum is computed from a value another request may already have changed.
            paid = order.amount_paid + amount if ev.status == "APPROVED" else order.amount_paid
            await conn.execute(update(t.orders).where(t.orders.c.id == order.id).values(
                status=ORDER_STATUS[ev.status], amount_paid=paid))
    async with st.engine.begin() as conn:
        await conn.execute(update(events).where(events.c.id == event_row).values(processed=True))


async def process_hardened(st: Any, ev: Event) -> dict[str, str]:
    """The fixes: an event row claimed by a unique constraint; the payment found by its gateway transaction id
    (signed), never by the reference (Wompi does not sign it); the order locked; final states kept; and the
    approved amount compared with the order total."""
    t = st.tables
    txns = t.transactions
    async with st.engine.begin() as conn:
        claimed = (await conn.execute(pg_insert(t.webhook_events).values(
            gateway=ev.gateway, event_id=ev.event_id, event_type="transaction.updated",
            gateway_transaction_id=ev.transaction_id, signature=ev.signature[:128], signature_valid=True,
            payload=ev.payload,
        ).on_conflict_do_nothing(constraint="uq_webhook_event").returning(t.webhook_events.c.id))).scalar()
        if claimed is None:
            return {"status": "duplicate"}
        where = (txns.c.gateway == ev.gateway) & (txns.c.gateway_transaction_id == ev.transaction_id)
        found = (await conn.execute(select(txns.c.order_id, txns.c.gateway_reference).where(where))).one_or_none()
        if found is None or found.gateway_reference != ev.reference:
            await _note(conn, st, claimed, error="no payment of ours has this transaction id and reference")
            return {"status": "ignored"}
        order = (await conn.execute(
            select(t.orders).where(t.orders.c.id == found.order_id).with_for_update())).one()
        txn = (await conn.execute(select(txns.c.id, txns.c.status).where(where))).one()  # read under the lock
        changed = txn.status == "PENDING" and ev.status != "PENDING"
        error = None
        if changed:
            await conn.execute(update(txns).where(txns.c.id == txn.id).values(status=ev.status))
        if ev.status == "APPROVED" and ev.amount_in_cents != amount_in_cents(order.total, hardened=True):
            error = "amount mismatch"  # never pay an order for less (or more) than its total
        elif changed and ev.status in ORDER_STATUS and order.status in PAYABLE_BY_EVENT:
            # Only a transaction that has just become final moves the order, and a paid order stays paid.
            paid = from_cents(ev.amount_in_cents, True) if ev.status == "APPROVED" else order.amount_paid
            await conn.execute(update(t.orders).where(t.orders.c.id == order.id).values(
                status=ORDER_STATUS[ev.status], amount_paid=paid))
        await _note(conn, st, claimed, transaction_id=txn.id, error=error)
    return OK


PAYABLE_BY_EVENT = ("PENDING", "FAILED")  # a paid or cancelled order is final


async def _note(conn: AsyncConnection, st: Any, event_row: int, *, transaction_id: int | None = None,
                error: str | None = None) -> None:
    events = st.tables.webhook_events
    await conn.execute(update(events).where(events.c.id == event_row).values(
        processed=error is None, transaction_id=transaction_id, error=error))
