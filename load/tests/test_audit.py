"""The audit's pure functions: a clean hand-made world passes, and each anomaly kind is found when planted."""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from load import audit as audit_module
from load.audit import (
    AuditReport,
    EventRow,
    OrderRow,
    SimView,
    Snapshot,
    TxRow,
    audit,
    decide,
    order_status_after,
    sim_view_of_run,
)
from load.ledger import LedgerEntry

D = Decimal


def entry(
    n: int,
    key: str,
    *,
    gateway: str = "wompi",
    role: str = "event",
    code: int | None = 200,
    expect: int = 200,
    attempt: str = "O1-a",
    status: str = "APPROVED",
    signature: str = "",
    answer: str | None = "applied",
) -> LedgerEntry:
    return LedgerEntry(
        id=f"t:{n}",
        at=float(n),
        gateway=gateway,
        key=key,
        order=attempt.rsplit("-", 1)[0],
        attempt=attempt,
        status=status,
        role=role,
        signature=signature or f"sig-{key}",
        expect=expect,
        code=code,
        answer=answer,
        run="r1",
    )


def world() -> tuple[list[LedgerEntry], Snapshot, SimView]:
    """Three seeded orders — a plain story with chaos, a late approval of an attempt already settled as
    error (the load's ``double``: the core refuses it and flags the order for a refund), a conflict — plus
    one paid through the simulator and one checkout; every row is what a correct core leaves."""
    orders = [
        OrderRow(1, "O1", D("100.00"), D("100.00"), "paid", False),
        OrderRow(2, "O2", D("50.00"), D("50.00"), "paid", True),
        OrderRow(3, "O3", D("70.50"), D("0"), "failed", True),
        OrderRow(4, "O4", D("30.00"), D("30.00"), "paid", False),
        OrderRow(5, "ORD-X", D("20.00"), D("20.00"), "paid", False, origin="api"),
    ]
    txs = [
        TxRow(11, 1, "wompi", "W1", "O1-a", D("100.00"), "approved"),
        TxRow(21, 2, "wompi", "W2", "O2-a", D("50.00"), "approved"),
        TxRow(22, 2, "wompi", "W2b", "O2-b", D("50.00"), "error"),
        TxRow(31, 3, "payu", "u3", "O3-a", D("70.50"), "declined"),
        TxRow(41, 4, "wompi", "S4", "O4-a", D("30.00"), "approved"),
        TxRow(51, 5, "wompi", "S5", "ORD-X-1", D("20.00"), "approved"),
    ]
    events = [
        EventRow(101, "wompi", "W1:APPROVED", 11, 1, "applied", "sig-W1:APPROVED"),
        EventRow(102, "wompi", "W1:PENDING", 11, 1, "recorded", "sig-W1:PENDING"),
        EventRow(103, "wompi", "W2:APPROVED", 21, 2, "applied", "sig-W2:APPROVED"),
        EventRow(104, "wompi", "W2b:APPROVED", 22, 2, "recorded", "sig-W2b:APPROVED"),
        EventRow(105, "payu", "O3-a:u3:6", 31, 3, "applied", "sig-O3-a:u3:6"),
        EventRow(106, "payu", "O3-a:u3:4", 31, 3, "recorded", "sig-O3-a:u3:4"),
        EventRow(107, "wompi", "S4:APPROVED", 41, 4, "applied", "simsig4"),
        EventRow(108, "wompi", "S5:APPROVED", 51, 5, "applied", "simsig5"),
    ]
    ledger = [
        entry(1, "W1:APPROVED", role="forged", expect=401, code=401, signature="forged-1", answer="invalid_signature"),
        entry(2, "W1:APPROVED"),
        entry(3, "W1:APPROVED", role="dup", answer="duplicate"),
        entry(4, "W1:PENDING", role="late", status="PENDING", answer="recorded"),
        entry(5, "W2:APPROVED", attempt="O2-a"),
        entry(6, "W2b:APPROVED", role="double", attempt="O2-b", answer="recorded"),
        entry(7, "O3-a:u3:6", gateway="payu", attempt="O3-a", status="DECLINED"),
        entry(8, "O3-a:u3:4", gateway="payu", role="conflict", attempt="O3-a", answer="recorded"),
        entry(9, "W1:PENDING", role="late", status="PENDING", code=None, answer=None),  # killed in flight
        entry(10, "O4-a", role="sim_charge", attempt="O4-a", expect=201, code=201, answer=None),
        entry(11, "ORD-X", role="checkout", attempt="ORD-X-1", status="approved", answer="pending"),
    ]
    snapshot = Snapshot(
        orders, txs, events, conflicts=0,
        core_anomalies=[("state_regression_refused", 2), ("state_regression_refused", 3)],
    )
    sim = SimView(
        deliveries=[
            {"event_key": "S4:APPROVED", "status": "delivered", "attempts": 2},
            {"event_key": "S5:APPROVED", "status": "delivered", "attempts": 1},
        ],
        transactions=[
            {"id": "S4", "reference": "O4-a", "status": "APPROVED"},
            {"id": "S5", "reference": "ORD-X-1", "status": "APPROVED"},
        ],
    )
    return ledger, snapshot, sim


