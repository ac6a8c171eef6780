"""Amounts against the plan: the seed's amounts are a pure function of an order's reference, so the audit need not
trust the database's.

Every other money check compares the database with itself (approved amount against approved transactions, the
model's sum over the stored amounts). A core that truncates an attempt's amount as it approves it (100.99 stored
and counted as 100) and keeps the approved amount in step passes all of them.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from load.audit import EventRow, OrderRow, Snapshot, TxRow, audit
from load.payloads import Mix, plan_sim_story, plan_story, planned_amount
from load.tests.test_audit import entry, kinds

RUN = "ab12cd"


def _index_with_cents(cents: int) -> int:
    wanted = Decimal(cents) / 100
    return next(i for i in range(1000) if plan_story(RUN, "wompi", i, Mix.parse("none")).total % 1 == wanted)


def _paid_order(amount: Decimal, approved: Decimal, total: Decimal | None = None, index: int = 0,
                ) -> tuple[list, Snapshot]:
    story = plan_story(RUN, "wompi", index, Mix.parse("none"))
    attempt = story.attempts[0]
    key = f"{attempt.gateway_id}:APPROVED"
    snapshot = Snapshot(
        orders=[OrderRow(1, story.order_reference, story.total if total is None else total, approved, "paid", False)],
        transactions=[TxRow(11, 1, "wompi", attempt.gateway_id, attempt.reference, amount, "approved")],
        events=[EventRow(101, "wompi", key, 11, 1, "applied", f"sig-{key}")],
    )
    return [entry(1, key, attempt=attempt.reference)], snapshot


def test_a_seeded_order_paid_at_its_planned_amount_is_clean() -> None:
    index = _index_with_cents(99)
    planned = plan_story(RUN, "wompi", index, Mix.parse("none")).total
    ledger, snapshot = _paid_order(planned, planned, index=index)
    assert audit(ledger, snapshot).ok


@pytest.mark.parametrize("cents", [99, 50])
def test_an_amount_truncated_as_it_is_approved_is_flagged(cents: int) -> None:
    index = _index_with_cents(cents)
    truncated = plan_story(RUN, "wompi", index, Mix.parse("none")).total // 1
    ledger, snapshot = _paid_order(truncated, truncated, index=index)
    report = audit(ledger, snapshot)
    assert kinds(report) == {"amount_mismatch"}, report.to_dict()


def test_a_rewritten_total_is_flagged() -> None:
    index = _index_with_cents(0)
    planned = plan_story(RUN, "wompi", index, Mix.parse("none")).total
    ledger, snapshot = _paid_order(planned, planned, total=planned + 1, index=index)
    assert "amount_mismatch" in kinds(audit(ledger, snapshot))


@given(st.sampled_from(["wompi", "payu"]), st.integers(0, 10**6), st.text("0123456789abcdef", min_size=6, max_size=6))
def test_the_planned_amount_is_the_seeds_for_every_story(gateway: str, index: int, run: str) -> None:
    story = plan_story(run, gateway, index, Mix())
    assert planned_amount(story.order_reference) == story.total
    assert {a.amount for a in story.attempts} == {story.total}
    sim = plan_sim_story(run, index)
    assert planned_amount(sim.order_reference) == sim.attempt.amount


@pytest.mark.parametrize("reference", ["O1", "ORD-17", "LOAD-ab12cd-x1", "LOAD-ab12cd-w", "LOAD-ab12cd-w1a"])
def test_a_reference_the_load_did_not_plan_has_no_planned_amount(reference: str) -> None:
    assert planned_amount(reference) is None
