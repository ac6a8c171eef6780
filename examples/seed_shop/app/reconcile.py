"""The hardened shop's Efecty reconciliation (fix for seed S15): pending vouchers read back, paid ones applied.

Efecty tells a merchant nothing when cash is paid at a counter (its collection is a daily file), and the seed's
shop waits for someone to confirm each payment by hand. The hardened shop reads its pending vouchers back every
``EFECTY_RECONCILE_SECONDS`` and pays the order of each voucher Efecty says is PAID, under the order's row lock,
for the order's exact total only.

Usage (the app's lifespan): ``task = asyncio.create_task(reconcile_forever(app.state, 60.0))``.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update

from examples.seed_shop.app.api.webhooks import PAYABLE_BY_EVENT
from examples.seed_shop.app.services import PaymentError

logger = logging.getLogger("seed_shop.reconcile")


async def reconcile_once(st: Any) -> int:
    """One round over every pending Efecty payment; how many it applied."""
    txns = st.tables.transactions
    async with st.engine.connect() as conn:
        pending = (await conn.execute(select(txns.c.id, txns.c.gateway_reference).where(
            txns.c.gateway == "efecty", txns.c.status == "PENDING"))).all()
    applied = 0
    for row in pending:
        try:
            voucher = await st.efecty.voucher(row.gateway_reference)
        except PaymentError as exc:  # this voucher waits for the next round; the others go on
            logger.warning("efecty voucher %s not read: %s", row.gateway_reference, exc)
            continue
        if voucher.get("status") in ("PAID", "EXPIRED"):
            applied += await _apply(st, row.id, str(voucher["status"]), Decimal(str(voucher.get("amount"))))
    return applied


async def _apply(st: Any, txn_id: int, status: str, amount: Decimal) -> int:
    t = st.tables
    txns = t.transactions
    async with st.engine.begin() as conn:
        order_id = select(txns.c.order_id).where(txns.c.id == txn_id).scalar_subquery()
        # The order's lock first, as the webhooks take it: a round and an event never apply one payment twice.
        order = (await conn.execute(select(t.orders).where(t.orders.c.id == order_id).with_for_update())).one()
        current = (await conn.execute(select(txns.c.status).where(txns.c.id == txn_id))).scalar_one()
        if current != "PENDING":
            return 0
        if status == "EXPIRED":
            await conn.execute(update(txns).where(txns.c.id == txn_id).values(status="VOIDED"))
            return 0
        if amount != order.total:  # Efecty's cashier takes the exact amount; anything else is for a person to see
            logger.error("efecty voucher of order %s paid %s, the order is %s", order.id, amount, order.total)
            await conn.execute(update(txns).where(txns.c.id == txn_id).values(status="ERROR"))
            return 0
        await conn.execute(update(txns).where(txns.c.id == txn_id).values(status="APPROVED"))
        if order.status in PAYABLE_BY_EVENT:
            await conn.execute(update(t.orders).where(t.orders.c.id == order.id).values(
                status="PAID", amount_paid=amount))
    return 1


async def reconcile_forever(st: Any, every: float) -> None:
    """Rounds ``every`` seconds apart until cancelled; a round that fails is logged and the next one runs."""
    while True:
        try:
            await reconcile_once(st)
        except Exception:
            logger.exception("efecty reconciliation round failed")
        await asyncio.sleep(every)
