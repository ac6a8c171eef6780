"""EfectyClient against httpx.MockTransport: the shared Efecty HTTP contract, idempotent registration, errors."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from core.gateways.asobancaria import parse_asobancaria
from core.gateways.efecty import EfectyClient, EfectyConfig
from core.gateways.errors import (
    EfectyAuthenticationError,
    EfectyDuplicateCodeError,
    EfectyError,
    EfectyNetworkError,
    EfectyNotFoundError,
    EfectyTransactionError,
    EfectyValidationError,
)
from core.gateways.resilience import BreakerPolicy
from core.tests.support import FakeSleep, Recorder, sequence
from core.tests.test_asobancaria import build

KEY = "efecty_test_key_3Jd8s"
EXPIRES = datetime(2025, 2, 7, 17, 0, tzinfo=UTC)


def make(rec: Recorder, sleep: FakeSleep) -> tuple[EfectyClient, httpx.AsyncClient]:
    http = rec.client()
    cfg = EfectyConfig(
        base_url="http://efecty.test",
        api_key=SecretStr(KEY),
        convenio="110634",
        breaker=BreakerPolicy(failure_threshold=50),
    )
    return EfectyClient(http, cfg, sleep=sleep, rand=lambda: 0.0), http


def voucher(**over: Any) -> dict[str, Any]:
    v = {
        "payment_code": "EFE-42-7KQ9",
        "amount": "50000.00",
        "currency": "COP",
        "status": "PENDING",
        "expires_at": "2025-02-07T17:00:00Z",
        "created_at": "2025-01-31T17:00:00Z",
        "reference": "order-42",
    }
    v.update(over)
    return v


def err(status: int, code: str, **extra: Any) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": code.lower(), **extra}})


@pytest.fixture
def sleep() -> FakeSleep:
    return FakeSleep()


async def register(efecty: EfectyClient, **over: Any) -> Any:
    args: dict[str, Any] = {
        "payment_code": "EFE-42-7KQ9",
        "amount": Decimal("50000"),
        "expires_at": EXPIRES,
        "reference": "order-42",
        "description": "Order 42",
    }
    args.update(over)
    return await efecty.register_voucher(**args)


async def test_register_voucher_request_shape(sleep: FakeSleep) -> None:
    rec = Recorder(sequence(httpx.Response(201, json={"voucher": voucher()})))
    efecty, http = make(rec, sleep)
    async with http:
        v = await register(efecty, expires_at=EXPIRES.astimezone(timezone(timedelta(hours=-5))))
    request = rec.requests[0]
    assert (request.method, str(request.url)) == ("POST", "http://efecty.test/api/v1/vouchers")
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert json.loads(request.content) == {
        "payment_code": "EFE-42-7KQ9",
        "amount": "50000.00",
        "currency": "COP",
        "expires_at": "2025-02-07T17:00:00Z",
        "reference": "order-42",
        "description": "Order 42",
    }
    assert v.amount == Decimal("50000.00") and v.status == "PENDING" and v.expires_at == EXPIRES


async def test_retry_meeting_duplicate_code_of_our_own_voucher_is_success(sleep: FakeSleep) -> None:
    rec = Recorder(
        sequence(
            httpx.ReadTimeout("slow"), err(409, "DUPLICATE_CODE"), httpx.Response(200, json={"voucher": voucher()})
        )
    )
    efecty, http = make(rec, sleep)
    async with http:
        v = await register(efecty)
    assert [(r.method, r.url.path) for r in rec.requests] == [
        ("POST", "/api/v1/vouchers"),
        ("POST", "/api/v1/vouchers"),
        ("GET", "/api/v1/vouchers/EFE-42-7KQ9"),
    ]
    assert v.payment_code == "EFE-42-7KQ9"
    assert sleep.delays == [1.0]


async def test_duplicate_code_of_another_voucher_is_refused(sleep: FakeSleep) -> None:
    rec = Recorder(
        sequence(err(409, "DUPLICATE_CODE"), httpx.Response(200, json={"voucher": voucher(amount="70000.00")}))
    )
    efecty, http = make(rec, sleep)
    async with http:
        with pytest.raises(EfectyDuplicateCodeError) as info:
            await register(efecty)
    assert info.value.result.amount == Decimal("70000.00")


@pytest.mark.parametrize(
    ("response", "error_type"),
    [
        (err(401, "UNAUTHORIZED"), EfectyAuthenticationError),
        (err(422, "VALIDATION_ERROR", fields={"amount": "out of range"}), EfectyValidationError),
        (err(410, "EXPIRED"), EfectyTransactionError),
        (err(409, "ALREADY_PAID"), EfectyTransactionError),
        (err(422, "AMOUNT_MISMATCH"), EfectyTransactionError),
        (err(404, "UNKNOWN_CODE"), EfectyNotFoundError),
    ],
)
async def test_error_codes_map_to_the_tree_and_are_not_retried(
    response: httpx.Response, error_type: type[EfectyError], sleep: FakeSleep
) -> None:
    rec = Recorder(sequence(response))
    efecty, http = make(rec, sleep)
    async with http:
        with pytest.raises(error_type) as info:
            await register(efecty)
    assert type(info.value) is error_type
    assert len(rec.requests) == 1
    assert KEY not in str(info.value)


async def test_validation_fields_are_kept(sleep: FakeSleep) -> None:
    rec = Recorder(sequence(err(422, "VALIDATION_ERROR", fields={"amount": "out of range"})))
    efecty, http = make(rec, sleep)
    async with http:
        with pytest.raises(EfectyValidationError) as info:
            await register(efecty, amount=Decimal(10))
    assert info.value.details == {"amount": "out of range"}


async def test_naive_expiry_is_refused_before_sending(sleep: FakeSleep) -> None:
    rec = Recorder(sequence())
    efecty, http = make(rec, sleep)
    async with http:
        with pytest.raises(ValueError):
            await register(efecty, expires_at=datetime(2025, 2, 7))
    assert rec.requests == []


async def test_get_voucher_paid_and_unknown(sleep: FakeSleep) -> None:
    rec = Recorder(
        sequence(
            httpx.Response(200, json={"voucher": voucher(status="PAID", paid_at="2025-02-01T15:00:00+00:00")}),
            err(404, "NOT_FOUND"),
        )
    )
    efecty, http = make(rec, sleep)
    async with http:
        paid = await efecty.get_voucher("EFE-42-7KQ9")
        with pytest.raises(EfectyNotFoundError):
            await efecty.get_voucher("EFE/../x")
    assert paid.status == "PAID" and paid.paid_at == datetime(2025, 2, 1, 15, tzinfo=UTC)
    assert rec.requests[1].url.raw_path == b"/api/v1/vouchers/EFE%2F..%2Fx"


def reconciliation(**over: Any) -> dict[str, Any]:
    report = {
        "date": "2025-01-31",
        "convenio": "110634",
        "total": "62345.67",
        "payments": [
            {
                "payment_code": "EFE-42-7KQ9",
                "amount": "50000.00",
                "paid_at": "2025-01-31T20:00:00Z",
                "point_id": "PT-001",
                "authorization_code": "654321",
                "operation_id": "123456",
            },
            {
                "payment_code": "EFE-43-ZZ11",
                "amount": "12345.67",
                "paid_at": "2025-01-31T21:00:00Z",
                "point_id": "PT-002",
                "authorization_code": "654322",
                "operation_id": "123457",
            },
        ],
    }
    report.update(over)
    return report


async def test_reconciliation_json_parses_decimals_and_checks_its_total(sleep: FakeSleep) -> None:
    rec = Recorder(sequence(httpx.Response(200, json=reconciliation())))
    efecty, http = make(rec, sleep)
    async with http:
        report = await efecty.reconciliation_json(date(2025, 1, 31))
    assert rec.requests[0].url.path == "/api/v1/reconciliation/2025-01-31"
    assert [p.amount for p in report.payments] == [Decimal("50000.00"), Decimal("12345.67")]
    assert report.total == Decimal("62345.67")


async def test_reconciliation_json_with_a_wrong_total_is_malformed(sleep: FakeSleep) -> None:
    rec = Recorder(sequence(*(httpx.Response(200, json=reconciliation(total="1.00")) for _ in range(3))))
    efecty, http = make(rec, sleep)
    async with http:
        with pytest.raises(EfectyNetworkError, match="malformed"):
            await efecty.reconciliation_json(date(2025, 1, 31))


async def test_reconciliation_for_another_convenio_is_refused(sleep: FakeSleep) -> None:
    rec = Recorder(sequence(httpx.Response(200, json=reconciliation(convenio="999999"))))
    efecty, http = make(rec, sleep)
    async with http:
        with pytest.raises(EfectyError, match="not ours"):
            await efecty.reconciliation_json(date(2025, 1, 31))


async def test_reconciliation_file_returns_text_for_the_parser(sleep: FakeSleep) -> None:
    text = build(("EFE-42-7KQ9", 5_000_000))
    rec = Recorder(sequence(httpx.Response(200, text=text, headers={"Content-Type": "text/plain"})))
    efecty, http = make(rec, sleep)
    async with http:
        body = await efecty.reconciliation_file(date(2025, 1, 31))
    assert rec.requests[0].url.path == "/api/v1/reconciliation/2025-01-31/asobancaria"
    assert parse_asobancaria(body).details[0].amount == Decimal("50000.00")


@pytest.mark.parametrize(
    "read_back",
    [[httpx.Response(429, json={})] * 3, [err(404, "NOT_FOUND")]],
    ids=["read-back-429", "read-back-404"],
)
async def test_register_timing_out_then_duplicate_then_failed_read_back_is_outcome_unknown(
    sleep: FakeSleep, read_back: list[Any]
) -> None:
    # The first POST may have registered the voucher; a read-back that fails must not say "not registered".
    rec = Recorder(sequence(httpx.ReadTimeout("slow"), err(409, "DUPLICATE_CODE"), *read_back))
    efecty, http = make(rec, sleep)
    async with http:
        with pytest.raises(EfectyError) as info:
            await register(efecty)
    assert info.value.outcome_unknown and not info.value.retryable


async def test_register_timing_out_then_rate_limited_is_outcome_unknown(sleep: FakeSleep) -> None:
    rec = Recorder(sequence(httpx.ReadTimeout("slow"), httpx.Response(429, json={}), httpx.Response(429, json={})))
    efecty, http = make(rec, sleep)
    async with http:
        with pytest.raises(EfectyNetworkError) as info:
            await register(efecty)
    assert info.value.outcome_unknown
