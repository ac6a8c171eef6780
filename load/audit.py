"""The consistency audit: pure functions over the ledger, a database snapshot and the simulator's deliveries.

Jepsen-style: the ledger is the history of what was sent and answered, the database holds what the core
made of it, and a small model of the payment state machine — written here, independently of
``core.payments`` — replays the core's own event log (``webhook_events`` in id order, which under the
order lock is the order events were applied in) and must land on the state the database holds.

Checks, each an anomaly kind:

| kind | what it means |
|---|---|
| lost_event | the core answered 200 for an event (or the simulator saw it delivered) but has no row for it |
| duplicate_event | one event identity recorded more than once |
| duplicate_transaction | one gateway transaction (id or reference) stored more than once, or not at all |
| forged_accepted | a request with a forged signature got something other than 401 |
| forged_recorded | an event row carries a signature only a forger used: a 401 wrote something |
| refused_event | a genuine event answered anything but 200 below 500 (401, 404, 409, 422, 429, 202, …) |
| phantom_event | an event row in this run's scope that nobody sent |
| misattributed_event | an event row linked to a transaction its identity does not name |
| event_rejected | a genuine event recorded as rejected |
| outcome_mismatch | an event row's outcome (applied/recorded) is not what the model decides |
| state_mismatch | a transaction's status is not what the model reaches |
| order_mismatch | an order's status, approved amount or refund flag is not what the model reaches (any order: |
|  | not paid while it holds an approved transaction) |
| approved_drift | an order's approved amount differs from the sum of its approved transactions |
| amount_mismatch | a seeded order's total or an attempt's amount is not what the seed wrote |
| double_payment_unflagged | an order holds more than one approved payment, or more than its total, unflagged |
| conflict_recorded | an identity conflict was recorded although every sender resent identical bytes |
| anomaly_log_mismatch | the core's own anomaly log disagrees with the model's conflicts and double payments |
| undelivered_event | the simulator gave up on (or still holds) an event after its retries ran; a load sender |
|  | ran out of tries on 5xx and the event is not in the database |
| sim_state_mismatch | a transaction paid through the simulator ends in another state than the simulator's |
| api_state_mismatch | a checkout or Efecty payment the load completed is not in the state it should reach |
| idempotency_broken | a checkout retried with the same Idempotency-Key got a different answer |
| nothing_answered | no request of the run got an answer: an empty history agrees with any empty database |

Usage::

    report = audit(read_ledger(dir), snapshot, sim=SimView(deliveries, transactions))
    report.ok, report.anomalies
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from load.ledger import LedgerEntry
from load.payloads import planned_amount, seeded_status

# ------------------------------------------------------------------------------------------ the model

WEBHOOK_ROLES = frozenset({"event", "dup", "late", "forged", "replay", "conflict", "double"})
API_ROLES = frozenset({"checkout", "efecty"})

FAILED = frozenset({"declined", "error", "expired"})
WOMPI_STATUS = {
    "APPROVED": "approved",
    "DECLINED": "declined",
    "ERROR": "error",
    "PENDING": "pending",
    "VOIDED": "voided",
}
PAYU_STATE_POL = {"4": "approved", "6": "declined", "5": "expired", "7": "pending", "104": "error"}


def decide(current: str, incoming: str) -> str:
    """apply | same | late | conflict: the monotonic rule (a final status never regresses)."""
    if incoming == current:
        return "same"
    if current == "pending":
        return "apply"
    if incoming == "pending":
        return "late"
    if current == "approved" and incoming == "voided":
        return "apply"  # a void of an approved card payment
    return "conflict"


def order_status_after(order: str, incoming: str, *, other_approved: bool) -> str:
    if incoming == "approved":
        return "paid"
    if incoming in FAILED:
        return "paid" if other_approved else ("failed" if order == "pending" else order)
    if incoming == "voided":
        return "paid" if other_approved else "cancelled"
    return order


def incoming_status(gateway: str, key: str) -> str | None:
    """The status an event identity announces, read from the identity alone."""
    if gateway == "wompi":
        return WOMPI_STATUS.get(key.rsplit(":", 1)[-1])
    return PAYU_STATE_POL.get(key.rsplit(":", 1)[-1])


def names_transaction(gateway: str, key: str, tx: TxRow) -> bool:
    if gateway == "wompi":
        return key.rsplit(":", 1)[0] == tx.gateway_id
    reference, _, rest = key.partition(":")
    payu_id = rest.rsplit(":", 1)[0]
    return reference == tx.reference and (tx.gateway_id is None or payu_id == tx.gateway_id)


# ------------------------------------------------------------------------------------------ the inputs


@dataclass(frozen=True)
class OrderRow:
    id: int
    reference: str
    total: Decimal
    approved: Decimal
    status: str
    flagged: bool
    origin: str = "seeded"  # seeded by the load (its events replay through the model) or "api" (checkout)


@dataclass(frozen=True)
class TxRow:
    id: int
    order_id: int
    gateway: str
    gateway_id: str | None
    reference: str
    amount: Decimal
    status: str


@dataclass(frozen=True)
class EventRow:
    id: int
    gateway: str
    key: str
    transaction_id: int | None
    order_id: int | None
    outcome: str  # applied | recorded | rejected
    signature: str


@dataclass(frozen=True)
class Snapshot:
    """This run's rows, read after the load stopped (``load.snapshot.take``)."""

    orders: Sequence[OrderRow]
    transactions: Sequence[TxRow]
    events: Sequence[EventRow]
    conflicts: int = 0
    core_anomalies: Sequence[tuple[str, int | None]] = ()  # payment_anomalies in scope: (kind, order id)


