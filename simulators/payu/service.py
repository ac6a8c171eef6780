"""The PayU gateway's behaviour: submit a payment, make it final, confirm it, answer queries.

Routes hand it parsed JSON; it decides the sandbox outcome, keeps the state, schedules expiries and
auto-finalisations on the SimClock, and sends the confirmation POST through the shared dispatcher.

Usage: ``gateway = PayUGateway(config, clock=clock, scheduler=scheduler, dispatcher=d, journal=j)``;
``tx = gateway.submit(body, base_url="http://127.0.0.1:8001")``
"""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta
from typing import Any

from simulators.common.clock import SimClock
from simulators.common.delivery import WebhookDispatcher, WebhookMessage
from simulators.common.journal import Journal
from simulators.common.scheduler import Scheduler
from simulators.payu.config import PayUConfig
from simulators.payu.confirmation import ConfirmationBuilder, Signer, confirmation_fields
from simulators.payu.errors import (
    AmountOutOfRange,
    BadRequest,
    DuplicateReference,
    InvalidCredentials,
    InvalidSignature,
)
from simulators.payu.sandbox import (
    CARD_METHODS,
    CASH_METHODS,
    DEBIT_METHODS,
    PSE_METHOD,
    card_outcome,
    check_final,
    mask_card,
    pse_bank_name,
    response_code_pol,
    validate_card,
)
from simulators.payu.signing import Algorithm, amount_forms, verify_payment_signature
from simulators.payu.state import Card, Order, PayUStore, Transaction, epoch_ms
from simulators.payu.submit import SubmitRequest, parse_submit