def kinds(report: AuditReport) -> set[str]:
    return {a.kind for a in report.anomalies}


def test_a_consistent_world_is_clean() -> None:
    ledger, snapshot, sim = world()
    report = audit(ledger, snapshot, sim=sim)
    assert report.anomalies == []
    assert report.ok
    assert report.stats["model"] == {"conflicts": 2, "double_payments": 0}


def _with_events(snapshot: Snapshot, events: list[EventRow]) -> Snapshot:
    return replace(snapshot, events=events)


def _edit(rows: list, index: int, **changes: object) -> list:
    rows = list(rows)
    rows[index] = replace(rows[index], **changes)
    return rows


PLANTED = {
    # kind: how to plant it in the clean world (ledger, snapshot, sim) -> (ledger, snapshot, sim)
    "lost_event": lambda led, s, m: (led, _with_events(s, [e for e in s.events if e.id != 102]), m),
    "duplicate_event": lambda led, s, m: (led, _with_events(s, [*s.events, replace(s.events[0], id=109)]), m),
    "duplicate_transaction": lambda led, s, m: (
        led,
        replace(s, transactions=[*s.transactions, replace(s.transactions[0], id=99)]),
        m,
    ),
    "forged_accepted": lambda led, s, m: (_edit(led, 0, code=200), s, m),
    "forged_recorded": lambda led, s, m: (led, _with_events(s, _edit(list(s.events), 0, signature="forged-1")), m),
    "refused_event": lambda led, s, m: (_edit(led, 1, code=409, answer="conflict"), s, m),
    "phantom_event": lambda led, s, m: (
        led,
        _with_events(s, [*s.events, EventRow(110, "wompi", "W1:ERROR", 11, 1, "recorded", "x")]),
        m,
    ),
    "misattributed_event": lambda led, s, m: (
        led,
        _with_events(s, _edit(list(s.events), 0, transaction_id=21, order_id=2)),
        m,
    ),
    "event_rejected": lambda led, s, m: (led, _with_events(s, _edit(list(s.events), 1, outcome="rejected")), m),
    "outcome_mismatch": lambda led, s, m: (led, _with_events(s, _edit(list(s.events), 1, outcome="applied")), m),
    "state_mismatch": lambda led, s, m: (
        led,
        replace(s, transactions=_edit(list(s.transactions), 3, status="approved")),
        m,
    ),
    "order_mismatch": lambda led, s, m: (led, replace(s, orders=_edit(list(s.orders), 2, status="pending")), m),
    "amount_mismatch": lambda led, s, m: (  # O1 renamed a load order's reference: 100.00 is not its planned amount
        led, replace(s, orders=_edit(list(s.orders), 0, reference="LOAD-ab12cd-w0")), m),
    "approved_drift": lambda led, s, m: (led, replace(s, orders=_edit(list(s.orders), 0, approved=D("200.00"))), m),
    "double_payment_unflagged": lambda led, s, m: (
        led,
        replace(s, transactions=_edit(list(s.transactions), 2, status="approved"),
                orders=_edit(list(s.orders), 1, approved=D("100.00"), flagged=False)),
        m,
    ),
    "conflict_recorded": lambda led, s, m: (led, replace(s, conflicts=1), m),
    "anomaly_log_mismatch": lambda led, s, m: (led, replace(s, core_anomalies=[("double_payment", 2)]), m),
    "undelivered_event": lambda led, s, m: (
        led,
        s,
        replace(m, deliveries=[{**m.deliveries[0], "status": "exhausted"}, m.deliveries[1]]),
    ),
    "sim_state_mismatch": lambda led, s, m: (
        led,
        s,
        replace(m, transactions=[{**m.transactions[0], "id": "S9"}, m.transactions[1]]),
    ),
    "api_state_mismatch": lambda led, s, m: (
        led,
        replace(s, transactions=_edit(list(s.transactions), 5, status="pending")),
        m,
    ),
    "idempotency_broken": lambda led, s, m: (_edit(led, 10, answer="idempotency_mismatch"), s, m),
    "nothing_answered": lambda led, s, m: ([replace(e, code=None) for e in led], s, m),
}


