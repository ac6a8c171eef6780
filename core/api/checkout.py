"""``POST /payments/process``: pay an order by card, Nequi, PSE or Efecty cash, at most once per Idempotency-Key.

Steps, and why in this order:

1. auth, rate limits, body validation, the key header (400 without), the buyer owns the order (else 404, as
   for an order that does not exist);
2. claim the key (``core.api.idempotency``) — a retry gets the first answer and stops here;
3. one DB transaction: lock the order, check it is payable (pending/failed, else 409), the amount is its
   outstanding total and in range (422); insert the attempt (``order_transactions``, status pending, a
   fresh gateway reference) and commit — so a webhook faster than the gateway's own answer finds it.
   The insert is ``ON CONFLICT DO NOTHING`` on the one-live-attempt index (migration 0004): while another
   attempt of the order is pending, whatever key or worker it came from, nothing is inserted and the answer
   is 409 ``payment_attempt_live`` naming that attempt — unless that attempt's outcome is unknown and its
   gateway, asked by reference, ends it (``core.api.resolve``; then the insert is tried once more);
4. call the gateway with no database transaction open (an HTTP call never holds a row lock);
5. one DB transaction: lock the order, store the gateway's id and answer on the attempt, apply a final
   status through the ledger, store the HTTP answer on the key — commit, then answer.

Failures: the breaker open or the gateway never reached → the attempt is marked ``error``, the key is
released, 503. The gateway may have received the charge (timeout, 5xx) → the attempt stays pending for
the webhook to settle, and 502 ``payment_outcome_unknown`` is stored on the key, so no retry with it can
charge again. Anything that fails once the gateway may have charged (above all storing its answer) gets
the same 502 with a support reference, stored on the key when the database still takes it; the attempt
stays pending either way, so neither this key nor a new one can charge the order again. Declines are
answers (200, status ``declined``).

Usage: ``POST /payments/process`` with ``Idempotency-Key: <uuid>`` and a ProcessPaymentIn body.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Table, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from core.api.charges import ChargeResult, ClientInfo, charge, jsonable
from core.api.idempotency import (
    CheckoutOptions,
    Replay,
    attach_transaction,
    claim_key,
    fingerprint,
    get_checkout_options,
    release_key,
    require_key,
    store_answer,
    store_answer_if_open,
)
from core.api.jsonbody import refuse_repeated_keys
from core.api.orders import check_amount_range, order_not_found, order_view
from core.api.resolve import resolve_attempt
from core.api.schemas import EfectyVoucherOut, ProcessPaymentIn, ProcessPaymentOut, amount_out, error_responses
from core.auth import Principal
from core.db.models import (
    AnomalyKind,
    EfectyPayment,
    EfectyStatus,
    Gateway,
    Order,
    OrderStatus,
    OrderTransaction,
    TransactionStatus,
)
from core.deps import get_services
from core.efecty_codes import issue_code
from core.errors import (
    Conflict,
    CoreError,
    GatewayUnavailable,
    Unprocessable,
    error_body,
    new_support_reference,
)
from core.gateways.errors import (
    CircuitOpenError,
    GatewayError,
    PayUAuthenticationError,
    WompiAuthenticationError,
)
from core.gateways.resilience import BreakerState, CircuitBreaker
from core.payments.ledger import apply_status, lock_order, read_transaction, record_anomaly
from core.ratelimit import client_ip, payment_rate_limit
from core.services import Services

router = APIRouter(tags=["payments"], dependencies=[Depends(refuse_repeated_keys)])
log = logging.getLogger("payharness.core.checkout")
orders_t = cast(Table, Order.__table__)
txns_t = cast(Table, OrderTransaction.__table__)
efecty_t = cast(Table, EfectyPayment.__table__)
PAYABLE = frozenset({OrderStatus.PENDING, OrderStatus.FAILED})
# An attempt that may still take the buyer's money: the one-live-attempt index's predicate (migration 0004).
LIVE = txns_t.c.status == TransactionStatus.PENDING
# ON CONFLICT finds that index only by proving its predicate from this one, so it must be a literal: with a
# bound parameter the proof holds for the first custom plans and fails once asyncpg's prepared statement
# goes generic (after five runs on a connection) — "no unique or exclusion constraint matching".
LIVE_INDEX_PREDICATE = text("status = 'pending'")


@dataclass(frozen=True, slots=True)
class Attempt:
    key_id: int
    order_id: int
    order_reference: str
    transaction_id: int
    reference: str
    gateway: Gateway
    amount: Decimal
    efecty: EfectyVoucherOut | None = None


def _breaker(services: Services, gateway: Gateway) -> CircuitBreaker:
    if gateway is Gateway.PAYU:
        return services.payu.breaker
    if gateway is Gateway.WOMPI:
        return services.wompi.breaker
    return services.efecty.breaker


async def _owned_order(services: Services, order_id: int, principal: Principal) -> None:
    # Another buyer's order is one that does not exist (core/api/orders.py): same query, same 404.
    async with services.engine.connect() as conn:
        found = (
            await conn.execute(
                select(orders_t.c.id).where(orders_t.c.id == order_id, orders_t.c.buyer_id == principal.subject)
            )
        ).scalar()
    if found is None:
        raise order_not_found(order_id)


async def _insert_attempt(
    conn: AsyncConnection,
    services: Services,
    body: ProcessPaymentIn,
    key_id: int,
    order_id: int,
    order_reference: str,
    gateway: Gateway,
) -> Attempt:
    efecty = None
    if gateway is Gateway.EFECTY:
        settings = services.settings.efecty
        expires_at = datetime.now(UTC) + timedelta(hours=settings.voucher_ttl_hours)
        issued = await issue_code(
            conn,
            order_id=order_id,
            amount=body.amount,
            expires_at=expires_at,
            prefix=settings.code_prefix,
            convenio=settings.convenio,
        )
        # The payment code is the reference the payer gives at the counter and the Asobancaria file carries.
        reference = issued.payment_code
        efecty = EfectyVoucherOut(
            payment_code=issued.payment_code,
            barcode_data=issued.barcode_data,
            amount=amount_out(body.amount),
            expires_at=expires_at,
            convenio=settings.convenio,
        )
    else:
        reference = f"{order_reference}-{secrets.token_hex(4)}"
    txn_id = (
        await conn.execute(
            pg_insert(txns_t)
            .values(
                order_id=order_id,
                gateway=gateway,
                reference=reference,
                payment_method=body.method,
                amount=body.amount,
                currency=body.currency,
                status=TransactionStatus.PENDING,
            )
            .on_conflict_do_nothing(index_elements=[txns_t.c.order_id], index_where=LIVE_INDEX_PREDICATE)
            .returning(txns_t.c.id)
        )
    ).scalar_one_or_none()
    if txn_id is None:
        raise await _attempt_live(conn, order_id)
    if efecty is not None:
        await conn.execute(update(efecty_t).where(efecty_t.c.payment_code == reference).values(transaction_id=txn_id))
    await attach_transaction(conn, key_id, txn_id)
    return Attempt(key_id, order_id, order_reference, int(txn_id), reference, gateway, body.amount, efecty)


async def _attempt_live(conn: AsyncConnection, order_id: int) -> Conflict:
    """409 naming the order's live attempt. The caller holds the order's lock, and every writer of an
    attempt's status takes it first, so the attempt read here is still the live one."""
    live = (
        await conn.execute(
            select(
                txns_t.c.id,
                txns_t.c.reference,
                txns_t.c.gateway,
                txns_t.c.payment_method,
                txns_t.c.status,
                txns_t.c.amount,
                txns_t.c.created_at,
            ).where(txns_t.c.order_id == order_id, LIVE)
        )
    ).one_or_none()
    if live is None:  # only a writer that skips the order's lock could get here: refuse, never charge
        return Conflict("payment_attempt_live", f"order {order_id} has a payment attempt changing; retry shortly")
    return Conflict(
        "payment_attempt_live",
        f"order {order_id} already has a payment attempt in progress ({live.payment_method} via "
        f"{live.gateway.value}, reference {live.reference}); wait for it to finish or complete it. A new "
        "attempt is possible once it has failed",
        extra={
            "live_attempt": {
                "id": live.id,
                "reference": live.reference,
                "gateway": live.gateway.value,
                "payment_method": live.payment_method,
                "status": live.status.value,
                "amount": amount_out(live.amount),
                "created_at": live.created_at.isoformat(),
            }
        },
    )


