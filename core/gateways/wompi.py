"""Wompi client: acceptance tokens, card/Nequi tokens, transactions and PSE banks on an injected client.

``POST /v1/transactions`` is retried even though it charges, because Wompi refuses a second
transaction with the same ``reference`` (422 "La referencia ya ha sido usada"). When that refusal
comes back, the client reads the transaction by reference and returns it, provided amount and
currency are the ones we asked for.

Usage::

    wompi = WompiClient(http, WompiConfig(public_key="pub_test_...", private_key=SecretStr("prv_test_..."),
                                          integrity_secret=SecretStr("test_integrity_...")))
    tokens = await wompi.acceptance_tokens()
    tx = await wompi.create_transaction(reference="order-1-a", amount=Decimal("24900"),
                                        customer_email="a@b.co", payment_method=NequiMethod("3991111111"),
                                        acceptance_token=tokens.acceptance_token)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from core.gateways._http import ErrorFamily, GatewayClientBase, loads
from core.gateways.errors import (
    WompiAuthenticationError,
    WompiError,
    WompiNetworkError,
    WompiNotFoundError,
    WompiTransactionError,
    WompiValidationError,
)
from core.gateways.resilience import BreakerPolicy, RetryPolicy, Timeouts
from core.gateways.wompi_models import (
    FAILED_STATUSES,
    AcceptanceTokens,
    CardToken,
    NequiToken,
    PaymentMethod,
    PseBank,
    WompiTransaction,
)
from core.money import to_cents
from core.signing.wompi import integrity_signature

__all__ = ["WompiClient", "WompiConfig"]

WOMPI_ERRORS = ErrorFamily(
    network=WompiNetworkError,
    authentication=WompiAuthenticationError,
    validation=WompiValidationError,
    transaction=WompiTransactionError,
)


@dataclass(frozen=True, kw_only=True)
class WompiConfig:
    """Where and as whom the core talks to Wompi. ``base_url`` includes ``/v1`` as Wompi's docs write it."""

    public_key: str
    private_key: SecretStr
    integrity_secret: SecretStr
    base_url: str = "https://sandbox.wompi.co/v1"
    timeouts: Timeouts = field(default_factory=Timeouts)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    breaker: BreakerPolicy = field(default_factory=BreakerPolicy)

    def url(self, path: str) -> str:
        return f"{self.base_url.rstrip('/')}/{path.lstrip('/')}"


def _error_body(response: httpx.Response) -> Mapping[str, Any]:
    try:
        payload = loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return {}
    error = payload.get("error") if isinstance(payload, Mapping) else None
    return error if isinstance(error, Mapping) else {}


def _raise_for_status(response: httpx.Response, operation: str) -> None:
    status = response.status_code
    if status < 400:
        return
    error = _error_body(response)
    kind = _str_or_none(error.get("type"))
    reason = str(error.get("reason") or kind or "request refused")[:300]
    messages = error.get("messages")
    details = dict(messages) if isinstance(messages, Mapping) else None
    common: dict[str, Any] = {"operation": operation, "status_code": status, "error_code": kind}
    if status in (401, 403):
        raise WompiAuthenticationError(reason, **common)
    if status == 404:
        raise WompiNotFoundError(reason, **common)
    if kind == "UNPROCESSABLE":
        raise WompiTransactionError(reason, **common)
    raise WompiValidationError(reason, details=details, **common)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


