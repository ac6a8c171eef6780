"""``POST /orders`` and ``GET /orders/{id}``: a buyer creates an order to pay; its owner or an admin reads it.

Another buyer's order is answered exactly as an order that does not exist (404 ``order_not_found``, the
same body, the same single query): a 403 for "exists, not yours" let any buyer count and probe the orders
table by id. ``owned_by`` is the one ownership filter every buyer read of an order by id goes through.

Usage: included by the app factory; ``POST /orders`` with ``{"amount": "65000.00", "currency": "COP"}``.
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Path
from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.api.jsonbody import refuse_repeated_keys
from core.api.schemas import OrderIn, OrderOut, TransactionOut, amount_out, error_responses
from core.auth import Principal, Role
from core.db.models import Order, OrderTransaction
from core.deps import get_services
from core.errors import NotFound, Unprocessable
from core.ratelimit import order_rate_limit, read_rate_limit
from core.services import Services
from core.settings import LimitSettings

router = APIRouter(tags=["orders"], dependencies=[Depends(refuse_repeated_keys)])
orders_t = cast(Table, Order.__table__)
txns_t = cast(Table, OrderTransaction.__table__)


def check_amount_range(amount: Decimal, limits: LimitSettings) -> None:
    """422 unless ``min_amount <= amount <= max_amount`` (COP)."""
    if not limits.min_amount <= amount <= limits.max_amount:
        raise Unprocessable(
            "amount_out_of_range",
            f"amount must be between {amount_out(limits.min_amount)} and {amount_out(limits.max_amount)} COP",
        )


def new_order_reference() -> str:
    # Random, not the serial id: references travel to gateways and receipts and should not count orders.
    return "ORD-" + secrets.token_hex(8).upper()


def _transaction_view(row: Any) -> TransactionOut:
    return TransactionOut(
        id=row.id,
        gateway=row.gateway.value,
        reference=row.reference,
        payment_method=row.payment_method,
        amount=amount_out(row.amount),
        currency=row.currency,
        status=row.status.value,
        gateway_transaction_id=row.gateway_transaction_id,
        created_at=row.created_at,
    )


def owned_by(principal: Principal) -> str | None:
    """The buyer whose orders ``principal`` may see by id: itself, or None (every order) for an admin."""
    return None if principal.role is Role.ADMIN else principal.subject


def order_not_found(order_id: int) -> NotFound:
    """The one answer for an order that does not exist and for another buyer's order."""
    return NotFound("order_not_found", f"order {order_id} does not exist")


async def order_view(conn: AsyncConnection, order_id: int, *, buyer_id: str | None = None) -> OrderOut | None:
    """The order with its transactions as the API shows it, or None (also when ``buyer_id`` is given and
    the order is someone else's: the filter is in the query, so both cases cost the same one query)."""
    query = select(orders_t).where(orders_t.c.id == order_id)
    if buyer_id is not None:
        query = query.where(orders_t.c.buyer_id == buyer_id)
    order = (await conn.execute(query)).one_or_none()
    if order is None:
        return None
    txns = (await conn.execute(select(txns_t).where(txns_t.c.order_id == order_id).order_by(txns_t.c.id))).all()
    outstanding = max(order.total_amount - order.approved_amount, Decimal("0.00"))
    return OrderOut(
        id=order.id,
        reference=order.reference,
        buyer_id=order.buyer_id,
        amount=amount_out(order.total_amount),
        currency=order.currency,
        status=order.status.value,
        approved_amount=amount_out(order.approved_amount),
        outstanding_amount=amount_out(outstanding),
        flagged_for_refund=order.flagged_for_refund,
        created_at=order.created_at,
        updated_at=order.updated_at,
        transactions=[_transaction_view(t) for t in txns],
    )


@router.post(
    "/orders",
    status_code=201,
    response_model=OrderOut,
    summary="Create an order (buyer)",
    responses=error_responses(401, 403, 413, 422, 429),
)
async def create_order(
    body: OrderIn,
    principal: Annotated[Principal, Depends(order_rate_limit)],
    services: Annotated[Services, Depends(get_services)],
) -> OrderOut:
    """Create a pending order of ``amount`` COP for the calling buyer. Amount range and rate: settings.limits."""
    check_amount_range(body.amount, services.settings.limits)
    async with services.engine.begin() as conn:
        order_id = (
            await conn.execute(
                insert(orders_t)
                .values(
                    reference=new_order_reference(),
                    buyer_id=principal.subject,
                    total_amount=body.amount,
                    currency=body.currency,
                )
                .returning(orders_t.c.id)
            )
        ).scalar_one()
        view = await order_view(conn, order_id)
    assert view is not None
    return view


@router.get(
    "/orders/{order_id}",
    response_model=OrderOut,
    summary="Read an order (its buyer or an admin)",
    responses=error_responses(401, 404, 429),
)
async def get_order(
    order_id: Annotated[int, Path(gt=0, le=2**63 - 1)],
    principal: Annotated[Principal, Depends(read_rate_limit)],
    services: Annotated[Services, Depends(get_services)],
) -> OrderOut:
    """The order, its amounts (as strings) and every payment attempt with its status."""
    async with services.engine.connect() as conn:
        view = await order_view(conn, order_id, buyer_id=owned_by(principal))
    if view is None:
        raise order_not_found(order_id)
    return view
