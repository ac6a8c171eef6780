"""The seeded defects: the findings of the seed report and of issue 13 (and a few more), as outside patches.

Every patch here re-creates the mistake a finding described, in the smallest honest form. The detection
matrix (``payharness defects``) proves that at least one test fails for each.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Mapping
from typing import Any

from harness.defects import Defect
from harness.defects.patching import replace_everywhere, replace_method

# -- code patches ---------------------------------------------------------------------------------


def _no_row_lock() -> None:
    """The seed's handler read the order and wrote it back without SELECT … FOR UPDATE."""
    from sqlalchemy import select

    from core.payments import ledger
    from core.webhooks import store

    async def lock_order(conn: Any, order_id: int) -> Any:
        row = (await conn.execute(select(*ledger._ORDER_COLUMNS).where(ledger.orders_t.c.id == order_id))).one_or_none()
        return ledger.LockedOrder(*row) if row else None

    async def write_if_unchanged(conn: Any, event_row: Any, *, change: Any, order: Any, transaction: Any,
                                 anomaly: Any = None) -> Any:
        # The webhook path's guard dropped: write what was decided on a read, whatever happened since.
        params = store.write_params(event_row, change, order.id, transaction.id, anomaly)
        row = await conn.fetchrow(store.WRITE, *params)
        return store.Written(row[0])

    async def write_if_fresh(conn: Any, event_row: Any, *, match: Any, change: Any, premise: Any,
                             gateway_id: Any = None) -> Any:
        return store.Written(None, stale=True)  # every event takes the read-then-write path, unguarded above

    replace_everywhere(ledger.lock_order, lock_order)
    replace_everywhere(store.write_if_unchanged, write_if_unchanged)
    replace_everywhere(store.write_if_fresh, write_if_fresh)


def _signature_skipped_when_secret_unset() -> None:
    """The seed: ``if not WOMPI_WEBHOOK_SECRET: signature_valid = True`` — and the secret was unset."""
    from core.signing import payu, wompi
    from core.signing._common import VALID

    original_wompi, original_payu = wompi.verify_event, payu.verify_confirmation

    def verify_event(event: Any, *, events_secret: str, header_checksum: str | None = None) -> Any:
        if not events_secret or events_secret == UNSET:
            return VALID  # "development": skip verification
        return original_wompi(event, events_secret=events_secret, header_checksum=header_checksum)

    def verify_confirmation(form: Any, *, api_key: str, algorithm: Any = payu.Algorithm.MD5,
                            hmac_secret: str | None = None, expected_merchant_id: str | None = None) -> Any:
        if not api_key or api_key == UNSET:
            return VALID
        return original_payu(form, api_key=api_key, algorithm=algorithm, hmac_secret=hmac_secret,
                             expected_merchant_id=expected_merchant_id)

    replace_everywhere(original_wompi, verify_event)
    replace_everywhere(original_payu, verify_confirmation)


UNSET = "unset-in-development"  # what the seed's .env had: a placeholder the settings accept


def _event_not_linked() -> None:
    """The seed created WebhookEvent(...) without transaction_id: the foreign key stayed NULL."""
    from core.webhooks import recording

    original = recording._event_row

    def event_row(event: Any, **values: Any) -> dict[str, Any]:
        values.pop("transaction_id", None)
        values.pop("order_id", None)
        return original(event, **values)

    replace_everywhere(original, event_row)


def _no_replay_window() -> None:
    """No replay protection beyond an id check: a signed event is accepted however old (or future) it is."""
    from core.webhooks import wompi

    def check_fresh(timestamp: int, *, max_age: int, max_future: int, now: float | None = None) -> None:
        return None

    replace_everywhere(wompi.check_fresh, check_fresh)


def _trust_unsigned_reference() -> None:
    """Find the order by the event's ``reference`` — a field Wompi's checksum does not cover."""
    from core.db.models import Gateway
    from core.webhooks import wompi
    from core.webhooks.store import TransactionMatch

    def ours(incoming: Any) -> Any:
        # The event as received: the core no longer keeps the unsigned reference among the fields it acts on.
        reference = incoming.payload["data"]["transaction"]["reference"]  # unsigned
        return TransactionMatch(Gateway.WOMPI, "reference", reference)

    replace_everywhere(wompi.ours, ours)


