"""Contract tests for SimClock, Scheduler and Journal."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from simulators.common import Journal, Scheduler, SimClock


def test_clock_advance_moves_now_by_exactly_the_offset() -> None:
    clock = SimClock()
    before = clock.now()
    clock.advance(86400)
    after = clock.now()
    assert after.tzinfo is UTC
    assert timedelta(days=1) <= after - before < timedelta(days=1, seconds=1)
    assert clock.offset_seconds == 86400
    assert abs(clock.timestamp() - after.timestamp()) < 1


def test_clock_reset_returns_to_wall_time_and_refuses_going_back() -> None:
    clock = SimClock()
    clock.advance(3600)
    clock.reset()
    assert abs((clock.now() - datetime.now(UTC)).total_seconds()) < 1
    with pytest.raises(ValueError, match="cannot go back"):
        clock.advance(-1)


async def test_scheduler_runs_only_due_jobs_in_time_order() -> None:
    clock = SimClock()
    scheduler = Scheduler(clock)
    ran: list[str] = []

    def job(name: str):
        async def run() -> None:
            ran.append(name)

        return run

    scheduler.call_later(30, job("b"), name="b")
    scheduler.call_later(10, job("a"), name="a")
    scheduler.call_at(clock.now() + timedelta(seconds=100), job("c"))
    assert await scheduler.run_due() == 0
    clock.advance(30)
    assert await scheduler.run_due() == 2
    assert ran == ["a", "b"]
    assert [p["name"] for p in scheduler.pending()] == [""]
    assert 69 < scheduler.pending()[0]["in_seconds"] <= 70


async def test_cancelled_and_cleared_jobs_never_run() -> None:
    clock = SimClock()
    scheduler = Scheduler(clock)
    ran: list[int] = []

    async def job() -> None:
        ran.append(1)

    cancelled = scheduler.call_later(1, job)
    scheduler.cancel(cancelled)
    scheduler.call_later(2, job)
    scheduler.clear()
    clock.advance(10)
    assert await scheduler.run_due() == 0
    assert ran == []
    assert scheduler.pending() == []


async def test_run_due_follows_jobs_that_schedule_due_work() -> None:
    clock = SimClock()
    scheduler = Scheduler(clock)
    ran: list[str] = []

    async def second() -> None:
        ran.append("second")

    async def first() -> None:
        ran.append("first")
        scheduler.call_later(0, second)

    scheduler.call_later(5, first)
    clock.advance(5)
    assert await scheduler.run_due() == 2
    assert ran == ["first", "second"]


async def test_a_failing_job_is_counted_and_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    clock = SimClock()
    scheduler = Scheduler(clock)
    ran: list[str] = []

    async def boom() -> None:
        raise RuntimeError("job bug")

    async def fine() -> None:
        ran.append("fine")

    scheduler.call_later(0, boom, name="boom")
    scheduler.call_later(0, fine)
    assert await scheduler.run_due() == 2
    assert ran == ["fine"]
    assert scheduler.failures == 1
    assert "boom" in caplog.text


async def test_background_loop_runs_jobs_as_real_time_passes_and_stop_runs_hooks() -> None:
    clock = SimClock()
    scheduler = Scheduler(clock, tick_seconds=0.005)
    done = asyncio.Event()
    closed: list[bool] = []

    async def job() -> None:
        done.set()

    async def hook() -> None:
        closed.append(True)

    scheduler.on_stop(hook)
    await scheduler.start()
    scheduler.call_later(0.02, job)
    await asyncio.wait_for(done.wait(), timeout=2)
    await scheduler.stop()
    assert closed == [True]


async def test_concurrent_jobs_start_in_time_order_and_run_due_waits_for_all() -> None:
    clock = SimClock()
    scheduler = Scheduler(clock, max_concurrency=8)
    started: list[int] = []
    finished: list[int] = []

    def job(i: int):
        async def run() -> None:
            started.append(i)
            await asyncio.sleep(0.01 * (5 - i))
            finished.append(i)

        return run

    for i in range(5):
        scheduler.call_later(i * 0.001, job(i))
    clock.advance(1)
    assert await scheduler.run_due() == 5
    assert started == [0, 1, 2, 3, 4]
    assert sorted(finished) == [0, 1, 2, 3, 4]


def test_journal_is_bounded_filters_by_kind_and_polls_by_seq() -> None:
    clock = SimClock()
    journal = Journal(maxlen=3, clock=clock)
    journal.record("request", method="GET", path="/a", status=200)
    clock.advance(60)
    journal.record("webhook", kind="x", event_key="e1")
    journal.record("request", method="GET", path="/b", status=404)
    journal.record("admin", action="reset")
    assert len(journal) == 3
    entries = journal.entries()
    assert [e["seq"] for e in entries] == [2, 3, 4]
    assert entries[0]["kind"] == "webhook" and entries[0]["kind_"] == "x"
    assert [e["path"] for e in journal.entries("request")] == ["/b"]
    assert [e["seq"] for e in journal.entries(since=3)] == [4]
    assert datetime.fromisoformat(entries[0]["at"]) - datetime.now(UTC) > timedelta(seconds=59)
    with pytest.raises(ValueError, match="unknown journal kind"):
        journal.record("bogus")
    journal.clear()
    assert journal.entries() == []
