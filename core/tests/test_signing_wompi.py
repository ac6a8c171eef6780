"""Table tests for the core's Wompi integrity signature and event checksum (gateways.md §2.8, §2.9)."""

from __future__ import annotations

import copy
import hashlib
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.signing.wompi import (
    REQUIRED_PROPERTIES,
    EventSignatureError,
    event_checksum,
    integrity_signature,
    verify_event,
)

pytestmark = pytest.mark.scenario("WH-SIGNATURE")

INTEGRITY = "prod_integrity_Z5mMke9x0k8gpErbDqwrJXMqsI6SFli6"
EVENTS = "prod_events_OcHnIzeBl5socpwByQ4hA52Em3USQ93Z"
DOC_CONCAT = "1234-1610641025-49201APPROVED44900001530291411" + EVENTS
DOC_PRINTED = "3476DDA50F64CD7CBD160689640506FEBEA93239BC524FC0469B2C68A3CC8BD0"
DOC_RECOMPUTED = "5a18ec5e8fdb7df463e9f94774cba8f583ba21bd04a09ceff2ea68a4bc0aefbe"


def test_integrity_signature_matches_documented_example() -> None:
    assert integrity_signature("sk8-438k4-xmxm392-sn2m", 2490000, "COP", INTEGRITY) == (
        "37c8407747e595535433ef8f6a811d853cd943046624a0ec04662b17bbf33bf5"
    )


def test_integrity_signature_puts_expiration_between_currency_and_secret() -> None:
    expected = hashlib.sha256(
        f"sk8-438k4-xmxm392-sn2m2490000COP2023-06-09T20:28:50.000Z{INTEGRITY}".encode()
    ).hexdigest()
    got = integrity_signature(
        "sk8-438k4-xmxm392-sn2m", 2490000, "COP", INTEGRITY, expiration_time="2023-06-09T20:28:50.000Z"
    )
    assert got == expected


@pytest.mark.parametrize("amount", [Decimal("2490000"), 24900.0, True, "2490000"])
def test_integrity_signature_takes_integer_cents_only(amount: Any) -> None:
    with pytest.raises(TypeError):
        integrity_signature("ref", amount, "COP", INTEGRITY)


def _event(**over: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event": "transaction.updated",
        "data": {
            "transaction": {
                "id": "1234-1610641025-49201",
                "amount_in_cents": 4490000,
                "reference": "MZQ3X2DE2SMX",
                "customer_email": "juan.perez@gmail.com",
                "currency": "COP",
                "payment_method_type": "NEQUI",
                "redirect_url": "https://mitienda.com.co/pagos/redireccion",
                "status": "APPROVED",
                "shipping_address": None,
                "payment_link_id": None,
                "payment_source_id": None,
            }
        },
        "environment": "prod",
        "signature": {
            "properties": ["transaction.id", "transaction.status", "transaction.amount_in_cents"],
            "checksum": DOC_RECOMPUTED,
        },
        "timestamp": 1530291411,
        "sent_at": "2018-07-20T16:45:05.000Z",
    }
    event.update(over)
    return event


def test_documented_event_checksum_follows_the_formula() -> None:
    assert hashlib.sha256(DOC_CONCAT.encode()).hexdigest() == DOC_RECOMPUTED
    assert event_checksum(_event(), EVENTS) == DOC_RECOMPUTED
    assert verify_event(_event(), events_secret=EVENTS)


def test_the_printed_doc_checksum_does_not_verify() -> None:
    event = _event()
    event["signature"]["checksum"] = DOC_PRINTED
    verdict = verify_event(event, events_secret=EVENTS)
    assert not verdict
    assert verdict.reason == "checksum does not match"


def test_hmac_of_the_same_string_does_not_verify() -> None:
    import hmac

    forged = hmac.new(EVENTS.encode(), DOC_CONCAT.removesuffix(EVENTS).encode(), hashlib.sha256).hexdigest()
    event = _event()
    event["signature"]["checksum"] = forged
    assert not verify_event(event, events_secret=EVENTS)


def test_checksum_compares_case_insensitively_in_header_and_body() -> None:
    event = _event()
    event["signature"]["checksum"] = DOC_RECOMPUTED.upper()
    assert verify_event(event, events_secret=EVENTS, header_checksum=DOC_RECOMPUTED)
    del event["signature"]["checksum"]
    assert verify_event(event, events_secret=EVENTS, header_checksum=DOC_RECOMPUTED.upper())