def _no_amount_check() -> None:
    """Apply whatever amount the event carries."""
    from core.webhooks import recording

    def mismatch(event: Any, amount: Any, currency: str) -> str | None:
        return None

    replace_everywhere(recording._mismatch, mismatch)


def _state_regression_allowed() -> None:
    """Whatever status arrives last wins: a late PENDING or DECLINED overwrites APPROVED."""
    from core.payments import statemachine
    from core.payments.statemachine import Decision

    def decide(current: Any, incoming: Any) -> Decision:
        return Decision.SAME if current == incoming else Decision.APPLY

    replace_everywhere(statemachine.decide, decide)


def _properties_unchecked() -> None:
    """The Wompi checksum is taken over whatever ``signature.properties`` the event lists (the core before issue 13)."""
    from core.signing import wompi

    def properties(event: Any) -> list[str]:
        # Only the list's shape is checked; nothing requires it to cover the id, status and amount acted on.
        signature = event.get("signature")
        if not isinstance(signature, Mapping):
            raise wompi.EventSignatureError("signature object missing")
        props = signature.get("properties")
        if not isinstance(props, list) or not props or len(props) > wompi.MAX_PROPERTIES:
            raise wompi.EventSignatureError("signature.properties must be a short non-empty list")
        if not all(isinstance(p, str) for p in props):
            raise wompi.EventSignatureError("signature.properties must be a list of strings")
        return props

    replace_everywhere(wompi._properties, properties)


def _two_live_attempts() -> None:
    """The checkout before the one-live-attempt rule: a plain INSERT of the attempt (its index is dropped too)."""
    from sqlalchemy import insert, update

    from core.api import checkout

    async def insert_attempt(conn: Any, services: Any, body: Any, key_id: int, order_id: int, order_reference: str,
                             gateway: Any) -> Any:
        efecty = None
        if gateway is checkout.Gateway.EFECTY:
            settings = services.settings.efecty
            expires_at = checkout.datetime.now(checkout.UTC) + checkout.timedelta(hours=settings.voucher_ttl_hours)
            issued = await checkout.issue_code(conn, order_id=order_id, amount=body.amount, expires_at=expires_at,
                                               prefix=settings.code_prefix, convenio=settings.convenio)
            reference = issued.payment_code
            efecty = checkout.EfectyVoucherOut(payment_code=issued.payment_code, barcode_data=issued.barcode_data,
                                               amount=checkout.amount_out(body.amount), expires_at=expires_at,
                                               convenio=settings.convenio)
        else:
            reference = f"{order_reference}-{checkout.secrets.token_hex(4)}"
        # Whatever other attempt of the order is still pending: inserted, and the gateway is called again.
        txn_id = (await conn.execute(
            insert(checkout.txns_t).values(order_id=order_id, gateway=gateway, reference=reference,
                                           payment_method=body.method, amount=body.amount, currency=body.currency,
                                           status=checkout.TransactionStatus.PENDING)
            .returning(checkout.txns_t.c.id))).scalar_one()
        if efecty is not None:
            await conn.execute(update(checkout.efecty_t).where(checkout.efecty_t.c.payment_code == reference)
                               .values(transaction_id=txn_id))
        await checkout.attach_transaction(conn, key_id, txn_id)
        return checkout.Attempt(key_id, order_id, order_reference, int(txn_id), reference, gateway, body.amount,
                                efecty)

    replace_everywhere(checkout._insert_attempt, insert_attempt)


def _payload_stored_raw() -> None:
    """The webhook's payload goes to JSONB as received: ``json.dumps(event.payload)``, no escaping, no bound."""
    from core.webhooks import recording, store

    original = recording._event_row

    def event_row(event: Any, **values: Any) -> dict[str, Any]:
        return original(event, **values) | {"payload": event.payload}

    def dumps(value: Any) -> str:
        return json.dumps(value, default=str, separators=(",", ":"))

    replace_everywhere(original, event_row)
    replace_everywhere(store.dumps, dumps)


