"""Webhook chaos applied to PayU confirmations: tampering, wrong secret, missing sign, duplicates, replays."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from simulators.common.chaos import ChaosRule, ReplayLater, TamperUnsigned, WebhookChaosPlan
from simulators.common.receiver import WebhookReceiver
from simulators.payu import PayUConfig
from simulators.payu.signing import Algorithm, verify_confirmation
from simulators.payu.testing import SANDBOX, InProcessPayU, card_request, form_fields

StartReceiver = Callable[..., tuple[WebhookReceiver, str]]


def ref() -> str:
    return f"chaos-{uuid.uuid4().hex[:10]}"


def forms(receiver: WebhookReceiver) -> list[dict[str, str]]:
    return [form_fields(r.body) for r in receiver.received]


def verifies(fields: dict[str, str]) -> bool:
    return verify_confirmation(fields, api_key=SANDBOX.api_key)


async def test_tamper_unsigned_transaction_id_keeps_the_sign_valid(
    payu: InProcessPayU, webhook_receiver: StartReceiver
) -> None:
    receiver, url = webhook_receiver()
    await payu.put_chaos(
        {"chaos": {"type": "tamper_unsigned", "field": "transaction_id", "value": "forged-id"}, "count": 1}
    )
    tr = await payu.submit(card_request(ref(), notify_url=url))
    await payu.advance(0)
    (fields,) = forms(receiver)
    assert fields["transaction_id"] == "forged-id" != tr["transactionId"]
    assert verifies(fields)  # the sign does not cover transaction_id: a receiver must re-query


async def test_tamper_signed_value_breaks_the_sign(payu: InProcessPayU, webhook_receiver: StartReceiver) -> None:
    receiver, url = webhook_receiver()
    await payu.put_chaos({"chaos": {"type": "tamper_signed", "field": "value", "value": "1.00"}})
    await payu.submit(card_request(ref(), notify_url=url))
    await payu.advance(0)
    (fields,) = forms(receiver)
    assert fields["value"] == "1.00"
    assert not verifies(fields)


async def test_tamper_signed_state_breaks_the_sign(payu: InProcessPayU, webhook_receiver: StartReceiver) -> None:
    receiver, url = webhook_receiver()
    await payu.put_chaos({"chaos": {"type": "tamper_signed", "field": "state_pol", "value": "4"}})
    await payu.submit(card_request(ref(), holder="REJECTED", notify_url=url))
    await payu.advance(0)
    (fields,) = forms(receiver)
    assert fields["state_pol"] == "4" and not verifies(fields)


async def test_wrong_secret(payu: InProcessPayU, webhook_receiver: StartReceiver) -> None:
    receiver, url = webhook_receiver()
    await payu.put_chaos({"chaos": {"type": "wrong_secret"}, "count": 1})
    await payu.submit(card_request(ref(), notify_url=url))
    await payu.submit(card_request(ref(), notify_url=url))
    await payu.advance(0)
    results = sorted(verifies(f) for f in forms(receiver))
    assert results == [False, True]  # count=1: only the first confirmation is mis-signed


async def test_wrong_secret_in_hmac_mode(webhook_receiver: StartReceiver) -> None:
    payu = InProcessPayU(PayUConfig(webhook_signing="HMAC_SHA256", webhook_secret="merchant-secret"))
    try:
        receiver, url = webhook_receiver()
        await payu.put_chaos({"chaos": {"type": "wrong_secret"}})
        await payu.submit(card_request(ref(), notify_url=url))
        await payu.advance(0)
        (fields,) = forms(receiver)
        assert len(fields["sign"]) == 64
        assert not verify_confirmation(
            fields, api_key=SANDBOX.api_key, algorithm=Algorithm.HMAC_SHA256, secret="merchant-secret"
        )
    finally:
        await payu.close()


async def test_missing_signature(payu: InProcessPayU, webhook_receiver: StartReceiver) -> None:
    receiver, url = webhook_receiver()
    await payu.put_chaos({"chaos": {"type": "missing_signature"}})
    await payu.submit(card_request(ref(), notify_url=url))
    await payu.advance(0)
    (fields,) = forms(receiver)
    assert "sign" not in fields and not verifies(fields)


async def test_duplicate_sends_identical_copies(payu: InProcessPayU, webhook_receiver: StartReceiver) -> None:
    receiver, url = webhook_receiver()
    await payu.put_chaos({"chaos": {"type": "duplicate", "times": 2}})
    await payu.submit(card_request(ref(), notify_url=url))
    await payu.advance(0)
    bodies = [r.body for r in receiver.received]
    assert len(bodies) == 3 and len(set(bodies)) == 1
    assert verifies(forms(receiver)[0])


async def test_replay_later_resends_the_first_attempt_verbatim(
    webhook_receiver: StartReceiver,
) -> None:
    # Given at start-up, as a value in the config.
    plan = WebhookChaosPlan((ChaosRule(ReplayLater(after_seconds=3600)),))
    payu = InProcessPayU(PayUConfig(chaos=plan))
    try:
        receiver, url = webhook_receiver()
        await payu.submit(card_request(ref(), notify_url=url))
        await payu.advance(0)
        assert len(receiver.received) == 1
        await payu.advance(3599)
        assert len(receiver.received) == 1
        await payu.advance(1)
        assert len(receiver.received) == 2
        first, replay = receiver.received
        assert first.body == replay.body  # same attempts=1 and sign: a replay verifies like the original
        assert verifies(form_fields(replay.body))
    finally:
        await payu.close()


async def test_delay_holds_the_first_attempt(payu: InProcessPayU, webhook_receiver: StartReceiver) -> None:
    receiver, url = webhook_receiver()
    await payu.put_chaos({"chaos": {"type": "delay", "seconds": 600}})
    await payu.submit(card_request(ref(), notify_url=url))
    await payu.advance(599)
    assert receiver.received == []
    await payu.advance(1)
    assert len(receiver.received) == 1


async def test_reorder_lets_a_later_confirmation_overtake(payu: InProcessPayU, webhook_receiver: StartReceiver) -> None:
    receiver, url = webhook_receiver()
    await payu.put_chaos({"chaos": {"type": "reorder", "max_hold_seconds": 300}, "count": 1})
    first = await payu.submit(card_request(ref(), notify_url=url))
    second = await payu.submit(card_request(ref(), notify_url=url))
    await payu.advance(0)
    await payu.advance(300)
    order = [f["transaction_id"] for f in forms(receiver)]
    assert order == [second["transactionId"], first["transactionId"]]


async def test_chaos_is_scoped_by_event_kind(payu: InProcessPayU, webhook_receiver: StartReceiver) -> None:
    receiver, url = webhook_receiver()
    rule = ChaosRule(TamperUnsigned("extra1", "x"), event_filter="transaction.*")
    await payu.put_chaos(rule.to_dict())
    await payu.submit(card_request(ref(), notify_url=url))
    await payu.advance(0)
    assert forms(receiver)[0]["extra1"] == ""  # PayU's kind is "confirmation": the rule does not match
