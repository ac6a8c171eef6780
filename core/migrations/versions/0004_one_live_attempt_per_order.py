"""at most one live (pending) payment attempt per order

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 22:40:00

Two ``POST /payments/process`` calls for one order with different Idempotency-Keys (a double click, a
second tab, a retry after a timeout) each created an attempt and each reached the gateway: two charges.
The rule now lives in Postgres: a partial unique index on ``order_id`` over the attempts still ``pending``.
The checkout inserts with ``ON CONFLICT … DO NOTHING`` on this index and answers 409 naming the live attempt;
once an attempt is final (approved, declined, error, expired, voided) it leaves the index and the order may
be paid again (if it is still payable).

Cost, knowingly paid: the predicate reads ``status``, so the update that moves an attempt out of
``pending`` (one per attempt) is no longer HOT on ``order_transactions``; later updates of a final attempt
and every update of ``orders`` still are. A check in Python would keep HOT but cannot hold across the two
uvicorn workers and the webhook path without this index as the last line.

On a database where an order already has two pending attempts the upgrade fails (unique violation): a human
must settle those attempts first; the migration will not pick one.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "uq_order_transactions_one_live_attempt"


def upgrade() -> None:
    op.create_index(
        INDEX,
        "order_transactions",
        ["order_id"],
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="order_transactions")