def _payu_list_unread() -> None:
    """PayU's answer for a reference read for the named transaction only (the core before b206eea): while the
    attempt holds no PayU id, a failure of any transaction PayU lists under its reference ends it, though
    another one of them — its own charge — is still pending and may take the money."""
    from core.webhooks import payu

    async def payu_says(services: Any, reference: str, transaction_id: str) -> Any:
        # Nothing remembered of the others: the webhook's "every listed transaction failed" rule sees none.
        for order in await services.payu.order_by_reference(reference):
            for attempt in order.transactions:
                if attempt.id == transaction_id and attempt.response is not None:
                    return payu.PAYU_STATE.get(attempt.response.state.upper())
        return None

    replace_everywhere(payu._payu_says, payu_says)


def _second_approval_same() -> None:
    """A PayU approval of another transaction under the attempt's reference applied as the attempt's own (the
    core before b206eea, while the attempt held no PayU id): money taken twice reads as one payment, nothing
    flagged for a refund."""
    from dataclasses import replace

    from core.webhooks import payu

    def with_status(event: Any, status: Any, *, foreign: bool = False) -> Any:
        return replace(event, status=status, foreign_charge=False)

    replace_everywhere(payu._with_status, with_status)


def _payu_last_listed_charge_decides() -> None:
    """The charge that settles an attempt without its PayU id is the last one PayU lists under the reference (the
    submit's recovery before 297a609): a buyer's declined retry listed after our pending charge ends our attempt
    as declined — the order payable again while our charge may still take the money."""
    from core.gateways.payu_models import PayUOrder

    replace_method(PayUOrder, "deciding_charge", PayUOrder.latest_payment)


# -- app patches ----------------------------------------------------------------------------------


def _remove_middleware(app: Any, name: str) -> None:
    before = len(app.user_middleware)
    app.user_middleware = [m for m in app.user_middleware if getattr(m.cls, "__name__", "") != name]
    if len(app.user_middleware) == before:
        raise RuntimeError(f"{name} is not installed: the defect patch is stale")


def _no_body_limit(app: Any) -> None:
    _remove_middleware(app, "BodyLimitMiddleware")


def _no_rate_limit(app: Any) -> None:
    from core.auth import require_buyer
    from core.ratelimit import payment_rate_limit

    app.dependency_overrides[payment_rate_limit] = require_buyer


def _no_order_limit(app: Any) -> None:
    from core.auth import require_buyer
    from core.ratelimit import order_rate_limit

    app.dependency_overrides[order_rate_limit] = require_buyer


def _order_ids_enumerable() -> None:
    """Another buyer's order answered 403 "not yours" where a missing one is 404: ids can be probed."""
    from sqlalchemy import select

    from core.api import checkout, orders
    from core.errors import Forbidden, NotFound

    original_view = orders.order_view

    async def order_view(conn: Any, order_id: int, *, buyer_id: str | None = None) -> Any:
        view = await original_view(conn, order_id)
        if view is not None and buyer_id is not None and view.buyer_id != buyer_id:
            raise Forbidden("not_your_order", f"order {order_id} belongs to another buyer")
        return view

    async def _owned_order(services: Any, order_id: int, principal: Any) -> None:
        async with services.engine.connect() as conn:
            owner = (await conn.execute(select(orders.orders_t.c.buyer_id).where(orders.orders_t.c.id == order_id))
                     ).scalar()
        if owner is None:
            raise NotFound("order_not_found", f"order {order_id} does not exist")
        if owner != principal.subject:
            raise Forbidden("not_your_order", f"order {order_id} belongs to another buyer")

    replace_everywhere(original_view, order_view)
    replace_everywhere(checkout._owned_order, _owned_order)