class WompiClient(GatewayClientBase[WompiConfig]):
    """Async Wompi client; one instance (and one breaker) per process is intended."""

    gateway = "wompi"
    errors = WOMPI_ERRORS

    def _auth(self, private: bool) -> dict[str, str]:
        key = self.config.private_key.get_secret_value() if private else self.config.public_key
        return {"Authorization": f"Bearer {key}", "Accept": "application/json"}

    async def _call(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        retry: bool,
        private: bool,
        extract: Callable[[Any], Any],
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        def parse(response: httpx.Response) -> Any:
            _raise_for_status(response, operation)
            payload = self._caller.decode(response, operation)
            return self._caller.shaped(lambda: extract(payload["data"]), response, operation)

        return await self._caller.request(
            method,
            self.config.url(path),
            operation=operation,
            retry=retry,
            parse=parse,
            headers=self._auth(private),
            json_body=json_body,
            params=params,
        )

    async def acceptance_tokens(self) -> AcceptanceTokens:
        """Fetch the presigned acceptance tokens (``GET /merchants/{public_key}``)."""
        path = f"merchants/{quote(self.config.public_key, safe='')}"
        return await self._call(
            "GET", path, operation="acceptance_tokens", retry=True, private=False, extract=AcceptanceTokens.parse
        )

    async def tokenize_card(
        self, *, number: str, cvc: str, exp_month: str, exp_year: str, card_holder: str
    ) -> CardToken:
        """Tokenise a card with the public key (creates no charge, so it is retried)."""
        body = {"number": number, "cvc": cvc, "exp_month": exp_month, "exp_year": exp_year, "card_holder": card_holder}
        return await self._call(
            "POST",
            "tokens/cards",
            operation="tokenize_card",
            retry=True,
            private=False,
            json_body=body,
            extract=CardToken.parse,
        )

    async def tokenize_nequi(self, phone_number: str) -> NequiToken:
        """Ask Nequi to approve a token. Not retried: a duplicate sends the payer a second push prompt."""
        return await self._call(
            "POST",
            "tokens/nequi",
            operation="tokenize_nequi",
            retry=False,
            private=False,
            json_body={"phone_number": phone_number},
            extract=NequiToken.parse,
        )

    async def pse_banks(self) -> list[PseBank]:
        return await self._call(
            "GET",
            "pse/financial_institutions",
            operation="pse_banks",
            retry=True,
            private=False,
            extract=lambda data: [PseBank.parse(b) for b in data],
        )

    async def get_transaction(self, transaction_id: str) -> WompiTransaction:
        """Re-read a transaction; never raises on a decline (a read reports what is)."""
        path = f"transactions/{quote(transaction_id, safe='')}"
        return await self._call(
            "GET", path, operation="get_transaction", retry=True, private=True, extract=WompiTransaction.parse
        )

    async def find_by_reference(self, reference: str) -> WompiTransaction | None:
        """The transaction carrying our reference, or None. Several would break Wompi's own rule."""
        found: list[WompiTransaction] = await self._call(
            "GET",
            "transactions",
            operation="find_by_reference",
            retry=True,
            private=True,
            params={"reference": reference},
            extract=lambda data: [WompiTransaction.parse(t) for t in data],
        )
        if len(found) > 1:
            raise WompiError(f"{len(found)} transactions share one reference", operation="find_by_reference")
        return found[0] if found else None

    async def create_transaction(
        self,
        *,
        reference: str,
        amount: Decimal,
        customer_email: str,
        payment_method: PaymentMethod,
        acceptance_token: str,
        accept_personal_auth: str | None = None,
        currency: str = "COP",
        customer_data: Mapping[str, str] | None = None,
        redirect_url: str | None = None,
    ) -> WompiTransaction:
        """Create a transaction (amount in cents, integrity signature computed here).

        Raises WompiTransactionError if Wompi reports it already failed.
        """
        cents = to_cents(amount)
        body: dict[str, Any] = {
            "acceptance_token": acceptance_token,
            "amount_in_cents": cents,
            "currency": currency,
            "customer_email": customer_email,
            "payment_method": payment_method.as_json(),
            "reference": reference,
            "signature": integrity_signature(
                reference, cents, currency, self.config.integrity_secret.get_secret_value()
            ),
        }
        if accept_personal_auth:
            body["accept_personal_auth"] = accept_personal_auth
        if customer_data:
            body["customer_data"] = dict(customer_data)
        if redirect_url:
            body["redirect_url"] = redirect_url
        try:
            tx = await self._call(
                "POST",
                "transactions",
                operation="create_transaction",
                retry=True,
                private=True,
                json_body=body,
                extract=WompiTransaction.parse,
            )
        except WompiValidationError as exc:
            if "reference" not in exc.details:
                raise
            tx = await self._existing(reference, cents, currency, exc)
        if tx.status in FAILED_STATUSES:
            raise WompiTransactionError(
                tx.status_message or f"transaction {tx.status}",
                operation="create_transaction",
                error_code=tx.status,
                result=tx,
            )
        return tx

    async def _existing(
        self, reference: str, cents: int, currency: str, refusal: WompiValidationError
    ) -> WompiTransaction:
        # The reference is taken: most likely by our own earlier attempt whose answer we never saw.
        # refusal.outcome_unknown is set (resilience.call_with_retry) when an earlier try of this create
        # may have reached Wompi; then only finding the transaction may end the uncertainty.
        try:
            existing = await self.find_by_reference(reference)
        except WompiError as exc:
            if not refusal.outcome_unknown:
                raise
            # A 429, a 404 or a timeout on the lookup says nothing about the charge our earlier try may
            # have made: reporting the lookup's error would read as "not charged" and free a second charge.
            raise WompiNetworkError(
                "create outcome unknown and the reference lookup failed",
                operation="create_transaction",
                retryable=False,
                outcome_unknown=True,
            ) from exc
        if existing is None:
            if refusal.outcome_unknown:
                # Wompi says the reference is taken but does not list it (yet): the charge may exist.
                raise WompiNetworkError(
                    "create outcome unknown: the reference is taken but not found",
                    operation="create_transaction",
                    retryable=False,
                    outcome_unknown=True,
                ) from refusal
            raise refusal
        if existing.amount_in_cents != cents or existing.currency != currency:
            # A transaction under our reference exists, with other terms: it may hold money, so it is not
            # a "refused, nothing charged" — the attempt stays pending and its events decide.
            raise WompiValidationError(
                "reference already used by a transaction with another amount or currency",
                operation="create_transaction",
                error_code="REFERENCE_CONFLICT",
                result=existing,
                outcome_unknown=True,
            ) from refusal
        return existing
