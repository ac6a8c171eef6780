"""Model vs system (Hypothesis ``RuleBasedStateMachine``): the payment lifecycle through the live core and Wompi.

Rules create orders and pay them through the API (Nequi, card, PSE at the Wompi simulator), seed pending
attempts, deliver signed events (genuine, duplicated, replayed verbatim, stale, future, wrongly signed, or
with another amount) and advance the simulator's clock so its own events arrive — duplicated, reordered,
delayed and replayed by its chaos plan. After every step the database must equal the model, money must be
conserved and no status may go back.

The simulator's events are all delayed (chaos ``delay``) so that none arrives in real time between steps:
they land only inside an ``advance`` rule, in an order the delivery log records, which keeps the model
exact. The clock moves at most ``CLOCK_BUDGET`` seconds per example, inside the core's window for future
event timestamps (the simulator stamps events with its own clock).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest
from hypothesis import Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from suites.conftest import CORE_TABLES, Live
from suites.stateful.model import FINAL, Model
from suites.support.api import token
from suites.support.events import wompi_event
from suites.support.http import sync_client

pytestmark = pytest.mark.scenario("LIFECYCLE-MODEL", "WH-REPLAY")

EVENT_DELAY = 30  # simulated seconds before the simulator's first attempt: real time never gets there in a step
CLOCK_BUDGET = 240  # the core accepts event timestamps up to 300 s ahead of its own clock
MAX_AGE = 49 * 3600  # the core's default window for old events
PAYMENTS = {  # what the payer picks → what the Wompi sandbox will decide
    "nequi-approved": ("NEQUI", "approved"),
    "nequi-declined": ("NEQUI", "declined"),
    "nequi-error": ("NEQUI", "error"),
    "card-approved": ("CARD", "approved"),
    "card-declined": ("CARD", "declined"),
    "pse-approved": ("PSE", "approved"),
    "pse-declined": ("PSE", "declined"),
}
NEQUI_PHONES = {"approved": "3991111111", "declined": "3992222222", "error": "3993333333"}
CARDS = {"approved": "4242424242424242", "declined": "4111111111111111"}
PSE_BANKS = {"approved": "1", "declined": "2"}
# profile → (examples, steps per example, shrink). Shrinking replays whole examples against the live stack and
# can take minutes; outside ``thorough`` a failure is reported as found (at most 30 steps to read).
EXAMPLES = {"dev": (4, 15, False), "ci": (12, 30, False), "thorough": (100, 40, True)}


class Database:
    """One asyncpg connection driven from synchronous rules through a private event loop."""

    def __init__(self, dsn: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.conn: asyncpg.Connection = self.loop.run_until_complete(asyncpg.connect(dsn))

    def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        return list(self.loop.run_until_complete(self.conn.fetch(sql, *args)))

    def fetchval(self, sql: str, *args: Any) -> Any:
        return self.loop.run_until_complete(self.conn.fetchval(sql, *args))

    def close(self) -> None:
        self.loop.run_until_complete(self.conn.close())
        self.loop.close()


class PaymentMachine(RuleBasedStateMachine):
    """Bound to a live stack by ``machine_for``."""

    live: Live
    db: Database
    http: httpx.Client

    orders = Bundle("orders")
    transactions = Bundle("transactions")

    def __init__(self) -> None:
        super().__init__()
        self.model = Model()
        self.buyers: dict[int, dict[str, str]] = {}
        self.history: dict[int, list[str]] = {}  # every status the database showed per transaction
        self.paid: set[int] = set()
        self.sent: list[tuple[bytes, dict[str, str], int]] = []  # posted events with the answer they got
        self.seen_deliveries: set[tuple[Any, ...]] = set()
        self.clock = 0.0
        self.seeded = 0
        self._reset()

    def _reset(self) -> None:
        wompi = self.live.urls["wompi"]
        self.http.post(f"{wompi}/__admin/reset").raise_for_status()
        self.http.put(
            f"{wompi}/__admin/wompi/events-url", json={"url": f"{self.live.urls['core']}/webhooks/wompi"}
        ).raise_for_status()
        self.db.fetch(f"TRUNCATE {', '.join(CORE_TABLES)} RESTART IDENTITY CASCADE")

    @initialize(seed=st.integers(min_value=0, max_value=2**31 - 1))
    def webhook_chaos(self, seed: int) -> None:
        """Every Wompi event delayed (so it lands only when the clock is advanced); some duplicated, some held
        back until a later one overtakes them, some replayed later."""
        chaos = {
            "seed": seed,
            "rules": [
                {"chaos": {"type": "delay", "seconds": EVENT_DELAY}},
                {"chaos": {"type": "duplicate", "times": 2}, "probability": 0.4},
                {"chaos": {"type": "reorder", "max_hold_seconds": 60}, "probability": 0.3},
                {"chaos": {"type": "replay_later", "after_seconds": 20}, "probability": 0.3},
            ],
        }
        self.http.put(f"{self.live.urls['wompi']}/__admin/chaos", json=chaos).raise_for_status()

    # -- rules ------------------------------------------------------------------------------------

    @rule(target=orders, cents=st.integers(min_value=100_000, max_value=5_000_000_00))
    def create_order(self, cents: int) -> int:
        amount = Decimal(cents) / 100
        subject = f"buyer-{secrets.token_hex(4)}"
        headers = {"authorization": f"Bearer {token(self.live, subject, 'buyer')}"}
        response = self.http.post(
            f"{self.core}/orders", json={"amount": f"{amount:.2f}", "currency": "COP"}, headers=headers
        )
        assert response.status_code == 201, response.text
        order_id = int(response.json()["id"])
        self.model.add_order(order_id, amount)
        self.buyers[order_id] = headers
        return order_id

    @rule(target=transactions, order_id=orders, choice=st.sampled_from(sorted(PAYMENTS)))
    def pay_through_wompi(self, order_id: int, choice: str) -> Any:
        method, outcome = PAYMENTS[choice]
        amount = self.model.orders[order_id].total
        body: dict[str, Any] = {
            "order_id": order_id,
            "amount": f"{amount:.2f}",
            "currency": "COP",
            "method": method,
            "customer_email": "comprador@example.com",
        }
        if method == "NEQUI":
            body["nequi_phone"] = NEQUI_PHONES[outcome]
        elif method == "CARD":
            body["card"] = {"token": self._card_token(CARDS[outcome])}
        else:
            body["pse"] = {"bank_code": PSE_BANKS[outcome], "legal_id": "1020304050"}
            body["payer"] = {"full_name": "Ana Pérez", "phone": "3001234567", "dni_number": "1020304050"}
        headers = {**self.buyers[order_id], "idempotency-key": secrets.token_hex(8)}
        response = self.http.post(f"{self.core}/payments/process", json=body, headers=headers)
        status, code = self.model.pay_answer(order_id)
        assert response.status_code == status, (status, code, response.text)
        if code is not None:
            assert response.json()["error"]["code"] == code, response.text
            if code == "payment_attempt_live":
                live = self.model.live_attempt(order_id)
                assert live is not None
                named = response.json()["error"]["live_attempt"]
                assert (named["id"], named["reference"], named["status"]) == (live.id, live.reference, "pending")
            return multiple()
        txn = response.json()["transaction"]
        assert txn["status"] == "pending", txn
        self.model.add_transaction(
            int(txn["id"]),
            order_id=order_id,
            gateway_id=txn["gateway_transaction_id"],
            reference=txn["reference"],
            amount=amount,
        )
        return int(txn["id"])

    @rule(target=transactions, order_id=orders)
    def seed_pending_attempt(self, order_id: int) -> Any:
        """An attempt the core recorded before the gateway answered (or whose answer was lost). Written
        straight to Postgres, past the API: while the order has a live attempt the database refuses it."""
        self.seeded += 1
        amount = self.model.orders[order_id].total
        gateway_id, reference = f"118437-9-{self.seeded:05d}", f"SEED-{order_id}-{secrets.token_hex(4)}"
        insert = (
            "INSERT INTO order_transactions (order_id, gateway, gateway_transaction_id, reference, payment_method,"
            " amount, currency) VALUES ($1, 'wompi', $2, $3, 'NEQUI', $4, 'COP') RETURNING id"
        )
        if self.model.live_attempt(order_id) is not None:
            with pytest.raises(asyncpg.UniqueViolationError, match="uq_order_transactions_one_live_attempt"):
                self.db.fetchval(insert, order_id, gateway_id, reference, amount)
            return multiple()
        txn_id = self.db.fetchval(insert, order_id, gateway_id, reference, amount)
        self.model.add_transaction(
            int(txn_id), order_id=order_id, gateway_id=gateway_id, reference=reference, amount=amount
        )
        return int(txn_id)

    @rule(
        txn_id=transactions,
        status=st.sampled_from(["APPROVED", "DECLINED", "ERROR", "PENDING"]),
        copies=st.integers(min_value=1, max_value=3),
    )
    def deliver_signed_event(self, txn_id: int, status: str, copies: int) -> None:
        """Wompi's event as the gateway would sign it, possibly more than once (at-least-once delivery)."""
        txn = self.model.transactions[txn_id]
        body, headers = self._event(txn.gateway_id, status, txn.cents, txn.reference)
        for _ in range(copies):
            self._post_event(body, headers, self.model.event(txn.gateway_id, status, txn.cents, "COP", txn.reference))

    @rule(
        txn_id=transactions,
        status=st.sampled_from(["APPROVED", "DECLINED", "ERROR"]),
        kind=st.sampled_from(["stale", "future", "wrong_secret", "other_amount"]),
    )
    def deliver_a_suspicious_event(self, txn_id: int, status: str, kind: str) -> None:
        """Signed events the core must not act on: too old, from the future, wrong secret, or another amount."""
        txn = self.model.transactions[txn_id]
        now = int(time.time())
        timestamp = {"stale": now - MAX_AGE - 3600, "future": now + 3600}.get(kind, now)
        cents = txn.cents + (1 if kind == "other_amount" else 0)
        secret = "not-the-merchants-secret" if kind == "wrong_secret" else None
        body, headers = self._event(txn.gateway_id, status, cents, txn.reference, timestamp=timestamp, secret=secret)
        if kind == "other_amount":
            self._post_event(body, headers, self.model.event(txn.gateway_id, status, cents, "COP", txn.reference))
        else:
            self._post_event(body, headers, 401)

    @precondition(lambda self: bool(self.sent))
    @rule(data=st.data())
    def replay_a_captured_event(self, data: st.DataObject) -> None:
        """A captured request sent again byte for byte: the first answer, and nothing changes."""
        body, headers, first = data.draw(st.sampled_from(self.sent))
        self._post_event(body, headers, first, record=False)  # a conflict stays one; otherwise the first answer

    @precondition(lambda self: self.clock + EVENT_DELAY + 5 <= CLOCK_BUDGET)
    @rule(seconds=st.sampled_from([5, EVENT_DELAY + 5]))
    def advance_the_simulator_clock(self, seconds: int) -> None:
        """Let Wompi settle transactions and deliver (duplicated, reordered, replayed) events to the core."""
        response = self.http.post(
            f"{self.live.urls['wompi']}/__admin/clock/advance", json={"seconds": seconds}, timeout=30
        )
        response.raise_for_status()
        self.clock += seconds
        deliveries = self.http.get(f"{self.live.urls['wompi']}/__admin/deliveries").json()
        for attempt in sorted(deliveries, key=lambda d: d["at"] or ""):
            key = (attempt["delivery_id"], attempt["copy"], attempt["attempt"], attempt["replay"])
            if attempt["at"] is None or key in self.seen_deliveries:
                continue
            self.seen_deliveries.add(key)
            tx = json.loads(attempt["request_body"])["data"]["transaction"]
            expected = self.model.event(tx["id"], tx["status"], tx["amount_in_cents"], tx["currency"], tx["reference"])
            assert attempt["status"] == expected, (attempt, expected)

    # -- invariants -------------------------------------------------------------------------------

    @invariant()
    def the_database_equals_the_model(self) -> None:
        rows = self.db.fetch("SELECT id, status::text, approved_amount, flagged_for_refund FROM orders")
        assert {r["id"] for r in rows} == set(self.model.orders)
        for row in rows:
            view = self.model.view(row["id"])
            assert (row["status"], row["approved_amount"], row["flagged_for_refund"]) == (
                view.status,
                view.approved,
                view.flagged,
            ), row["id"]
        txns = self.db.fetch("SELECT id, status::text FROM order_transactions")
        assert {r["id"]: r["status"] for r in txns} == {t.id: t.status for t in self.model.transactions.values()}

    @invariant()
    def money_is_conserved(self) -> None:
        rows = self.db.fetch(
            "SELECT o.id, o.total_amount, o.approved_amount, o.flagged_for_refund,"
            " coalesce(sum(t.amount) FILTER (WHERE t.status = 'approved'), 0) AS approved_sum"
            " FROM orders o LEFT JOIN order_transactions t ON t.order_id = o.id GROUP BY o.id"
        )
        for row in rows:
            assert row["approved_amount"] == row["approved_sum"], dict(row)
            assert row["approved_amount"] <= row["total_amount"] or row["flagged_for_refund"], dict(row)

    @invariant()
    def no_status_goes_back(self) -> None:
        for row in self.db.fetch("SELECT id, status::text FROM order_transactions"):
            seen = self.history.setdefault(row["id"], [])
            if seen and seen[-1] in FINAL:
                assert row["status"] == seen[-1], (row["id"], seen, row["status"])
            if not seen or seen[-1] != row["status"]:
                seen.append(row["status"])
        for row in self.db.fetch("SELECT id, status::text FROM orders"):
            if row["id"] in self.paid:
                assert row["status"] == "paid", row["id"]
            elif row["status"] == "paid":
                self.paid.add(row["id"])

    # -- plumbing ---------------------------------------------------------------------------------

    @property
    def core(self) -> str:
        return self.live.urls["core"]

    def _post_event(self, body: bytes, headers: dict[str, str], expected: int, *, record: bool = True) -> None:
        response = self.http.post(f"{self.core}/webhooks/wompi", content=body, headers=headers)
        assert response.status_code == expected, (response.status_code, expected, response.text)
        if record and expected != 401:
            self.sent.append((body, headers, response.status_code))

    def _event(
        self,
        gateway_id: str,
        status: str,
        cents: int,
        reference: str,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        return wompi_event(
            tx_id=gateway_id,
            status=status,
            amount_in_cents=cents,
            reference=reference,
            timestamp=timestamp,
            secret=secret or self.live.creds["wompi"]["events_secret"],
        )

    def _card_token(self, number: str) -> str:
        response = self.http.post(
            f"{self.live.urls['wompi']}/v1/tokens/cards",
            json={"number": number, "cvc": "123", "exp_month": "08", "exp_year": "30", "card_holder": "Ana Pérez"},
            headers={"authorization": f"Bearer {self.live.creds['wompi']['public_key']}"},
        )
        assert response.status_code == 201, response.text
        return str(response.json()["data"]["id"])


def test_the_payment_lifecycle_keeps_the_database_equal_to_the_model(live: Live) -> None:
    examples, steps, shrink = EXAMPLES.get(os.environ.get("HYPOTHESIS_PROFILE", "dev"), EXAMPLES["dev"])
    phases = [p for p in Phase if shrink or p is not Phase.shrink]
    db = Database(live.db_dsn)
    try:
        with sync_client(timeout=30) as http:
            machine = type("BoundPaymentMachine", (PaymentMachine,), {"live": live, "db": db, "http": http})
            run_state_machine_as_test(
                machine,
                settings=settings(
                    max_examples=examples,
                    stateful_step_count=steps,
                    deadline=None,
                    phases=phases,
                    report_multiple_bugs=False,
                ),
            )
    finally:
        db.close()
