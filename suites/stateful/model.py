"""The payment lifecycle as the documentation states it, written without the core's code: the stateful suite's model.

Rules (core/README.md, the state machine's table, the webhook identity):

* a transaction starts ``pending``; the first final status to arrive wins; a later, different final status is
  refused, a late ``pending`` is only recorded;
* an order is ``paid`` while it holds approved money; otherwise ``failed`` once any of its attempts failed,
  else ``pending``; a second approved transaction keeps both and flags the order for a refund;
* a Wompi event's identity is (transaction id, status): the first event with an identity decides; the same
  identity again with the same data is a duplicate (first answer repeated), with other data a 409 conflict;
* an event whose amount or currency differs from the transaction is refused (422), applies nothing and does
  not take the identity: the genuine event after it still applies;
* an order is payable through the API while ``pending`` or ``failed`` (else 409 ``order_not_payable``),
  and only while none of its attempts is live (``pending``): a second attempt, whatever its key or method,
  gets 409 ``payment_attempt_live`` naming the live one, and the database refuses a second pending row
  outright; once that attempt is final and failed a new one is allowed.

Usage::

    model = Model()
    model.add_order(1, Decimal("50000.00"))
    model.add_transaction(7, order_id=1, gateway_id="118437-1-00001", reference="ORD-1-ab", amount=Decimal("50000.00"))
    assert model.event("118437-1-00001", "APPROVED", 5_000_000, "COP", "ORD-1-ab") == 200
    assert model.pay_answer(1) == (200, None)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

FAILED = frozenset({"declined", "error", "expired"})
FINAL = FAILED | {"approved"}
PAYABLE = frozenset({"pending", "failed"})


@dataclass
class Transaction:
    id: int
    order_id: int
    gateway_id: str
    reference: str
    amount: Decimal
    status: str = "pending"

    @property
    def cents(self) -> int:
        return int(self.amount * 100)


@dataclass
class Order:
    id: int
    total: Decimal
    failed_once: bool = False
    # A genuine APPROVED arrived for an attempt already failed: refused, but the order is flagged for a refund.
    late_approval: bool = False
    transactions: list[int] = field(default_factory=list)


@dataclass
class OrderView:
    status: str
    approved: Decimal
    flagged: bool


class Model:
    """What the database must say, step by step."""

    def __init__(self) -> None:
        self.orders: dict[int, Order] = {}
        self.transactions: dict[int, Transaction] = {}
        self.by_gateway_id: dict[str, Transaction] = {}
        # (gateway id, status) → (identity data of the first event, the answer it got)
        self.identities: dict[tuple[str, str], tuple[tuple[int, str, str], int]] = {}

    def add_order(self, order_id: int, total: Decimal) -> None:
        self.orders[order_id] = Order(order_id, total)

    def add_transaction(self, txn_id: int, *, order_id: int, gateway_id: str, reference: str, amount: Decimal) -> None:
        txn = Transaction(txn_id, order_id, gateway_id, reference, amount)
        self.transactions[txn_id] = txn
        self.by_gateway_id[gateway_id] = txn
        self.orders[order_id].transactions.append(txn_id)

    def payable(self, order_id: int) -> bool:
        return self.view(order_id).status in PAYABLE

    def live_attempt(self, order_id: int) -> Transaction | None:
        live = [self.transactions[t] for t in self.orders[order_id].transactions
                if self.transactions[t].status == "pending"]
        assert len(live) <= 1, live  # the model's own rule: never two
        return live[0] if live else None

    def pay_answer(self, order_id: int) -> tuple[int, str | None]:
        """What ``POST /payments/process`` must answer for this order now: (status, error code)."""
        if not self.payable(order_id):
            return 409, "order_not_payable"
        if self.live_attempt(order_id) is not None:
            return 409, "payment_attempt_live"
        return 200, None

    def view(self, order_id: int) -> OrderView:
        order = self.orders[order_id]
        approved = [
            self.transactions[t].amount for t in order.transactions if self.transactions[t].status == "approved"
        ]
        total = sum(approved, Decimal("0.00"))
        status = "paid" if approved else "failed" if order.failed_once else "pending"
        return OrderView(status=status, approved=total, flagged=len(approved) > 1 or order.late_approval)

    def event(self, gateway_id: str, status: str, cents: int, currency: str, reference: str) -> int:
        """Apply one genuine (correctly signed, fresh) event; returns the HTTP status the core must answer."""
        key, identity = (gateway_id, status), (cents, currency, reference)
        txn = self.by_gateway_id[gateway_id]
        if cents != txn.cents or currency != "COP":
            return 422
        if key in self.identities:
            first, answer = self.identities[key]
            return answer if first == identity else 409
        self.identities[key] = (identity, 200)
        self._transition(txn, status.lower())
        return 200

    def _transition(self, txn: Transaction, incoming: str) -> None:
        if txn.status in FAILED and incoming == "approved":
            self.orders[txn.order_id].late_approval = True
        if txn.status != "pending" or incoming == "pending":
            return  # a final status never changes; a late pending is only recorded
        txn.status = incoming
        if incoming in FAILED:
            self.orders[txn.order_id].failed_once = True
