"""Request and response models of the core's API: amounts in as JSON strings or integers, out as strings.

A JSON number with a fraction or exponent (``65000.5``, ``1e3``) has already become a binary float by the
time it is parsed, so it is refused outright rather than "converted": ``"65000.50"`` is the way to send
cents. An amount string must match ``AMOUNT_PATTERN`` exactly — no sign, exponent, spaces, underscores or
non-ASCII digits, which Python's ``Decimal`` would otherwise read. Every amount leaving the API is a string
with two decimals.

Every request model derives from ``InputModel``: each string it carries must be storable by Postgres and
each integer must fit a ``bigint`` (``core.storable``), so no buyer input reaches a gateway that the core
could not record afterwards.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from core.money import AMOUNT_INT_MAX, AMOUNT_PATTERN, format_amount, parse_amount_input
from core.storable import BIGINT_MAX, unstorable, unstorable_int

# A row id as a client may send it: positive and within the bigint column it is looked up in.
DbId = Annotated[int, Field(gt=0, le=BIGINT_MAX)]


def _amount_in(value: Any) -> Decimal:
    if isinstance(value, float):
        raise ValueError("amounts are JSON strings or integers, never floating-point numbers")
    try:
        return parse_amount_input(value)
    except TypeError:
        raise ValueError('amount must be a string like "65000.00" or an integer') from None


AmountIn = Annotated[
    Decimal,
    PlainValidator(_amount_in),
    # Explicit: without it pydantic serialises a plain-validated Decimal with a warning.
    PlainSerializer(lambda amount: format_amount(amount), return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": AMOUNT_PATTERN},
                {"type": "integer", "minimum": 0, "maximum": AMOUNT_INT_MAX},
            ],
            "examples": ["65000.00", 65000],
        }
    ),
]
AmountOut = Annotated[str, Field(pattern=r"^-?\d+\.\d{2}$", examples=["65000.00"])]
Currency = Literal["COP"]
Environment = Literal["test", "production"]
BankSource = Literal["wompi", "cache", "stale", "fallback"]


def _storable(value: Any, loc: str) -> None:
    # Iterative: a body may nest containers thousands deep, and recursion would fail on it with a 500.
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            problem = unstorable(item)
        elif isinstance(item, int) and not isinstance(item, bool):
            problem = unstorable_int(item)
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
            continue
        elif isinstance(item, list | tuple | set | frozenset):
            pending.extend(item)
            continue
        else:
            continue
        if problem is not None:
            raise ValueError(f"{loc} {problem}")


class InputModel(BaseModel):
    """Base of every request body: unknown fields refused, every string and integer storable by Postgres.

    The check runs on every field of every subclass, so a field added later is covered without a word.
    """

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _storable_input(cls, value: Any, info: ValidationInfo) -> Any:
        _storable(value, info.field_name or "value")
        return value


def exact_integer_bounds(spec: dict[str, Any]) -> dict[str, Any]:
    """Give integer schemas in an OpenAPI document their bounds back as integers, in place.

    FastAPI's OpenAPI model types ``maximum``/``minimum`` as floats, and ``2**63 - 1`` as a float is
    ``2**63``: a published bound one past the column, which a schema-driven client takes at its word.
    """
    pending: list[Any] = [spec]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if node.get("type") == "integer":
                for key in ("maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum"):
                    bound = node.get(key)
                    if isinstance(bound, float) and bound.is_integer():
                        node[key] = min(int(bound), BIGINT_MAX)
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return spec


def amount_out(value: Decimal) -> str:
    return format_amount(value)


class ErrorDetail(BaseModel):
    code: str
    message: str
    support_reference: str | None = None


class ErrorOut(BaseModel):
    """Every error answer: ``{"error": {"code", "message", …}}`` (5xx add ``support_reference``)."""

    error: ErrorDetail


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for the listed error statuses, all with the shared error model."""
    text = {
        400: "bad request",
        401: "missing, invalid or expired bearer token",
        403: "wrong role or not yours",
        404: "not found",
        409: "conflict with the resource's state",
        413: "body too large",
        422: "validation failed",
        429: "rate limited (see Retry-After)",
        502: "gateway failed",
        503: "unavailable",
    }
    return {s: {"model": ErrorOut, "description": text.get(s, "error")} for s in statuses}


# -- orders --------------------------------------------------------------------------------------


class OrderIn(InputModel):
    amount: AmountIn = Field(description="Order total in COP: a string with at most two decimals, or an integer.")
    currency: Currency = "COP"


class TransactionOut(BaseModel):
    id: int
    gateway: str
    reference: str = Field(description="The reference sent to the gateway for this attempt.")
    payment_method: str
    amount: AmountOut
    currency: str
    status: str
    gateway_transaction_id: str | None
    created_at: datetime


class OrderOut(BaseModel):
    id: int
    reference: str
    buyer_id: str
    amount: AmountOut
    currency: str
    status: Literal["pending", "paid", "failed", "expired", "cancelled"]
    approved_amount: AmountOut
    outstanding_amount: AmountOut
    flagged_for_refund: bool
    created_at: datetime
    updated_at: datetime
    transactions: list[TransactionOut] = Field(default_factory=list)


# -- payments ------------------------------------------------------------------------------------


class WompiCardIn(InputModel):
    """A card already tokenised in the browser with Wompi's public key (``POST /v1/tokens/cards``)."""

    token: str = Field(min_length=1, max_length=128)
    installments: int = Field(default=1, ge=1, le=36)


