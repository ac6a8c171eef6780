"""Contract tests of PayU's confirmation POST: payload, sign, retries on the SimClock, signing modes."""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qsl

import pytest

from simulators.common.receiver import WebhookReceiver
from simulators.payu import PayUConfig
from simulators.payu.config import PAYU_RETRY_SCHEDULE
from simulators.payu.signing import Algorithm, verify_confirmation
from simulators.payu.testing import SANDBOX, InProcessPayU, card_request

StartReceiver = Callable[..., tuple[WebhookReceiver, str]]

# The 2022 field table plus the 2026 additions and the fields of the documented sample body.
DOCUMENTED_FIELDS = {
    "merchant_id", "state_pol", "risk", "response_code_pol", "reference_sale", "reference_pol", "sign",
    "extra1", "extra2", "payment_method", "payment_method_type", "installments_number", "value", "tax",
    "additional_value", "transaction_date", "currency", "email_buyer", "cus", "pse_bank", "test",
    "description", "billing_address", "shipping_address", "phone", "office_phone", "account_number_ach",
    "account_type_ach", "administrative_fee", "administrative_fee_base", "administrative_fee_tax",
    "airline_code", "attempts", "authorization_code", "bank_id", "billing_city", "billing_country",
    "commision_pol", "commision_pol_currency", "customer_number", "date", "error_code_bank",
    "error_message_bank", "exchange_rate", "ip", "nickname_buyer", "nickname_seller", "payment_method_id",
    "payment_request_state", "pse_reference1", "pse_reference2", "pse_reference3", "response_message_pol",
    "shipping_city", "shipping_country", "transaction_bank_id", "transaction_id", "payment_method_name",
    "extra3", "bank_referenced_name", "antifraudMerchantId",
}  # fmt: skip
CARD_FIELDS = {"cc_holder", "cc_number", "cardType", "franchise"}


Sim = InProcessPayU


@pytest.fixture
async def make_sim() -> AsyncIterator[Callable[..., Any]]:
    made: list[Sim] = []

    async def make(config: PayUConfig | None = None) -> Sim:
        made.append(Sim(config))
        return made[-1]

    yield make
    for sim in made:
        await sim.close()


@pytest.fixture
async def sim(make_sim: Callable[..., Any]) -> Sim:
    created: Sim = await make_sim()
    return created


def form(receiver: WebhookReceiver, index: int = -1) -> dict[str, str]:
    received = receiver.received[index]
    assert received.headers["content-type"] == "application/x-www-form-urlencoded"
    return dict(parse_qsl(received.text(), keep_blank_values=True))


def ref() -> str:
    return f"conf-{uuid.uuid4().hex[:10]}"