@pytest.mark.parametrize("kind", sorted(PLANTED))
def test_each_planted_anomaly_is_found_and_named(kind: str) -> None:
    ledger, snapshot, sim = PLANTED[kind](*world())
    report = audit(ledger, snapshot, sim=sim)
    assert kind in kinds(report), report.to_dict()
    assert not report.ok
    assert report.to_dict()["anomaly_counts"][kind] >= 1


def test_every_documented_kind_has_a_planted_case() -> None:
    table = re.findall(r"^\| (\w+) \|", audit_module.__doc__ or "", flags=re.MULTILINE)
    documented = {k for k in table if k != "kind"}
    assert documented == set(PLANTED)


def test_an_unanswered_request_may_or_may_not_have_landed() -> None:
    ledger, snapshot, sim = world()
    # The request killed in flight (code None) left no trace: not lost, since nobody was told 200.
    ledger = [*ledger, entry(12, "W1:ERROR", role="late", status="ERROR", code=None, answer=None)]
    assert audit(ledger, snapshot, sim=sim).ok


def test_an_audit_of_a_run_nothing_was_answered_in_is_not_clean() -> None:
    """No request sent, or none answered (every one cut off): an empty history agrees with an empty database,
    and a clean audit of it would vouch for a run that proved nothing."""
    assert not audit([], Snapshot([], [], [])).ok
    cut_off = [entry(1, "W1:APPROVED", code=None, answer=None, attempt="")]
    assert not audit(cut_off, Snapshot([], [], [])).ok


def test_lost_updates_without_the_row_lock_are_caught() -> None:
    """Two approvals racing on one order without a lock: the settled attempt's late approval applied too,
    approved_amount counted once, no flag."""
    ledger, snapshot, sim = world()
    txs = _edit(list(snapshot.transactions), 2, status="approved")
    events = _edit(list(snapshot.events), 3, outcome="applied")
    orders = _edit(list(snapshot.orders), 1, flagged=False)
    report = audit(ledger, replace(snapshot, orders=orders, transactions=txs, events=events,
                                   core_anomalies=[("state_regression_refused", 3)]), sim=sim)
    assert {"outcome_mismatch", "approved_drift", "double_payment_unflagged"} <= kinds(report)


def test_the_model_follows_the_monotonic_table() -> None:
    assert decide("pending", "approved") == "apply"
    assert decide("approved", "approved") == "same"
    assert decide("approved", "pending") == "late"
    assert decide("approved", "declined") == "conflict"
    assert decide("declined", "approved") == "conflict"
    assert decide("approved", "voided") == "apply"
    assert decide("voided", "approved") == "conflict"
    assert order_status_after("pending", "declined", other_approved=False) == "failed"
    assert order_status_after("pending", "declined", other_approved=True) == "paid"
    assert order_status_after("failed", "approved", other_approved=False) == "paid"
    assert order_status_after("paid", "voided", other_approved=False) == "cancelled"


