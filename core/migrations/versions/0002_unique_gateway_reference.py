"""one gateway reference names one transaction attempt

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 07:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The unique constraint's index serves lookups by (gateway, reference); the old one is redundant.
    op.drop_index("ix_order_transactions_reference", table_name="order_transactions")
    op.create_unique_constraint(
        "uq_order_transactions_gateway_reference", "order_transactions", ["gateway", "reference"]
    )


def downgrade() -> None:
    op.drop_constraint("uq_order_transactions_gateway_reference", "order_transactions", type_="unique")
    op.create_index("ix_order_transactions_reference", "order_transactions", ["reference"], unique=False)
