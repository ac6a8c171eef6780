"""In-memory Wompi merchant state: acceptance tokens, card/Nequi tokens, transactions, sandbox outcomes.

Usage: ``state = WompiState(config); tx = state.new_transaction(...); state.finalize(tx, now=clock.now())``
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from simulators.wompi.config import WompiConfig

FINAL_STATUSES = frozenset({"APPROVED", "DECLINED", "VOIDED", "ERROR"})
ACCEPTANCE = "END_USER_POLICY"
PERSONAL_DATA = "PERSONAL_DATA_AUTH"

# Sandbox test data (gateways.md §2.10). PSE code "3" -> ERROR is the sandbox bank list's own label.
CARD_APPROVED = "4242424242424242"
CARD_DECLINED = "4111111111111111"
NEQUI_APPROVED = "3991111111"
NEQUI_DECLINED = "3992222222"
PSE_BANKS: tuple[tuple[str, str, str], ...] = (
    ("1", "Banco que aprueba", "APPROVED"),
    ("2", "Banco que declina", "DECLINED"),
    ("3", "Banco que simula un error", "ERROR"),
)

STATUS_MESSAGES = {
    "APPROVED": None,
    "DECLINED": "Fondos Insuficientes",
    "ERROR": "Error en la comunicación con la entidad financiera",
    "VOIDED": "Transacción anulada",
}
EXPIRED_MESSAGE = "La transacción expiró antes de completarse"
# processor_response_code shown for card transactions once final (values chosen; see README).
CARD_PROCESSOR_CODES = {"APPROVED": "00", "DECLINED": "51", "ERROR": "96", "VOIDED": "00"}


def card_outcome(number: str) -> str:
    """Sandbox rule: 4242… approves, 4111… declines, any other card errors."""
    return {CARD_APPROVED: "APPROVED", CARD_DECLINED: "DECLINED"}.get(number, "ERROR")


def nequi_outcome(phone_number: str) -> str:
    """Sandbox rule: 3991111111 approves, 3992222222 declines, any other number errors."""
    return {NEQUI_APPROVED: "APPROVED", NEQUI_DECLINED: "DECLINED"}.get(phone_number, "ERROR")


def pse_outcome(code: str) -> str | None:
    """Sandbox rule by financial institution code; None for a code not in the bank list."""
    return next((outcome for c, _, outcome in PSE_BANKS if c == code), None)


def card_brand(number: str) -> str:
    if number.startswith("4"):
        return "VISA"
    if number[:2] in {"34", "37"}:
        return "AMEX"
    if number[:2] in {"51", "52", "53", "54", "55"} or "2221" <= number[:4] <= "2720":
        return "MASTERCARD"
    return "UNKNOWN"


def iso(moment: datetime | None) -> str | None:
    """Wompi's timestamp format: UTC, milliseconds, trailing Z."""
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class CardToken:
    id: str
    number: str
    cvc: str
    exp_month: str
    exp_year: str
    card_holder: str
    created_at: datetime
    expires_at: datetime

    @property
    def brand(self) -> str:
        return card_brand(self.number)

    def public_data(self) -> dict[str, Any]:
        return {
            "bin": self.number[:6],
            "name": f"{self.brand}-{self.number[-4:]}",
            "brand": self.brand,
            "exp_year": self.exp_year,
            "exp_month": self.exp_month,
            "card_holder": self.card_holder,
            "last_four": self.number[-4:],
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": iso(self.created_at),
            **self.public_data(),
            "expires_at": iso(self.expires_at),
        }


@dataclass
class NequiToken:
    id: str
    phone_number: str
    status: str
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "phone_number": self.phone_number, "name": ""}


