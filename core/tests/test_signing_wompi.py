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

from core.signing.wompi import EventSignatureError, event_checksum, integrity_signature, verify_event

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


def test_property_list_is_read_from_the_event() -> None:
    event = _event()
    event["signature"]["properties"] = ["transaction.reference", "transaction.status"]
    text = "MZQ3X2DE2SMXAPPROVED1530291411" + EVENTS
    event["signature"]["checksum"] = hashlib.sha256(text.encode()).hexdigest()
    assert verify_event(event, events_secret=EVENTS)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda e: e.pop("signature"), "no checksum"),
        (lambda e: e["signature"].pop("properties"), "non-empty list"),
        (lambda e: e["signature"].update(properties=[]), "non-empty list"),
        (lambda e: e["signature"].update(properties="transaction.id"), "non-empty list"),
        (lambda e: e["signature"].update(properties=["transaction.id", 7]), "list of strings"),
        (lambda e: e["signature"].update(properties=["transaction.nope"]), "does not resolve"),
        (lambda e: e["signature"].update(properties=["transaction..id"]), "malformed"),
        (lambda e: e["signature"].update(properties=["transaction.id.deeper"]), "does not resolve"),
        (lambda e: e["signature"].update(properties=["transaction.shipping_address"]), "None"),
        (lambda e: e["signature"].update(properties=["transaction"]), "not a signable scalar"),
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
