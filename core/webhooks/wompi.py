"""``POST /webhooks/wompi``: Wompi ``transaction.updated`` events, verified, deduplicated, applied.

Wompi's checksum covers only ``signature.properties`` (id, status, amount_in_cents) and the timestamp
(gateways.md §2.9, §4). Everything else — ``reference`` above all — is unsigned, so the core never uses
it to find an order: it finds the transaction by the signed id among those it created, and when it does
not know the id it re-reads the transaction from Wompi (``GET /v1/transactions/{id}``) and trusts only
that answer.

Usage: the app factory includes ``router``; Wompi is configured to post to ``https://…/webhooks/wompi``.
"""

from __future__ import annotations

import hashlib
import json
import time
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from core.db.models import Gateway, TransactionStatus
from core.deps import services_of
from core.errors import Unauthorized, Unprocessable
from core.gateways.errors import WompiNotFoundError
from core.money import from_cents
from core.services import Services
from core.settings import WompiSettings
from core.signing.wompi import verify_event
from core.strictjson import unique_keys
from core.webhooks import storable
from core.webhooks.recording import IncomingEvent, once_more_on_a_dead_connection, record_and_apply, record_unmatched
from core.webhooks.store import TransactionMatch

router = APIRouter(tags=["webhooks"])
# An id the core never stored becomes ours only if Wompi's own answer names an attempt still without one.
ADOPT = ("UPDATE order_transactions SET gateway_transaction_id = $1"
         " WHERE gateway = 'wompi' AND reference = $2 AND gateway_transaction_id IS NULL RETURNING id")

MAX_CENTS = 10**15  # Numeric(15, 2): no charge has more cents than this
STATUSES = {
    "PENDING": TransactionStatus.PENDING,
    "APPROVED": TransactionStatus.APPROVED,
    "DECLINED": TransactionStatus.DECLINED,
    "VOIDED": TransactionStatus.VOIDED,
    "ERROR": TransactionStatus.ERROR,
}


# Real events nest four levels (event → data → transaction → field); the cap leaves room and keeps every walk
# over the body (the checksum, the storable copy) far from Python's recursion limit.
MAX_DEPTH = 16


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            break
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, level + 1) for child in children)
    return deepest


def _may_nest_too_deep(raw: bytes) -> bool:
    """Whether the body has enough opening brackets to nest deeper than ``MAX_DEPTH``; if not, the walk is skipped.

    Every object or list in a JSON text opens with a ``{`` or ``[`` character, whose byte is there in whatever
    encoding ``json.loads`` accepts (UTF-8, -16, -32), and the deepest value sits under at most all of them: depth
    <= brackets + 1. Brackets inside strings, or bytes of other characters, only overcount. A real event has 5 or 6
    brackets; counting them is two C scans of the body, where the walk took 11 of the parse's 18 µs (in process).
    """
    return raw.count(b"{") + raw.count(b"[") + 1 > MAX_DEPTH


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN and Infinity: Python accepts them, JSON does not


def parse_body(raw: bytes) -> dict[str, Any]:
    try:
        # parse_float=Decimal: no amount ever becomes a float, even one a forger sends; a repeated key is refused.
        event = json.loads(raw, parse_float=Decimal, parse_constant=_no_constant, object_pairs_hook=unique_keys)
    except RecursionError as exc:
        raise Unprocessable("malformed_json", f"the body nests deeper than {MAX_DEPTH} levels") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise Unprocessable("malformed_json", "the body is not JSON (or repeats a key)") from exc
    if not isinstance(event, dict):
        raise Unprocessable("malformed_event", "the body is not a JSON object")
    if _may_nest_too_deep(raw) and _depth(event) > MAX_DEPTH:
        raise Unprocessable("malformed_json", f"the body nests deeper than {MAX_DEPTH} levels")
    return event


def check_fresh(timestamp: int, *, max_age: int, max_future: int, now: float | None = None) -> None:
    """The signed timestamp must lie inside the window; a stale or future event is not authentic enough."""
    now = time.time() if now is None else now
    if timestamp < now - max_age:
        raise Unauthorized("stale_event", "event timestamp is older than the accepted window")
    if timestamp > now + max_future:
        raise Unauthorized("future_event", "event timestamp is in the future")


