"""The webhook path's pure pieces, without a database: what a JSONB column gets (``store.dumps``), the
parameters of the one write (``store.write_params``), the storable forms at their size limits
(core/README.md, "What is stored of the body"), and PayU's remembered Queries answers."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast

import pytest

from core.db.models import AnomalyKind, EventOutcome, Gateway, OrderStatus, TransactionStatus
from core.gateways.payu_models import PayUOrder, PayUOrderTransaction, PayUTransactionResult
from core.payments.ledger import LockedOrder, TransactionRow, change_for
from core.services import Services
from core.webhooks import storable, store
from core.webhooks.payu import _payu_says
from core.webhooks.payu_answers import PayUAnswers

pytestmark = pytest.mark.scenario("WH-STORABLE-PAYLOAD")


# --- store.dumps ----------------------------------------------------------------------------------------


def test_a_jsonb_value_is_compact_json_with_decimals_as_strings_and_nul_written_out() -> None:
    assert store.dumps({"amount": Decimal("1.50"), "note": "a\x00b", "list": [1, "x"]}) == (
        '{"amount":"1.50","note":"a\\\\u0000b","list":[1,"x"]}'
    )
    assert json.loads(store.dumps({"k\ud800": 1})) == {"k\\ud800": 1}


# --- store.write_params --------------------------------------------------------------------------------


def _row(**over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"gateway": Gateway.WOMPI, "event_key": "W1:APPROVED", "event_type": "transaction.updated",
                           "signature": "ab", "payload_sha256": "cd", "payload": {"a": Decimal("2.5")},
                           "outcome": EventOutcome.REJECTED, "detail": "why\x00"}
    row.update(over)
    return row


def test_an_unmatched_event_writes_no_change_and_its_own_anomaly() -> None:
    anomaly = (AnomalyKind.UNKNOWN_REFERENCE, {"reason": "none of ours"})
    params = store.write_params(_row(), None, None, None, anomaly)
    assert params == ("wompi", "W1:APPROVED", "transaction.updated", "ab", "cd", '{"a":"2.5"}', None, None,
                      "rejected", "why\\u0000", None, None, None, None, None, None, "unknown_reference",
                      '{"reason":"none of ours"}')


def test_no_change_and_no_anomaly_writes_only_the_event() -> None:
    params = store.write_params(_row(detail=None, transaction_id=7, order_id=3), None, 3, 7, None)
    assert params[6:8] == (7, 3)
    assert params[9] is None
    assert params[10:] == (7, None, 3, None, None, None, None, None)


def _order_and_txn(order_status: OrderStatus, txn_status: TransactionStatus,
                   approved: Decimal = Decimal("0")) -> tuple[LockedOrder, TransactionRow]:
    order = LockedOrder(3, order_status, Decimal("100.00"), approved, "COP", False)
    txn = TransactionRow(7, 3, Gateway.WOMPI, txn_status, Decimal("100.00"), "COP", "R-1", "W1")
    return order, txn


def test_a_change_writes_its_statuses_amount_and_its_own_anomaly() -> None:
    order, txn = _order_and_txn(OrderStatus.PENDING, TransactionStatus.PENDING)
    change = change_for(order, txn, TransactionStatus.APPROVED)
    params = store.write_params(_row(outcome=EventOutcome.APPLIED, detail="apply"), change, 3, 7, None)
    assert params[10:16] == (7, "approved", 3, "paid", Decimal("100.00"), None)
    assert params[16:] == (None, None)


def test_a_double_payment_writes_the_flag_and_the_changes_anomaly() -> None:
    order, txn = _order_and_txn(OrderStatus.PAID, TransactionStatus.PENDING, approved=Decimal("100.00"))
    change = change_for(order, txn, TransactionStatus.APPROVED)
    assert change.flag_reason and change.anomaly
    params = store.write_params(_row(outcome=EventOutcome.APPLIED, detail="apply"), change, 3, 7, None)
    assert params[15] == change.flag_reason
    assert params[16] == change.anomaly[0].value == "double_payment"
    assert json.loads(params[17]) == json.loads(json.dumps(change.anomaly[1], default=str))


# --- storable: keys, flags and the size limits ------------------------------------------------------------


def test_a_key_of_exactly_255_characters_is_kept_and_a_longer_one_is_cut_to_254() -> None:
    assert storable.key("k" * storable.KEY_MAX) == "k" * 255
    long = "k" * 300
    stored = storable.key(long)
    assert stored == "k" * 189 + "#" + hashlib.sha256(long.encode()).hexdigest()
    assert len(stored) == 254


def test_a_key_with_a_lone_surrogate_ends_in_the_digest_of_what_arrived() -> None:
    raw = "W1\ud800:APPROVED"
    assert storable.key(raw) == "W1\\ud800:APPROVED#" + hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


@pytest.mark.parametrize(
    ("value", "expected"),
    [({}, ({}, False)), ([], ([], False)), ({"a": [1, {"b": "c"}]}, ({"a": [1, {"b": "c"}]}, False)),
     ({1: "a", None: 2}, ({1: "a", None: 2}, False)), (Decimal("1.5"), (Decimal("1.5"), False)),
     ({"a": ["x\x00"]}, ({"a": ["x\\u0000"]}, True)), ({"\x00": 1}, ({"\\u0000": 1}, True))],
)
def test_escaped_reports_a_change_only_when_a_string_was_written_out(value: Any, expected: tuple[Any, bool]) -> None:
    out, changed = storable.escaped(value)
    assert (out, changed) == expected
    assert changed is expected[1]


def _sized(size: int, prefix: str = "") -> dict[str, Any]:
    """A payload whose stored rendering is exactly ``size`` bytes (``prefix`` is written out first)."""
    base = storable.rendered_size(storable.escaped({"a": prefix})[0])
    return {"a": prefix + "x" * (size - base)}


def test_a_clean_payload_rendering_to_exactly_the_limit_is_stored_as_sent() -> None:
    payload = _sized(storable.STORED_MAX_BYTES)
    assert storable.rendered_size(payload) == storable.STORED_MAX_BYTES
    assert storable.for_storage(payload, raw_sha256="d", acted_on={}) is payload
    over = _sized(storable.STORED_MAX_BYTES + 1)  # clean, so escaping cannot shrink it: only the bounded form fits
    assert storable.for_storage(over, raw_sha256="d", acted_on={})["payharness_stored"]["form"] == "bounded"


def test_an_escaped_payload_rendering_to_exactly_the_limit_keeps_the_whole_event() -> None:
    payload = _sized(storable.STORED_MAX_BYTES, prefix="\x00")
    escaped = storable.escaped(payload)[0]
    assert storable.rendered_size(escaped) == storable.STORED_MAX_BYTES
    assert storable.for_storage(payload, raw_sha256="d", acted_on={}) == {
        "payharness_stored": {"form": "escaped", "raw_sha256": "d"}, "event": escaped}
    bigger = _sized(storable.STORED_MAX_BYTES + 1, prefix="\x00")
    assert storable.for_storage(bigger, raw_sha256="d", acted_on={})["payharness_stored"]["form"] == "bounded"


def test_a_payload_too_large_even_escaped_keeps_only_the_acted_on_fields_capped() -> None:
    payload = _sized(storable.STORED_MAX_BYTES + 1, prefix="\x00")
    acted_on = {"id": "W1\x00" + "i" * 2000, "amount_in_cents": 5_000_000, "k\x00": None}
    assert storable.for_storage(payload, raw_sha256="d", acted_on=acted_on) == {
        "payharness_stored": {"form": "bounded", "raw_sha256": "d", "truncated": True},
        "acted_on": {"id": "W1\\u0000" + "i" * 1021, "amount_in_cents": 5_000_000, "k\\u0000": None},
    }


# --- PayU's remembered answers --------------------------------------------------------------------------


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_an_answer_is_remembered_for_the_ttl_whatever_the_clocks_origin() -> None:
    clock = Clock(1_000_000.0)
    answers = PayUAnswers(ttl_seconds=60, clock=clock)
    answers.remember("R-1", {"T1": TransactionStatus.APPROVED})
    clock.now += 59.9
    assert answers.recall("R-1") == {"T1": TransactionStatus.APPROVED}
    clock.now += 0.1
    assert answers.recall("R-1") is None
    assert len(answers) == 0


class PayUByReference:
    """PayU's Queries API answering per reference; an attempt may be listed more than once, or without state."""

    def __init__(self, listings: dict[str, list[list[tuple[str, str | None]]]]) -> None:
        self.listings = listings

    async def order_by_reference(self, reference: str) -> list[PayUOrder]:
        def attempt(tid: str, state: str | None) -> PayUOrderTransaction:
            # A charge (no type, as PayU lists a card payment's transaction) with only the state the webhook reads.
            response = None if state is None else cast(PayUTransactionResult, SimpleNamespace(state=state))
            return PayUOrderTransaction(id=tid, type=None, payment_method=None, response=response)

        return [PayUOrder(id=n, reference_code=reference, status="", amount=None, currency=None,
                          transactions=tuple(attempt(t, s) for t, s in order))
                for n, order in enumerate(self.listings.get(reference, []), start=1)]


def _services(payu: PayUByReference) -> Services:
    return cast(Services, SimpleNamespace(payu=payu, payu_answers=PayUAnswers(clock=Clock(0.0))))


async def test_payu_is_asked_about_the_confirmations_own_reference() -> None:
    core = _services(PayUByReference({"R-1": [[("T1", "approved")]], "R-2": [[("T2", "DECLINED")]]}))
    assert await _payu_says(core, "R-2", "T2") is TransactionStatus.DECLINED
    assert await _payu_says(core, "R-1", "T2") is None


async def test_an_attempt_listed_without_a_response_has_no_state_and_a_later_listing_with_one_counts() -> None:
    core = _services(PayUByReference({"R-1": [[("T1", None), ("T2", None)], [("T1", "APPROVED")]],
                                      "R-2": [[("T3", "DECLINED"), ("T3", None)]]}))
    assert await _payu_says(core, "R-1", "T1") is TransactionStatus.APPROVED
    assert await _payu_says(core, "R-1", "T2") is None
    assert await _payu_says(core, "R-2", "T3") is TransactionStatus.DECLINED  # a state is not undone by none
