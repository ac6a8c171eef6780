"""The shop's tables under the seed's names (orders, order_transactions, webhook_events), weak or hardened.

SQLAlchemy Core tables rather than the seed's ORM classes, so that one function can describe both schemas
and each fix sits beside the column it changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)


@dataclass(frozen=True)
class Tables:
    metadata: MetaData
    orders: Table
    transactions: Table
    webhook_events: Table
    payment_attempts: Table


def _timestamps() -> list[Column]:
    return [Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
            Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now(),
                   onupdate=func.now())]


def build_tables(hardened: bool) -> Tables:
    """The schema of one variant of the shop."""
    metadata = MetaData()
    if hardened:
        money: Float | Numeric = Numeric(14, 2, asdecimal=True)  # fix for seed S3: exact to the cent
    else:
        money = Float(asdecimal=False)  # seed S3: float money (Column(Float) is DOUBLE PRECISION in Postgres)

    orders = Table(
        "orders", metadata,
        Column("id", Integer, primary_key=True),
        Column("buyer_id", Integer, nullable=False),
        Column("total", money, nullable=False),
        Column("currency", String(3), nullable=False),
        Column("status", String(20), nullable=False, server_default="PENDING"),  # PENDING PAID FAILED CANCELLED
        Column("amount_paid", money, nullable=False, server_default="0"),
        *_timestamps(),
        # seed S11/S20: no amount check in the database; the fix adds it as the last line of defence.
        *([CheckConstraint("total > 0", name="ck_orders_total_positive")] if hardened else []),
    )
    transactions = Table(
        "order_transactions", metadata,
        Column("id", Integer, primary_key=True),
        Column("order_id", Integer, ForeignKey("orders.id"), nullable=False, index=True),
        Column("gateway", String(20), nullable=False),
        Column("gateway_transaction_id", String(100)),
        Column("gateway_reference", String(100)),  # the reference sent to the gateway; the Efecty code (seed S14)
        Column("amount", money, nullable=False),
        Column("status", String(20), nullable=False),  # PENDING APPROVED DECLINED ERROR VOIDED
        Column("gateway_response", Text),  # seed S10: unlimited TEXT (the fix bounds what reaches it)
        *_timestamps(),
        *([
            # Fixes for seed S4 and S5: a gateway transaction and an Efecty code are stored once.
            UniqueConstraint("gateway", "gateway_transaction_id", name="uq_gateway_txn"),
            Index("uq_efecty_payment_code", "gateway_reference", unique=True,
                  postgresql_where=text("gateway = 'efecty'")),
            CheckConstraint("amount > 0", name="ck_order_transactions_amount_positive"),
        ] if hardened else []),
    )
    webhook_events = Table(
        "webhook_events", metadata,
        Column("id", Integer, primary_key=True),
        Column("gateway", String(20), nullable=False),
        Column("event_id", String(200)),
        Column("event_type", String(50)),
        Column("gateway_transaction_id", String(100)),
        Column("signature", String(128)),
        Column("signature_valid", Boolean, nullable=False, server_default="false"),
        Column("processed", Boolean, nullable=False, server_default="false"),
        Column("payload", Text),  # seed S10: the raw body, whatever its size
        # seed S6: the weak shop never sets this link; the hardened one does.
        Column("transaction_id", Integer, ForeignKey("order_transactions.id"), nullable=True),
        Column("error", Text),
        *_timestamps(),
        # Fix for seed S7: one row per event identity, enforced by Postgres rather than by a prior SELECT.
        *([UniqueConstraint("gateway", "event_id", name="uq_webhook_event")] if hardened else []),
    )
    # Every card payment attempt, per buyer: the hardened shop counts them for its rate limit (seed S9).
    payment_attempts = Table(
        "payment_attempts", metadata,
        Column("id", Integer, primary_key=True),
        Column("buyer_id", Integer, nullable=False, index=True),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    return Tables(metadata, orders, transactions, webhook_events, payment_attempts)