class PayUGateway:
    """State and behaviour of one simulated PayU merchant account (sandbox)."""

    def __init__(
        self,
        config: PayUConfig,
        *,
        clock: SimClock,
        scheduler: Scheduler,
        dispatcher: WebhookDispatcher,
        journal: Journal,
    ) -> None:
        self.config = config
        self.clock = clock
        self.scheduler = scheduler
        self.dispatcher = dispatcher
        self.journal = journal
        self.store = PayUStore(seed=config.seed)
        algorithm = Algorithm(config.webhook_signing)
        secret = config.webhook_secret if algorithm is Algorithm.HMAC_SHA256 else None
        self.signer = Signer(api_key=config.api_key, algorithm=algorithm, secret=secret)
        self.vouchers: dict[str, str] = {}  # receipt vid -> transactionId
        # The account-level confirmation URL; /__admin/payu/confirmation-url changes it mid-run.
        self.confirmation_url: str | None = config.default_confirmation_url

    def reset(self) -> None:
        self.store.reset()
        self.vouchers.clear()
        self.confirmation_url = self.config.default_confirmation_url

    # ------------------------------------------------------------------------------------ requests

    def check_merchant(self, body: dict[str, Any]) -> None:
        merchant = body.get("merchant")
        if not isinstance(merchant, dict):
            raise InvalidCredentials("merchant is required (apiLogin and apiKey)")
        login, key = merchant.get("apiLogin"), merchant.get("apiKey")
        if not isinstance(login, str) or not isinstance(key, str):
            raise InvalidCredentials()
        ok_login = hmac.compare_digest(login.encode(), self.config.api_login.encode())
        ok_key = hmac.compare_digest(key.encode(), self.config.api_key.encode())
        if not (ok_login and ok_key):
            raise InvalidCredentials()

    def submit(self, body: dict[str, Any], *, base_url: str) -> Transaction:
        """SUBMIT_TRANSACTION: validate, decide the sandbox outcome, store, and confirm if final."""
        self.check_merchant(body)
        req = parse_submit(body, accounts=self.config.accounts, currencies=self.config.currencies)
        if self.config.verify_request_signature and not verify_payment_signature(
            req.signature,
            api_key=self.config.api_key,
            merchant_id=self.config.merchant_id,
            reference_code=req.reference,
            tx_value_forms=amount_forms(req.value_text, lenient=self.config.lenient_amount_signature),
            currency=req.currency,
        ):
            raise InvalidSignature()
        if req.tx_type != "AUTHORIZATION_AND_CAPTURE":
            raise BadRequest("Colombia supports only the AUTHORIZATION_AND_CAPTURE transaction type")
        if self.config.validate_unique_reference and self.store.reference_taken(req.reference):
            raise DuplicateReference(req.reference)
        now = self.clock.now()
        order = self._order(req, now)
        if req.method in CARD_METHODS:
            tx = self._card(req, order, now)
        elif req.method == PSE_METHOD:
            tx = self._pse(req, order, now, base_url)
        elif req.method in CASH_METHODS:
            tx = self._cash(req, order, now, base_url)
        else:
            raise BadRequest(f"Invalid payment method [{req.method}] for Colombia")
        self.store.add(order, tx)
        self._journal_state(tx, "created")
        if tx.is_final:
            self._confirm(order, tx)
        return tx

    def _order(self, req: SubmitRequest, now: datetime) -> Order:
        return Order(
            id=self.store.next_order_id(),
            account_id=req.account_id,
            reference_code=req.reference,
            description=req.description,
            language=req.language,
            notify_url=req.notify_url,
            signature=req.signature,
            value=req.value,
            currency=req.currency,
            tax=req.tax,
            tax_return_base=req.tax_return_base,
            buyer=req.buyer,
            shipping_address=req.shipping_address,
            is_test=req.is_test,
            creation_date=epoch_ms(now),
        )

    def _base_tx(self, req: SubmitRequest, order: Order, now: datetime, network: str) -> Transaction:
        return Transaction(
            id=self.store.new_uuid(),
            order_id=order.id,
            payment_method=req.method,
            payment_country=req.country,
            type=req.tx_type,
            state="PENDING",
            response_code="PENDING_TRANSACTION_CONFIRMATION",
            created_at=now,
            operation_date=epoch_ms(now),
            payment_network=network,
            payer=req.payer,
            ip_address=req.ip_address,
            device_session_id=req.device_session_id,
            request_extra=dict(req.extra),
        )

    def _card(self, req: SubmitRequest, order: Order, now: datetime) -> Transaction:
        card = req.card
        if card is None:
            raise BadRequest(f"transaction.creditCard is required for {req.method}")
        if not req.ip_address or not req.device_session_id:
            raise BadRequest("transaction.ipAddress and transaction.deviceSessionId are required for cards")
        expiry = validate_card(
            req.method, card.number, card.cvv, card.expiration, cvv_optional=card.process_without_cvv
        )
        outcome = card_outcome(holder=card.holder, cvv=card.cvv, expiry=expiry, method=req.method, today=now.date())
        debit = card.debit or req.method in DEBIT_METHODS
        tx = self._base_tx(req, order, now, "CREDIBANCO")
        tx.card = Card(mask_card(card.number), card.holder, req.method.split("_")[0], "DEBIT" if debit else "CREDIT")
        tx.installments = _installments(req.extra)
        tx.trazability_code = f"CRED - {self.store.digits(9)}"
        tx.extra_parameters = {"BANK_REFERENCED_CODE": tx.card.card_type}
        tx.state, tx.response_code = outcome.state, outcome.response_code
        if outcome.state == "APPROVED":
            tx.authorization_code = self.store.digits(6)
            tx.payment_network_response_code = "81"
            tx.response_message = "Approved by the merchant"
        elif outcome.state == "DECLINED":
            tx.payment_network_response_code = "05"
        else:
            tx.pending_reason = "PENDING_REVIEW"
            self._auto_finalize(tx, self.config.pending_card_delay_seconds, self.config.pending_card_final_state)
        if tx.is_final:
            tx.finalized_at = now
        return tx

    def _pse(self, req: SubmitRequest, order: Order, now: datetime, base_url: str) -> Transaction:
        if req.currency != "COP":
            raise BadRequest("PSE accepts COP only")
        code = str(req.extra.get("FINANCIAL_INSTITUTION_CODE", ""))
        if pse_bank_name(code) is None:
            raise BadRequest(f"extraParameters.FINANCIAL_INSTITUTION_CODE [{code}] is not a PSE bank")
        if str(req.extra.get("USER_TYPE", "")) not in ("N", "J"):
            raise BadRequest("extraParameters.USER_TYPE must be N (natural) or J (legal)")
        for key in ("PSE_REFERENCE2", "PSE_REFERENCE3"):
            if not req.extra.get(key):
                raise BadRequest(f"extraParameters.{key} is required for PSE")
        if not req.ip_address:
            raise BadRequest("transaction.ipAddress is required for PSE")
        tx = self._base_tx(req, order, now, "PSE")
        tx.cus = self.store.digits(8)
        tx.pending_reason = "AWAITING_NOTIFICATION"
        tx.trazability_code = tx.cus
        tx.extra_parameters = {
            "TRANSACTION_CYCLE": "1",
            "BANK_URL": f"{self._base(base_url)}/__admin/payu/pse/{tx.id}",
        }
        self._auto_finalize(tx, self.config.pse_delay_seconds, self.config.pse_final_state)
        return tx

    def _cash(self, req: SubmitRequest, order: Order, now: datetime, base_url: str) -> Transaction:
        if req.currency != "COP":
            raise BadRequest(f"{req.method} accepts COP only")
        low, high = self.config.cash_limits[req.method]
        if not low <= req.value <= high:
            raise AmountOutOfRange(f"The value {req.value} is outside the limits of {req.method} ({low} to {high} COP)")
        if not req.ip_address:
            raise BadRequest("transaction.ipAddress is required for cash payments")
        default_expiry = now + timedelta(days=self.config.cash_expiry_days)
        expires = req.expiration_date or default_expiry
        if expires <= now:
            raise BadRequest("transaction.expirationDate is in the past")
        # PayU ignores a date later than its default and applies the default.
        expires = min(expires, default_expiry)
        tx = self._base_tx(req, order, now, "EFECTY" if req.method == "EFECTY" else "OTHERS_CASH")
        tx.pending_reason = "AWAITING_NOTIFICATION"
        tx.trazability_code = tx.id
        tx.expires_at = expires
        vid = f"{order.id}Y{self.store.hex(24)}Y{self.store.hex(40)}"
        self.vouchers[vid] = tx.id
        base = self._base(base_url)
        tx.extra_parameters = {
            "REFERENCE": order.id,
            "EXPIRATION_DATE": epoch_ms(expires),
            "URL_PAYMENT_RECEIPT_HTML": f"{base}/ppp-web-gateway-payu/app/v2?vid={vid}",
            "URL_PAYMENT_RECEIPT_PDF": f"{base}/ppp-web-gateway-payu/receipt?vid={vid}",
        }

        async def expire() -> None:
            if not tx.is_final and tx.paid_at is None:
                self.finalize(tx, "EXPIRED", "EXPIRED_TRANSACTION")

        tx.job_id = self.scheduler.call_at(expires, expire, name=f"payu voucher expiry {tx.id}")
        return tx

    def _base(self, base_url: str) -> str:
        return (self.config.public_base_url or base_url).rstrip("/")

    def _auto_finalize(self, tx: Transaction, delay: float | None, state: str) -> None:
        if delay is None:
            return

        async def job() -> None:
            if not tx.is_final:
                self.finalize(tx, state)

        tx.job_id = self.scheduler.call_later(delay, job, name=f"payu auto-final {tx.id}")

    # ---------------------------------------------------------------------------------------- moves

    def finalize(self, tx: Transaction, state: str, response_code: str | None = None) -> None:
        """Make a pending transaction final and send its confirmation (ValueError if not allowed)."""
        code = check_final(state, response_code)
        if tx.is_final:
            raise ValueError(f"transaction {tx.id} is already final ({tx.state})")
        if tx.job_id is not None:
            self.scheduler.cancel(tx.job_id)
            tx.job_id = None
        self.store.finalize(tx, state, code, self.clock.now())
        self._journal_state(tx, "final")
        self._confirm(self.store.order_of(tx), tx)

    def retry(self, order: Order, state: str, response_code: str | None = None) -> Transaction:
        """The buyer pays ``order`` again with the same card: another transaction in the same order (PayU lists
        both under the reference and confirms each with the order's ``reference_pol``), ``state`` at once and
        confirmed, or ``PENDING`` until ``finalize``. ValueError, before anything is stored, when not allowed.

        Usage: ``gateway.retry(gateway.store.latest_order("ORD-1-a"), "DECLINED")``
        """
        first = order.transactions[0]
        if first.kind != "CARD":
            raise ValueError(f"order {order.id} is paid by {first.payment_method}: only card orders are retried")
        if state != "PENDING":
            check_final(state, response_code)
        elif response_code is not None:
            raise ValueError("a PENDING transaction takes no response_code")
        now = self.clock.now()
        tx = Transaction(
            id=self.store.new_uuid(),
            order_id=order.id,
            payment_method=first.payment_method,
            payment_country=first.payment_country,
            type=first.type,
            state="PENDING",
            response_code="PENDING_TRANSACTION_CONFIRMATION",
            created_at=now,
            operation_date=epoch_ms(now),
            payment_network=first.payment_network,
            pending_reason="PENDING_REVIEW",
            trazability_code=f"CRED - {self.store.digits(9)}",
            extra_parameters=dict(first.extra_parameters),
            request_extra=dict(first.request_extra),
            card=first.card,
            payer=dict(first.payer),
            installments=first.installments,
            ip_address=first.ip_address,
            device_session_id=first.device_session_id,
        )
        self.store.add_retry(order, tx)
        self._journal_state(tx, "created")
        if state == "PENDING":
            self._auto_finalize(tx, self.config.pending_card_delay_seconds, self.config.pending_card_final_state)
        else:
            self.finalize(tx, state, response_code)
        return tx

    def pay_voucher(self, tx: Transaction) -> None:
        """A customer pays the cash voucher; PayU confirms after the configured lag."""
        if tx.is_final or tx.paid_at is not None:
            raise ValueError(f"voucher {tx.id} is not payable (state {tx.state})")
        if tx.expires_at is not None and self.clock.now() >= tx.expires_at:
            raise ValueError(f"voucher {tx.id} has expired")
        if tx.job_id is not None:
            self.scheduler.cancel(tx.job_id)
            tx.job_id = None
        tx.paid_at = self.clock.now()
        delay = self.config.cash_confirmation_delay_seconds
        if delay <= 0:
            self.finalize(tx, "APPROVED")
            return

        async def confirm() -> None:
            tx.job_id = None
            if not tx.is_final:
                self.finalize(tx, "APPROVED")

        tx.job_id = self.scheduler.call_later(delay, confirm, name=f"payu cash confirmation {tx.id}")

    def _confirm(self, order: Order, tx: Transaction) -> None:
        url = order.notify_url or self.confirmation_url
        if not url:
            self.journal.record("state", gateway="payu", transaction_id=tx.id, event="no_confirmation_url")
            return
        fields = confirmation_fields(order, tx, merchant_id=self.config.merchant_id)
        state_pol, _ = response_code_pol(tx.response_code)
        builder = ConfirmationBuilder(fields, self.signer)
        key = f"{order.reference_code}:{tx.id}:{state_pol}"
        self.dispatcher.send(WebhookMessage("payu", "confirmation", url, key, builder))

    def _journal_state(self, tx: Transaction, event: str) -> None:
        self.journal.record(
            "state",
            gateway="payu",
            event=event,
            transaction_id=tx.id,
            order_id=tx.order_id,
            state=tx.state,
            response_code=tx.response_code,
        )


def _installments(extra: dict[str, Any]) -> int:
    raw = extra.get("INSTALLMENTS_NUMBER", 1)
    try:
        n = int(str(raw))
    except ValueError as exc:
        raise BadRequest("extraParameters.INSTALLMENTS_NUMBER must be a whole number") from exc
    if not 1 <= n <= 36:
        raise BadRequest("extraParameters.INSTALLMENTS_NUMBER must be 1 to 36")
    return n