@dataclass
class Transaction:
    id: str
    created_at: datetime
    amount_in_cents: int
    reference: str
    customer_email: str
    currency: str
    payment_method_type: str
    payment_method: dict[str, Any]
    outcome: str  # the sandbox result this transaction will reach when it finalises on its own
    redirect_url: str | None = None
    customer_data: dict[str, Any] | None = None
    shipping_address: dict[str, Any] | None = None
    taxes: list[Any] = field(default_factory=list)
    payment_source_id: int | None = None
    status: str = "PENDING"
    status_message: str | None = None
    finalized_at: datetime | None = None
    async_url: str | None = None
    async_url_ready_at: datetime | None = None
    job_id: int | None = None
    # From the request's expiration_time: a transaction still PENDING then can no longer be approved.
    expires_at: datetime | None = None

    def to_json(self, now: datetime, merchant: dict[str, Any]) -> dict[str, Any]:
        method = dict(self.payment_method)
        extra = dict(method.get("extra") or {})
        if self.async_url and self.async_url_ready_at is not None and now >= self.async_url_ready_at:
            extra["async_payment_url"] = self.async_url
        if self.payment_method_type == "CARD" and self.status != "PENDING":
            extra["processor_response_code"] = CARD_PROCESSOR_CODES[self.status]
        method["extra"] = extra
        return {
            "id": self.id,
            "created_at": iso(self.created_at),
            "finalized_at": iso(self.finalized_at),
            "amount_in_cents": self.amount_in_cents,
            "reference": self.reference,
            "customer_email": self.customer_email,
            "currency": self.currency,
            "payment_method_type": self.payment_method_type,
            "payment_method": method,
            "status": self.status,
            "status_message": self.status_message,
            "billing_data": None,
            "shipping_address": self.shipping_address,
            "redirect_url": self.redirect_url,
            "payment_source_id": self.payment_source_id,
            "payment_link_id": None,
            "customer_data": self.customer_data,
            "bill_id": None,
            "taxes": self.taxes,
            "tip_in_cents": None,
            "merchant": merchant,
        }

    def event_view(self) -> dict[str, Any]:
        """The transaction as a transaction.updated event carries it (gateways.md §2.9)."""
        return {
            "id": self.id,
            "amount_in_cents": self.amount_in_cents,
            "reference": self.reference,
            "customer_email": self.customer_email,
            "currency": self.currency,
            "payment_method_type": self.payment_method_type,
            "redirect_url": self.redirect_url,
            "status": self.status,
            "shipping_address": self.shipping_address,
            "payment_link_id": None,
            "payment_source_id": self.payment_source_id,
        }


