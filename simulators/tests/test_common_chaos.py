"""Contract tests for webhook chaos: every mode, applied by the dispatcher with a toy builder."""

import json

import pytest

from simulators.common import (
    ChaosRule,
    Delay,
    Duplicate,
    MissingSignature,
    Reorder,
    ReplayLater,
    TamperSigned,
    TamperUnsigned,
    WebhookChaosPlan,
    WrongSecret,
    chaos_from_dict,
)
from simulators.tests._fakes import FakeBuilder, message, toy_sign, wired


def _verifies(received) -> bool:
    body = json.loads(received.body)
    return received.headers.get("x-signature") == toy_sign(body["id"], body["status"], "s3cret")


def plan(*rules: ChaosRule) -> WebhookChaosPlan:
    return WebhookChaosPlan(rules=rules)


async def test_duplicate_delivers_n_extra_copies_of_the_same_event(webhook_receiver) -> None:
    receiver, url = webhook_receiver()
    _, scheduler, _, dispatcher = wired()
    dispatcher.chaos = plan(ChaosRule(Duplicate(3)))
    dispatcher.send(message(url))
    await scheduler.run_due()
    assert len(receiver.received) == 4
    assert len({r.body for r in receiver.received}) == 1
    assert sorted(d["copy"] for d in dispatcher.deliveries()) == [0, 1, 2, 3]
    assert all(d["status"] == "delivered" for d in dispatcher.deliveries())
    await scheduler.stop()


async def test_reorder_lets_the_next_event_overtake_the_held_one(webhook_receiver) -> None:
    receiver, url = webhook_receiver()
    _, scheduler, _, dispatcher = wired()
    dispatcher.chaos = plan(ChaosRule(Reorder(), count=1))
    dispatcher.send(message(url, FakeBuilder(event_id="first")))
    await scheduler.run_due()
    assert receiver.received == []
    dispatcher.send(message(url, FakeBuilder(event_id="second")))
    await scheduler.run_due()
    assert [json.loads(r.body)["id"] for r in receiver.received] == ["second", "first"]
    await scheduler.stop()


async def test_reorder_releases_a_held_event_after_max_hold_when_nothing_follows(webhook_receiver) -> None:
    receiver, url = webhook_receiver()
    clock, scheduler, _, dispatcher = wired()
    dispatcher.chaos = plan(ChaosRule(Reorder(max_hold_seconds=30)))
    dispatcher.send(message(url))
    clock.advance(29)
    await scheduler.run_due()
    assert receiver.received == []
    clock.advance(1)
    await scheduler.run_due()
    assert len(receiver.received) == 1
    await scheduler.stop()


async def test_delay_postpones_the_first_attempt_and_retries_count_from_it(webhook_receiver) -> None:
    receiver, url = webhook_receiver(statuses=[500])
    clock, scheduler, _, dispatcher = wired(schedule=(60,))
    dispatcher.chaos = plan(ChaosRule(Delay(300)))
    dispatcher.send(message(url))
    clock.advance(299)
    await scheduler.run_due()
    assert receiver.received == []
    clock.advance(1)
    await scheduler.run_due()
    assert len(receiver.received) == 1
    clock.advance(59)
    await scheduler.run_due()
    assert len(receiver.received) == 1
    clock.advance(1)
    await scheduler.run_due()
    assert len(receiver.received) == 2
    await scheduler.stop()


async def test_replay_later_resends_the_first_attempt_byte_for_byte(webhook_receiver) -> None:
    receiver, url = webhook_receiver()
    clock, scheduler, _, dispatcher = wired()
    dispatcher.chaos = plan(ChaosRule(ReplayLater(after_seconds=3600)))
    dispatcher.send(message(url))
    await scheduler.run_due()
    clock.advance(3599)
    await scheduler.run_due()
    assert len(receiver.received) == 1
    clock.advance(1)
    await scheduler.run_due()
    assert len(receiver.received) == 2
    first, replay = receiver.received
    assert replay.body == first.body
    assert replay.headers["x-signature"] == first.headers["x-signature"]
    assert [e["replay"] for e in dispatcher.log()] == [False, True]
    assert dispatcher.log()[1]["outcome"] == "replayed"
    await scheduler.stop()


