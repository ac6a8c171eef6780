"""Admin endpoints: confirm an Efecty cash payment by hand, run the day's reconciliation, and end a live
attempt whose outcome is unknown from its gateway's records.

Usage: ``POST /admin/efecty/EFE-42-7KQ9ZP/confirm``, ``POST /admin/reconcile?date=2025-01-31`` and
``POST /admin/attempts/ORD-…-1a2b3c4d/resolve`` with an admin token.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel
from sqlalchemy import Table, select

from core.api.resolve import Found, resolve_attempt
from core.api.schemas import error_responses
from core.auth import Principal, require_admin
from core.db.models import EfectyStatus, Order, OrderTransaction
from core.deps import get_services
from core.efecty_codes import BOGOTA
from core.errors import Conflict, GatewayUnavailable, NotFound, Unprocessable
from core.gateways.errors import AsobancariaFormatError, CircuitOpenError, GatewayError
from core.payments.ledger import read_transaction
from core.reconcile import confirm_voucher, locked_voucher, reconcile_day
from core.services import Services

router = APIRouter(tags=["admin"])
orders_t = cast(Table, Order.__table__)
txns_t = cast(Table, OrderTransaction.__table__)
# Before any Efecty file could exist; also keeps years below 1000, which no YYYYMMDD field can carry, out.
EARLIEST_DAY = date(2000, 1, 1)


class ConfirmOut(BaseModel):
    payment_code: str
    order_id: int
    order_status: str
    transaction_status: str
    already_confirmed: bool


class ResolveOut(BaseModel):
    reference: str
    transaction_id: int
    order_id: int
    gateway: str
    found: str  # core.api.resolve.Found: not_at_gateway | adopted | still_pending | held | not_live | in_flight
    transaction_status: str
    order_status: str
    gateway_transaction_id: str | None
    detail: str


class ReconcileOut(BaseModel):
    day: date
    lines: int
    matched: int
    already_confirmed: int
    unknown: int
    mismatched: int
    expired: int
    duplicates: int
    anomalies_recorded: int
    vouchers_expired: int


@router.post(
    "/admin/efecty/{code}/confirm",
    response_model=ConfirmOut,
    summary="Confirm an Efecty cash payment (admin; idempotent)",
    responses=error_responses(401, 403, 404, 409),
)
async def confirm_efecty(
    code: Annotated[str, Path(min_length=1, max_length=50)],
    principal: Annotated[Principal, Depends(require_admin)],
    services: Annotated[Services, Depends(get_services)],
) -> ConfirmOut:
    """Mark the voucher paid and its order paid through the ledger. Confirming twice changes nothing the
    second time (``already_confirmed: true``); an expired voucher is refused (409) — settle it by hand."""
    async with services.engine.begin() as conn:
        found = await locked_voucher(conn, code)
        if found is None:
            raise NotFound("voucher_not_found", f"no Efecty payment code {code}")
        order, payment = found
        already = payment.status is EfectyStatus.PAID
        if payment.status is EfectyStatus.EXPIRED:
            raise Conflict("voucher_expired", f"voucher {code} expired; it cannot be confirmed")
        if not already:
            evidence: dict[str, Any] = {"via": "admin", "admin": principal.subject, "at": datetime.now(UTC).isoformat()}
            await confirm_voucher(conn, order, payment, paid_at=datetime.now(UTC), evidence=evidence)
        order_status = (await conn.execute(select(orders_t.c.status).where(orders_t.c.id == order.id))).scalar_one()
        txn = await read_transaction(conn, payment.transaction_id) if payment.transaction_id else None
    return ConfirmOut(
        payment_code=code,
        order_id=order.id,
        order_status=order_status.value,
        transaction_status=txn.status.value if txn else "unknown",
        already_confirmed=already,
    )


@router.post(
    "/admin/reconcile",
    response_model=ReconcileOut,
    summary="Reconcile a day of Efecty payments (admin)",
    responses=error_responses(401, 403, 422, 502, 503),
)
async def reconcile(
    principal: Annotated[Principal, Depends(require_admin)],
    services: Annotated[Services, Depends(get_services)],
    day: Annotated[date, Query(alias="date", description="Collection day, YYYY-MM-DD (Bogota)")],
) -> ReconcileOut:
    """Read the day's Asobancaria 2001 file from Efecty, confirm matching payments and record anomalies.
    Running it again for the same day changes nothing."""
    today = datetime.now(UTC).astimezone(BOGOTA).date()
    if not EARLIEST_DAY <= day <= today:
        # A day Efecty cannot have a file for is the caller's mistake (422), not a gateway failure (502).
        raise Unprocessable("date_out_of_range", f"date must be between {EARLIEST_DAY} and today ({today}, Bogota)")
    try:
        summary = await reconcile_day(services, day)
    except AsobancariaFormatError as exc:
        error = GatewayUnavailable("efecty_file_malformed", f"the reconciliation file was refused: {exc.message}")
        error.status = 502
        raise error from None
    except CircuitOpenError:
        raise GatewayUnavailable("gateway_circuit_open", "efecty is failing; retry later") from None
    except GatewayError as exc:
        error = GatewayUnavailable("efecty_unavailable", f"the reconciliation file could not be read: {exc}")
        error.status = 502
        raise error from None
    return ReconcileOut(**summary.as_dict())


@router.post(
    "/admin/attempts/{reference}/resolve",
    response_model=ResolveOut,
    summary="End a live attempt whose outcome is unknown from its gateway's records (admin)",
    responses=error_responses(401, 403, 404, 502),
)
async def resolve(
    reference: Annotated[str, Path(min_length=1, max_length=64)],
    principal: Annotated[Principal, Depends(require_admin)],
    services: Annotated[Services, Depends(get_services)],
) -> ResolveOut:
    """Ask the attempt's gateway by its reference and apply what it says through the ledger: nothing there →
    ``error``; the gateway has it → its id and status. ``found`` says which; an attempt already ended
    (``not_live``) or whose request may still be calling the gateway (``in_flight``) is left alone. A lookup
    that fails changes nothing and answers 502: the gateway may hold the money."""
    async with services.engine.connect() as conn:
        txn_id = (await conn.execute(select(txns_t.c.id).where(txns_t.c.reference == reference))).scalar()
    if txn_id is None:
        raise NotFound("attempt_not_found", f"no payment attempt with reference {reference}")
    resolution = await resolve_attempt(services, int(txn_id), on_demand=True, by=f"admin:{principal.subject}")
    if resolution.found is Found.LOOKUP_FAILED:
        error = GatewayUnavailable("gateway_lookup_failed", f"the attempt was left live: {resolution.detail}")
        error.status = 502
        raise error
    async with services.engine.connect() as conn:
        order_status = (
            await conn.execute(select(orders_t.c.status).where(orders_t.c.id == resolution.order_id))
        ).scalar_one()
    return ResolveOut(
        reference=resolution.reference,
        transaction_id=resolution.transaction_id,
        order_id=resolution.order_id,
        gateway=resolution.gateway.value,
        found=resolution.found.value,
        transaction_status=resolution.transaction_status.value,
        order_status=order_status.value,
        gateway_transaction_id=resolution.gateway_transaction_id,
        detail=resolution.detail,
    )
