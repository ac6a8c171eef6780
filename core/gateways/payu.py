"""PayU Latam client: payments (card, PSE, cash) and queries over one injected ``httpx.AsyncClient``.

PayU is RPC over one URL per API; the ``command`` field picks the operation (gateways.md §1.1).
``SUBMIT_TRANSACTION`` is never re-sent: if it times out or fails after it may have been delivered,
the client asks ``ORDER_DETAIL_BY_REFERENCE_CODE`` what happened instead. Everything else is a read
and is retried with backoff.

Usage::

    async with httpx.AsyncClient() as http:
        payu = PayUClient(http, PayUConfig(api_key=SecretStr("..."), api_login=SecretStr("..."),
                                           merchant_id="508029", account_id="512321"))
        result = await payu.submit_card(reference="order-1-a", description="Order 1",
                                        amount=Decimal("65000"), buyer=buyer, card=card, device=device)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from pydantic import SecretStr

from core.gateways._http import ErrorFamily, GatewayClientBase, loads
from core.gateways.errors import (
    GatewayError,
    PayUAuthenticationError,
    PayUNetworkError,
    PayUTransactionError,
    PayUValidationError,
)
from core.gateways.payu_models import (
    CASH_METHODS,
    FAILED_STATES,
    PayUBank,
    PayUBuyer,
    PayUCard,
    PayUDevice,
    PayUOrder,
    PayUPaymentMethod,
    PayUPse,
    PayUTransactionResult,
)
from core.gateways.resilience import BreakerPolicy, RetryPolicy, Timeouts
from core.money import payu_tx_value
from core.signing.payu import Algorithm, payment_signature

__all__ = ["PayUClient", "PayUConfig"]

PAYU_ERRORS = ErrorFamily(
    network=PayUNetworkError,
    authentication=PayUAuthenticationError,
    validation=PayUValidationError,
    transaction=PayUTransactionError,
)
SUBMIT = "SUBMIT_TRANSACTION"


@dataclass(frozen=True, kw_only=True)
class PayUConfig:
    """Where and as whom the core talks to PayU. Built by the core's settings module."""

    api_key: SecretStr
    api_login: SecretStr
    merchant_id: str
    account_id: str
    base_url: str = "https://sandbox.api.payulatam.com"
    payments_path: str = "/payments-api/4.0/service.cgi"
    queries_path: str = "/reports-api/4.0/service.cgi"
    test: bool = True
    language: str = "es"
    country: str = "CO"
    notify_url: str | None = None
    signature_algorithm: Algorithm = Algorithm.MD5
    # PayU documents ~3 s average and ~1 min worst case; a shorter read timeout would turn slow
    # approvals into "outcome unknown" lookups.
    timeouts: Timeouts = field(default_factory=lambda: Timeouts(read=60.0))
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    breaker: BreakerPolicy = field(default_factory=BreakerPolicy)

    @property
    def payments_url(self) -> str:
        return self.base_url.rstrip("/") + self.payments_path

    @property
    def queries_url(self) -> str:
        return self.base_url.rstrip("/") + self.queries_path


def _lenient(response: httpx.Response) -> Any:
    """Body of an error response if it is JSON; an HTML error page is not worth failing over."""
    try:
        return loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None


def _error_text(payload: Any) -> str:
    if isinstance(payload, Mapping) and payload.get("error"):
        return str(payload["error"])[:300]
    return "request refused"