@pytest.mark.parametrize(
    ("chaos", "field", "value", "verifies"),
    [
        (TamperUnsigned("note", "changed"), "note", "changed", True),
        (TamperSigned("status", "DECLINED"), "status", "DECLINED", False),
        (WrongSecret(), "status", "APPROVED", False),
        (MissingSignature(), "status", "APPROVED", False),
    ],
)
async def test_signature_chaos_is_handed_to_the_builder(webhook_receiver, chaos, field, value, verifies) -> None:
    receiver, url = webhook_receiver()
    _, scheduler, _, dispatcher = wired()
    dispatcher.chaos = plan(ChaosRule(chaos))
    dispatcher.send(message(url))
    await scheduler.run_due()
    (received,) = receiver.received
    assert json.loads(received.body)[field] == value
    assert _verifies(received) is verifies
    assert ("x-signature" in received.headers) is not isinstance(chaos, MissingSignature)
    assert dispatcher.log()[0]["chaos"] == [chaos.type_tag]
    await scheduler.stop()


async def test_rules_filter_by_event_kind_and_stop_after_count(webhook_receiver) -> None:
    receiver, url = webhook_receiver()
    _, scheduler, _, dispatcher = wired()
    dispatcher.chaos = plan(ChaosRule(Duplicate(1), event_filter="transaction.*", count=1))
    dispatcher.send(message(url, kind="nequi_token.updated"))
    dispatcher.send(message(url, kind="transaction.updated"))
    dispatcher.send(message(url, kind="transaction.updated"))
    await scheduler.run_due()
    assert len(receiver.received) == 4
    assert dispatcher.chaos_snapshot()["applied"] == [1]
    await scheduler.stop()


async def test_seeded_probability_picks_the_same_messages_every_run() -> None:
    def picks(seed: int) -> list[int]:
        _, _, _, dispatcher = wired()
        dispatcher.chaos = WebhookChaosPlan((ChaosRule(Duplicate(1), probability=0.5),), seed=seed)
        chosen = []
        for i in range(40):
            dispatcher.send(message("http://127.0.0.1:9/", FakeBuilder(event_id=str(i))))
            chosen.append(len(dispatcher.deliveries()))
        return chosen

    assert picks(7) == picks(7)
    assert picks(7) != picks(8)
    assert 40 < picks(7)[-1] < 80


def test_chaos_plans_round_trip_through_json() -> None:
    original = WebhookChaosPlan(
        (
            ChaosRule(Duplicate(2), event_filter="transaction.*", count=3),
            ChaosRule(Reorder(max_hold_seconds=5)),
            ChaosRule(Delay(1.5), probability=0.25),
            ChaosRule(ReplayLater(86400)),
            ChaosRule(TamperUnsigned("reference", "X")),
            ChaosRule(TamperSigned("status", "APPROVED")),
            ChaosRule(WrongSecret()),
            ChaosRule(MissingSignature()),
        ),
        seed=11,
    )
    assert WebhookChaosPlan.from_dict(json.loads(json.dumps(original.to_dict()))) == original
    assert chaos_from_dict({"type": "Duplicate", "times": 2}) == Duplicate(2)
    with pytest.raises(ValueError, match="unknown chaos type"):
        chaos_from_dict({"type": "explode"})
    with pytest.raises(ValueError, match="times"):
        chaos_from_dict({"type": "duplicate", "times": 0})
    with pytest.raises(ValueError, match="does not take"):
        ChaosRule.from_dict({"chaos": {"type": "wrong_secret"}, "when": "now"})
