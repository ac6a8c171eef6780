"""Ending a live attempt whose outcome is unknown, from the gateway's own records (fail-closed).

An attempt stays ``pending`` when the gateway's answer to the create call never told what happened (a 5xx,
a timeout, or an answer the core could not store). It blocks every new payment of its order (the
one-live-attempt index, migration 0004), and for a charge the gateway never created no event will ever
come to end it. So when a payment meets such an attempt, and on demand through
``POST /admin/attempts/{reference}/resolve``, the core asks the gateway by the attempt's reference:

- the gateway has no such transaction → the attempt is closed as ``error`` (the order is payable again);
- the gateway has it → its id is adopted and its status applied (approved pays the order);
- the lookup fails (timeout, 5xx, 429, breaker open), or the gateway's record does not fit the attempt
  (another amount, another id, several orders) → nothing changes: the gateway may hold the money.

Only an attempt whose creating request is over is asked about: its key has a stored answer, or has been open
longer than any request runs (``STALE_KEY_SECONDS``, the idempotency rule for a request that died). An
attempt of a request still calling the gateway is not, however old: "not found" could only mean "not yet",
and closing it would let a second charge through. Of the others, one with a gateway id is asked about once
older than ``Settings.live_attempt_grace_seconds`` (or on demand); its webhook normally settles it first.

The HTTP call is made with no database transaction open; the change is then made under the order's row
lock through the ledger, and only if the attempt is still the pending one that was asked about.

Usage::

    resolution = await resolve_attempt(services, transaction_id)   # .found says what the gateway said
    if resolution.ended: ...                                        # the order is free (or paid)
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.api.charges import ChargeResult, _from_payu, _from_wompi, jsonable
from core.api.idempotency import STALE_KEY_SECONDS
from core.db.models import (
    AnomalyKind,
    EfectyPayment,
    EfectyStatus,
    Gateway,
    IdempotencyKey,
    OrderTransaction,
    TransactionStatus,
)
from core.gateways.errors import EfectyNotFoundError, GatewayError
from core.payments.ledger import apply_status, lock_order, read_transaction, record_anomaly
from core.services import Services

log = logging.getLogger("payharness.core.resolve")
txns_t = cast(Table, OrderTransaction.__table__)
keys_t = cast(Table, IdempotencyKey.__table__)
efecty_t = cast(Table, EfectyPayment.__table__)


class Found(enum.StrEnum):
    NOT_AT_GATEWAY = "not_at_gateway"  # closed as error: the gateway has no transaction for the reference
    ADOPTED = "adopted"  # the gateway's final status was applied (and its id adopted)
    STILL_PENDING = "still_pending"  # the gateway has it and it is not final yet: still live
    HELD = "held"  # the gateway's record does not fit the attempt: left live for a person to review
    LOOKUP_FAILED = "lookup_failed"  # the gateway could not be asked: left live
    NOT_LIVE = "not_live"  # the attempt was no longer pending (already ended by someone else)
    IN_FLIGHT = "in_flight"  # not known to be unknown yet (its request may still run, or it is young): not asked


@dataclass(frozen=True, slots=True)
class Resolution:
    found: Found
    transaction_id: int
    order_id: int
    reference: str
    gateway: Gateway
    transaction_status: TransactionStatus
    gateway_transaction_id: str | None
    detail: str

    @property
    def ended(self) -> bool:
        """Whether the attempt no longer blocks the order."""
        return self.transaction_status is not TransactionStatus.PENDING


@dataclass(frozen=True, slots=True)
class _Word:
    """What the gateway says about a reference. ``result`` None: it has no such transaction."""

    result: ChargeResult | None
    held: str | None = None  # set: the record does not fit the attempt; why
    held_kind: AnomalyKind = AnomalyKind.IDENTITY_CONFLICT


async def eligible(
    conn: AsyncConnection,
    transaction_id: int,
    created_at: datetime,
    gateway_id: str | None,
    grace_seconds: float,
    *,
    on_demand: bool = False,
) -> bool:
    """Whether the attempt may be asked about. Never while the request that created it may still be calling
    the gateway (its key is open and not stale), however old the attempt: a create call can outlast the grace
    period (retries honour a ``Retry-After`` of up to ``resilience.max_delay``), and "not found" would then
    mean "not yet". Otherwise: pending past the grace period, or without a gateway id when the gateway answered
    the create (a create left unanswered waits the grace period: the charge may still land). ``on_demand`` (an
    admin) also asks about a young attempt with a gateway id: the gateway's word on a charge it named is safe."""
    open_keys = (
        await conn.execute(
            select(keys_t.c.id).where(
                keys_t.c.transaction_id == transaction_id,
                keys_t.c.status_code.is_(None),
                keys_t.c.created_at > func.now() - timedelta(seconds=STALE_KEY_SECONDS),
            )
        )
    ).first()
    if open_keys is not None:
        return False
    if datetime.now(UTC) - created_at >= timedelta(seconds=grace_seconds):
        return True
    if gateway_id is not None:
        return on_demand  # the gateway answered with its id a moment ago: its webhook settles it
    # No id: asked at once only if the gateway answered the create (it is done with it). A create that went
    # unanswered may still be carried out: its charge may not show in the gateway's records yet.
    response = (await conn.execute(select(txns_t.c.gateway_response).where(txns_t.c.id == transaction_id))).scalar()
    return not ((response or {}).get("outcome_unknown") or {}).get("unanswered", False)