def test_report_groups_examples_by_kind(tmp_path: Path) -> None:
    ledger, snapshot, sim = PLANTED["lost_event"](*world())
    data = audit(ledger, snapshot, sim=sim).to_dict(examples=1)
    assert data["ok"] is False
    assert data["anomalies"]["lost_event"][0]["subject"] == "W1:PENDING"


def test_the_simulator_view_keeps_only_this_runs_payments() -> None:
    ledger, _, sim = world()
    stranger = {"id": "S8", "reference": "someone-elses", "status": "APPROVED"}
    noisy = SimView(
        deliveries=[*sim.deliveries, {"event_key": "S8:APPROVED", "status": "exhausted"}],
        transactions=[*sim.transactions, stranger],
    )
    view = sim_view_of_run(noisy, ledger)
    assert [t["id"] for t in view.transactions] == ["S4", "S5"]
    assert [d["event_key"] for d in view.deliveries] == ["S4:APPROVED", "S5:APPROVED"]


def _try(n: int, key: str, code: int | None, answer: str | None, *, try_no: int = 1,
         role: str = "event") -> LedgerEntry:
    return replace(entry(n, key, code=code, answer=answer, role=role), try_no=try_no)


def test_failed_tries_are_followed_to_their_retries_and_the_database() -> None:
    ledger = [
        # committed, the answer lost with the database; the retry finds it: idempotent
        _try(1, "t1:APPROVED", 500, None), _try(2, "t1:APPROVED", 200, "duplicate", try_no=2),
        # not committed; the retry applies it
        _try(3, "t2:APPROVED", None, None), _try(4, "t2:APPROVED", 200, "applied", try_no=2),
        # ran out of tries, committed all the same
        _try(5, "t3:DECLINED", 500, None), _try(6, "t3:DECLINED", 503, None, try_no=2),
        # a byte-identical copy raced it: its "duplicate" proves nothing about the failed try
        _try(7, "t4:APPROVED", 500, None), _try(8, "t4:APPROVED", 200, "applied", role="dup"),
        _try(9, "t4:APPROVED", 200, "duplicate", try_no=2),
        # the core's own retry found its first commit: a 200 "duplicate" on the first try
        _try(10, "t5:APPROVED", 200, "duplicate"),
        _try(11, "t6:APPROVED", 200, "applied"),  # the plain case counts nowhere
        _try(13, "t8:APPROVED", 503, None), _try(14, "t8:APPROVED", None, None, try_no=2),  # cut off at the end
        replace(_try(12, "t7:APPROVED", 500, None), expect=401, role="forged"),  # forged: not ours to follow
    ]
    recorded = {("wompi", k) for k in ("t1:APPROVED", "t2:APPROVED", "t3:DECLINED", "t4:APPROVED", "t5:APPROVED",
                                       "t6:APPROVED")}
    assert audit_module.after_errors(ledger, recorded) == {
        "keys": 5, "recorded": 4, "acknowledged_later": 3, "committed_before_error": 1,
        "never_acknowledged": 2, "gave_up": 1, "cut_off": 1, "never_acknowledged_recorded": 1,
        "first_try_duplicate": 1,
    }
    assert audit_module.after_errors(ledger, recorded - {("wompi", "t3:DECLINED")})["never_acknowledged_recorded"] == 0


def test_the_audit_reports_what_became_of_failed_tries() -> None:
    ledger, snapshot, sim = world()
    counts = audit(ledger, snapshot, sim=sim).stats["after_errors"]
    # The world's one failed try: a second late PENDING killed in flight, after the first had its 200.
    assert (counts["keys"], counts["recorded"], counts["acknowledged_later"], counts["never_acknowledged"]) == (
        1, 1, 0, 0)
