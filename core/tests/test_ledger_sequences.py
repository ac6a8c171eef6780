"""Any sequence of gateway words about an order's attempts keeps the order's money consistent (attack4).

``change_for`` decides one word at a time; this drives it through arbitrary sequences — several attempts of
different amounts, every status, repeats, out of order — applying each change as the executors do, and checks
after every step what the books must say whatever came before:

- the order's approved amount is exactly the sum of its approved attempts' amounts;
- an order holding approved money is paid; one holding none is never paid;
- two approved attempts, or an approval the core had closed as failed, leave the order flagged for a refund;
- a final status never changes, except an approval that is voided.

Searched for a sequence that breaks one of these; found none (the area holds). The test stands as its proof.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from hypothesis import example, given
from hypothesis import strategies as st

from core.db.models import Gateway, OrderStatus, TransactionStatus
from core.payments.ledger import LockedOrder, TransactionRow, change_for
from core.payments.statemachine import FAILED, FINAL

AMOUNTS = st.decimals(min_value=Decimal("1.00"), max_value=Decimal("99999999.99"), places=2)
WORDS = st.lists(st.tuples(st.integers(0, 2), st.sampled_from(list(TransactionStatus))), max_size=25)


_A, _V, _D = TransactionStatus.APPROVED, TransactionStatus.VOIDED, TransactionStatus.DECLINED


# The shapes every run must try, whatever the profile's number of examples: an approval voided, two approvals
# (one voided after), a late approval of a declined attempt.
@example([Decimal("10.00")], [(0, _A), (0, _V)])
@example([Decimal("10.00"), Decimal("20.00")], [(0, _A), (1, _A), (0, _V)])
@example([Decimal("10.00")], [(0, _D), (0, _A)])
@given(st.lists(AMOUNTS, min_size=1, max_size=3), WORDS)
def test_every_sequence_of_words_keeps_the_books(amounts: list[Decimal], words: list[tuple[int, TransactionStatus]],
                                                 ) -> None:
    total = sum(amounts, Decimal(0))
    order = LockedOrder(1, OrderStatus.PENDING, total, Decimal("0.00"), "COP", False)
    txns = [TransactionRow(n + 1, 1, Gateway.WOMPI, TransactionStatus.PENDING, amount, "COP", f"R-{n}", None)
            for n, amount in enumerate(amounts)]
    late_approval = False
    for index, incoming in words:
        txn = txns[index % len(txns)]
        late_approval |= incoming is TransactionStatus.APPROVED and txn.status in FAILED
        change = change_for(order, txn, incoming)
        if change.transaction_status is not None:
            assert txn.status not in FINAL or (txn.status, change.transaction_status) == (
                TransactionStatus.APPROVED, TransactionStatus.VOIDED), (txn.status, change.transaction_status)
            txns[index % len(txns)] = replace(txn, status=change.transaction_status)
        if change.order_status is not None:
            order = replace(order, status=change.order_status, approved_amount=change.approved_amount,
                            flagged_for_refund=order.flagged_for_refund or change.flag_reason is not None)
        approved = [t for t in txns if t.status is TransactionStatus.APPROVED]
        assert order.approved_amount == sum((t.amount for t in approved), Decimal(0))
        assert (order.status is OrderStatus.PAID) is (order.approved_amount > 0), (order, txns)
        if len(approved) > 1 or late_approval:
            assert order.flagged_for_refund