async def _prepare(services: Services, body: ProcessPaymentIn, key_id: int) -> Attempt:
    """Insert the attempt; when a live attempt whose outcome is unknown is in the way, ask its gateway first.

    Without that an attempt the gateway never created (a 5xx to the create call) would block the order
    for ever: no event comes for a charge that does not exist. The gateway is asked with no transaction
    open, its word applied under the order's lock (core/api/resolve.py), and the insert tried once more;
    any doubt (lookup failed, still pending, a record that does not fit) keeps today's 409."""
    try:
        return await _prepare_once(services, body, key_id)
    except Conflict as exc:
        live = exc.extra.get("live_attempt") if exc.code == "payment_attempt_live" else None
        if not live:
            raise
        try:
            resolution = await resolve_attempt(services, int(live["id"]))
        except Exception:
            # Whatever went wrong, the attempt is untouched (the change commits whole or not at all): 409.
            log.exception("live attempt %s: resolving it failed", live.get("reference"))
            raise exc from None
        if not resolution.ended:
            raise
        log.info("live attempt %s ended by reference lookup (%s)", resolution.reference, resolution.found.value)
    # The order may be paid now (the gateway had approved it): the second pass answers order_not_payable.
    return await _prepare_once(services, body, key_id)


async def _prepare_once(services: Services, body: ProcessPaymentIn, key_id: int) -> Attempt:
    gateway = Gateway(body.resolved_gateway)
    breaker = _breaker(services, gateway)
    if breaker.state is BreakerState.OPEN:
        raise GatewayUnavailable(
            "gateway_circuit_open", f"{gateway.value} is failing; payments through it are paused, retry later"
        )
    async with services.engine.begin() as conn:
        order = await lock_order(conn, body.order_id)
        if order is None:
            raise order_not_found(body.order_id)
        if order.status not in PAYABLE:
            raise Conflict("order_not_payable", f"order {order.id} is {order.status.value}")
        outstanding = order.total_amount - order.approved_amount
        if body.amount != outstanding:
            raise Unprocessable("amount_mismatch", f"amount must equal the outstanding {amount_out(outstanding)}")
        check_amount_range(body.amount, services.settings.limits)
        if gateway is Gateway.PAYU and body.amount != body.amount.to_integral_value():
            raise Unprocessable("amount_has_cents", "PayU Colombia takes whole pesos only")
        if body.currency != order.currency:
            raise Unprocessable("currency_mismatch", f"the order is in {order.currency}")
        reference = (await conn.execute(select(orders_t.c.reference).where(orders_t.c.id == order.id))).scalar_one()
        return await _insert_attempt(conn, services, body, key_id, order.id, reference, gateway)