class PayUCardIn(InputModel):
    """Card data for PayU's API integration; never stored or logged by the core."""

    # [0-9], not \d: the validator's \d is Unicode and would let Arabic-Indic or full-width digits through.
    number: str = Field(pattern=r"^[0-9]{13,20}$", max_length=20, repr=False)
    cvc: str = Field(pattern=r"^[0-9]{3,4}$", max_length=4, repr=False)
    exp_month: int = Field(ge=1, le=12)
    exp_year: int = Field(ge=2000, le=2100)
    holder: str = Field(min_length=1, max_length=255)
    brand: Literal["VISA", "MASTERCARD", "AMEX", "DINERS", "CODENSA"] = "VISA"
    installments: int = Field(default=1, ge=1, le=36)
    device_session_id: str | None = Field(
        default=None, min_length=1, max_length=255,
        description="PayU's device fingerprint session id from the checkout page; derived when omitted.",
    )


class PayerIn(InputModel):
    """Who pays: PayU needs it for cards."""

    full_name: str = Field(min_length=1, max_length=150)
    phone: str = Field(min_length=7, max_length=20)
    dni_number: str = Field(min_length=3, max_length=20)
    dni_type: str | None = Field(default=None, max_length=3)


class PseIn(InputModel):
    bank_code: str = Field(min_length=1, max_length=16, description="financial_institution_code from /payments/methods")
    user_type: Literal[0, 1] = Field(default=0, description="0 natural person, 1 legal person")
    legal_id_type: Literal["CC", "CE", "NIT", "PP", "TI"] = "CC"
    legal_id: str = Field(min_length=3, max_length=20)


class ProcessPaymentIn(InputModel):
    """Pay an order. Send the same body with the same ``Idempotency-Key`` to retry safely."""

    order_id: DbId
    amount: AmountIn = Field(description="Must equal the order's outstanding amount.")
    currency: Currency
    method: Literal["CARD", "NEQUI", "PSE", "EFECTY"]
    gateway: Literal["wompi", "payu"] | None = Field(
        default=None, description="CARD only: wompi (token, default) or payu (card data)."
    )
    customer_email: str = Field(pattern=r"^[^@\s]{1,64}@[^@\s]{1,190}$", max_length=254)
    acceptance_token: str | None = Field(
        default=None,
        max_length=2048,
        description="Wompi: the acceptance token the payer accepted; fetched by the core when omitted.",
    )
    card: WompiCardIn | PayUCardIn | None = None
    payer: PayerIn | None = None
    nequi_phone: str | None = Field(default=None, pattern=r"^3[0-9]{9}$", max_length=10)
    pse: PseIn | None = None

    @model_validator(mode="after")
    def _method_fields(self) -> ProcessPaymentIn:
        gateway = self.resolved_gateway
        if self.method == "CARD":
            want = PayUCardIn if gateway == "payu" else WompiCardIn
            if not isinstance(self.card, want):
                raise ValueError(f"CARD via {gateway} needs card as {want.__name__}")
            if gateway == "payu" and self.payer is None:
                raise ValueError("CARD via payu needs payer")
        elif self.gateway is not None and self.gateway != gateway:
            raise ValueError(f"{self.method} is processed by {gateway}")
        if self.method == "NEQUI" and not self.nequi_phone:
            raise ValueError("NEQUI needs nequi_phone")
        if self.method == "PSE" and self.pse is None:
            raise ValueError("PSE needs pse")
        if self.method == "PSE" and self.payer is None:
            # Wompi requires customer_data.phone_number and full_name for PSE (gateways.md §2.4).
            raise ValueError("PSE needs payer (full_name and phone)")
        return self

    @property
    def resolved_gateway(self) -> str:
        if self.method == "EFECTY":
            return "efecty"
        if self.method == "CARD":
            return self.gateway or "wompi"
        return "wompi"


class EfectyVoucherOut(BaseModel):
    payment_code: str = Field(description="What the payer says at the Efecty counter.")
    barcode_data: str = Field(description="45 digits; the last is a GS1 mod-10 check digit.")
    amount: AmountOut
    expires_at: datetime
    convenio: str


class ProcessPaymentOut(BaseModel):
    order_id: int
    order_status: str
    transaction: TransactionOut
    redirect_url: str | None = Field(default=None, description="PSE: send the payer here to finish paying.")
    efecty: EfectyVoucherOut | None = None
    message: str | None = None


# -- config and methods --------------------------------------------------------------------------


class PayUPublicConfig(BaseModel):
    merchant_id: str
    account_id: str
    test: bool


class WompiPublicConfig(BaseModel):
    public_key: str
    environment: Environment


class EfectyPublicConfig(BaseModel):
    convenio: str
    voucher_ttl_hours: int


class PublicConfigOut(BaseModel):
    """What a checkout front end may know: public identifiers only, never a private key or secret."""

    environment: Environment
    currency: Currency
    min_amount: AmountOut
    max_amount: AmountOut
    payu: PayUPublicConfig
    wompi: WompiPublicConfig
    efecty: EfectyPublicConfig


class BankOut(BaseModel):
    code: str
    name: str


class MethodOut(BaseModel):
    method: Literal["CARD", "NEQUI", "PSE", "EFECTY"]
    gateways: list[str]
    available: bool = True


class MethodsOut(BaseModel):
    methods: list[MethodOut]
    pse_banks: list[BankOut]
    pse_banks_source: BankSource = Field(
        description="wompi: fetched now; cache: fetched within the cache period; stale: Wompi failed, the last "
        "good list; fallback: Wompi failed and no list was ever fetched, the built-in list."
    )