def test_header_and_body_checksums_must_agree() -> None:
    verdict = verify_event(_event(), events_secret=EVENTS, header_checksum="ab" * 32)
    assert not verdict
    assert "differ" in verdict.reason


def test_no_checksum_anywhere_is_refused() -> None:
    event = _event()
    del event["signature"]["checksum"]
    verdict = verify_event(event, events_secret=EVENTS)
    assert not verdict
    assert "no checksum" in verdict.reason


def test_signed_fields_cannot_be_tampered_but_unsigned_ones_can() -> None:
    for path, value in [("status", "DECLINED"), ("amount_in_cents", 4490001), ("id", "1234-1610641025-49202")]:
        event = _event()
        event["data"]["transaction"][path] = value
        assert not verify_event(event, events_secret=EVENTS), path
    changed_timestamp = _event(timestamp=1530291412)
    assert not verify_event(changed_timestamp, events_secret=EVENTS)
    # reference is not listed in signature.properties: changing it keeps the checksum valid, so the
    # webhook path must map events by what the core stored, never by this field.
    event = _event()
    event["data"]["transaction"]["reference"] = "SOMEONE-ELSES-ORDER"
    assert verify_event(event, events_secret=EVENTS)


def _resigned(event: dict[str, Any], properties: list[str], concatenation: str) -> dict[str, Any]:
    """``event`` re-listed with ``properties`` and the checksum of ``concatenation`` (as if captured)."""
    event["signature"]["properties"] = properties
    event["signature"]["checksum"] = hashlib.sha256(f"{concatenation}{event['timestamp']}{EVENTS}".encode()).hexdigest()
    return event


def test_a_captured_concatenation_in_one_unsigned_field_is_refused() -> None:
    # The attack of issue 13: the whole captured concatenation moved into customer_email, the acted-on fields
    # then set at will. The checksum is the genuine one, so only the property rule can refuse it.
    forged = _event()
    forged["data"]["transaction"].update(customer_email="1234-1610641025-49201APPROVED4490000",
                                         id="9999-1-00001", status="DECLINED", amount_in_cents=1)
    forged["signature"]["properties"] = ["transaction.customer_email"]
    assert hashlib.sha256(("1234-1610641025-49201APPROVED4490000" + "1530291411" + EVENTS).encode()).hexdigest() == (
        forged["signature"]["checksum"])
    verdict = verify_event(forged, events_secret=EVENTS)
    assert not verdict
    assert "must begin with" in verdict.reason


@pytest.mark.parametrize(
    "properties",
    [
        ["transaction.reference", "transaction.status"],  # the permissive list the old test accepted
        ["transaction.status", "transaction.id", "transaction.amount_in_cents"],  # re-ordered
        ["transaction.id", "transaction.status"],  # amount missing
        ["transaction.customer_email", "transaction.id", "transaction.status", "transaction.amount_in_cents"],
        ["transaction.id", "transaction.status", "transaction.amount_in_cents", "transaction.id"],  # twice
    ],
)
def test_the_property_list_must_begin_with_id_status_amount_once_each(properties: list[str]) -> None:
    event = _event()
    values = {p: str(event["data"]["transaction"][p.split(".")[1]]) for p in properties}
    _resigned(event, properties, "".join(values[p] for p in properties))
    verdict = verify_event(event, events_secret=EVENTS)
    assert not verdict, properties
    assert "must begin with" in verdict.reason or "twice" in verdict.reason


@pytest.mark.parametrize("path", ["transaction.shipping_address.city", "transaction", "payment.id", "transaction.",
                                  "transaction.ID", "transaction.id ", "transaction.__class__x" * 5])
def test_extra_properties_must_be_plain_transaction_fields(path: str) -> None:
    event = _event()
    event["data"]["transaction"]["shipping_address"] = {"city": "Bogota"}
    _resigned(event, [*REQUIRED_PROPERTIES, path], DOC_CONCAT.removesuffix("1530291411" + EVENTS) + "Bogota")
    assert not verify_event(event, events_secret=EVENTS)


def test_extra_properties_after_the_required_ones_are_signed_too() -> None:
    # Wompi says the list may grow: an extra listed property is accepted, and covered by the checksum.
    event = _resigned(_event(), [*REQUIRED_PROPERTIES, "transaction.reference"],
                      "1234-1610641025-49201APPROVED4490000MZQ3X2DE2SMX")
    assert verify_event(event, events_secret=EVENTS)
    event["data"]["transaction"]["reference"] = "OTHER"
    assert not verify_event(event, events_secret=EVENTS)


