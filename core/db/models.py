"""The payment schema as SQLAlchemy 2 typed models; Alembic migrations are the only way it reaches a database.

Invariants live here as database constraints, not only in Python (STYLE.md 8): the constraint suite
attacks Postgres directly. Every constraint is named so an IntegrityError says which rule was broken.

Tables::

    orders ──< order_transactions ──< webhook_events ──< webhook_event_conflicts
       │               │
       ├──< efecty_payments
       ├──< idempotency_keys
       └──< payment_anomalies
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Named constraints so Alembic autogenerate and error messages agree on names.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

MONEY = Numeric(15, 2, asdecimal=True)
# The cap on raw gateway payloads kept in JSONB. Gateways send a few KB; anything near this is abuse.
RAW_PAYLOAD_MAX_BYTES = 65_536
_CURRENCY_CHECK = "currency ~ '^[A-Z]{3}$'"


def _payload_cap(column: str) -> str:
    return f"{column} IS NULL OR octet_length({column}::text) <= {RAW_PAYLOAD_MAX_BYTES}"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {Decimal: MONEY, dict[str, Any]: JSONB}  # noqa: RUF012 - SQLAlchemy reads it as is


class Gateway(enum.StrEnum):
    PAYU = "payu"
    WOMPI = "wompi"
    EFECTY = "efecty"


class OrderStatus(enum.StrEnum):
    PENDING = "pending"  # created, not yet paid
    PAID = "paid"
    FAILED = "failed"  # last payment attempt declined/errored; still payable again
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class TransactionStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"
    VOIDED = "voided"
    ERROR = "error"
    EXPIRED = "expired"


class EfectyStatus(enum.StrEnum):
    PENDING = "pending"
    PAID = "paid"
    EXPIRED = "expired"


class EventOutcome(enum.StrEnum):
    APPLIED = "applied"  # moved money state
    RECORDED = "recorded"  # kept for the audit trail, state unchanged (e.g. late PENDING after APPROVED)
    REJECTED = "rejected"  # refused: amount/currency mismatch, unknown transaction


class AnomalyKind(enum.StrEnum):
    AMOUNT_MISMATCH = "amount_mismatch"
    CURRENCY_MISMATCH = "currency_mismatch"
    DOUBLE_PAYMENT = "double_payment"
    IDENTITY_CONFLICT = "identity_conflict"
    UNKNOWN_REFERENCE = "unknown_reference"
    PAID_AFTER_EXPIRY = "paid_after_expiry"
    STATE_REGRESSION_REFUSED = "state_regression_refused"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Store the lower-case values, not the member names, as the Postgres enum labels.
    return Enum(cls, name=name, values_callable=lambda e: [m.value for m in e], validate_strings=True)


class TimestampMixin:
    # Both set by the server: created_at by default, updated_at by the set_updated_at() trigger
    # that the migration installs on every table with this mixin.
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()"), nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()"), nullable=False
    )


class Order(TimestampMixin, Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("total_amount > 0", name="total_amount_positive"),
        CheckConstraint("approved_amount >= 0", name="approved_amount_not_negative"),
        CheckConstraint(_CURRENCY_CHECK, name="currency_iso"),
        # Paid orders must have had money approved; the core keeps approved_amount in step.
        CheckConstraint("status <> 'paid' OR approved_amount > 0", name="paid_has_approved_amount"),
        # Room on each page so a webhook's update stays in place (HOT); see migration 0003.
        {"postgresql_with": {"fillfactor": 85}},
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)  # merchant reference sent to gateways
    buyer_id: Mapped[str] = mapped_column(String(64), index=True)
    total_amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3), server_default=text("'COP'"))
    status: Mapped[OrderStatus] = mapped_column(
        # Not indexed: nothing looks orders up by status, and an index on it would keep every webhook's
        # update from being HOT (migration 0003).
        _enum(OrderStatus, "order_status"), server_default=OrderStatus.PENDING.value
    )
    approved_amount: Mapped[Decimal] = mapped_column(MONEY, server_default=text("0"))
    flagged_for_refund: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    flag_reason: Mapped[str | None] = mapped_column(Text)


class OrderTransaction(TimestampMixin, Base):
    __tablename__ = "order_transactions"
    __table_args__ = (
        UniqueConstraint("gateway", "gateway_transaction_id", name="uq_order_transactions_gateway_txn"),
        # The reference sent to the gateway names one attempt; PayU confirmations are mapped back by it.
        UniqueConstraint("gateway", "reference", name="uq_order_transactions_gateway_reference"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(_CURRENCY_CHECK, name="currency_iso"),
        CheckConstraint(_payload_cap("gateway_response"), name="gateway_response_size"),
        # At most one live attempt per order (migration 0004): a second charge while one may still take the
        # money is refused by Postgres, whichever worker or key asks. The checkout's ON CONFLICT names it.
        Index(
            "uq_order_transactions_one_live_attempt",
            "order_id",
            unique=True,
            postgresql_where=text("status = 'pending'"),
        ),
        {"postgresql_with": {"fillfactor": 85}},
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="RESTRICT"), index=True)
    gateway: Mapped[Gateway] = mapped_column(_enum(Gateway, "gateway"))
    # Null until the gateway has assigned one (an attempt in flight); unique once known.
    gateway_transaction_id: Mapped[str | None] = mapped_column(String(128))
    reference: Mapped[str] = mapped_column(String(255))  # reference sent to the gateway, one per attempt
    payment_method: Mapped[str] = mapped_column(String(32))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[TransactionStatus] = mapped_column(
        # Not indexed, as Order.status.
        _enum(TransactionStatus, "transaction_status"), server_default=TransactionStatus.PENDING.value
    )
    gateway_response: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class WebhookEvent(Base):
    """One accepted (signature-verified) gateway event.

    Identity: ``(gateway, event_key)`` is unique, where ``event_key`` is built from fields the gateway
    signs. The seed report proposed UNIQUE(event_id, signature); that lets the same event id through a
    second time whenever the data (hence the signature) differs — exactly the replay it meant to stop. Here
    a second event with the same identity can never be inserted: the core compares ``payload_sha256`` and
    answers a byte-identical replay with 200 (nothing changes) and a different one with a refusal recorded
    in ``webhook_event_conflicts``.
    """

    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("gateway", "event_key", name="uq_webhook_events_identity"),
        CheckConstraint("payload_sha256 ~ '^[0-9a-f]{64}$'", name="payload_sha256_hex"),
        CheckConstraint(_payload_cap("payload"), name="payload_size"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    gateway: Mapped[Gateway] = mapped_column(_enum(Gateway, "gateway"))
    event_key: Mapped[str] = mapped_column(String(255))
    event_type: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))
    payload_sha256: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    transaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("order_transactions.id", ondelete="RESTRICT"), index=True
    )
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="RESTRICT"), index=True)
    outcome: Mapped[EventOutcome] = mapped_column(_enum(EventOutcome, "event_outcome"))
    detail: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()"), nullable=False
    )


class WebhookEventConflict(Base):
    """A refused event: same identity as an accepted one, different data (a tampered or forged replay)."""

    __tablename__ = "webhook_event_conflicts"
    __table_args__ = (CheckConstraint(_payload_cap("payload"), name="payload_size"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    webhook_event_id: Mapped[int] = mapped_column(ForeignKey("webhook_events.id", ondelete="RESTRICT"), index=True)
    payload_sha256: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()"), nullable=False
    )


class EfectyPayment(TimestampMixin, Base):
    __tablename__ = "efecty_payments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("status <> 'paid' OR paid_at IS NOT NULL", name="paid_has_paid_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="RESTRICT"), index=True)
    transaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("order_transactions.id", ondelete="RESTRICT"), index=True
    )
    payment_code: Mapped[str] = mapped_column(String(50), unique=True)
    barcode_data: Mapped[str] = mapped_column(String(100))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    status: Mapped[EfectyStatus] = mapped_column(
        _enum(EfectyStatus, "efecty_status"), server_default=EfectyStatus.PENDING.value, index=True
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class IdempotencyKey(Base):
    """A buyer's ``Idempotency-Key``: the first request wins, retries get its stored answer."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("buyer_id", "key", name="uq_idempotency_keys_buyer_key"),
        CheckConstraint(_payload_cap("response_body"), name="response_body_size"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    buyer_id: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    request_sha256: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="RESTRICT"), index=True)
    transaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("order_transactions.id", ondelete="RESTRICT"), index=True
    )
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()"), nullable=False
    )


class PaymentAnomaly(Base):
    """Something refused or flagged for a human: mismatched amounts, double payments, conflicts."""

    __tablename__ = "payment_anomalies"
    __table_args__ = (
        CheckConstraint(_payload_cap("detail"), name="detail_size"),
        Index("ix_payment_anomalies_kind_created", "kind", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    kind: Mapped[AnomalyKind] = mapped_column(_enum(AnomalyKind, "anomaly_kind"))
    gateway: Mapped[Gateway | None] = mapped_column(_enum(Gateway, "gateway"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="RESTRICT"), index=True)
    transaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("order_transactions.id", ondelete="RESTRICT"), index=True
    )
    webhook_event_id: Mapped[int | None] = mapped_column(
        ForeignKey("webhook_events.id", ondelete="RESTRICT"), index=True
    )
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()"), nullable=False
    )


TABLES_WITH_UPDATED_AT = ("orders", "order_transactions", "efecty_payments")