async def _ask(services: Services, gateway: Gateway, reference: str, amount: Decimal, currency: str) -> _Word:
    """The gateway's record for ``reference``. Raises GatewayError when it cannot be asked."""
    if gateway is Gateway.WOMPI:
        tx = await services.wompi.find_by_reference(reference)
        return _Word(None if tx is None else _from_wompi(tx, amount, currency))
    if gateway is Gateway.PAYU:
        orders = await services.payu.order_by_reference(reference)
        if not orders:
            return _Word(None)
        if len(orders) > 1:
            return _Word(None, held=f"{len(orders)} PayU orders share the reference")
        order = orders[0]
        if order.amount is not None and (order.amount != amount or (order.currency or currency) != currency):
            return _Word(None, held=f"PayU order {order.id} is for {order.amount} {order.currency}",
                         held_kind=AnomalyKind.AMOUNT_MISMATCH)
        # An approved charge anywhere in the order is money taken, whatever a later attempt of it says; two are
        # money taken twice, for a person to refund one (held: nothing applied, the anomaly says why).
        # A refund or void PayU made of a charge is money going back, not a charge: whether the order is paid is
        # then a person's call (held: nothing applied), never a second charge to refund.
        if returned := order.returned():
            return _Word(None, held=f"PayU lists an approved {returned[0].type} under the reference")
        approved = order.approved_charges()
        if len(approved) > 1:
            return _Word(None, held=f"{len(approved)} approved PayU transactions share the reference",
                         held_kind=AnomalyKind.DOUBLE_PAYMENT)
        # Without one, a failure ends the attempt only when no charge of the order may still take the money: a
        # decline of one transaction says nothing of another still pending (PayU may hold several per reference).
        payment = order.deciding_charge()
        if payment is None or payment.response is None:
            # The order exists at PayU, its charge has no result yet: it may still take the money.
            pending = ChargeResult(TransactionStatus.PENDING, None, {"payu_order": order.id})
            return _Word(pending)
        result = _from_payu(payment.response)
        return _Word(ChargeResult(result.status, result.gateway_transaction_id or payment.id, result.raw))
    try:
        voucher = await services.efecty.get_voucher(reference)
    except EfectyNotFoundError:
        return _Word(None)  # never registered: no payer can pay it
    # A voucher Efecty holds unpaid may still be paid at a cashier until it expires; a paid one is settled
    # by reconciliation (or the admin confirmation) with its evidence — neither is ended here.
    status = TransactionStatus.EXPIRED if voucher.status == "EXPIRED" else TransactionStatus.PENDING
    return _Word(ChargeResult(status, voucher.payment_code, jsonable(voucher)))


