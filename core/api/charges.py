"""One charge attempt at Wompi or PayU for ``POST /payments/process``, reduced to what the core records.

A decline is an answer, not an error: it comes back as a ``ChargeResult`` with a failed status. Every
other gateway error propagates to the caller, which knows (``GatewayError.outcome_unknown``) whether
the charge may exist.

Usage::

    result = await charge(services, request=body, reference="ORD-…-1a2b3c4d", amount=Decimal("65000.00"),
                          description="Order ORD-…", client=ClientInfo(ip="203.0.113.7", user_agent="…"))
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from core.api.schemas import PayUCardIn, ProcessPaymentIn, WompiCardIn
from core.db.models import TransactionStatus
from core.gateways.errors import GatewayError, PayUTransactionError, WompiTransactionError
from core.gateways.payu_models import PayUBuyer, PayUCard, PayUDevice, PayUTransactionResult
from core.gateways.wompi_models import CardMethod, NequiMethod, PaymentMethod, PseMethod, WompiTransaction
from core.money import to_cents
from core.services import Services
from core.webhooks import storable

WOMPI_STATUS = {
    "PENDING": TransactionStatus.PENDING,
    "APPROVED": TransactionStatus.APPROVED,
    "DECLINED": TransactionStatus.DECLINED,
    "VOIDED": TransactionStatus.VOIDED,
    "ERROR": TransactionStatus.ERROR,
}
# SUBMITTED: sent to the card network, unfinished — pending until a confirmation or a query says more.
PAYU_STATUS = {
    "APPROVED": TransactionStatus.APPROVED,
    "DECLINED": TransactionStatus.DECLINED,
    "ERROR": TransactionStatus.ERROR,
    "EXPIRED": TransactionStatus.EXPIRED,
    "PENDING": TransactionStatus.PENDING,
    "SUBMITTED": TransactionStatus.PENDING,
}


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """The payer's device as PayU's anti-fraud wants it."""

    ip: str
    user_agent: str = ""


@dataclass(frozen=True, slots=True)
class ChargeResult:
    status: TransactionStatus
    gateway_transaction_id: str | None
    raw: dict[str, Any]  # a JSON-safe snapshot of the gateway's answer, kept on the transaction
    redirect_url: str | None = None
    amount_matches: bool = True  # False when the gateway reports another amount or currency than we sent
    message: str | None = None

    def storable(self) -> ChargeResult:
        """This answer as Postgres can keep it: the gateway echoes buyer data and its own text (a card holder
        tokenised straight at the gateway never passes our input rules), and a NUL or lone surrogate in any
        of it would fail the write *after* the charge. Text is escaped, the snapshot escaped or bounded with
        the digest of what arrived; an id Postgres cannot store is dropped (the webhook path re-reads it)."""
        # repr() escapes every non-printable character, lone surrogates included: it always encodes.
        digest = hashlib.sha256(repr(self.raw).encode()).hexdigest()
        gid = self.gateway_transaction_id
        return dataclasses.replace(
            self,
            raw=storable.for_storage(self.raw, raw_sha256=digest, acted_on={"status": self.status.value}),
            gateway_transaction_id=gid if gid is None or (storable.clean(gid) and len(gid) <= 128)
            else None,
            redirect_url=storable.text(self.redirect_url) if self.redirect_url is not None else None,
            message=storable.text(self.message) if self.message is not None else None,
        )


def jsonable(value: Any) -> Any:
    """Gateway answer dataclasses → plain JSON (Decimal and datetime as strings; no float ever made)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)


def _wompi_method(body: ProcessPaymentIn, description: str) -> PaymentMethod:
    if body.method == "CARD":
        assert isinstance(body.card, WompiCardIn)
        return CardMethod(token=body.card.token, installments=body.card.installments)
    if body.method == "NEQUI":
        assert body.nequi_phone is not None
        return NequiMethod(body.nequi_phone)
    assert body.pse is not None
    return PseMethod(
        user_type=body.pse.user_type,
        user_legal_id_type=body.pse.legal_id_type,
        user_legal_id=body.pse.legal_id,
        financial_institution_code=body.pse.bank_code,
        payment_description=description,
    )