class _LeakyErrors:
    """The seed's generic handler that still put ``str(e)`` and the traceback in the response."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            body = json.dumps({"error": {"code": "internal_error", "message": repr(exc),
                                         "traceback": traceback.format_exc()}}).encode()
            await send({"type": "http.response.start", "status": 500,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body})


def _stack_traces_in_errors(app: Any) -> None:
    from starlette.middleware import Middleware

    _remove_middleware(app, "UnexpectedErrorMiddleware")
    app.user_middleware.insert(0, Middleware(_LeakyErrors))


class _Always200:
    """The seed's "always return 200 to avoid retry storms": a webhook that failed to record is still 200."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/webhooks/"):
            await self.app(scope, receive, send)
            return
        swallowed = False

        async def send_200(message: Any) -> None:
            nonlocal swallowed
            if message["type"] == "http.response.start" and message["status"] >= 500:
                swallowed = True
                await send({"type": "http.response.start", "status": 200,
                            "headers": [(b"content-type", b"application/json")]})
                return
            if swallowed and message["type"] == "http.response.body":
                await send({"type": "http.response.body", "body": b'{"status":"ok"}'})
                return
            await send(message)

        await self.app(scope, receive, send_200)


def _always_200(app: Any) -> None:
    from starlette.middleware import Middleware

    app.user_middleware.insert(0, Middleware(_Always200))


# -- the registry ---------------------------------------------------------------------------------