@dataclass(frozen=True)
class SimView:
    """What the Wompi simulator knows: its deliveries (summary) and its transactions."""

    deliveries: Sequence[dict[str, Any]] = ()
    transactions: Sequence[dict[str, Any]] = ()


@dataclass(frozen=True)
class Anomaly:
    kind: str
    subject: str
    detail: str


@dataclass
class AuditReport:
    anomalies: list[Anomaly]
    stats: dict[str, Any]

    @property
    def ok(self) -> bool:
        return not self.anomalies

    def by_kind(self) -> dict[str, int]:
        return dict(sorted(Counter(a.kind for a in self.anomalies).items()))

    def to_dict(self, *, examples: int = 20) -> dict[str, Any]:
        grouped: dict[str, list[dict[str, str]]] = defaultdict(list)
        for a in self.anomalies:
            if len(grouped[a.kind]) < examples:
                grouped[a.kind].append({"subject": a.subject, "detail": a.detail})
        return {"ok": self.ok, "anomaly_counts": self.by_kind(), "anomalies": dict(grouped), "stats": self.stats}


# ------------------------------------------------------------------------------------------ the checks


def _ledger_checks(
    ledger: Sequence[LedgerEntry], recorded: set[tuple[str, str]], forged_signatures: set[str],
    max_tries: int | None = None,
) -> list[Anomaly]:
    found: list[Anomaly] = []
    for e in ledger:
        if e.role not in WEBHOOK_ROLES:
            continue
        if e.expect == 401:
            if e.code is not None and e.code != 401:
                found.append(Anomaly("forged_accepted", e.key, f"forged {e.gateway} request answered {e.code}"))
            continue
        if e.code == 200 and (e.gateway, e.key) not in recorded:
            found.append(Anomaly("lost_event", e.key, f"answered 200 ({e.answer}) but no webhook_events row"))
        elif e.code is not None and e.code != 200 and e.code < 500:
            # Every answer but 200 (a 5xx, or none, is retried) ends the gateway's deliveries: a genuine event
            # answered 401 (a stale clock), 404, 429 or 202 is never sent again, whatever the core kept of it.
            found.append(Anomaly("refused_event", e.key, f"genuine {e.role} answered {e.code} ({e.answer})"))
    found.extend(_given_up(ledger, recorded, max_tries))
    return found


def _given_up(ledger: Sequence[LedgerEntry], recorded: set[tuple[str, str]], max_tries: int | None,
              ) -> list[Anomaly]:
    """Genuine identities no try got a 200 for, a sender of which ran out of tries on a 5xx (its try
    ``max_tries`` was answered 5xx), and which are not in the database: the gateway stops there, as the
    simulator's ``exhausted`` does. A sender stopped by the end of the run in its back-off is cut off, not
    out of tries. ``max_tries`` None (unknown): not checked."""
    if max_tries is None:
        return []
    tries: dict[tuple[str, str], list[LedgerEntry]] = defaultdict(list)
    for e in ledger:
        if e.role in WEBHOOK_ROLES and e.expect != 401:
            tries[(e.gateway, e.key)].append(e)
    found: list[Anomaly] = []
    for identity, sent in tries.items():
        if identity in recorded or any(e.code == 200 for e in sent):
            continue
        out = [e for e in sent if e.try_no >= max_tries and e.code is not None and e.code >= 500]
        if out:
            found.append(Anomaly("undelivered_event", identity[1],
                                 f"{len(sent)} tries, none answered 200, try {out[0].try_no} {out[0].code}"
                                 f" ({out[0].answer}); no webhook_events row"))
    return found