def test_only_the_amounts_trailing_digits_can_move_and_that_changes_the_amount() -> None:
    # The one cut left to a forger: digits of the amount moved into a trailing extra property. The id and the
    # status stay the captured ones; the amount becomes another number, which the charge check refuses.
    event = _event()
    event["data"]["transaction"].update(amount_in_cents=449, customer_email="0000")
    _resigned(event, [*REQUIRED_PROPERTIES, "transaction.customer_email"], "1234-1610641025-49201APPROVED4490000")
    assert event["signature"]["checksum"] == DOC_RECOMPUTED
    assert verify_event(event, events_secret=EVENTS)
    assert event["data"]["transaction"]["amount_in_cents"] != 4490000


def test_a_lone_surrogate_in_a_signed_value_is_refused_not_raised() -> None:
    event = _event()
    event["data"]["transaction"]["id"] = "1234-\ud800"
    verdict = verify_event(event, events_secret=EVENTS)
    assert not verdict
    assert "Unicode" in verdict.reason


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda e: e.pop("signature"), "no checksum"),
        (lambda e: e["signature"].pop("properties"), "non-empty list"),
        (lambda e: e["signature"].update(properties=[]), "non-empty list"),
        (lambda e: e["signature"].update(properties="transaction.id"), "non-empty list"),
        (lambda e: e["signature"].update(properties=["transaction.id", 7]), "list of strings"),
        (lambda e: e["signature"].update(properties=[*REQUIRED_PROPERTIES, "transaction.nope"]), "does not resolve"),
        (lambda e: e["signature"].update(properties=[*REQUIRED_PROPERTIES, "transaction..id"]), "not transaction."),
        (lambda e: e["signature"].update(properties=[*REQUIRED_PROPERTIES, "transaction.id.deeper"]),
         "not transaction."),
        (lambda e: e["signature"].update(properties=[*REQUIRED_PROPERTIES, "transaction.shipping_address"]), "None"),
        (lambda e: e["data"]["transaction"].update(id={"n": 1}), "not a signable scalar"),
        (lambda e: e["signature"].update(properties=["transaction.id"] * 33), "more than"),
        (lambda e: e.pop("data"), "data object missing"),
        (lambda e: e.update(timestamp="1530291411"), "timestamp"),
        (lambda e: e.update(timestamp=True), "timestamp"),
        (lambda e: e["signature"].update(checksum=12), "not a string"),
    ],
)
def test_malformed_events_are_refused_with_a_reason(mutate: Any, reason: str) -> None:
    event = _event()
    mutate(event)
    verdict = verify_event(event, events_secret=EVENTS)
    assert not verdict
    assert reason in verdict.reason


def test_float_values_are_refused_and_decimal_keeps_the_wire_text() -> None:
    raw = json.dumps(_event()).replace('"amount_in_cents": 4490000', '"amount_in_cents": 4490000.0')
    as_float = json.loads(raw)
    with pytest.raises(EventSignatureError, match="float"):
        event_checksum(as_float, EVENTS)
    as_decimal = json.loads(raw, parse_float=Decimal)
    # The wire said 4490000.0, so the hashed text is "4490000.0": not what Wompi signed for 4490000.
    assert not verify_event(as_decimal, events_secret=EVENTS)


def test_non_object_event_is_refused() -> None:
    assert not verify_event([], events_secret=EVENTS)  # type: ignore[arg-type]


@given(
    tx_id=st.text(min_size=1, max_size=40),
    status=st.sampled_from(["APPROVED", "DECLINED", "VOIDED", "ERROR", "PENDING"]),
    cents=st.integers(min_value=0, max_value=10**12),
    timestamp=st.integers(min_value=0, max_value=2**40),
)
def test_formula_round_trip_and_any_flip_fails(tx_id: str, status: str, cents: int, timestamp: int) -> None:
    event = _event(timestamp=timestamp)
    event["data"]["transaction"].update(id=tx_id, status=status, amount_in_cents=cents)
    expected = hashlib.sha256(f"{tx_id}{status}{cents}{timestamp}{EVENTS}".encode()).hexdigest()
    event["signature"]["checksum"] = expected
    assert verify_event(event, events_secret=EVENTS)
    tampered = copy.deepcopy(event)
    tampered["data"]["transaction"]["amount_in_cents"] = cents + 1
    assert not verify_event(tampered, events_secret=EVENTS)
    assert not verify_event(event, events_secret=EVENTS + "x")
