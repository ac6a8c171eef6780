"""The webhook path before anything is written: parsing, freshness and the event's reduction to what the core
acts on (core/README.md, Webhooks: 422 on a malformed body, 401 on a stale or future event, the identity built
from signed fields only)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.db.models import Gateway, TransactionStatus
from core.errors import Unauthorized, Unprocessable
from core.webhooks import payu, wompi
from core.webhooks.store import TransactionMatch

pytestmark = pytest.mark.scenario("WH-SIGNATURE")


# --- Wompi: the body --------------------------------------------------------------------------------------


def _nested(levels: int) -> bytes:
    """A JSON object ``levels`` deep (the top-level object is level 1)."""
    body: Any = 1
    for _ in range(levels - 1):
        body = {"a": body}
    return json.dumps(body).encode()


def test_a_json_object_is_parsed_with_decimals_never_floats() -> None:
    event = wompi.parse_body(b'{"a": 1.50, "b": [2, 3.0], "c": "x"}')
    assert event == {"a": Decimal("1.50"), "b": [2, Decimal("3.0")], "c": "x"}
    assert isinstance(event["a"], Decimal) and isinstance(event["b"][1], Decimal)


@pytest.mark.parametrize(
    ("raw", "code", "message"),
    [
        (b'{"a": 1, "a": 2}', "malformed_json", "the body is not JSON (or repeats a key)"),
        (b'{"a": {"b": 1, "b": 1}}', "malformed_json", "the body is not JSON (or repeats a key)"),
        (b'{"a": NaN}', "malformed_json", "the body is not JSON (or repeats a key)"),
        (b'{"a": Infinity}', "malformed_json", "the body is not JSON (or repeats a key)"),
        (b'{"a": -Infinity}', "malformed_json", "the body is not JSON (or repeats a key)"),
        (b"{not json", "malformed_json", "the body is not JSON (or repeats a key)"),
        (b'{"a": "\xff"}', "malformed_json", "the body is not JSON (or repeats a key)"),
        (b"[1, 2]", "malformed_event", "the body is not a JSON object"),
        (b'"text"', "malformed_event", "the body is not a JSON object"),
        (b"[" * 100_000 + b"]" * 100_000, "malformed_json", "the body nests deeper than 16 levels"),
    ],
)
def test_a_malformed_wompi_body_is_a_422_with_its_reason(raw: bytes, code: str, message: str) -> None:
    with pytest.raises(Unprocessable) as caught:
        wompi.parse_body(raw)
    assert (caught.value.code, caught.value.message) == (code, message)


def test_a_body_sixteen_levels_deep_is_accepted_and_seventeen_is_refused() -> None:
    assert wompi.MAX_DEPTH == 16
    assert wompi.parse_body(_nested(16))
    with pytest.raises(Unprocessable) as caught:
        wompi.parse_body(_nested(17))
    assert (caught.value.code, caught.value.message) == ("malformed_json", "the body nests deeper than 16 levels")


@st.composite
def _chains(draw: st.DrawFn) -> tuple[bytes, int]:
    """A JSON object whose deepest branch is a chain of objects and lists around a scalar, beside shallow siblings
    whose strings may hold brackets; with its depth as ``_depth`` counts it (the top object is level 1)."""
    kinds = draw(st.lists(st.booleans(), min_size=0, max_size=20))  # True: an object, False: a list
    value: Any = draw(st.one_of(st.integers(), st.text(alphabet="{[]}a\"\\", max_size=5)))
    for is_object in kinds:
        value = {"k": value} if is_object else [value]
    siblings = draw(st.lists(st.text(alphabet="{[a", max_size=8), max_size=3))
    body = {"deep": value, **{f"s{i}": text for i, text in enumerate(siblings)}}
    encoding = draw(st.sampled_from(["utf-8", "utf-16", "utf-32"]))
    return json.dumps(body, ensure_ascii=draw(st.booleans())).encode(encoding), len(kinds) + 2


@settings(max_examples=400)
@given(_chains())
def test_a_body_is_refused_for_depth_exactly_when_it_is_too_deep(chain: tuple[bytes, int]) -> None:
    # The parse skips the depth walk when the body has too few brackets to be too deep: that shortcut must never
    # let a deep body through, in any encoding json accepts, whatever brackets its strings hold.
    raw, depth = chain
    if depth > wompi.MAX_DEPTH:
        with pytest.raises(Unprocessable) as caught:
            wompi.parse_body(raw)
        assert caught.value.message == "the body nests deeper than 16 levels"
    else:
        assert wompi.parse_body(raw)["deep"] is not None


def test_lists_count_as_levels_and_the_deepest_branch_decides() -> None:
    # The top object and 14 more, then a list (level 16) holding a scalar at level 17: too deep, though the
    # first branch is shallow. Were lists not counted, the scalar would sit at level 16 and pass.
    deep: Any = [1]
    for _ in range(14):
        deep = {"a": deep}
    raw = json.dumps({"shallow": 1, "deep": deep}).encode()
    with pytest.raises(Unprocessable, match="deeper than 16"):
        wompi.parse_body(raw)
    ok: Any = [1]
    for _ in range(13):
        ok = {"a": ok}
    assert wompi.parse_body(json.dumps({"shallow": [], "deep": ok}).encode())


# --- Wompi: freshness of the signed timestamp -------------------------------------------------------------

NOW = 1_700_000_000.0


@pytest.mark.parametrize("timestamp", [int(NOW) - 100, int(NOW), int(NOW) + 30, int(NOW) - 3600, int(NOW) + 300])
def test_a_timestamp_inside_the_window_is_fresh(timestamp: int) -> None:
    wompi.check_fresh(timestamp, max_age=3600, max_future=300, now=NOW)


STALE = ("stale_event", "event timestamp is older than the accepted window")
FUTURE = ("future_event", "event timestamp is in the future")


@pytest.mark.parametrize(
    ("timestamp", "refusal"), [(int(NOW) - 3601, STALE), (0, STALE), (int(NOW) + 301, FUTURE)]
)
def test_a_stale_or_future_timestamp_is_a_401_saying_which(timestamp: int, refusal: tuple[str, str]) -> None:
    with pytest.raises(Unauthorized) as caught:
        wompi.check_fresh(timestamp, max_age=3600, max_future=300, now=NOW)
    assert (caught.value.code, caught.value.message) == refusal


def test_freshness_is_measured_against_the_clock_by_default() -> None:
    import time

    wompi.check_fresh(int(time.time()), max_age=60, max_future=60)
    with pytest.raises(Unauthorized, match="older"):
        wompi.check_fresh(int(time.time()) - 120, max_age=60, max_future=60)
    with pytest.raises(Unauthorized, match="future"):
        wompi.check_fresh(int(time.time()) + 120, max_age=60, max_future=60)


# --- Wompi: the event reduced to what the core acts on ----------------------------------------------------


def _wompi_event(**tx: Any) -> dict[str, Any]:
    transaction: dict[str, Any] = {"id": "1234-1610641025-49201", "status": "APPROVED", "amount_in_cents": 4490000,
                                   "currency": "COP", "reference": "MZQ3X2DE2SMX"}
    transaction.update(tx)
    return {"event": "transaction.updated", "data": {"transaction": transaction}, "timestamp": 1530291411}


def test_a_verified_wompi_event_becomes_its_signed_identity() -> None:
    event = _wompi_event()
    incoming = wompi.to_incoming(event, "ABCDEF01", raw_sha256="d" * 64)
    assert incoming.gateway is Gateway.WOMPI
    assert incoming.event_key == "1234-1610641025-49201:APPROVED"
    assert incoming.event_type == "transaction.updated"
    assert incoming.signature == "abcdef01"
    assert incoming.identity_data == {"id": "1234-1610641025-49201", "status": "APPROVED",
                                      "amount_in_cents": 4490000, "currency": "COP"}
    assert incoming.payload is event
    assert incoming.status is TransactionStatus.APPROVED
    assert incoming.amount == Decimal("44900.00")
    assert incoming.currency == "COP"
    assert incoming.raw_sha256 == "d" * 64
    assert incoming.signed_key is None
    assert wompi.ours(incoming) == TransactionMatch(Gateway.WOMPI, "gateway_transaction_id", "1234-1610641025-49201")


@pytest.mark.parametrize(("word", "status"), list(wompi.STATUSES.items()))
def test_each_wompi_status_word_maps_to_its_transaction_status(word: str, status: TransactionStatus) -> None:
    assert wompi.to_incoming(_wompi_event(status=word), "ab").status is status
    assert status.value == word.lower()


@pytest.mark.parametrize("cents", [1, 99, wompi.MAX_CENTS - 1])
def test_any_positive_amount_below_the_largest_charge_is_accepted(cents: int) -> None:
    assert wompi.to_incoming(_wompi_event(amount_in_cents=cents), "ab").identity_data["amount_in_cents"] == cents


@pytest.mark.parametrize(
    ("event", "code", "message"),
    [
        ({**_wompi_event(), "event": "nequi_token.updated"}, "unsupported_event",
         "only transaction.updated events are processed"),
        ({"event": "transaction.updated", "data": []}, "unsupported_event",
         "only transaction.updated events are processed"),
        ({"event": "transaction.updated", "data": {"transaction": "x"}}, "unsupported_event",
         "only transaction.updated events are processed"),
        ({"event": "transaction.updated"}, "unsupported_event", "only transaction.updated events are processed"),
        (_wompi_event(id=""), "malformed_event", "transaction.id missing"),
        (_wompi_event(id=7), "malformed_event", "transaction.id missing"),
        (_wompi_event(id="x" * 129), "malformed_event", "transaction.id missing"),
        (_wompi_event(status="approved"), "malformed_event", "unknown transaction status 'approved'"),
        (_wompi_event(status=None), "malformed_event", "unknown transaction status None"),
        (_wompi_event(amount_in_cents=0), "malformed_event",
         "amount_in_cents must be a positive integer below any charge's"),
        (_wompi_event(amount_in_cents=-5), "malformed_event",
         "amount_in_cents must be a positive integer below any charge's"),
        (_wompi_event(amount_in_cents=wompi.MAX_CENTS), "malformed_event",
         "amount_in_cents must be a positive integer below any charge's"),
        (_wompi_event(amount_in_cents=True), "malformed_event",
         "amount_in_cents must be a positive integer below any charge's"),
        (_wompi_event(amount_in_cents=Decimal("4490000")), "malformed_event",
         "amount_in_cents must be a positive integer below any charge's"),
        (_wompi_event(amount_in_cents="4490000"), "malformed_event",
         "amount_in_cents must be a positive integer below any charge's"),
        (_wompi_event(currency="CO"), "malformed_event", "currency missing"),
        (_wompi_event(currency="COPX"), "malformed_event", "currency missing"),
        (_wompi_event(currency=None), "malformed_event", "currency missing"),
    ],
)
def test_a_verified_wompi_event_the_core_cannot_act_on_is_a_422(event: dict[str, Any], code: str,
                                                                message: str) -> None:
    with pytest.raises(Unprocessable) as caught:
        wompi.to_incoming(event, "ab")
    assert (caught.value.code, caught.value.message) == (code, message)


def test_a_transaction_id_of_128_characters_is_accepted() -> None:
    assert wompi.to_incoming(_wompi_event(id="x" * 128), "ab").event_key == "x" * 128 + ":APPROVED"


# --- PayU: the form -------------------------------------------------------------------------------------


def test_a_payu_form_is_parsed_keeping_blank_values() -> None:
    assert payu.parse_form(b"a=1&b=&c=%C3%B1+x") == {"a": "1", "b": "", "c": "ñ x"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"a=1&a=1", "field a appears twice"),
        (b"sign=x&value=1&value=2", "field value appears twice"),
        (b"a=1&b", "the body is not a form-encoded confirmation"),
        (b"a=\xff", "the body is not a form-encoded confirmation"),
    ],
)
def test_a_malformed_payu_form_is_a_422_with_its_reason(raw: bytes, message: str) -> None:
    with pytest.raises(Unprocessable) as caught:
        payu.parse_form(raw)
    assert (caught.value.code, caught.value.message) == ("malformed_form", message)


# --- PayU: the confirmation reduced to what the core acts on ---------------------------------------------


def _form(**over: str) -> dict[str, str]:
    form = {"merchant_id": "508029", "reference_sale": "R-1", "value": "150.5", "currency": "USD", "state_pol": "4",
            "transaction_id": "T-1", "sign": " ABCDEF ", "reference_pol": "1400449660"}
    form.update(over)
    return form


def test_a_verified_payu_confirmation_becomes_its_identity() -> None:
    form = _form()
    incoming = payu.to_incoming(form, raw_sha256="e" * 64)
    assert incoming.gateway is Gateway.PAYU
    assert incoming.event_key == "R-1:T-1:4"
    assert incoming.signed_key == "R-1:4"
    assert incoming.refusal_key("unknown_reference") == "R-1:4:refused:unknown_reference"
    assert incoming.event_type == "confirmation"
    assert incoming.signature == "abcdef"
    assert incoming.identity_data == {"reference_sale": "R-1", "transaction_id": "T-1", "state_pol": "4",
                                      "value": "150.50", "currency": "USD"}
    assert incoming.payload == form and incoming.payload is not form
    assert incoming.status is TransactionStatus.APPROVED
    assert incoming.amount == Decimal("150.50") and str(incoming.amount) == "150.50"
    assert incoming.currency == "USD"
    assert incoming.raw_sha256 == "e" * 64


@pytest.mark.parametrize(("state", "status"), list(payu.STATE_POL.items()))
def test_each_state_pol_maps_to_its_transaction_status(state: str, status: TransactionStatus) -> None:
    assert payu.to_incoming(_form(state_pol=state)).status is status


def test_the_payu_status_words_of_the_queries_api_map_to_ours() -> None:
    assert payu.PAYU_STATE == {"APPROVED": TransactionStatus.APPROVED, "DECLINED": TransactionStatus.DECLINED,
                               "EXPIRED": TransactionStatus.EXPIRED, "ERROR": TransactionStatus.ERROR,
                               "PENDING": TransactionStatus.PENDING, "SUBMITTED": TransactionStatus.PENDING}


@pytest.mark.parametrize("value", ["0.01", "150", "150.26", "9999999999999.99"])
def test_any_positive_value_with_at_most_two_decimals_below_the_largest_charge_is_accepted(value: str) -> None:
    assert payu.to_incoming(_form(value=value)).amount == Decimal(value)


def test_a_transaction_id_of_64_characters_is_accepted() -> None:
    assert payu.to_incoming(_form(transaction_id="t" * 64)).identity_data["transaction_id"] == "t" * 64


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"state_pol": "9"}, "unknown state_pol '9'"),
        ({"value": "abc"}, "value is not a decimal"),
        ({"value": "NaN"}, "value must be positive with at most 2 decimals"),
        ({"value": "Infinity"}, "value must be positive with at most 2 decimals"),
        ({"value": "0"}, "value must be positive with at most 2 decimals"),
        ({"value": "-1.00"}, "value must be positive with at most 2 decimals"),
        ({"value": "1.001"}, "value must be positive with at most 2 decimals"),
        ({"value": "10000000000000"}, "value is larger than any charge"),
        ({"value": "10000000000000.00"}, "value is larger than any charge"),
        ({"currency": "US"}, "currency must be a three-letter code"),
        ({"currency": "USDX"}, "currency must be a three-letter code"),
        ({"transaction_id": ""}, "transaction_id missing"),
        ({"transaction_id": "t" * 65}, "transaction_id missing"),
    ],
)
def test_a_verified_payu_confirmation_the_core_cannot_act_on_is_a_422(over: dict[str, str], message: str) -> None:
    with pytest.raises(Unprocessable) as caught:
        payu.to_incoming(_form(**over))
    assert (caught.value.code, caught.value.message) == ("malformed_confirmation", message)


def test_a_confirmation_without_transaction_id_is_a_422() -> None:
    form = _form()
    del form["transaction_id"]
    with pytest.raises(Unprocessable, match="transaction_id missing"):
        payu.to_incoming(form)


def test_payus_own_answer_changes_only_the_status_never_the_identity() -> None:
    incoming = payu.to_incoming(_form(state_pol="7"))
    settled = payu._with_status(incoming, TransactionStatus.APPROVED)
    assert settled.status is TransactionStatus.APPROVED
    assert (settled.event_key, settled.identity_data, settled.payload_sha256) == (
        incoming.event_key, incoming.identity_data, incoming.payload_sha256)
