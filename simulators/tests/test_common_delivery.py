"""Contract tests for WebhookDispatcher: retry schedule on the simulated clock, success, exhaustion."""

from datetime import datetime, timedelta

import pytest

from simulators.common import WebhookDispatcher
from simulators.tests._fakes import FakeBuilder, message, wired


async def test_missed_event_is_retried_exactly_at_30_min_3_h_and_24_h(webhook_receiver) -> None:
    receiver, url = webhook_receiver(status=500)
    clock, scheduler, _, dispatcher = wired()
    dispatcher.send(message(url))
    assert await scheduler.run_due() == 1
    assert len(receiver.received) == 1

    expected_counts = [(1799, 1), (1, 2), (10800 - 1800 - 1, 2), (1, 3), (86400 - 10800 - 1, 3), (1, 4)]
    for seconds, count in expected_counts:
        clock.advance(seconds)
        await scheduler.run_due()
        assert len(receiver.received) == count, f"after +{seconds}s"

    log = dispatcher.log()
    first = datetime.fromisoformat(log[0]["scheduled_for"])
    offsets = [datetime.fromisoformat(e["scheduled_for"]) - first for e in log]
    assert offsets == [timedelta(0), timedelta(minutes=30), timedelta(hours=3), timedelta(hours=24)]
    assert [e["outcome"] for e in log] == ["retry_scheduled"] * 3 + ["exhausted"]
    assert dispatcher.deliveries()[0]["status"] == "exhausted"
    clock.advance(10 * 86400)
    assert await scheduler.run_due() == 0
    assert len(receiver.received) == 4
    await scheduler.stop()


async def test_success_stops_retries(webhook_receiver) -> None:
    receiver, url = webhook_receiver(statuses=[503], status=200)
    clock, scheduler, journal, dispatcher = wired()
    dispatcher.send(message(url))
    await scheduler.run_due()
    clock.advance(1800)
    await scheduler.run_due()
    clock.advance(2 * 86400)
    await scheduler.run_due()
    assert len(receiver.received) == 2
    assert [e["outcome"] for e in dispatcher.log()] == ["retry_scheduled", "delivered"]
    assert [e["status"] for e in dispatcher.log()] == [503, 200]
    assert scheduler.pending() == []
    assert [e["attempt"] for e in journal.entries("webhook")] == [1, 2]
    await scheduler.stop()


async def test_only_the_success_predicate_counts_so_wompi_retries_a_201(webhook_receiver) -> None:
    _receiver, url = webhook_receiver(statuses=[201], status=200)
    clock, scheduler, _, dispatcher = wired(is_success=lambda s: s == 200)
    dispatcher.send(message(url))
    await scheduler.run_due()
    assert dispatcher.log()[0]["outcome"] == "retry_scheduled"
    clock.advance(1800)
    await scheduler.run_due()
    assert dispatcher.deliveries()[0]["status"] == "delivered"
    await scheduler.stop()


async def test_transport_error_is_a_failed_attempt_with_the_error_logged() -> None:
    clock, scheduler, _, dispatcher = wired(schedule=(60,))
    # Nothing listens on port 9 of localhost (discard), so the connection is refused.
    dispatcher.send(message("http://127.0.0.1:9/hook"))
    await scheduler.run_due()
    clock.advance(60)
    await scheduler.run_due()
    log = dispatcher.log()
    assert [e["status"] for e in log] == [None, None]
    assert all(e["error"] and "Connect" in e["error"] for e in log)
    assert [e["outcome"] for e in log] == ["retry_scheduled", "exhausted"]
    await scheduler.stop()


async def test_builder_is_asked_for_each_attempt_and_log_keeps_request_and_response(webhook_receiver) -> None:
    receiver, url = webhook_receiver(statuses=[500, 500], status=200)
    clock, scheduler, _, dispatcher = wired(schedule=(10, 20))
    builder = FakeBuilder()
    dispatcher.send(message(url, builder))
    clock.advance(100)
    await scheduler.run_due()
    assert builder.calls == [1, 2, 3]
    entry = dispatcher.log()[-1]
    assert entry["request_body"] == receiver.received[-1].text()
    assert '"attempt": 3' in entry["request_body"]
    assert entry["response_body"] == '{"received": 3}'
    assert entry["duration_ms"] >= 0 and entry["url"] == url
    await scheduler.stop()


async def test_reset_cancels_pending_retries_and_forgets_the_log(webhook_receiver) -> None:
    receiver, url = webhook_receiver(status=500)
    clock, scheduler, _, dispatcher = wired()
    dispatcher.send(message(url))
    await scheduler.run_due()
    dispatcher.reset()
    clock.advance(86400)
    assert await scheduler.run_due() == 0
    assert dispatcher.log() == [] and dispatcher.deliveries() == []
    assert len(receiver.received) == 1
    await scheduler.stop()


def test_schedule_must_increase() -> None:
    clock, scheduler, journal, _ = wired()
    with pytest.raises(ValueError, match="increasing"):
        WebhookDispatcher(
            clock=clock, scheduler=scheduler, journal=journal, schedule=(60, 30), is_success=lambda s: True
        )