def to_incoming(event: dict[str, Any], signature: str, *, raw_sha256: str | None = None) -> IncomingEvent:
    """Validate the verified event's shape and reduce it to what the core acts on (422 when it can't)."""
    tx = event.get("data", {}).get("transaction") if isinstance(event.get("data"), dict) else None
    if event.get("event") != "transaction.updated" or not isinstance(tx, dict):
        raise Unprocessable("unsupported_event", "only transaction.updated events are processed")
    tx_id, status, cents, currency = tx.get("id"), tx.get("status"), tx.get("amount_in_cents"), tx.get("currency")
    if not isinstance(tx_id, str) or not tx_id or len(tx_id) > 128:
        raise Unprocessable("malformed_event", "transaction.id missing")
    if status not in STATUSES:
        raise Unprocessable("malformed_event", f"unknown transaction status {status!r}")
    if isinstance(cents, bool) or not isinstance(cents, int) or not 0 < cents < MAX_CENTS:
        raise Unprocessable("malformed_event", "amount_in_cents must be a positive integer below any charge's")
    if not isinstance(currency, str) or len(currency) != 3:
        raise Unprocessable("malformed_event", "currency missing")
    # What "the same event" means: the signed values and the currency the charge check acts on. The unsigned
    # rest (reference, customer_email, …) is never acted on, so a copy differing only there is a duplicate.
    identity = {"id": tx_id, "status": status, "amount_in_cents": cents, "currency": currency}
    return IncomingEvent(
        gateway=Gateway.WOMPI, event_key=f"{tx_id}:{status}", event_type="transaction.updated",
        signature=signature.lower(), identity_data=identity, payload=event,
        status=STATUSES[status], amount=from_cents(cents), currency=currency, raw_sha256=raw_sha256,
    )


def verified_event(raw: bytes, header: str | None, settings: WompiSettings) -> IncomingEvent:
    """Every check an event passes before anything is looked up or written: strict JSON, the checksum (header and
    body agreeing), the timestamp's window and the shape the core acts on; 401 or 422 (raised) when one fails.

    What a receiver may not skip, as one function: the endpoint and the benchmark's ``verified`` yardstick
    (load/bare.py) both call it.
    """
    event = parse_body(raw)
    header = (header or "").strip() or None
    verdict = verify_event(event, events_secret=settings.events_secret.get_secret_value(), header_checksum=header)
    if not verdict:
        raise Unauthorized("invalid_signature", verdict.reason)
    check_fresh(event["timestamp"], max_age=settings.max_event_age_seconds,
                max_future=settings.max_event_future_seconds)
    signature = header or event["signature"]["checksum"].strip()  # verified hex: it fits the column
    return to_incoming(event, signature, raw_sha256=hashlib.sha256(raw).hexdigest())


def ours(incoming: IncomingEvent) -> TransactionMatch:
    """How the core finds its transaction for an event: by the signed Wompi id it stored, nothing else."""
    return TransactionMatch(Gateway.WOMPI, "gateway_transaction_id", incoming.identity_data["id"])


async def _adopt_from_wompi(services: Services, wompi_id: str) -> int | None:
    """An id the core never stored: re-read it from Wompi and match the reference *Wompi* returns.

    Asked at most once per id while a miss is remembered (core/webhooks/wompi_misses.py): a replayed event must
    not buy one outbound call per copy."""
    if not storable.clean(wompi_id):
        return None  # a NUL in a URL path: no Wompi id has one, and nothing of ours could match it
    if services.wompi_misses.recent(wompi_id):
        return None
    try:
        remote = await services.wompi.get_transaction(wompi_id)
    except WompiNotFoundError:
        services.wompi_misses.remember(wompi_id)
        return None
    pool = services.webhook_pool
    found = None
    if storable.clean(remote.reference):
        found = await once_more_on_a_dead_connection(pool, lambda: pool.fetchval(ADOPT, wompi_id, remote.reference))
    if found is None:
        services.wompi_misses.remember(wompi_id)
        return None
    return int(found)


@router.post("/webhooks/wompi", summary="Receive a Wompi event (transaction.updated)",
             responses={401: {"description": "missing, invalid, stale or future signature"},
                        409: {"description": "event identity replayed with different data"},
                        422: {"description": "malformed, or refused: amount/currency mismatch, unknown transaction"}})
async def wompi_event(request: Request) -> JSONResponse:
    services = services_of(request)  # not a Depends: resolving one cost more than the lookup (hot path)
    incoming = verified_event(await request.body(), request.headers.get("x-event-checksum"), services.settings.wompi)
    pool = services.webhook_pool
    result = await record_and_apply(pool, incoming, match=ours(incoming))
    if result is None:
        adopted = await _adopt_from_wompi(services, incoming.identity_data["id"])
        if adopted is not None:
            result = await record_and_apply(pool, incoming, match=TransactionMatch(Gateway.WOMPI, "id", adopted))
    if result is None:
        result = await record_unmatched(pool, incoming, "no transaction of ours has this Wompi id")
    return JSONResponse(result.body, status_code=result.status_code)