async def _settle(services: Services, txn_id: int, word: _Word, asked_at: str, by: str = "checkout") -> Resolution:
    async with services.engine.begin() as conn:
        txn = await read_transaction(conn, txn_id)
        assert txn is not None
        order = await lock_order(conn, txn.order_id)
        txn = await read_transaction(conn, txn_id)  # re-read under the order's lock: this one is current
        assert order is not None and txn is not None

        def answer(found: Found, detail: str, status: TransactionStatus | None = None) -> Resolution:
            return Resolution(found, txn.id, txn.order_id, txn.reference, txn.gateway, status or txn.status,
                              txn.gateway_transaction_id, detail)

        if txn.status is not TransactionStatus.PENDING:
            return answer(Found.NOT_LIVE, f"the attempt is already {txn.status.value}")
        # Who asked (the checkout, or an admin by name) and when: kept on the attempt or its anomaly.
        evidence: dict[str, Any] = {"via": "reference_lookup", "by": by, "asked_at": asked_at}
        if word.held is not None:
            await record_anomaly(conn, word.held_kind, {**evidence, "held": word.held},
                                 gateway=txn.gateway, order_id=order.id, transaction_id=txn.id)
            return answer(Found.HELD, word.held)
        if word.result is None:
            if txn.gateway_transaction_id is not None:
                # The gateway once gave us an id for it and now says it has nothing: not believable.
                detail = "the gateway lists no transaction for a reference it gave an id for"
                await record_anomaly(conn, AnomalyKind.IDENTITY_CONFLICT, {**evidence, "held": detail},
                                     gateway=txn.gateway, order_id=order.id, transaction_id=txn.id)
                return answer(Found.HELD, detail)
            previous = (await conn.execute(select(txns_t.c.gateway_response).where(txns_t.c.id == txn.id))).scalar()
            outcome = await apply_status(
                conn, order=order, transaction=txn, incoming=TransactionStatus.ERROR,
                gateway_response={"resolved": {**evidence, "found": Found.NOT_AT_GATEWAY.value},
                                  "previous": previous},
            )
            if txn.gateway is Gateway.EFECTY:
                # A code Efecty never registered can never be paid; a payment for it would be an anomaly.
                await conn.execute(update(efecty_t).where(efecty_t.c.transaction_id == txn.id)
                                   .values(status=EfectyStatus.EXPIRED))
            log.warning("attempt %s closed as error: %s has no transaction for it", txn.reference, txn.gateway.value)
            return answer(Found.NOT_AT_GATEWAY, "the gateway has no transaction for the reference; closed as error",
                          outcome.transaction_status)
        result = word.result.storable()
        gid = result.gateway_transaction_id
        if gid and txn.gateway_transaction_id and gid != txn.gateway_transaction_id:
            detail = f"the gateway names transaction {gid}, the attempt holds {txn.gateway_transaction_id}"
            await record_anomaly(conn, AnomalyKind.IDENTITY_CONFLICT, {**evidence, "held": detail},
                                 gateway=txn.gateway, order_id=order.id, transaction_id=txn.id)
            return answer(Found.HELD, detail)
        if not result.amount_matches:
            await record_anomaly(conn, AnomalyKind.AMOUNT_MISMATCH, {**evidence, "raw": result.raw},
                                 gateway=txn.gateway, order_id=order.id, transaction_id=txn.id)
            return answer(Found.HELD, "the gateway holds another amount or currency for the reference")
        if gid and txn.gateway_transaction_id is None:
            await conn.execute(update(txns_t).where(txns_t.c.id == txn.id).values(gateway_transaction_id=gid))
        if result.status is TransactionStatus.PENDING:
            return Resolution(Found.STILL_PENDING, txn.id, txn.order_id, txn.reference, txn.gateway,
                              txn.status, gid or txn.gateway_transaction_id, "the gateway has it, still pending")
        outcome = await apply_status(conn, order=order, transaction=txn, incoming=result.status,
                                     gateway_response={"resolved": evidence, "gateway": result.raw})
        if txn.gateway is Gateway.EFECTY and outcome.transaction_status is TransactionStatus.EXPIRED:
            await conn.execute(update(efecty_t).where(efecty_t.c.transaction_id == txn.id)
                               .values(status=EfectyStatus.EXPIRED))
        log.warning("attempt %s settled from the gateway's records: %s", txn.reference, result.status.value)
        return Resolution(Found.ADOPTED, txn.id, txn.order_id, txn.reference, txn.gateway,
                          outcome.transaction_status, gid or txn.gateway_transaction_id,
                          f"the gateway has it as {result.status.value}")


async def resolve_attempt(
    services: Services, transaction_id: int, *, on_demand: bool = False, by: str = "checkout"
) -> Resolution:
    """Ask the gateway about a pending attempt and apply its word; see the module docstring."""
    async with services.engine.connect() as conn:
        row = (
            await conn.execute(
                select(txns_t.c.status, txns_t.c.created_at, txns_t.c.gateway, txns_t.c.reference,
                       txns_t.c.amount, txns_t.c.currency, txns_t.c.gateway_transaction_id)
                .where(txns_t.c.id == transaction_id)
            )
        ).one()
        if row.status is TransactionStatus.PENDING and not await eligible(
            conn, transaction_id, row.created_at, row.gateway_transaction_id,
            services.settings.live_attempt_grace_seconds, on_demand=on_demand,
        ):
            txn = await read_transaction(conn, transaction_id)
            assert txn is not None
            return Resolution(Found.IN_FLIGHT, txn.id, txn.order_id, txn.reference, txn.gateway, txn.status,
                              txn.gateway_transaction_id, "the request that created it may still be running")
    if row.status is not TransactionStatus.PENDING:
        return await _settle(services, transaction_id, _Word(None, held="not pending"), "")
    asked_at = datetime.now(UTC).isoformat()
    try:
        word = await _ask(services, row.gateway, row.reference, row.amount, row.currency)
    except GatewayError as exc:
        # The gateway may hold the charge: never close an attempt on a failed lookup.
        log.warning("attempt %s: reference lookup failed, left live: %s", row.reference, exc)
        async with services.engine.connect() as conn:
            txn = await read_transaction(conn, transaction_id)
        assert txn is not None
        return Resolution(Found.LOOKUP_FAILED, txn.id, txn.order_id, txn.reference, txn.gateway, txn.status,
                          txn.gateway_transaction_id, f"the gateway could not be asked: {exc.message}")
    return await _settle(services, transaction_id, word, asked_at, by)
