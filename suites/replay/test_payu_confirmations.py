"""PayU confirmations against the live core: captured replays, tampering, wrong algorithm, missing sign."""

from __future__ import annotations

import uuid
from decimal import Decimal

import asyncpg
import httpx
import pytest

from harness.target.target import Target
from suites.conftest import Live, seed_transaction
from suites.support.events import form_body, payu_confirmation
from suites.support.faults import requests

pytestmark = pytest.mark.scenario("WH-REPLAY")
AMOUNT = Decimal("50000.00")
PAYU_TXN = "aa2f50b2-62a8-42de-b3be-c6fe08ec712f"
QUERIES_PATH = "/reports-api/4.0/service.cgi"


def _confirmation(live: Live, reference: str, **overrides: object) -> dict[str, str]:
    args: dict[str, object] = {"reference_sale": reference, "value": AMOUNT, "status": "APPROVED",
                               "api_key": live.creds["payu"]["api_key"],
                               "merchant_id": live.creds["payu"]["merchant_id"], "transaction_id": PAYU_TXN}
    args.update(overrides)
    return payu_confirmation(**args)  # type: ignore[arg-type]


async def _post(core: httpx.AsyncClient, form: dict[str, str]) -> httpx.Response:
    body, headers = form_body(form)
    return await core.post("/webhooks/payu", content=body, headers=headers)