def _event_row_checks(
    snapshot: Snapshot,
    ledger_keys: set[tuple[str, str]],
    sim_keys: set[str],
    forged_signatures: set[str],
    txs: dict[int, TxRow],
) -> list[Anomaly]:
    found: list[Anomaly] = []
    api_orders = {o.id for o in snapshot.orders if o.origin == "api"}
    counts = Counter((ev.gateway, ev.key) for ev in snapshot.events)
    for (gateway, key), n in counts.items():
        if n > 1:
            found.append(Anomaly("duplicate_event", key, f"{gateway} identity recorded {n} times"))
    for ev in snapshot.events:
        if ev.signature in forged_signatures:
            found.append(Anomaly("forged_recorded", ev.key, f"event row {ev.id} carries a forged signature"))
        sent_by_gateway = ev.order_id in api_orders or (ev.gateway == "wompi" and ev.key in sim_keys)
        if (ev.gateway, ev.key) not in ledger_keys and not sent_by_gateway:
            found.append(Anomaly("phantom_event", ev.key, f"event row {ev.id} matches nothing sent"))
        tx = txs.get(ev.transaction_id) if ev.transaction_id is not None else None
        if ev.outcome == "rejected" or tx is None:
            found.append(
                Anomaly(
                    "event_rejected", ev.key, f"event row {ev.id} outcome {ev.outcome}, transaction {ev.transaction_id}"
                )
            )
        elif not names_transaction(ev.gateway, ev.key, tx) or ev.order_id != tx.order_id:
            found.append(Anomaly("misattributed_event", ev.key, f"linked to transaction {tx.reference}"))
    if snapshot.conflicts:
        found.append(Anomaly("conflict_recorded", "webhook_event_conflicts", f"{snapshot.conflicts} rows"))
    return found


def _transaction_checks(snapshot: Snapshot, ledger: Sequence[LedgerEntry]) -> list[Anomaly]:
    found: list[Anomaly] = []
    by_ref = Counter((t.gateway, t.reference) for t in snapshot.transactions)
    by_id = Counter((t.gateway, t.gateway_id) for t in snapshot.transactions if t.gateway_id)
    for (gateway, ref), n in by_ref.items():
        if n > 1:
            found.append(Anomaly("duplicate_transaction", ref, f"{gateway} reference stored {n} times"))
    for (gateway, gid), n in by_id.items():
        if n > 1:
            found.append(Anomaly("duplicate_transaction", str(gid), f"{gateway} transaction id stored {n} times"))
    for gateway, ref in sorted({(e.gateway, e.attempt) for e in ledger if e.attempt}):
        if by_ref[(gateway, ref)] == 0:
            found.append(Anomaly("duplicate_transaction", ref, f"{gateway} attempt sent but not stored"))
    return found


@dataclass
class _ModelOrder:
    status: str = "pending"
    flagged: bool = False
    tx_status: dict[int, str] = field(default_factory=dict)
    conflicts: int = 0
    doubles: int = 0


def _replay_order(order: OrderRow, txs: list[TxRow], events: list[EventRow]) -> tuple[_ModelOrder, list[Anomaly]]:
    """Run the order's recorded events, in id order, through the model."""
    model = _ModelOrder(tx_status={t.id: seeded_status(t.reference) for t in txs})
    found: list[Anomaly] = []
    for ev in sorted(events, key=lambda e: e.id):
        incoming = incoming_status(ev.gateway, ev.key)
        if ev.transaction_id not in model.tx_status or incoming is None or ev.outcome == "rejected":
            continue
        current = model.tx_status[ev.transaction_id]
        decision = decide(current, incoming)
        expected_outcome = "applied" if decision == "apply" else "recorded"
        if ev.outcome != expected_outcome:
            found.append(
                Anomaly(
                    "outcome_mismatch",
                    ev.key,
                    f"recorded as {ev.outcome}; the model says {decision} ({current} -> {incoming})",
                )
            )
        if decision == "conflict":
            model.conflicts += 1
            if incoming == "approved" and current in ("declined", "error", "expired"):
                model.flagged = True  # the gateway took money for an attempt the core had closed: refund it
        if decision != "apply":
            continue
        other_approved = any(s == "approved" for tid, s in model.tx_status.items() if tid != ev.transaction_id)
        if incoming == "approved" and other_approved:
            model.flagged = True
            model.doubles += 1
        model.tx_status[ev.transaction_id] = incoming
        model.status = order_status_after(model.status, incoming, other_approved=other_approved)
    return model, found