class WompiState:
    """Every object the simulated merchant account holds; ids are reproducible from the seed."""

    def __init__(self, config: WompiConfig) -> None:
        self.config = config
        self._signing_key = hashlib.sha256(f"acceptance:{config.private_key}".encode()).digest()
        self._merchant_summary: dict[str, Any] | None = None
        # Verified acceptance tokens, so a load test re-using one token skips the HMAC and decode.
        self._verified: dict[str, dict[str, Any]] = {}
        self.reset()

    def reset(self) -> None:
        self.rng = random.Random(self.config.seed)
        self.card_tokens: dict[str, CardToken] = {}
        self.nequi_tokens: dict[str, NequiToken] = {}
        self.transactions: dict[str, Transaction] = {}
        self.by_reference: dict[str, str] = {}
        self._contract_id = 0

    # -- merchant and acceptance tokens -------------------------------------------------------------

    def merchant_summary(self) -> dict[str, Any]:
        """The merchant object embedded in every transaction (built once: it never changes)."""
        if self._merchant_summary is None:
            self._merchant_summary = self._build_merchant_summary()
        return self._merchant_summary

    def _build_merchant_summary(self) -> dict[str, Any]:
        return {
            "id": self.config.merchant_number,
            "name": self.config.merchant_name,
            "legal_name": self.config.merchant_name,
            "contact_name": "Pruebas Payharness",
            "phone_number": "+573000000000",
            "logo_url": None,
            "legal_id_type": "NIT",
            "email": self.config.merchant_email,
            "legal_id": "900000000-1",
            "public_key": self.config.public_key,
        }

    def merchant(self, now: datetime) -> dict[str, Any]:
        """The body of GET /v1/merchants/{public_key}: fresh presigned acceptance tokens each call."""
        base = "https://wompi.com/assets/downloadble"
        return {
            **self.merchant_summary(),
            "accepted_currencies": ["COP"],
            "fraud_javascript_key": None,
            "fraud_groups": [],
            "accepted_payment_methods": ["CARD", "NEQUI", "PSE"],
            "payment_methods": [{"name": m, "payment_processors": []} for m in ("CARD", "NEQUI", "PSE")],
            "presigned_acceptance": {
                "acceptance_token": self._acceptance_token(ACCEPTANCE, now),
                "permalink": f"{base}/reglamento-Usuarios-Colombia.pdf",
                "type": ACCEPTANCE,
            },
            "presigned_personal_data_auth": {
                "acceptance_token": self._acceptance_token(PERSONAL_DATA, now),
                "permalink": f"{base}/autorizacion-administracion-datos-personales.pdf",
                "type": PERSONAL_DATA,
            },
        }

    def _acceptance_token(self, kind: str, now: datetime) -> str:
        # A JWT-shaped string signed with a simulator-only key, so it can be checked without storage.
        self._contract_id += 1
        header = {"alg": "HS256", "typ": "JWT"}
        payload = {
            "contract_id": self._contract_id,
            "type": kind,
            "merchant": self.config.merchant_number,
            "emitted_at": int(now.timestamp()),
            "exp": int(now.timestamp() + self.config.acceptance_token_ttl_seconds),
        }
        signing_input = f"{_b64(json.dumps(header))}.{_b64(json.dumps(payload))}"
        mac = hmac.new(self._signing_key, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(mac)}"

    def acceptance_problem(self, token: object, kind: str, now: datetime) -> str | None:
        """Why an acceptance token is not usable for ``kind`` (None when it is)."""
        payload = self._verified.get(token) if isinstance(token, str) else None
        if payload is None:
            if not isinstance(token, str) or token.count(".") != 2:
                return "El token de aceptación no es válido"
            signing_input, _, mac = token.rpartition(".")
            expected = _b64(hmac.new(self._signing_key, signing_input.encode(), hashlib.sha256).digest())
            if not hmac.compare_digest(mac, expected):
                return "El token de aceptación no es válido"
            payload = json.loads(_unb64(signing_input.split(".")[1]))
            if len(self._verified) >= 10_000:
                self._verified.clear()
            self._verified[token] = payload
        if payload.get("type") != kind:
            return "El token de aceptación no corresponde al tipo esperado"
        if payload.get("exp", 0) < now.timestamp():
            return "El token de aceptación ha expirado"
        return None

    # -- tokens -------------------------------------------------------------------------------------

    def add_card_token(self, fields: dict[str, str], now: datetime) -> CardToken:
        token = CardToken(
            id=f"tok_{self.config.environment}_{self.config.merchant_number}_{self._hex(32)}",
            created_at=now,
            expires_at=now + timedelta(seconds=self.config.card_token_ttl_seconds),
            **fields,
        )
        self.card_tokens[token.id] = token
        return token

    def add_nequi_token(self, phone_number: str, now: datetime) -> NequiToken:
        token = NequiToken(
            id=f"nequi_{self.config.environment}_{self._hex(32)}",
            phone_number=phone_number,
            status="PENDING",
            created_at=now,
        )
        self.nequi_tokens[token.id] = token
        return token

    def settle_nequi_token(self, token: NequiToken) -> None:
        # Tokens have no ERROR state: anything but the approving number is declined.
        approved = nequi_outcome(token.phone_number) == "APPROVED"
        token.status = "APPROVED" if approved else "DECLINED"

    # -- transactions -------------------------------------------------------------------------------

    def reference_used(self, reference: str) -> bool:
        return reference in self.by_reference

    def new_transaction_id(self, now: datetime) -> str:
        prefix = f"{self.config.merchant_number}-{int(now.timestamp())}"
        while True:  # five random digits collide within one busy second; draw again
            candidate = f"{prefix}-{self.rng.randrange(100000):05d}"
            if candidate not in self.transactions:
                return candidate

    def add_transaction(self, tx: Transaction) -> None:
        self.transactions[tx.id] = tx
        self.by_reference[tx.reference] = tx.id

    def find_by_reference(self, reference: str) -> list[Transaction]:
        tx_id = self.by_reference.get(reference)
        return [self.transactions[tx_id]] if tx_id else []

    def finalize(self, tx: Transaction, status: str, now: datetime) -> None:
        """Move a transaction to a final status (or an APPROVED card to VOIDED)."""
        if status not in FINAL_STATUSES:
            raise ValueError(f"not a final status: {status}")
        tx.status = status
        tx.status_message = STATUS_MESSAGES[status]
        tx.finalized_at = now
        tx.job_id = None

    def _hex(self, length: int) -> str:
        return f"{self.rng.getrandbits(length * 4):0{length}x}"


def _b64(data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