async def _call_gateway(
    services: Services, body: ProcessPaymentIn, attempt: Attempt, client: ClientInfo
) -> ChargeResult:
    description = f"Order {attempt.order_reference}"
    if attempt.efecty is None:
        return await charge(
            services, body, reference=attempt.reference, amount=attempt.amount, description=description, client=client
        )
    voucher = await services.efecty.register_voucher(
        payment_code=attempt.reference,
        amount=attempt.amount,
        expires_at=attempt.efecty.expires_at,
        reference=attempt.order_reference,
        description=description,
        currency=body.currency,
    )
    return ChargeResult(
        status=TransactionStatus.PENDING, gateway_transaction_id=voucher.payment_code, raw=jsonable(voucher)
    )


async def _charge_within(
    budget: float, services: Services, body: ProcessPaymentIn, attempt: Attempt, client: ClientInfo
) -> ChargeResult:
    """``_call_gateway``, abandoned after ``budget`` seconds as a call that went unanswered: the gateway may
    have the charge (outcome unknown), and may still be carrying it out."""
    deadline = asyncio.timeout(budget)
    try:
        async with deadline:
            return await _call_gateway(services, body, attempt, client)
    except TimeoutError:
        if not deadline.expired():
            raise  # not the budget's
        error = GatewayError(f"no answer within the payment's {budget:g} s budget", operation="charge",
                             outcome_unknown=True)
        error.gateway = attempt.gateway.value
        raise error from None


async def _answer(
    conn: AsyncConnection, attempt: Attempt, *, redirect_url: str | None = None, message: str | None = None
) -> dict[str, Any]:
    view = await order_view(conn, attempt.order_id)
    assert view is not None
    txn = next(t for t in view.transactions if t.id == attempt.transaction_id)
    out = ProcessPaymentOut(
        order_id=view.id,
        order_status=view.status,
        transaction=txn,
        redirect_url=redirect_url,
        efecty=attempt.efecty,
        message=message,
    )
    return out.model_dump(mode="json")


