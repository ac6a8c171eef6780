"""The PayU simulator's memory: orders, their transactions, cash vouchers, and the moves between states.

One order per SUBMIT_TRANSACTION (as PayU's API does), with its transaction; a buyer's retry of the order
(``/__admin/payu/references/{reference}/transactions``) adds another transaction to it. Ids are drawn from a
seeded RNG so a run with the same seed gives the same orderIds and transactionIds.

Usage: ``store = PayUStore(seed=0); order = store.new_order(...); store.finalize(tx, "APPROVED", "APPROVED", now)``
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from simulators.payu.sandbox import FINAL_STATES, method_type

# Order status (Queries API) by transaction state, for one-step AUTHORIZATION_AND_CAPTURE.
# UNCONFIRMED for EXPIRED (a cash voucher never paid); chosen: DECLINED.
ORDER_STATUS = {
    "APPROVED": "CAPTURED",
    "DECLINED": "DECLINED",
    "ERROR": "DECLINED",
    "EXPIRED": "DECLINED",
    "PENDING": "IN_PROGRESS",
    "SUBMITTED": "IN_PROGRESS",
}


def epoch_ms(moment: datetime) -> int:
    """PayU's JSON dates (operationDate, EXPIRATION_DATE) are epoch milliseconds."""
    return int(moment.timestamp() * 1000)


@dataclass
class Card:
    """What PayU keeps of a card: the masked number, holder name, franchise and credit/debit."""

    masked_number: str
    holder: str
    franchise: str
    card_type: str  # CREDIT | DEBIT


@dataclass
class Transaction:
    """One payment attempt and its current transactionResponse fields."""

    id: str
    order_id: int
    payment_method: str
    payment_country: str
    type: str
    state: str
    response_code: str
    created_at: datetime
    operation_date: int
    payment_network: str
    response_message: str | None = None
    pending_reason: str | None = None
    payment_network_response_code: str | None = None
    authorization_code: str | None = None
    trazability_code: str | None = None
    extra_parameters: dict[str, Any] = field(default_factory=dict)
    request_extra: dict[str, Any] = field(default_factory=dict)
    card: Card | None = None
    payer: dict[str, Any] = field(default_factory=dict)
    installments: int = 1
    ip_address: str = ""
    device_session_id: str | None = None
    cus: str | None = None  # PSE bank tracking code
    expires_at: datetime | None = None
    finalized_at: datetime | None = None
    paid_at: datetime | None = None
    job_id: int | None = None  # the scheduled expiry or auto-finalisation, cancelled when final

    @property
    def kind(self) -> str:
        return {2: "CARD", 6: "CARD", 4: "PSE", 7: "CASH"}[method_type(self.payment_method)]

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES


@dataclass
class Order:
    """A merchant order (referenceCode, amounts, buyer) and its transactions."""

    id: int
    account_id: str
    reference_code: str
    description: str
    language: str
    notify_url: str | None
    signature: str
    value: Decimal
    currency: str
    tax: Decimal
    tax_return_base: Decimal
    buyer: dict[str, Any]
    shipping_address: dict[str, Any] | None
    is_test: bool
    creation_date: int
    transactions: list[Transaction] = field(default_factory=list)

    @property
    def status(self) -> str:
        # UNCONFIRMED how PayU sums up an order holding several transactions; chosen: money taken by any of them
        # makes it CAPTURED, one still undecided keeps it IN_PROGRESS, otherwise the latest transaction decides.
        if not self.transactions:
            return "NEW"
        states = {tx.state for tx in self.transactions}
        if "APPROVED" in states:
            return "CAPTURED"
        if states & {"PENDING", "SUBMITTED"}:
            return "IN_PROGRESS"
        return ORDER_STATUS.get(self.transactions[-1].state, "IN_PROGRESS")


class PayUStore:
    """In-memory orders and transactions with seeded ids; not thread-safe (one event loop)."""

    # PayU order ids in the docs are ten-digit numbers around 1.4e9; start somewhere in 1.4e9..2.1e9, wide
    # enough that two unseeded runs do not overlap, and below 2**31 for clients that keep them in an int.
    _FIRST_ORDER_ID = 1_400_000_000
    _ORDER_ID_SPREAD = 700_000_000

    def __init__(self, *, seed: int = 0) -> None:
        self._seed = seed
        self.reset()

    def reset(self) -> None:
        self._rng = random.Random(self._seed)
        self._next_order = self._FIRST_ORDER_ID + self._rng.randrange(self._ORDER_ID_SPREAD)
        self.orders: dict[int, Order] = {}
        self.by_reference: dict[str, list[Order]] = {}
        self.transactions: dict[str, Transaction] = {}

    # ids
    def next_order_id(self) -> int:
        self._next_order += self._rng.randrange(1, 40)
        return self._next_order

    def new_uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def digits(self, n: int) -> str:
        return f"{self._rng.randrange(10**n):0{n}d}"

    def hex(self, n: int) -> str:
        return f"{self._rng.getrandbits(4 * n):0{n}x}"

    # storage
    def add(self, order: Order, tx: Transaction) -> None:
        order.transactions.append(tx)
        self.orders[order.id] = order
        self.by_reference.setdefault(order.reference_code, []).append(order)
        self.transactions[tx.id] = tx

    def add_retry(self, order: Order, tx: Transaction) -> None:
        """Another transaction of an order already stored (the buyer paid again under its reference)."""
        order.transactions.append(tx)
        self.transactions[tx.id] = tx

    def latest_order(self, reference: str) -> Order | None:
        orders = self.by_reference.get(reference)
        return orders[-1] if orders else None

    def reference_taken(self, reference: str) -> bool:
        return reference in self.by_reference

    def order_of(self, tx: Transaction) -> Order:
        return self.orders[tx.order_id]

    def find_voucher(self, key: str) -> Transaction | None:
        """A cash transaction by its transactionId or its REFERENCE (the orderId)."""
        tx = self.transactions.get(key)
        if tx is None and key.isascii() and key.isdigit():  # isdigit alone admits '¹', which int() refuses
            order = self.orders.get(int(key))
            tx = order.transactions[-1] if order and order.transactions else None
        return tx if tx is not None and tx.kind == "CASH" else None

    # moves
    def finalize(self, tx: Transaction, state: str, response_code: str, now: datetime) -> None:
        """Move a transaction to a final state; the caller has checked it was pending."""
        if tx.is_final:
            raise ValueError(f"transaction {tx.id} is already {tx.state}")
        tx.state = state
        tx.response_code = response_code
        tx.pending_reason = None
        tx.finalized_at = now
        tx.operation_date = epoch_ms(now)
        if state == "APPROVED":
            tx.authorization_code = tx.authorization_code or self.digits(6)
            tx.payment_network_response_code = "00" if tx.kind != "CARD" else "81"
            tx.response_message = "Approved by the merchant" if tx.kind == "CARD" else None
            if tx.kind == "CASH":
                tx.paid_at = now
        else:
            tx.payment_network_response_code = {"EXPIRED": None}.get(state, "05")
            tx.response_message = None
