"""Orders and their payment status, kept in memory (a real shop would use its database)."""

import threading
from dataclasses import dataclass, field
from decimal import Decimal

# An order moves from NEW to PENDING when the gateway accepted the charge, and to PAID or DECLINED when
# the gateway says so; GATEWAY_ERROR means the charge could not be placed and the customer may retry.
FINAL = frozenset({"PAID", "DECLINED"})


@dataclass
class Order:
    reference: str
    amount: Decimal
    gateway: str
    status: str = "NEW"
    gateway_id: str | None = None
    history: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "reference": self.reference,
            "amount": f"{self.amount:.2f}",
            "gateway": self.gateway,
            "status": self.status,
            "gateway_id": self.gateway_id,
            "history": list(self.history),
        }


class OrderBook:
    """Thread-safe, in-memory orders by reference."""

    def __init__(self) -> None:
        self._orders: dict[str, Order] = {}
        self._lock = threading.Lock()

    def add(self, order: Order) -> Order:
        with self._lock:
            if order.reference in self._orders:
                raise KeyError(order.reference)
            self._orders[order.reference] = order
            return order

    def get(self, reference: str) -> Order | None:
        with self._lock:
            return self._orders.get(reference)

    def set_status(self, reference: str, status: str, *, gateway_id: str | None = None) -> Order | None:
        """Move an order on; a final status is never overwritten (a late or repeated webhook is a no-op)."""
        with self._lock:
            order = self._orders.get(reference)
            if order is None or order.status in FINAL:
                return order
            order.status = status
            order.history.append(status)
            if gateway_id is not None:
                order.gateway_id = gateway_id
            return order