async def _record_result(services: Services, attempt: Attempt, result: ChargeResult) -> dict[str, Any]:
    result = result.storable()
    async with services.engine.begin() as conn:
        order = await lock_order(conn, attempt.order_id)
        assert order is not None
        await conn.execute(
            update(txns_t).where(txns_t.c.id == attempt.transaction_id).values(gateway_response=result.raw)
        )
        if result.gateway_transaction_id:
            # A webhook may have linked the id first (by re-reading the gateway); never overwrite it.
            await conn.execute(
                update(txns_t)
                .where(txns_t.c.id == attempt.transaction_id, txns_t.c.gateway_transaction_id.is_(None))
                .values(gateway_transaction_id=result.gateway_transaction_id)
            )
        txn = await read_transaction(conn, attempt.transaction_id)
        assert txn is not None
        message = result.message
        if not result.amount_matches:
            await record_anomaly(
                conn,
                AnomalyKind.AMOUNT_MISMATCH,
                {"source": "gateway_answer", "raw": result.raw},
                gateway=attempt.gateway,
                order_id=order.id,
                transaction_id=txn.id,
            )
            message = "the gateway reported another amount than requested; the payment is held for review"
        elif result.status is not TransactionStatus.PENDING:
            # The attempt may hold another id than the answer names: a webhook adopted the first transaction the
            # gateway approved under the reference (PayU may hold several). This answer is then about another
            # charge: an approval is money taken twice (the order is flagged), a failure says nothing of ours.
            named = result.gateway_transaction_id
            foreign = bool(named) and txn.gateway_transaction_id not in (None, named)
            await apply_status(conn, order=order, transaction=txn, incoming=result.status, foreign=foreign)
        body = await _answer(conn, attempt, redirect_url=result.redirect_url, message=message)
        await store_answer(conn, attempt.key_id, status_code=200, body=body, transaction_id=attempt.transaction_id)
    return body


async def _fail_attempt(services: Services, attempt: Attempt, exc: GatewayError) -> None:
    """The gateway never took the charge: close the attempt as ``error`` so the order is payable again."""
    async with services.engine.begin() as conn:
        order = await lock_order(conn, attempt.order_id)
        txn = await read_transaction(conn, attempt.transaction_id)
        assert order is not None and txn is not None
        await apply_status(
            conn,
            order=order,
            transaction=txn,
            incoming=TransactionStatus.ERROR,
            gateway_response={"error": exc.log_context()},
        )
        if attempt.gateway is Gateway.EFECTY:
            # A code Efecty never registered can never be paid in time; a payment for it is an anomaly.
            await conn.execute(
                update(efecty_t)
                .where(efecty_t.c.transaction_id == attempt.transaction_id)
                .values(status=EfectyStatus.EXPIRED)
            )


async def _outcome_unknown(services: Services, attempt: Attempt, exc: GatewayError) -> CoreError:
    error = GatewayUnavailable(
        "payment_outcome_unknown",
        f"{exc.gateway} did not answer clearly; the payment may have been taken. It is "
        "pending: check the order before paying again.",
        # Stored with the answer, so every replay quotes the reference the first answer gave.
        extra={"transaction_reference": attempt.reference, "support_reference": new_support_reference()},
    )
    error.status = 502
    async with services.engine.begin() as conn:
        # Kept on the attempt: whether the gateway may still be carrying the charge out (no answer came), which
        # decides when a lookup by reference may believe "not found" (core/api/resolve.py ``eligible``).
        await conn.execute(
            update(txns_t)
            .where(txns_t.c.id == attempt.transaction_id, txns_t.c.status == TransactionStatus.PENDING)
            .values(gateway_response={"outcome_unknown": {**exc.log_context(), "unanswered": exc.unanswered}})
        )
        await store_answer(
            conn,
            attempt.key_id,
            status_code=502,
            body=error_body(error.code, error.message, **error.extra),
            transaction_id=attempt.transaction_id,
        )
    return error