def _order_checks(snapshot: Snapshot) -> tuple[list[Anomaly], dict[str, int]]:
    found: list[Anomaly] = []
    txs_of: dict[int, list[TxRow]] = defaultdict(list)
    for t in snapshot.transactions:
        txs_of[t.order_id].append(t)
    events_of: dict[int, list[EventRow]] = defaultdict(list)
    for ev in snapshot.events:
        if ev.order_id is not None:
            events_of[ev.order_id].append(ev)
    totals = Counter[str]()
    for order in snapshot.orders:
        txs = txs_of[order.id]
        found.extend(_money_checks(order, txs))
        if order.origin != "seeded":
            continue  # the checkout also applies gateway answers that leave no event row: no replay
        found.extend(_plan_checks(order, txs))
        model, mismatches = _replay_order(order, txs, events_of[order.id])
        found.extend(mismatches)
        totals["conflicts"] += model.conflicts
        totals["double_payments"] += model.doubles
        for t in txs:
            if model.tx_status.get(t.id) != t.status:
                found.append(
                    Anomaly(
                        "state_mismatch",
                        t.reference,
                        f"transaction is {t.status}; the model says {model.tx_status.get(t.id)}",
                    )
                )
        model_approved = sum((t.amount for t in txs if model.tx_status.get(t.id) == "approved"), Decimal(0))
        if (model.status, model_approved, model.flagged) != (order.status, order.approved, order.flagged):
            found.append(
                Anomaly(
                    "order_mismatch",
                    order.reference,
                    f"order is {order.status}/{order.approved}/flagged={order.flagged}; the model says "
                    f"{model.status}/{model_approved}/flagged={model.flagged}",
                )
            )
    return found, dict(totals)


def _plan_checks(order: OrderRow, txs: list[TxRow]) -> list[Anomaly]:
    """A seeded order's total and its attempts' amounts are what the seed wrote (``payloads.planned_amount``):
    every other money check compares the database with itself, so an amount the core rewrote (rounded,
    truncated, taken from an event) would pass them as long as the approved amount followed it."""
    planned = planned_amount(order.reference)
    if planned is None:
        return []
    found = [Anomaly("amount_mismatch", order.reference, f"total {order.total}; the seed wrote {planned}")
             ] if order.total != planned else []
    found += [Anomaly("amount_mismatch", t.reference, f"amount {t.amount}; the seed wrote {planned}")
              for t in txs if t.amount != planned]
    return found


def _money_checks(order: OrderRow, txs: list[TxRow]) -> list[Anomaly]:
    """Model-free invariants that hold for every order, however it was paid."""
    found: list[Anomaly] = []
    approved_txs = [t for t in txs if t.status == "approved"]
    db_sum = sum((t.amount for t in approved_txs), Decimal(0))
    if db_sum != order.approved:
        found.append(
            Anomaly(
                "approved_drift",
                order.reference,
                f"approved_amount {order.approved} but approved transactions sum to {db_sum}",
            )
        )
    if (len(approved_txs) > 1 or order.approved > order.total) and not order.flagged:
        found.append(
            Anomaly(
                "double_payment_unflagged",
                order.reference,
                f"{len(approved_txs)} approved payments, {order.approved} of {order.total}, no refund flag",
            )
        )
    if order.status == "paid" and not approved_txs:
        found.append(Anomaly("approved_drift", order.reference, "paid without an approved transaction"))
    elif approved_txs and order.status != "paid":
        # The one check of a checkout or Efecty order's status (no event log to replay): money approved for
        # an order left pending would have the shop still waiting for a payment it holds.
        found.append(Anomaly("order_mismatch", order.reference,
                             f"order is {order.status} but holds {len(approved_txs)} approved transaction(s)"))
    return found


def _api_checks(ledger: Sequence[LedgerEntry], snapshot: Snapshot) -> list[Anomaly]:
    """Checkout and Efecty flows: the attempt ends where the load expects (the simulator approves it)."""
    found: list[Anomaly] = []
    by_ref = {t.reference: t for t in snapshot.transactions}
    for e in ledger:
        if e.role not in API_ROLES or e.code != 200 or not e.attempt:
            continue
        tx = by_ref.get(e.attempt)
        if tx is None or tx.status != e.status:
            found.append(
                Anomaly(
                    "api_state_mismatch",
                    e.attempt,
                    f"{e.role}: attempt is {tx.status if tx else 'missing'}; expected {e.status}",
                )
            )
        if e.answer == "idempotency_mismatch":
            found.append(Anomaly("idempotency_broken", e.attempt, "a retry with the same key got another answer"))
    return found