class PayUClient(GatewayClientBase[PayUConfig]):
    """Async PayU client; one instance (and one breaker) per process is intended."""

    gateway = "payu"
    errors = PAYU_ERRORS

    # -- plumbing ---------------------------------------------------------------------------

    def _envelope(self, command: str, **extra: Any) -> dict[str, Any]:
        return {
            "test": self.config.test,
            "language": self.config.language,
            "command": command,
            "merchant": {
                "apiLogin": self.config.api_login.get_secret_value(),
                "apiKey": self.config.api_key.get_secret_value(),
            },
            **extra,
        }

    def _parse_envelope(self, response: httpx.Response, operation: str) -> Mapping[str, Any]:
        status = response.status_code
        if status in (401, 403):
            raise PayUAuthenticationError("credentials refused", operation=operation, status_code=status)
        if status >= 400:
            raise PayUValidationError(_error_text(_lenient(response)), operation=operation, status_code=status)
        payload = self._caller.decode(response, operation)
        if not isinstance(payload, Mapping) or payload.get("code") not in ("SUCCESS", "ERROR"):
            raise PayUNetworkError(
                "response is not a PayU envelope",
                operation=operation,
                status_code=status,
                outcome_unknown=True,
            )
        if payload["code"] == "ERROR":
            raise PayUValidationError(_error_text(payload), operation=operation, status_code=status, error_code="ERROR")
        return payload

    async def _call(
        self,
        url: str,
        body: dict[str, Any],
        *,
        operation: str,
        retry: bool,
        extract: Callable[[Mapping[str, Any]], Any],
    ) -> Any:
        def parse(response: httpx.Response) -> Any:
            payload = self._parse_envelope(response, operation)
            return self._caller.shaped(lambda: extract(payload), response, operation)

        return await self._caller.request(
            "POST",
            url,
            operation=operation,
            retry=retry,
            json_body=body,
            parse=parse,
            headers={"Accept": "application/json"},
        )

    @staticmethod
    def _checked(result: PayUTransactionResult, operation: str) -> PayUTransactionResult:
        if result.state in FAILED_STATES:
            raise PayUTransactionError(
                result.response_message or f"transaction {result.state}",
                operation=operation,
                error_code=result.response_code or result.state,
                result=result,
            )
        return result

    # -- payments API -----------------------------------------------------------------------

    async def ping(self) -> bool:
        """PING the payments API (health check). Usage: ``await payu.ping()``."""
        await self._call(
            self.config.payments_url,
            self._envelope("PING"),
            operation="PING",
            retry=True,
            extract=lambda payload: None,
        )
        return True

    async def payment_methods(self) -> list[PayUPaymentMethod]:
        body = self._envelope("GET_PAYMENT_METHODS")
        return await self._call(
            self.config.payments_url,
            body,
            operation="GET_PAYMENT_METHODS",
            retry=True,
            extract=lambda p: [PayUPaymentMethod.parse(m) for m in p["paymentMethods"]],
        )

    async def banks(self) -> list[PayUBank]:
        """PSE banks. The first entry PayU returns is a placeholder (pseCode "0"); it is dropped."""
        body = self._envelope(
            "GET_BANKS_LIST",
            bankListInformation={"paymentMethod": "PSE", "paymentCountry": self.config.country},
        )
        banks = await self._call(
            self.config.payments_url,
            body,
            operation="GET_BANKS_LIST",
            retry=True,
            extract=lambda p: [PayUBank.parse(b) for b in p["banks"]],
        )
        return [b for b in banks if b.pse_code != "0"]

    def _order(
        self,
        reference: str,
        description: str,
        amount: Decimal,
        currency: str,
        buyer: PayUBuyer,
        tax: Decimal,
        tax_return_base: Decimal,
    ) -> dict[str, Any]:
        cfg = self.config
        tx_value = payu_tx_value(amount, currency)
        signature = payment_signature(
            cfg.api_key.get_secret_value(),
            cfg.merchant_id,
            reference,
            tx_value,
            currency,
            algorithm=cfg.signature_algorithm,
        )

        def money(value: str) -> dict[str, Any]:
            # Sent as a JSON integer: the value signed above is written without decimals, and Colombia
            # refuses decimals anyway (payu_tx_value refuses fractional COP).
            return {"value": int(value), "currency": currency}

        order: dict[str, Any] = {
            "accountId": cfg.account_id,
            "referenceCode": reference,
            "description": description,
            "language": cfg.language,
            "signature": signature,
            # IVA is sent explicitly: PayU assumes 19 % when TX_TAX is omitted (gateways.md §1.3).
            "additionalValues": {
                "TX_VALUE": money(tx_value),
                "TX_TAX": money(payu_tx_value(tax, currency)),
                "TX_TAX_RETURN_BASE": money(payu_tx_value(tax_return_base, currency)),
            },
            "buyer": buyer.as_buyer(),
        }
        if cfg.notify_url:
            order["notifyUrl"] = cfg.notify_url
        if buyer.address:
            order["shippingAddress"] = buyer.address.as_json()
        return order

    async def _submit(self, reference: str, transaction: dict[str, Any]) -> PayUTransactionResult:
        body = self._envelope(SUBMIT, transaction=transaction)
        try:
            result = await self._call(
                self.config.payments_url,
                body,
                operation=SUBMIT,
                retry=False,
                extract=lambda p: PayUTransactionResult.parse(p["transactionResponse"]),
            )
        except PayUNetworkError as exc:
            if not exc.outcome_unknown:
                raise  # never delivered: the caller may safely submit again
            result = await self._recover_submit(reference, exc)
        return self._checked(result, SUBMIT)

    async def _recover_submit(self, reference: str, cause: PayUNetworkError) -> PayUTransactionResult:
        # The charge may or may not exist at PayU. Re-sending could charge twice, so ask instead.
        def unknown(message: str) -> PayUNetworkError:
            # Whether the submit itself went unanswered is the submit's to say, not the lookup's.
            error = PayUNetworkError(message, operation=SUBMIT, retryable=False, outcome_unknown=True)
            error.unanswered = cause.unanswered
            return error

        try:
            orders = await self.order_by_reference(reference)
        except GatewayError as exc:
            # Any failure here — PayU's, or our breaker opening on the lookup — leaves the charge's fate
            # unknown: it must never read as "not charged" (the caller would then free the retry).
            raise unknown("submit outcome unknown and the reference lookup failed") from exc
        if not orders:
            raise unknown("submit outcome unknown: no order for the reference yet") from cause
        if len(orders) > 1:
            raise unknown(f"{len(orders)} orders share reference; needs review") from cause
        approved = orders[0].approved_charges()
        # A refund or void of a charge, or money taken twice, under the reference: which charge is ours and
        # whether it still stands is a person's call (as for the lookup), never a guess here.
        if returned := orders[0].returned():
            raise unknown(f"PayU lists an approved {returned[0].type} under the reference; needs review") from cause
        if len(approved) > 1:
            raise unknown(f"{len(approved)} approved transactions share reference; needs review") from cause
        # The last transaction may be another charge of the same reference (a buyer paying again): its decline
        # says nothing of ours while any charge is still undecided (the same rule as the webhook and the lookup).
        payment = orders[0].deciding_charge()
        if payment is None or payment.response is None:
            raise unknown("order exists but has no transaction result yet") from cause
        return payment.response

    async def submit_card(
        self,
        *,
        reference: str,
        description: str,
        amount: Decimal,
        buyer: PayUBuyer,
        card: PayUCard,
        device: PayUDevice,
        currency: str = "COP",
        tax: Decimal = Decimal(0),
        tax_return_base: Decimal = Decimal(0),
    ) -> PayUTransactionResult:
        """Charge a card (AUTHORIZATION_AND_CAPTURE). Raises PayUTransactionError on a decline."""
        transaction = {
            "order": self._order(reference, description, amount, currency, buyer, tax, tax_return_base),
            "payer": buyer.as_payer(),
            "creditCard": card.as_json(),
            "extraParameters": {"INSTALLMENTS_NUMBER": card.installments},
            "type": "AUTHORIZATION_AND_CAPTURE",
            "paymentMethod": card.payment_method,
            "paymentCountry": self.config.country,
            **device.as_json(),
        }
        return await self._submit(reference, transaction)

    async def submit_pse(
        self,
        *,
        reference: str,
        description: str,
        amount: Decimal,
        buyer: PayUBuyer,
        pse: PayUPse,
        device: PayUDevice,
        currency: str = "COP",
        tax: Decimal = Decimal(0),
        tax_return_base: Decimal = Decimal(0),
    ) -> PayUTransactionResult:
        """Start a PSE payment; the result is PENDING with ``bank_url`` to redirect the payer to."""
        transaction = {
            "order": self._order(reference, description, amount, currency, buyer, tax, tax_return_base),
            "payer": buyer.as_payer(),
            "extraParameters": {
                "RESPONSE_URL": pse.response_url,
                "PSE_REFERENCE1": device.ip_address,
                "FINANCIAL_INSTITUTION_CODE": pse.financial_institution_code,
                "USER_TYPE": pse.user_type,
                "PSE_REFERENCE2": pse.document_type,
                "PSE_REFERENCE3": pse.document_number,
            },
            "type": "AUTHORIZATION_AND_CAPTURE",
            "paymentMethod": "PSE",
            "paymentCountry": self.config.country,
            **device.as_json(),
        }
        return await self._submit(reference, transaction)

    async def submit_cash(
        self,
        *,
        reference: str,
        description: str,
        amount: Decimal,
        buyer: PayUBuyer,
        ip_address: str,
        method: str = "EFECTY",
        expires_at: datetime | None = None,
        currency: str = "COP",
        tax: Decimal = Decimal(0),
        tax_return_base: Decimal = Decimal(0),
    ) -> PayUTransactionResult:
        """Issue a cash voucher (EFECTY or OTHERS_CASH); the result is PENDING with a payment reference."""
        if method not in CASH_METHODS:
            raise ValueError(f"cash method must be one of {sorted(CASH_METHODS)}")
        transaction: dict[str, Any] = {
            "order": self._order(reference, description, amount, currency, buyer, tax, tax_return_base),
            "payer": buyer.as_payer(),
            "type": "AUTHORIZATION_AND_CAPTURE",
            "paymentMethod": method,
            "paymentCountry": self.config.country,
            "ipAddress": ip_address,
        }
        if expires_at is not None:
            if expires_at.tzinfo is None:
                raise ValueError("expires_at must be timezone-aware")
            # PayU echoes the requested date back as UTC epoch ms (gateways.md §1.8), so send UTC.
            transaction["expirationDate"] = expires_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return await self._submit(reference, transaction)

    # -- queries API ------------------------------------------------------------------------

    async def order_by_reference(self, reference: str) -> list[PayUOrder]:
        """Every PayU order for our reference (normally zero or one)."""
        body = self._envelope("ORDER_DETAIL_BY_REFERENCE_CODE", details={"referenceCode": reference})

        def extract(p: Mapping[str, Any]) -> list[PayUOrder]:
            payload = (p.get("result") or {}).get("payload") or []
            return [PayUOrder.parse(o) for o in payload]

        return await self._call(
            self.config.queries_url,
            body,
            operation="ORDER_DETAIL_BY_REFERENCE_CODE",
            retry=True,
            extract=extract,
        )

    async def order_detail(self, order_id: int) -> PayUOrder:
        body = self._envelope("ORDER_DETAIL", details={"orderId": order_id})
        return await self._call(
            self.config.queries_url,
            body,
            operation="ORDER_DETAIL",
            retry=True,
            extract=lambda p: PayUOrder.parse(p["result"]["payload"]),
        )

    async def transaction_detail(self, transaction_id: str) -> PayUTransactionResult:
        """Re-read one transaction (never raises on a decline: a read reports what is)."""
        body = self._envelope("TRANSACTION_RESPONSE_DETAIL", details={"transactionId": transaction_id})
        return await self._call(
            self.config.queries_url,
            body,
            operation="TRANSACTION_RESPONSE_DETAIL",
            retry=True,
            extract=lambda p: PayUTransactionResult.parse(p["result"]["payload"]),
        )