async def _unrecorded(services: Services, attempt: Attempt, exc: BaseException) -> CoreError:
    """The gateway may have charged, and the core failed afterwards (e.g. Postgres refused to store the
    gateway's answer). Nothing of the answer was kept, so the attempt is still pending and blocks a new
    charge; the key gets a 502 so its retries stop waiting on a request that is gone. Only an open key is
    settled: when the failure hid a commit that did happen, the stored answer stands."""
    reference = new_support_reference()
    log.error(
        "payment attempt %s: failed after the gateway was called, outcome unknown (%s)",
        attempt.reference,
        reference,
        exc_info=exc,
    )
    error = GatewayUnavailable(
        "payment_outcome_unknown",
        "the payment may have been taken but could not be recorded. It is pending: check the order before "
        "paying again, and quote the support reference.",
        extra={"transaction_reference": attempt.reference, "support_reference": reference},
    )
    error.status = 502
    body = error_body(error.code, error.message, **error.extra)
    try:
        async with services.engine.begin() as conn:
            await store_answer_if_open(
                conn, attempt.key_id, status_code=502, body=body, transaction_id=attempt.transaction_id
            )
    except Exception:
        # The database is gone as well: the key stays open until claim_key finds it stale (idempotency.py).
        log.exception("payment attempt %s: the 502 could not be stored on its key (%s)", attempt.reference, reference)
    return error


def _not_charged_error(exc: GatewayError) -> CoreError:
    if isinstance(exc, CircuitOpenError):
        return GatewayUnavailable("gateway_circuit_open", f"{exc.gateway} is failing; retry later")
    if exc.retryable:  # a network error that never reached the gateway
        return GatewayUnavailable("gateway_unreachable", f"{exc.gateway} could not be reached; retry later")
    if isinstance(exc, PayUAuthenticationError | WompiAuthenticationError) or exc.status_code in (401, 403):
        error = GatewayUnavailable("gateway_refused_credentials", f"{exc.gateway} refused the merchant credentials")
        error.status = 502
        return error
    return Unprocessable("gateway_refused", f"{exc.gateway} refused the payment request: {exc.message}")


@router.post(
    "/payments/process",
    response_model=ProcessPaymentOut,
    summary="Pay an order (buyer; Idempotency-Key required)",
    responses=error_responses(400, 401, 403, 404, 409, 413, 422, 429, 502, 503),
)
async def process_payment(
    body: ProcessPaymentIn,
    request: Request,
    principal: Annotated[Principal, Depends(payment_rate_limit)],
    services: Annotated[Services, Depends(get_services)],
    options: Annotated[CheckoutOptions, Depends(get_checkout_options)],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    """Charge the order's outstanding amount. The answer's ``transaction.status`` says what happened:
    ``approved``, ``declined``/``error``, or ``pending`` (PSE and Nequi finish later; Efecty returns a code
    to pay in cash). Retrying with the same key and body returns the same answer and never charges twice."""
    key = require_key(idempotency_key)
    await _owned_order(services, body.order_id, principal)
    secret = services.settings.auth.token_secret.get_secret_value().encode()
    claim = await claim_key(
        services.engine,
        buyer_id=principal.subject,
        key=key,
        order_id=body.order_id,
        fingerprint=fingerprint(secret, body),
        options=options,
    )
    if isinstance(claim, Replay):
        return JSONResponse(claim.body, status_code=claim.status_code, headers={"Idempotent-Replayed": "true"})
    try:
        attempt = await _prepare(services, body, claim)
    except Exception:
        await release_key(services.engine, claim)
        raise
    client = ClientInfo(ip=client_ip(request), user_agent=request.headers.get("user-agent", ""))
    # From here on the gateway may hold the charge: no failure may leave the key open or end the attempt
    # without the gateway's word.
    try:
        try:
            result = await _charge_within(options.charge_budget_seconds, services, body, attempt, client)
        except GatewayError as exc:
            log.warning(
                "payment attempt %s failed at the gateway: %s", attempt.reference, exc, extra=exc.log_context()
            )
            if exc.outcome_unknown:
                raise await _outcome_unknown(services, attempt, exc) from None
            await _fail_attempt(services, attempt, exc)
            await release_key(services.engine, claim)
            raise _not_charged_error(exc) from None
        answer = await _record_result(services, attempt, result)
    except CoreError:
        raise
    except Exception as exc:
        raise await _unrecorded(services, attempt, exc) from None
    return JSONResponse(answer)