async def test_approved_card_confirmation_has_every_documented_field(sim: Sim, webhook_receiver: StartReceiver) -> None:
    receiver, url = webhook_receiver()
    reference = ref()
    tr = await sim.submit(card_request(reference, value=65000, notify_url=url))
    await sim.advance(0)
    assert len(receiver.received) == 1
    fields = form(receiver)
    assert set(fields) >= DOCUMENTED_FIELDS | CARD_FIELDS
    assert fields["merchant_id"] == "508029"
    assert fields["reference_sale"] == reference
    assert fields["reference_pol"] == str(tr["orderId"])
    assert fields["transaction_id"] == tr["transactionId"]
    assert (fields["state_pol"], fields["response_code_pol"], fields["response_message_pol"]) == ("4", "1", "APPROVED")
    assert fields["value"] == "65000.00"
    assert fields["currency"] == "COP"
    assert fields["payment_method_type"] == "2"
    assert fields["payment_method_name"] == "VISA"
    assert fields["attempts"] == "1"
    assert fields["test"] == "1"
    assert fields["cc_number"] == "************0004"
    assert fields["cc_holder"] == "APPROVED"
    assert fields["authorization_code"] == tr["authorizationCode"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", fields["transaction_date"])
    assert re.fullmatch(r"\d{4}\.\d{2}\.\d{2} (0\d|1[0-2]):\d{2}:\d{2}", fields["date"])
    assert fields["date"][:10].replace(".", "-") == fields["transaction_date"][:10]
    assert re.fullmatch(r"\d+\.\d{2}", fields["tax"])


async def test_confirmation_sign_verifies_and_matches_a_hand_computed_md5(
    sim: Sim, webhook_receiver: StartReceiver
) -> None:
    receiver, url = webhook_receiver()
    reference = ref()
    await sim.submit(card_request(reference, value=65000, notify_url=url))
    await sim.advance(0)
    fields = form(receiver)
    assert verify_confirmation(fields, api_key=SANDBOX.api_key)
    # By hand: ApiKey~merchant_id~reference_sale~new_value~currency~state_pol with 65000.00 -> 65000.0
    text = f"{SANDBOX.api_key}~508029~{reference}~65000.0~COP~4"
    assert fields["sign"] == hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


async def test_usd_value_with_cents_keeps_both_decimals_in_the_sign(sim: Sim, webhook_receiver: StartReceiver) -> None:
    receiver, url = webhook_receiver()
    reference = ref()
    await sim.submit(card_request(reference, value="150.25", currency="USD", notify_url=url))
    await sim.advance(0)
    fields = form(receiver)
    assert fields["value"] == "150.25"
    text = f"{SANDBOX.api_key}~508029~{reference}~150.25~USD~4"
    assert fields["sign"] == hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


@pytest.mark.parametrize(
    ("holder", "state_pol", "code_pol", "message"),
    [
        ("REJECTED", "6", "5", "ENTITY_DECLINED"),
        ("INSUFFICIENT_FUNDS", "6", "6", "INSUFFICIENT_FUNDS"),
        ("ANTIFRAUD_REJECTED", "6", "23", "ANTIFRAUD_REJECTED"),
    ],
)
async def test_declined_card_confirmation_codes(
    sim: Sim, webhook_receiver: StartReceiver, holder: str, state_pol: str, code_pol: str, message: str
) -> None:
    receiver, url = webhook_receiver()
    await sim.submit(card_request(ref(), holder=holder, notify_url=url))
    await sim.advance(0)
    fields = form(receiver)
    assert (fields["state_pol"], fields["response_code_pol"], fields["response_message_pol"]) == (
        state_pol,
        code_pol,
        message,
    )
    assert fields["payment_request_state"] == "R"
    assert verify_confirmation(fields, api_key=SANDBOX.api_key)


async def test_pending_card_sends_nothing_until_made_final(sim: Sim, webhook_receiver: StartReceiver) -> None:
    receiver, url = webhook_receiver()
    tr = await sim.submit(card_request(ref(), holder="PENDING", notify_url=url))
    await sim.advance(3600)
    assert receiver.received == []
    response = await sim.client.post(
        f"/__admin/payu/transactions/{tr['transactionId']}/final", json={"state": "APPROVED"}
    )
    assert response.status_code == 200
    assert response.json()["transactionResponse"]["state"] == "APPROVED"
    await sim.advance(0)
    assert form(receiver)["state_pol"] == "4"
    again = await sim.client.post(f"/__admin/payu/transactions/{tr['transactionId']}/final", json={"state": "DECLINED"})
    assert again.status_code == 409


async def test_admin_final_with_a_specific_decline_code(sim: Sim, webhook_receiver: StartReceiver) -> None:
    receiver, url = webhook_receiver()
    tr = await sim.submit(card_request(ref(), holder="PENDING", notify_url=url))
    bad = await sim.client.post(
        f"/__admin/payu/transactions/{tr['transactionId']}/final",
        json={"state": "APPROVED", "response_code": "ENTITY_DECLINED"},
    )
    assert bad.status_code == 409
    ok = await sim.client.post(
        f"/__admin/payu/transactions/{tr['transactionId']}/final",
        json={"state": "DECLINED", "response_code": "RESTRICTED_CARD"},
    )
    assert ok.status_code == 200
    await sim.advance(0)
    assert (form(receiver)["state_pol"], form(receiver)["response_code_pol"]) == ("6", "10")
    missing = await sim.client.post("/__admin/payu/transactions/nope/final", json={"state": "APPROVED"})
    assert missing.status_code == 404


async def test_pending_card_can_finalise_itself_after_a_configured_delay(
    make_sim: Callable[..., Any], webhook_receiver: StartReceiver
) -> None:
    sim = await make_sim(PayUConfig(pending_card_delay_seconds=30, pending_card_final_state="DECLINED"))
    receiver, url = webhook_receiver()
    await sim.submit(card_request(ref(), holder="PENDING", notify_url=url))
    await sim.advance(29)
    assert receiver.received == []
    await sim.advance(1)
    assert form(receiver)["state_pol"] == "6"


async def test_retries_follow_the_schedule_and_bump_attempts(
    frozen_wall: float, sim: Sim, webhook_receiver: StartReceiver
) -> None:
    receiver, url = webhook_receiver(statuses=[500, 503, 201], status=200)
    await sim.submit(card_request(ref(), notify_url=url))
    await sim.advance(0)
    assert len(receiver.received) == 1
    offsets = PAYU_RETRY_SCHEDULE[:3]
    elapsed = 0.0
    for n, offset in enumerate(offsets, start=2):
        await sim.advance(offset - elapsed - 0.5)
        assert len(receiver.received) == n - 1, f"attempt {n} came early"
        await sim.advance(0.5)
        elapsed = offset
        assert len(receiver.received) == n
    attempts = [form(receiver, i)["attempts"] for i in range(4)]
    assert attempts == ["1", "2", "3", "4"]
    # attempts is not signed: every attempt carries the same sign, and each verifies.
    signs = {form(receiver, i)["sign"] for i in range(4)}
    assert len(signs) == 1
    assert all(verify_confirmation(form(receiver, i), api_key=SANDBOX.api_key) for i in range(4))
    await sim.advance(86400)
    assert len(receiver.received) == 4  # 201 was a failure, the 4th (200) ended it
    log = (await sim.client.get("/__admin/deliveries")).json()
    assert [e["status"] for e in log] == [500, 503, 201, 200]


async def test_nine_attempts_then_exhausted(sim: Sim, webhook_receiver: StartReceiver) -> None:
    receiver, url = webhook_receiver(status=500)
    await sim.submit(card_request(ref(), notify_url=url))
    await sim.advance(0)
    await sim.advance(PAYU_RETRY_SCHEDULE[-1] + 1)
    await sim.advance(7 * 86400)
    assert [form(receiver, i)["attempts"] for i in range(len(receiver.received))] == [str(n) for n in range(1, 10)]
    summary = (await sim.client.get("/__admin/deliveries/summary")).json()
    assert summary[0]["status"] == "exhausted" and summary[0]["attempts"] == 9


@pytest.mark.parametrize(
    ("signing", "secret", "hasher"),
    [
        ("HMAC_SHA256", "s3cret-key", None),
        ("SHA256", None, hashlib.sha256),
        ("SHA1", None, hashlib.sha1),
    ],
)
async def test_configurable_confirmation_signing(
    make_sim: Callable[..., Any],
    webhook_receiver: StartReceiver,
    signing: str,
    secret: str | None,
    hasher: Any,
) -> None:
    config = PayUConfig(webhook_signing=signing, webhook_secret=secret or "unused")
    sim = await make_sim(config)
    receiver, url = webhook_receiver()
    reference = ref()
    await sim.submit(card_request(reference, notify_url=url))
    await sim.advance(0)
    fields = form(receiver)
    text = f"{SANDBOX.api_key}~508029~{reference}~65000.0~COP~4"
    if secret:
        expected = hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()
    else:
        expected = hasher(text.encode()).hexdigest()
    assert fields["sign"] == expected
    assert verify_confirmation(fields, api_key=SANDBOX.api_key, algorithm=signing, secret=secret)
    assert not verify_confirmation(fields, api_key=SANDBOX.api_key, algorithm=Algorithm.MD5)


async def test_default_confirmation_url_is_used_when_the_request_has_none(
    make_sim: Callable[..., Any], webhook_receiver: StartReceiver
) -> None:
    account_receiver, account_url = webhook_receiver()
    request_receiver, request_url = webhook_receiver()
    sim = await make_sim(PayUConfig(default_confirmation_url=account_url))
    await sim.submit(card_request(ref()))
    await sim.submit(card_request(ref(), notify_url=request_url))
    await sim.advance(0)
    assert len(account_receiver.received) == 1
    assert len(request_receiver.received) == 1


async def test_no_confirmation_url_means_no_post_but_a_journal_note(sim: Sim) -> None:
    await sim.submit(card_request(ref()))
    await sim.advance(0)
    assert (await sim.client.get("/__admin/deliveries")).json() == []
    notes = (await sim.client.get("/__admin/journal", params={"kind": "state"})).json()["entries"]
    assert any(e.get("event") == "no_confirmation_url" for e in notes)