def _anomaly_log_checks(snapshot: Snapshot, totals: dict[str, int]) -> list[Anomaly]:
    """The core's own anomaly log against the model: seeded orders by count, checkout orders must have none."""
    found: list[Anomaly] = []
    origin = {o.id: o for o in snapshot.orders}
    seeded = Counter(kind for kind, oid in snapshot.core_anomalies if oid in origin and origin[oid].origin == "seeded")
    for kind, oid in snapshot.core_anomalies:
        order = origin.get(oid) if oid is not None else None
        if order is not None and order.origin == "api":
            found.append(Anomaly("anomaly_log_mismatch", order.reference, f"the core flagged a checkout order: {kind}"))
    pairs = (("state_regression_refused", "conflicts"), ("double_payment", "double_payments"))
    for core_kind, model_kind in pairs:
        core_count, model_count = seeded.get(core_kind, 0), totals.get(model_kind, 0)
        if core_count != model_count:
            found.append(
                Anomaly(
                    "anomaly_log_mismatch",
                    core_kind,
                    f"the core logged {core_count}; the model counts {model_count} {model_kind}",
                )
            )
    return found


def _sim_checks(sim: SimView, snapshot: Snapshot, recorded: set[tuple[str, str]]) -> list[Anomaly]:
    found: list[Anomaly] = []
    for d in sim.deliveries:
        if d.get("status") != "delivered":
            found.append(
                Anomaly(
                    "undelivered_event",
                    str(d.get("event_key")),
                    f"simulator delivery {d.get('status')} after {d.get('attempts')} attempts",
                )
            )
        elif ("wompi", str(d.get("event_key"))) not in recorded:
            found.append(Anomaly("lost_event", str(d.get("event_key")), "delivered by the simulator, no row"))
    by_ref = {t.reference: t for t in snapshot.transactions if t.gateway == "wompi"}
    for sim_tx in sim.transactions:
        tx = by_ref.get(str(sim_tx.get("reference")))
        if tx is None or sim_tx.get("status") == "PENDING":
            continue  # not one of this run's orders, or no event yet: nothing to compare
        expected = WOMPI_STATUS.get(str(sim_tx.get("status")))
        if tx.gateway_id != sim_tx.get("id") or tx.status != expected:
            found.append(
                Anomaly(
                    "sim_state_mismatch",
                    tx.reference,
                    f"stored {tx.gateway_id}/{tx.status}; the simulator has {sim_tx.get('id')}/{expected}",
                )
            )
    return found


def sim_view_of_run(sim: SimView, ledger: Sequence[LedgerEntry]) -> SimView:
    """Only the simulator's transactions (and their deliveries) this run paid: a long-lived simulator
    (``payharness up``) also remembers earlier runs and manual tests."""
    ours = {e.attempt for e in ledger if e.role == "sim_charge" or e.role in API_ROLES}
    txs = [t for t in sim.transactions if t.get("reference") in ours]
    ids = {str(t.get("id")) for t in txs}
    deliveries = [d for d in sim.deliveries if str(d.get("event_key", "")).rsplit(":", 1)[0] in ids]
    return SimView(deliveries=deliveries, transactions=txs)


def audit(ledger: Sequence[LedgerEntry], snapshot: Snapshot, *, sim: SimView | None = None,
          max_tries: int | None = None) -> AuditReport:
    """Every check above; an empty ``anomalies`` list is a clean run. ``max_tries``: the senders' tries per
    delivery (``--max-tries``), to tell an event given up on after 5xx from one cut off by the run's end."""
    sim = sim or SimView()
    recorded = {(ev.gateway, ev.key) for ev in snapshot.events}
    forged = {e.signature for e in ledger if e.expect == 401}
    genuine = {e.signature for e in ledger if e.expect != 401}
    forged -= genuine  # a forger could not have produced a signature the gateway also produced
    ledger_keys = {(e.gateway, e.key) for e in ledger if e.role in WEBHOOK_ROLES}
    sim_keys = {str(d.get("event_key")) for d in sim.deliveries}
    txs = {t.id: t for t in snapshot.transactions}
    anomalies = [
        *_ledger_checks(ledger, recorded, forged, max_tries),
        *_event_row_checks(snapshot, ledger_keys, sim_keys, forged, txs),
        *_transaction_checks(snapshot, ledger),
    ]
    order_anomalies, totals = _order_checks(snapshot)
    anomalies.extend(order_anomalies)
    anomalies.extend(_anomaly_log_checks(snapshot, totals))
    anomalies.extend(_sim_checks(sim, snapshot, recorded))
    anomalies.extend(_api_checks(ledger, snapshot))
    if not any(e.code is not None for e in ledger):
        anomalies.append(Anomaly("nothing_answered", "ledger", f"{len(ledger)} requests, none answered: nothing "
                                 "the core did was checked"))
    return AuditReport(anomalies, ledger_stats(ledger, snapshot, sim)
                       | {"model": totals, "after_errors": after_errors(ledger, recorded)})


