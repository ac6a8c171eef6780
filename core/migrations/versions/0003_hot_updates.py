"""webhook updates stay HOT: no index on the status columns, room on each page

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 14:20:00

Every applied webhook updates one order and one transaction, changing their ``status``. With an index on
``status`` Postgres cannot update either row in place (a heap-only tuple, "HOT"): each update writes a new
entry into every index of the table — four on orders, five on order_transactions. Nothing in the core
looks rows up by these statuses (reconciliation finds vouchers by ``efecty_payments.status``, which keeps
its index), so both indexes go. ``fillfactor = 85`` leaves room on each page for the new row version, which
HOT needs once pages fill up. Measured with pgbench on the webhook statements (15 s each, same machine):
8 clients 2,380-3,110 transactions/s before, 3,760-3,920 after; 16 clients 1,940-2,220 before, 2,320-2,770
after; every update HOT after. The seed report asked for the status index; README.md says why it is gone.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("orders", "order_transactions")


def upgrade() -> None:
    op.drop_index("ix_orders_status", table_name="orders")
    op.drop_index("ix_order_transactions_status", table_name="order_transactions")
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} SET (fillfactor = 85)")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
    op.create_index("ix_order_transactions_status", "order_transactions", ["status"], unique=False)
    op.create_index("ix_orders_status", "orders", ["status"], unique=False)