DEFECTS: tuple[Defect, ...] = (
    Defect("no_row_lock", "Webhook updates the order without SELECT … FOR UPDATE",
           "seed §1.3 critical 1: race condition in order updates", "critical", "code", patch=_no_row_lock,
           load=True,
           quick=("suites/races",)),
    Defect("float_amounts", "Money columns stored as double precision",
           "seed §1.4 issue 2 / §2 high 3: float for currency amounts", "critical", "schema",
           schema_sql=tuple(f"ALTER TABLE {t} ALTER COLUMN {c} TYPE double precision" for t, c in (
               ("orders", "total_amount"), ("orders", "approved_amount"), ("order_transactions", "amount"),
               ("efecty_payments", "amount"))),
           quick=("suites/constraints", "suites/precision")),
    Defect("no_unique_gateway_txn", "No UNIQUE (gateway, gateway_transaction_id)",
           "seed §1.1 issue 1 / §1.4 issue 1: missing unique constraint", "high", "schema",
           schema_sql=("ALTER TABLE order_transactions DROP CONSTRAINT uq_order_transactions_gateway_txn",),
           quick=("suites/constraints",)),
    Defect("event_identity_with_signature", "Webhook identity UNIQUE (event_id, signature), as the seed proposed",
           "seed §1.3 critical 4: replay with different data", "high", "schema",
           schema_sql=("ALTER TABLE webhook_events DROP CONSTRAINT uq_webhook_events_identity",
                       "ALTER TABLE webhook_events ADD CONSTRAINT uq_webhook_events_identity "
                       "UNIQUE (gateway, event_key, payload_sha256)"),
           quick=("suites/constraints", "suites/replay")),
    Defect("signature_skipped_without_secret", "Signature check skipped when the secret is unset",
           "seed §1.3 critical 5: signature validation bypass in development", "critical", "config",
           patch=_signature_skipped_when_secret_unset,
           core_env={"PAYHARNESS_WOMPI__EVENTS_SECRET": UNSET},
           quick=("suites/replay",)),
    Defect("event_not_linked", "Webhook events stored without their transaction",
           "seed §1.3 critical 3: webhook event foreign key not set", "medium", "code", patch=_event_not_linked,
           quick=("suites/replay",)),
    Defect("no_replay_window", "Signed events accepted however old or far in the future",
           "seed §1.3 Not Tested: signature replay attacks", "high", "code", patch=_no_replay_window,
           quick=("suites/replay",)),
    Defect("always_200", "Webhooks answer 200 even when recording failed",
           "seed §1.3 strength 5 ('Always Returns 200 OK') — a lost event", "critical", "code",
           app_patch=_always_200, load=True,
           quick=("suites/faults",)),
    Defect("trust_unsigned_reference", "Order found by Wompi's unsigned reference field",
           "gateways.md §4: only signature.properties are signed", "critical", "code",
           patch=_trust_unsigned_reference,
           quick=("suites/replay",)),
    Defect("no_amount_check", "Event amount not compared with the charged amount",
           "added: an approved event for 1 COP pays a 50,000 COP order", "critical", "code",
           patch=_no_amount_check,
           quick=("suites/replay",)),
    Defect("efecty_codes_not_unique", "Efecty payment codes without a unique constraint or collision retry",
           "seed §1.2 issue 1: code uniqueness not guaranteed", "high", "schema",
           schema_sql=("ALTER TABLE efecty_payments DROP CONSTRAINT uq_efecty_payments_payment_code",),
           quick=("suites/constraints",)),
    Defect("no_rate_limit", "No rate limit on payment endpoints",
           "seed §1.5 issue 3: card testing possible", "medium", "code", app_patch=_no_rate_limit,
           quick=("suites/api",)),
    Defect("no_order_limit", "No rate limit on order creation",
           "added (an outside attack): one buyer fills the orders table, each order a row", "medium", "code",
           app_patch=_no_order_limit, quick=("suites/attacker",)),
    Defect("order_ids_enumerable", "Another buyer's order answers 403 where a missing one answers 404",
           "added (an outside attack): order ids can be probed and counted", "medium", "code",
           patch=_order_ids_enumerable, quick=("suites/attacker", "suites/api")),
    Defect("no_body_limit", "No request body size limit",
           "seed §6 concern 5: no request size limits", "medium", "code", app_patch=_no_body_limit,
           quick=("suites/api",)),
    Defect("stack_traces_in_errors", "Errors carry the exception and its traceback",
           "seed §6 concern 3: error information leakage", "medium", "code", app_patch=_stack_traces_in_errors,
           quick=("suites/faults", "suites/api")),
    Defect("state_regression_allowed", "A late or conflicting status overwrites a final one",
           "seed §4 weakness 3: no status transition constraints", "high", "code",
           patch=_state_regression_allowed, load=True,
           quick=("suites/races", "suites/replay")),
    Defect("wompi_properties_unchecked", "Wompi checksum over whatever signature.properties the event lists",
           "issue 13 §1 critical: Wompi signature.properties is chosen by the sender", "critical", "code",
           patch=_properties_unchecked,
           quick=("suites/signature_scope", "suites/replay")),
    Defect("two_live_attempts", "A new payment attempt while the order's last one is still pending",
           "issue 13 §1 high: one order, two charges (no uq_order_transactions_one_live_attempt)", "high", "schema",
           patch=_two_live_attempts,
           schema_sql=("DROP INDEX uq_order_transactions_one_live_attempt",),
           quick=("suites/initiation", "suites/constraints")),
    Defect("payload_stored_raw", "Webhook payloads stored as received: no escaping, no bound",
           "issue 13 §1 high: text Postgres cannot store (NUL, a payload that re-serialises past the cap)",
           "high", "code", patch=_payload_stored_raw,
           quick=("suites/replay",)),
    Defect("payu_unnamed_attempt_ended_by_any_failure",
           "A decline of any PayU transaction under the reference ends an attempt that holds no PayU id yet",
           "added (attack of 2026-12-04, ATTACK-PAYU-UNNAMED-ATTEMPT): the order payable again while its charge "
           "was live at PayU — charged twice", "high", "code", patch=_payu_list_unread,
           quick=("suites/attacker",)),
    Defect("payu_second_approval_same", "A second approved PayU transaction under one reference counts as the same",
           "added (attacks of 2026-12-04, ATTACK-PAYU-FOREIGN-ATTEMPT and ATTACK-PAYU-UNNAMED-ATTEMPT): money taken "
           "twice, the order not flagged for a refund", "high", "code", patch=_second_approval_same,
           quick=("suites/attacker",)),
    Defect("payu_last_listed_charge_decides",
           "The last transaction PayU lists under a reference decides an attempt that holds no PayU id yet",
           "added (2026-12-04, the submit's recovery, 297a609): a lost submit's answer recovered from a declined "
           "retry listed after our pending charge — the order payable again, charged twice", "high", "code",
           patch=_payu_last_listed_charge_decides, quick=("suites/attacker",)),
)