@pytest.mark.scenario("PAYU-CONFIRMATION-REPLAY")
async def test_a_captured_confirmation_replayed_later_changes_nothing(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    seeded = await seed_transaction(core_db, gateway="payu", gateway_transaction_id=PAYU_TXN)
    form = _confirmation(live, str(seeded["reference"]))
    assert (await _post(core, form)).status_code == 200
    state = await core_db.fetchrow("SELECT status, approved_amount FROM orders WHERE id = $1", seeded["order_id"])
    assert dict(state) == {"status": "paid", "approved_amount": AMOUNT}
    # PayU's retry of the same confirmation differs only in `attempts`, which is not part of its identity.
    for attempts in (1, 2, 9):
        replay = await _post(core, {**form, "attempts": str(attempts)})
        assert replay.status_code == 200
        assert replay.json()["status"] == "duplicate"
    assert await core_db.fetchval("SELECT count(*) FROM webhook_events") == 1
    again = await core_db.fetchrow("SELECT status, approved_amount FROM orders WHERE id = $1", seeded["order_id"])
    assert again == state


@pytest.mark.scenario("WH-SIGNATURE")
@pytest.mark.parametrize(("field", "value"), [("value", "1.00"), ("state_pol", "4"), ("reference_sale", "X-1"),
                                              ("merchant_id", "500238")])
async def test_a_tampered_signed_field_is_refused_with_401(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection, field: str, value: str
) -> None:
    seeded = await seed_transaction(core_db, gateway="payu", gateway_transaction_id=PAYU_TXN)
    form = _confirmation(live, str(seeded["reference"]), status="DECLINED")
    form[field] = value
    assert (await _post(core, form)).status_code == 401
    assert await core_db.fetchval("SELECT count(*) FROM webhook_events") == 0


@pytest.mark.scenario("PAYU-CONFIRMATION-REPLAY")
async def test_a_tampered_unsigned_transaction_id_moves_no_money(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection, target: Target
) -> None:
    seeded = await seed_transaction(core_db, gateway="payu", gateway_transaction_id=PAYU_TXN)
    form = _confirmation(live, str(seeded["reference"]), transaction_id="00000000-0000-4000-8000-000000000000")
    response = await _post(core, form)
    # PayU (the simulator) knows no such attempt under that reference, so the core applies nothing.
    assert response.status_code == 422
    assert await target.order_status(str(seeded["order_id"])) == "pending"
    assert await core_db.fetchval("SELECT kind FROM payment_anomalies") == "unknown_reference"


async def test_a_confirmation_signed_with_another_algorithm_or_key_is_refused(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    seeded = await seed_transaction(core_db, gateway="payu", gateway_transaction_id=PAYU_TXN)
    reference = str(seeded["reference"])
    sha256 = _confirmation(live, reference, algorithm="SHA256")
    wrong_key = _confirmation(live, reference, api_key="6u39nqhq8ftd0hlvnjfs66eh8c")
    unsigned = {k: v for k, v in _confirmation(live, reference).items() if k != "sign"}
    codes = [(await _post(core, form)).status_code for form in (sha256, wrong_key, unsigned)]
    assert codes == [401, 401, 401]
    assert await core_db.fetchval("SELECT count(*) FROM webhook_events") == 0


async def test_a_declined_confirmation_then_a_late_pending_never_regresses(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    seeded = await seed_transaction(core_db, gateway="payu", gateway_transaction_id=PAYU_TXN)
    reference = str(seeded["reference"])
    assert (await _post(core, _confirmation(live, reference, status="DECLINED"))).status_code == 200
    late = await _post(core, _confirmation(live, reference, status="PENDING"))
    assert late.status_code == 200 and late.json()["decision"] == "late"
    assert await core_db.fetchval("SELECT status FROM order_transactions") == "declined"
    assert await core_db.fetchval("SELECT status FROM orders") == "failed"


@pytest.mark.scenario("WH-MALFORMED")
async def test_a_malformed_form_is_a_422_and_writes_nothing(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    response = await core.post("/webhooks/payu", content=b"sign=a&sign=b&%zz",
                               headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 422
    assert await core_db.fetchval("SELECT count(*) FROM webhook_events") == 0


@pytest.mark.scenario("PAYU-CONFIRMATION-REPLAY", "PAYU-CONFIRMATION-AMPLIFICATION")
async def test_a_captured_confirmation_with_ever_new_transaction_ids_buys_bounded_rows_and_payu_calls(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection, target: Target
) -> None:
    # transaction_id is unsigned: each new one is a question only PayU can answer. Asked once, PayU's answer
    # for the reference is remembered, so 30 copies cost at most one Queries call per worker (attack a09).
    seeded = await seed_transaction(core_db, gateway="payu", gateway_transaction_id=PAYU_TXN)
    form = _confirmation(live, str(seeded["reference"]))
    before = len(await requests(live, "payu", path=QUERIES_PATH))
    codes = {(await _post(core, {**form, "transaction_id": str(uuid.uuid4())})).status_code for _ in range(30)}
    asked = len(await requests(live, "payu", path=QUERIES_PATH)) - before
    assert codes == {422}
    assert 1 <= asked <= 2  # the core runs two workers, each with its own memory
    counts = await core_db.fetchrow("SELECT (SELECT count(*) FROM webhook_events), (SELECT count(*) FROM"
                                    " webhook_event_conflicts), (SELECT count(*) FROM payment_anomalies)")
    assert tuple(counts) == (1, 0, 1)
    assert await target.order_status(str(seeded["order_id"])) == "pending"


@pytest.mark.scenario("PAYU-CONFIRMATION-REPLAY", "PAYU-CONFIRMATION-AMPLIFICATION")
async def test_a_genuine_confirmation_with_its_value_padded_is_a_duplicate(
    live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection
) -> None:
    # PayU verifies `value` as a number; a padded copy is the same event, not a conflict row each (a09).
    seeded = await seed_transaction(core_db, gateway="payu", gateway_transaction_id=PAYU_TXN)
    form = _confirmation(live, str(seeded["reference"]))
    assert (await _post(core, form)).status_code == 200
    for padded in (f" {form['value']}", f"{form['value']}  ", f"\t{form['value']}", "50000.0", "50000"):
        replay = await _post(core, {**form, "value": padded})
        if replay.status_code == 401:
            continue  # this padding is not the signed amount: refused before anything is written
        assert (replay.status_code, replay.json()["status"]) == (200, "duplicate"), padded
    assert await core_db.fetchval("SELECT count(*) FROM webhook_event_conflicts") == 0
    assert await core_db.fetchval("SELECT count(*) FROM payment_anomalies") == 0
