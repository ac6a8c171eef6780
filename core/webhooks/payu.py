"""``POST /webhooks/payu``: PayU confirmation POSTs (form-encoded), verified, deduplicated, applied.

PayU's ``sign`` covers merchant_id, reference_sale, new_value, currency and state_pol only
(gateways.md §1.7, §4): ``transaction_id``, ``reference_pol``, ``response_code_pol`` and ``attempts`` are
unsigned, and there is no timestamp, so a captured POST verifies forever. The core therefore maps the
confirmation to the attempt it created through the signed ``reference_sale``; when the unsigned
``transaction_id`` is not the one PayU gave the core for that attempt, it asks PayU (Queries API) what
happened under that reference and applies only PayU's own answer. A verbatim replay is an identical
event and changes nothing.

Usage: the core submits transactions with ``notifyUrl`` = ``https://…/webhooks/payu``.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from core.db.models import Gateway, TransactionStatus
from core.deps import services_of
from core.errors import Unauthorized, Unprocessable
from core.services import Services
from core.signing.payu import Algorithm, verify_confirmation
from core.webhooks.payu_answers import FINAL, States
from core.webhooks.recording import (
    IncomingEvent,
    Result,
    record_and_apply,
    record_and_apply_attempt,
    record_unmatched,
)
from core.webhooks.store import TransactionMatch

router = APIRouter(tags=["webhooks"])
# The attempt does not hold PayU's id for its charge yet (the submit's answer is not stored): the first approved
# transaction PayU confirms under its reference becomes its charge, so a second approval is a foreign one and
# flags the order. Never over another id; a race with another transaction's adoption leaves this one foreign.
ADOPT = ("UPDATE order_transactions SET gateway_transaction_id = $1 WHERE gateway = 'payu' AND reference = $2"
         " AND (gateway_transaction_id IS NULL OR gateway_transaction_id = $1)"
         " AND NOT EXISTS (SELECT FROM order_transactions WHERE gateway = 'payu' AND gateway_transaction_id = $1"
         " AND reference <> $2) RETURNING id")
FAILED_AT_PAYU = frozenset({TransactionStatus.DECLINED, TransactionStatus.EXPIRED, TransactionStatus.ERROR})

# state_pol → our status (gateways.md §1.5). 7 (pending) is not sent to the confirmation URL per the
# docs, but third-party code maps it, so it is understood (and recorded without effect on a final state).
STATE_POL = {"4": TransactionStatus.APPROVED, "6": TransactionStatus.DECLINED, "5": TransactionStatus.EXPIRED,
             "104": TransactionStatus.ERROR, "7": TransactionStatus.PENDING}
PAYU_STATE = {"APPROVED": TransactionStatus.APPROVED, "DECLINED": TransactionStatus.DECLINED,
              "EXPIRED": TransactionStatus.EXPIRED, "ERROR": TransactionStatus.ERROR,
              "PENDING": TransactionStatus.PENDING, "SUBMITTED": TransactionStatus.PENDING}
MAX_VALUE = Decimal(10) ** 13
_ALGORITHMS = {"md5": Algorithm.MD5, "sha1": Algorithm.SHA1, "sha256": Algorithm.SHA256,
               "hmac-sha256": Algorithm.HMAC_SHA256}


def parse_form(raw: bytes) -> dict[str, str]:
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Unprocessable("malformed_form", "the body is not a form-encoded confirmation") from exc
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form:
            # A repeated field could make the verifier and the processor read different values.
            raise Unprocessable("malformed_form", f"field {key} appears twice")
        form[key] = value
    return form


def to_incoming(form: dict[str, str], *, raw_sha256: str | None = None) -> IncomingEvent:
    state = form["state_pol"]
    if state not in STATE_POL:
        raise Unprocessable("malformed_confirmation", f"unknown state_pol {state!r}")
    try:
        value = Decimal(form["value"])
    except InvalidOperation as exc:
        raise Unprocessable("malformed_confirmation", "value is not a decimal") from exc
    if not value.is_finite() or value <= 0 or value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise Unprocessable("malformed_confirmation", "value must be positive with at most 2 decimals")
    if value >= MAX_VALUE:  # no charge is that large (Numeric(15, 2)), and the digits would fill every record
        raise Unprocessable("malformed_confirmation", "value is larger than any charge")
    if len(form["currency"]) != 3:
        raise Unprocessable("malformed_confirmation", "currency must be a three-letter code")
    transaction_id = form.get("transaction_id", "")
    if not transaction_id or len(transaction_id) > 64:
        raise Unprocessable("malformed_confirmation", "transaction_id missing")
    amount = value.quantize(Decimal("0.01"))
    # The signed fields (value as the amount it signs) and transaction_id, which the core checks against the
    # attempt or PayU's Queries API. reference_pol, response_code_pol, attempts… are unsigned and never acted
    # on: a copy differing only there is a duplicate, not a conflict.
    identity = {"reference_sale": form["reference_sale"], "transaction_id": transaction_id, "state_pol": state,
                "value": str(amount), "currency": form["currency"]}
    return IncomingEvent(
        gateway=Gateway.PAYU, event_key=f"{form['reference_sale']}:{transaction_id}:{state}",
        event_type="confirmation", signature=form["sign"].strip().lower(), identity_data=identity, payload=dict(form),
        status=STATE_POL[state], amount=amount, currency=form["currency"],
        signed_key=f"{form['reference_sale']}:{state}", raw_sha256=raw_sha256,
    )


async def _payu_says(services: Services, reference: str, transaction_id: str) -> TransactionStatus | None:
    """PayU's own state for ``transaction_id`` under ``reference``; None when PayU has no such attempt.

    PayU is asked at most once per reference while its answer is remembered (core/webhooks/payu_answers.py):
    a captured confirmation sent again and again with new transaction_ids must not buy one outbound call each.
    """
    known = services.payu_answers.recall(reference)
    if known is not None:
        if transaction_id not in known:
            return None  # PayU listed no such attempt a moment ago: the same refusal, without asking again
        if known[transaction_id] in FINAL:
            return known[transaction_id]
    states: States = {}
    for order in await services.payu.order_by_reference(reference):
        # Charges only: a refund, void or capture PayU made of one is listed with its own id and state, and an
        # approved refund is money going back, not a second charge (nor the attempt's charge to adopt).
        for attempt in order.charges():
            state = PAYU_STATE.get(attempt.response.state) if attempt.response is not None else None
            if states.get(attempt.id) is None:
                states[attempt.id] = state
    services.payu_answers.remember(reference, states)
    return states.get(transaction_id)


@router.post("/webhooks/payu", summary="Receive a PayU confirmation (form-encoded)",
             responses={401: {"description": "missing or invalid sign"},
                        409: {"description": "event identity replayed with different data"},
                        422: {"description": "malformed, or refused: amount/currency mismatch, unknown attempt"}})
async def payu_confirmation(request: Request) -> JSONResponse:
    services = services_of(request)  # not a Depends: resolving one cost more than the lookup (hot path)
    settings = services.settings.payu
    raw = await request.body()
    form = parse_form(raw)
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    verdict = verify_confirmation(form, api_key=settings.api_key.get_secret_value(),
                                  algorithm=_ALGORITHMS[settings.webhook_algorithm], hmac_secret=secret,
                                  expected_merchant_id=settings.merchant_id)
    if not verdict:
        raise Unauthorized("invalid_signature", verdict.reason)
    incoming = to_incoming(form, raw_sha256=hashlib.sha256(raw).hexdigest())
    pool = services.webhook_pool
    ours = TransactionMatch(Gateway.PAYU, "reference", form["reference_sale"])
    first = await record_and_apply_attempt(pool, incoming, match=ours, gateway_id=form["transaction_id"])
    if first is None:
        unmatched = await record_unmatched(pool, incoming, "no attempt of ours has this reference_sale")
        return JSONResponse(unmatched.body, status_code=unmatched.status_code)
    if isinstance(first, Result):
        return JSONResponse(first.body, status_code=first.status_code)
    # Not the transaction_id PayU gave the core for this attempt (or none yet): ask PayU. A PayU failure
    # here propagates as a 5xx: nothing is acknowledged, and PayU retries later.
    confirmed = await _payu_says(services, form["reference_sale"], form["transaction_id"])
    if confirmed is None:
        unmatched = await record_unmatched(pool, incoming,
                                           "transaction_id is not a PayU attempt for this reference_sale")
        return JSONResponse(unmatched.body, status_code=unmatched.status_code)
    listed = services.payu_answers.recall(form["reference_sale"]) or {}
    others_live = any(state not in FAILED_AT_PAYU for tid, state in listed.items() if tid != form["transaction_id"])
    if confirmed is not TransactionStatus.APPROVED and (first.known_gateway_id is not None or others_live):
        # Another PayU transaction under our reference than the charge PayU named to the core: its failure says
        # nothing about our charge, which may still take the money. Ending our attempt on it would make the order
        # payable again while that charge is live (a second charge). Recorded against the attempt, no change —
        # as the reference lookup holds such a record (core/api/resolve.py). Only money taken moves the order.
        # While the attempt holds no id yet, which transaction is our charge is unknown: a failure ends it only
        # when every transaction PayU lists under the reference has failed.
        confirmed = TransactionStatus.PENDING
    foreign = first.known_gateway_id is not None and confirmed is TransactionStatus.APPROVED
    if confirmed is TransactionStatus.APPROVED and first.known_gateway_id is None:
        adopted = await pool.fetchval(ADOPT, form["transaction_id"], form["reference_sale"])
        foreign = adopted is None
    result = await record_and_apply(pool, _with_status(incoming, confirmed, foreign=foreign), match=ours)
    if result is None:  # the attempt was found a moment ago; RESTRICT foreign keys keep it
        raise LookupError(f"attempt {form['reference_sale']} vanished")
    return JSONResponse(result.body, status_code=result.status_code)


def _with_status(event: IncomingEvent, status: TransactionStatus, *, foreign: bool = False) -> IncomingEvent:
    """The event, to be applied with PayU's own answer. Its identity and identity digest stay the event's:
    they must not depend on the path that settled it. (They once carried ``confirmed_by_query``: PayU's
    identical re-delivery, which takes the direct path once the attempt has its gateway id, then looked like
    other data — 409, a conflict row, a false identity_conflict anomaly, and PayU retrying for days.)"""
    from dataclasses import replace

    return replace(event, status=status, foreign_charge=foreign)