def after_errors(ledger: Sequence[LedgerEntry], recorded: set[tuple[str, str]]) -> dict[str, int]:
    """What became of the genuine webhook events that got a 5xx or no answer on some try (counts, not checks).

    The checks above enforce "every 200 is in the database, nothing is applied twice". A failed try may
    still have committed (the database died after the commit, before the answer), which is right only if
    its retry is idempotent. These counts show how often that path was taken:

    * ``keys``: identities with a failed try; ``recorded``: of those, in the database;
    * ``acknowledged_later``: a later try got a 200; ``committed_before_error``: sent by one sender only
      and a later try answered ``duplicate`` — the failed try's commit had gone through;
    * ``never_acknowledged``: no try got a 200 — ``gave_up`` when the last was answered 5xx (out of tries),
      ``cut_off`` when it had no answer (mostly requests in flight when the run ended);
      ``never_acknowledged_recorded``: yet in the database;
    * ``first_try_duplicate``: one sender, and the first try itself answered ``duplicate`` — the core's
      own retry on a dead connection found its first commit.

    A 200 that is not recorded is ``lost_event``; an event applied twice shows as ``duplicate_event``,
    ``outcome_mismatch`` or ``order_mismatch``.
    """
    tries: dict[tuple[str, str], list[LedgerEntry]] = defaultdict(list)
    for e in ledger:
        if e.role in WEBHOOK_ROLES and e.expect != 401:
            tries[(e.gateway, e.key)].append(e)
    counts = Counter[str]()
    for identity, sent in tries.items():
        sent.sort(key=lambda e: (e.at, e.try_no))
        one_sender = not any(e.role in ("dup", "replay") for e in sent)
        counts["first_try_duplicate"] += one_sender and sent[0].code == 200 and sent[0].answer == "duplicate"
        failed = [i for i, e in enumerate(sent) if e.code is None or e.code >= 500]
        if not failed:
            continue
        counts["keys"] += 1
        counts["recorded"] += identity in recorded
        later = sent[failed[0] + 1:]
        if any(e.code == 200 for e in later):
            counts["acknowledged_later"] += 1
            if one_sender and any(e.code == 200 and e.answer == "duplicate" for e in later):
                counts["committed_before_error"] += 1
        if not any(e.code == 200 for e in sent):
            counts["never_acknowledged"] += 1
            counts["cut_off" if sent[-1].code is None else "gave_up"] += 1
            counts["never_acknowledged_recorded"] += identity in recorded
    return {k: counts[k] for k in ("keys", "recorded", "acknowledged_later", "committed_before_error",
                                   "never_acknowledged", "gave_up", "cut_off", "never_acknowledged_recorded",
                                   "first_try_duplicate")}


def ledger_stats(ledger: Iterable[LedgerEntry], snapshot: Snapshot, sim: SimView) -> dict[str, Any]:
    entries = list(ledger)
    return {
        "requests": len(entries),
        "by_role": dict(sorted(Counter(e.role for e in entries).items())),
        "by_code": {str(k): v for k, v in sorted(Counter(e.code for e in entries).items(), key=lambda kv: str(kv[0]))},
        "retried": sum(1 for e in entries if e.try_no > 1),
        "unanswered": sum(1 for e in entries if e.code is None),
        "orders": len(snapshot.orders),
        "transactions": len(snapshot.transactions),
        "event_rows": len(snapshot.events),
        "sim_deliveries": len(sim.deliveries),
        "sim_transactions": len(sim.transactions),
        "core_anomalies": dict(sorted(Counter(kind for kind, _ in snapshot.core_anomalies).items())),
    }
