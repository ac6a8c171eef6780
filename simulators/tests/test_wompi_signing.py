"""Table-style tests of Wompi's integrity signature and event checksum against gateways.md §2.8/§2.9."""

from __future__ import annotations

import hashlib

import pytest

from simulators.wompi.signing import (
    checksums_match,
    event_checksum,
    integrity_signature,
    resolve_property,
    stringify,
    verify_event,
)

DOC_INTEGRITY_SECRET = "prod_integrity_Z5mMke9x0k8gpErbDqwrJXMqsI6SFli6"
DOC_EVENTS_SECRET = "prod_events_OcHnIzeBl5socpwByQ4hA52Em3USQ93Z"
# The checksum the events page prints for its worked example; it does not follow from its own inputs.
DOC_PRINTED_CHECKSUM = "3476DDA50F64CD7CBD160689640506FEBEA93239BC524FC0469B2C68A3CC8BD0"
# SHA-256 of the page's printed concatenation, recomputed (gateways.md §2.9).
RECOMPUTED_CHECKSUM = "5a18ec5e8fdb7df463e9f94774cba8f583ba21bd04a09ceff2ea68a4bc0aefbe"


def doc_event_data() -> dict[str, object]:
    return {
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
    }


DOC_PROPERTIES = ["transaction.id", "transaction.status", "transaction.amount_in_cents"]


@pytest.mark.parametrize(
    ("reference", "amount", "currency", "expiration", "secret", "expected"),
    [
        # documented example, verified (gateways.md §2.8)
        (
            "sk8-438k4-xmxm392-sn2m",
            2490000,
            "COP",
            None,
            DOC_INTEGRITY_SECRET,
            "37c8407747e595535433ef8f6a811d853cd943046624a0ec04662b17bbf33bf5",
        ),
        # same inputs with the documented expiration time between currency and secret; no printed
        # result exists in the docs, the value is SHA-256 of the documented concatenation order
        (
            "sk8-438k4-xmxm392-sn2m",
            2490000,
            "COP",
            "2023-06-09T20:28:50.000Z",
            DOC_INTEGRITY_SECRET,
            "e972f58e7de36b283fbb93d9318d39a54ffdff4e8e917b534f30d63c9d7bb89c",
        ),
    ],
)
def test_integrity_signature_matches_vectors(
    reference: str, amount: int, currency: str, expiration: str | None, secret: str, expected: str
) -> None:
    assert integrity_signature(reference, amount, currency, secret, expiration) == expected


def test_integrity_signature_with_expiration_places_time_before_secret() -> None:
    manual = hashlib.sha256(b"r1100COP2030-01-01T00:00:00.000Zsec").hexdigest()
    assert integrity_signature("r1", 100, "COP", "sec", "2030-01-01T00:00:00.000Z") == manual
    assert integrity_signature("r1", 100, "COP", "sec") != manual


@pytest.mark.parametrize("bad_amount", ["2490000", 24900.0, True])
def test_integrity_signature_refuses_non_integer_amounts(bad_amount: object) -> None:
    with pytest.raises(TypeError):
        integrity_signature("r", bad_amount, "COP", "s")  # type: ignore[arg-type]


def test_integrity_signature_is_not_hmac() -> None:
    import hmac

    plain = integrity_signature("r", 100, "COP", "secret")
    keyed = hmac.new(b"secret", b"r100COP", hashlib.sha256).hexdigest()
    assert plain != keyed


def test_documented_event_concatenation_recomputes_to_sha256_of_the_printed_string() -> None:
    checksum = event_checksum(doc_event_data(), DOC_PROPERTIES, 1530291411, DOC_EVENTS_SECRET)
    assert checksum == RECOMPUTED_CHECKSUM


def test_documented_event_printed_checksum_does_not_reproduce() -> None:
    checksum = event_checksum(doc_event_data(), DOC_PROPERTIES, 1530291411, DOC_EVENTS_SECRET)
    assert not checksums_match(checksum, DOC_PRINTED_CHECKSUM)


def doc_event(checksum: str) -> dict[str, object]:
    return {
        "event": "transaction.updated",
        "data": doc_event_data(),
        "environment": "prod",
        "signature": {"properties": DOC_PROPERTIES, "checksum": checksum},
        "timestamp": 1530291411,
        "sent_at": "2018-07-20T16:45:05.000Z",
    }


@pytest.mark.parametrize(
    ("checksum", "secret", "valid"),
    [
        (RECOMPUTED_CHECKSUM, DOC_EVENTS_SECRET, True),
        (RECOMPUTED_CHECKSUM.upper(), DOC_EVENTS_SECRET, True),  # case-insensitive, as the doc prints
        (DOC_PRINTED_CHECKSUM, DOC_EVENTS_SECRET, False),  # the doc's printed value
        (RECOMPUTED_CHECKSUM, "prod_events_wrong", False),
        ("", DOC_EVENTS_SECRET, False),
    ],
)
def test_verify_event_table(checksum: str, secret: str, valid: bool) -> None:
    assert verify_event(doc_event(checksum), secret) is valid


def test_verify_event_reads_properties_from_the_event_not_a_fixed_list() -> None:
    body = doc_event("")
    body["signature"] = {"properties": ["transaction.reference"], "checksum": ""}
    expected = hashlib.sha256(f"MZQ3X2DE2SMX1530291411{DOC_EVENTS_SECRET}".encode()).hexdigest()
    body["signature"]["checksum"] = expected  # type: ignore[index]
    assert verify_event(body, DOC_EVENTS_SECRET)


def test_unsigned_field_change_keeps_checksum_and_signed_field_change_breaks_it() -> None:
    body = doc_event(RECOMPUTED_CHECKSUM)
    body["data"]["transaction"]["reference"] = "OTHER"  # type: ignore[index]
    assert verify_event(body, DOC_EVENTS_SECRET)
    body["data"]["transaction"]["status"] = "DECLINED"  # type: ignore[index]
    assert not verify_event(body, DOC_EVENTS_SECRET)


@pytest.mark.parametrize(
    "body",
    [{}, {"data": {}, "signature": {"properties": ["transaction.id"]}, "timestamp": 1}, {"signature": None}],
)
def test_verify_event_is_false_for_malformed_bodies(body: dict[str, object]) -> None:
    assert verify_event(body, DOC_EVENTS_SECRET) is False


def test_resolve_property_walks_the_data_object() -> None:
    assert resolve_property(doc_event_data(), "transaction.amount_in_cents") == 4490000
    with pytest.raises(KeyError):
        resolve_property(doc_event_data(), "transaction.nope")


@pytest.mark.parametrize(
    ("value", "text"), [(4490000, "4490000"), ("APPROVED", "APPROVED"), (None, ""), (True, "true")]
)
def test_stringify_table(value: object, text: str) -> None:
    assert stringify(value) == text
