"""Contract tests for Efecty's optional payment push: off by default, signed, retried, chaos-able."""

import hashlib
import hmac
import json

from simulators.common import ChaosRule, TamperUnsigned, WebhookChaosPlan
from simulators.efecty import EfectyConfig
from simulators.efecty.notify import SIGNATURE_HEADER, notify_signature
from simulators.tests._efecty import CONFIG, efecty, pay, voucher


def _verifies(received) -> bool:
    payment = json.loads(received.body)["payment"]
    return received.headers.get(SIGNATURE_HEADER.lower()) == notify_signature(payment, CONFIG.notify_secret)


def test_signature_is_hmac_sha256_over_the_key_fields() -> None:
    payment = {
        "payment_code": "7700123456",
        "amount": "65000.00",
        "paid_at": "2026-03-10T15:00:00.000000Z",
        "authorization_code": "885440",
        "point_id": "PT-1",
    }
    message = b"7700123456|65000.00|2026-03-10T15:00:00.000000Z|885440"
    signature = notify_signature(payment, "secret")
    assert signature == hmac.new(b"secret", message, hashlib.sha256).hexdigest()
    assert notify_signature({**payment, "point_id": "other"}, "secret") == signature
    assert notify_signature({**payment, "amount": "65000.01"}, "secret") != signature
    assert notify_signature(payment, "other-secret") != signature


async def test_no_push_unless_a_notify_url_is_configured() -> None:
    async with efecty() as (app, client):
        await client.post("/api/v1/vouchers", json=voucher())
        await pay(client, "7700123456", "65000.00")
        await client.post("/__admin/clock/advance", json={"seconds": 0})
        assert app.state.sim.dispatcher.log() == []


async def test_payment_is_pushed_signed_and_retried_until_2xx(webhook_receiver) -> None:
    receiver, url = webhook_receiver(statuses=[500], status=204)
    async with efecty(EfectyConfig(notify_url=url)) as (app, client):
        await client.post("/api/v1/vouchers", json=voucher())
        receipt = (await pay(client, "7700123456", "65000.00")).json()["receipt"]
        await client.post("/__admin/clock/advance", json={"seconds": 0})
        await client.post("/__admin/clock/advance", json={"seconds": 60})
        await client.post("/__admin/clock/advance", json={"seconds": 3600})
        assert len(receiver.received) == 2
        first, second = (json.loads(r.body) for r in receiver.received)
        assert first["payment"] == receipt and first["event"] == "payment.created"
        assert (first["attempt"], second["attempt"]) == (1, 2)
        assert all(_verifies(r) for r in receiver.received)
        assert [e["outcome"] for e in app.state.sim.dispatcher.log()] == ["retry_scheduled", "delivered"]


async def test_tampering_chaos_applies_to_the_push(webhook_receiver) -> None:
    receiver, url = webhook_receiver()
    unsigned = WebhookChaosPlan((ChaosRule(TamperUnsigned("point_id", "PT-EVIL"), count=1),))
    signed = {"rules": [{"chaos": {"type": "tamper_signed", "field": "amount", "value": "1.00"}}]}
    async with efecty(EfectyConfig(notify_url=url, chaos=unsigned)) as (_, client):
        await client.post("/api/v1/vouchers", json=voucher("N1"))
        await client.post("/__admin/vouchers/N1/pay")
        await client.post("/__admin/clock/advance", json={"seconds": 0})
        assert (await client.put("/__admin/chaos", json=signed)).status_code == 200
        await client.post("/api/v1/vouchers", json=voucher("N2"))
        await client.post("/__admin/vouchers/N2/pay")
        await client.post("/__admin/clock/advance", json={"seconds": 0})
    first, second = receiver.received
    assert json.loads(first.body)["payment"]["point_id"] == "PT-EVIL"
    assert _verifies(first), "an unsigned field changed: the signature still verifies"
    assert json.loads(second.body)["payment"]["amount"] == "1.00"
    assert not _verifies(second)