def _from_wompi(tx: WompiTransaction, amount: Decimal, currency: str) -> ChargeResult:
    return ChargeResult(
        status=WOMPI_STATUS.get(tx.status, TransactionStatus.PENDING),
        gateway_transaction_id=tx.id,
        raw=jsonable(tx),
        redirect_url=tx.async_payment_url,
        amount_matches=tx.amount_in_cents == to_cents(amount) and tx.currency == currency,
        message=tx.status_message,
    )


async def charge_wompi(
    services: Services, body: ProcessPaymentIn, *, reference: str, amount: Decimal, description: str
) -> ChargeResult:
    acceptance, personal = body.acceptance_token, None
    if acceptance is None:
        try:
            tokens = await services.wompi.acceptance_tokens()
        except GatewayError as exc:
            # A read that failed before any charge was sent: whatever its status, no money can have moved,
            # so the buyer gets "not charged" (503) and the key is freed, not "outcome unknown".
            exc.outcome_unknown = False
            raise
        acceptance, personal = tokens.acceptance_token, tokens.personal_data_token
    try:
        tx = await services.wompi.create_transaction(
            reference=reference,
            amount=amount,
            currency=body.currency,
            customer_email=body.customer_email,
            payment_method=_wompi_method(body, description),
            acceptance_token=acceptance,
            accept_personal_auth=personal,
            customer_data=_customer_data(body),
        )
    except WompiTransactionError as exc:
        if isinstance(exc.result, WompiTransaction):
            return _from_wompi(exc.result, amount, body.currency)
        if exc.outcome_unknown:
            # A retry was refused, but an earlier try may have created the charge: not a decline.
            raise
        # UNPROCESSABLE without a transaction (e.g. a declined payment source): nothing was charged.
        return ChargeResult(
            status=TransactionStatus.DECLINED,
            gateway_transaction_id=None,
            raw={"error": exc.error_code, "reason": exc.message},
            message=exc.message,
        )
    return _from_wompi(tx, amount, body.currency)


def _customer_data(body: ProcessPaymentIn) -> dict[str, str] | None:
    if body.payer is None:
        return None
    return {"phone_number": body.payer.phone, "full_name": body.payer.full_name}


def _from_payu(result: PayUTransactionResult) -> ChargeResult:
    return ChargeResult(
        status=PAYU_STATUS.get(result.state, TransactionStatus.PENDING),
        gateway_transaction_id=result.transaction_id,
        raw=jsonable(result),
        redirect_url=result.bank_url,
        message=result.response_message,
    )


async def charge_payu_card(
    services: Services, body: ProcessPaymentIn, *, reference: str, amount: Decimal, description: str, client: ClientInfo
) -> ChargeResult:
    card, payer = body.card, body.payer
    assert isinstance(card, PayUCardIn) and payer is not None
    buyer = PayUBuyer(
        full_name=payer.full_name,
        email=body.customer_email,
        contact_phone=payer.phone,
        dni_number=payer.dni_number,
        dni_type=payer.dni_type,
    )
    payu_card = PayUCard(
        number=card.number,
        security_code=card.cvc,
        name=card.holder,
        expiration_date=f"{card.exp_year:04d}/{card.exp_month:02d}",
        payment_method=card.brand,
        installments=card.installments,
    )
    # PayU marks deviceSessionId mandatory for cards. The checkout page should send its fingerprint
    # session; an API client without one gets a stable id derived from this attempt's reference.
    session = card.device_session_id or hashlib.md5(reference.encode(), usedforsecurity=False).hexdigest()
    device = PayUDevice(ip_address=client.ip, device_session_id=session, user_agent=client.user_agent[:512])
    try:
        result = await services.payu.submit_card(
            reference=reference,
            description=description,
            amount=amount,
            currency=body.currency,
            buyer=buyer,
            card=payu_card,
            device=device,
        )
    except PayUTransactionError as exc:
        if isinstance(exc.result, PayUTransactionResult):
            return _from_payu(exc.result)
        raise
    return _from_payu(result)


async def charge(
    services: Services, body: ProcessPaymentIn, *, reference: str, amount: Decimal, description: str, client: ClientInfo
) -> ChargeResult:
    """Dispatch a CARD, NEQUI or PSE charge to its gateway (EFECTY has its own flow)."""
    if body.resolved_gateway == "payu":
        return await charge_payu_card(
            services, body, reference=reference, amount=amount, description=description, client=client
        )
    return await charge_wompi(services, body, reference=reference, amount=amount, description=description)
