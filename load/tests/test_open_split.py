"""Open pacing carries any rate with the same few users per Locust process: the rate and the shape set each
user's schedule, never how many users (and so greenlets and connection pools) the generator holds.

Stack-free: shapes, the open loop against a fake client (gevent alone, no Locust import), and the parsers.
"""

from __future__ import annotations

import contextlib
import random
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import gevent
import pytest

from load import bench
from load.actions import Context, deliver, not_sent
from load.ledger import LedgerWriter, read_ledger
from load.openloop import CATCH_UP, OpenLoop
from load.pacing_ab import splits
from load.shapes import (
    CLOSED,
    MAX_IN_FLIGHT,
    OPEN,
    OPEN_USERS,
    Schedule,
    build_stages,
    open_rate,
    open_users,
    rate_factor,
    webhook_stages,
)
from load.tests.test_open_pacing import FakeClock, Requests, SlowClient, _stories

RATES = (150.0, 600.0, 2_800.0)


@pytest.mark.parametrize("processes", [1, 2])
def test_open_pacing_carries_every_rate_with_the_same_users_per_process(processes: int) -> None:
    split = {rate: webhook_stages(OPEN, "steady", rate=rate, user_rate=5.0, open_per_process=OPEN_USERS,
                                  processes=processes, duration=30.0) for rate in RATES}
    assert {stages[-1].users for stages in split.values()} == {OPEN_USERS * processes}
    for rate in RATES:  # the users share the rate exactly
        base, _ = open_rate("steady", rate=rate, per_process=OPEN_USERS, processes=processes, duration=30.0,
                            started=0.0)
        assert base * OPEN_USERS * processes == pytest.approx(rate)
    # Closed pacing keeps its users at --user-rate each: 30 at 150/s, 560 at 2,800/s.
    closed = [webhook_stages(CLOSED, "steady", rate=rate, user_rate=5.0, open_per_process=OPEN_USERS,
                             processes=processes, duration=30.0)[-1].users for rate in RATES]
    assert closed == [30, 120, 560]


def test_the_user_rate_plays_no_part_in_open_pacing() -> None:
    by_user_rate = {user_rate: webhook_stages(OPEN, "ramp", rate=600.0, user_rate=user_rate, open_per_process=4,
                                              processes=1, duration=60.0) for user_rate in (5.0, 25.0)}
    assert by_user_rate[5.0] == by_user_rate[25.0]


def test_open_shapes_vary_each_users_rate_not_the_users() -> None:
    users = {shape: {s.users for s in webhook_stages(OPEN, shape, rate=600.0, user_rate=5.0, open_per_process=4,
                                                     processes=1, duration=60.0)} for shape in ("ramp", "spike")}
    assert users == {"ramp": {4}, "spike": {4}}
    ramp, spike = (build_stages(shape, users=100, duration=60.0) for shape in ("ramp", "spike"))
    assert rate_factor(ramp, 0.0) == pytest.approx(0.1)  # a tenth of the rate in the ramp's first step
    assert rate_factor(ramp, 30.0) == pytest.approx(1.0)
    assert rate_factor(spike, 30.0) == pytest.approx(2.0) and rate_factor(spike, 10.0) == pytest.approx(1.0)
    assert rate_factor(spike, 75.0) == pytest.approx(1.0)  # past the end: the base rate, never nothing


def test_a_schedule_follows_the_shape_at_each_instant() -> None:
    clock = FakeClock()
    base, factor = open_rate("spike", rate=400.0, per_process=4, processes=1, duration=100.0, started=clock.now)
    schedule = Schedule(base, clock=clock, rng=random.Random(1), factor=factor)
    gaps_at = {}
    for elapsed in (10.0, 45.0):  # before the spike (40-55 % of the run) and inside it
        at = schedule.take(1)
        while at - clock.now < elapsed:
            at = schedule.take(1)
        gaps_at[elapsed] = schedule.take(1) - at
    assert gaps_at[10.0] == pytest.approx(1 / 100.0)  # 400/s over four users
    assert gaps_at[45.0] == pytest.approx(1 / 200.0)  # doubled by the spike


def _one_user_at_400(folder: Path, cap: int) -> tuple[int, int, int]:
    """80 stories from one open user at 400/s against 100 ms answers: (sent, refused, most seen in flight)."""
    client, requests = SlowClient(0.1), Requests()
    ctx = Context(LedgerWriter(folder, node="test"), "t0p3n")
    loop = OpenLoop(400.0, cap, lambda d, n, c: not_sent(requests, d, in_flight=n, cap=c), rng=random.Random(2))
    peak = 0
    for steps in _stories(80):
        loop.start(steps, lambda d, r, at: deliver(client, d, r, ctx, scheduled=at))
        peak = max(peak, loop.in_flight.count)
        gevent.sleep(loop.wait())
    loop.greenlets.join(timeout=10)
    ctx.writer.close()
    assert loop.in_flight.count == 0 and len(read_ledger(folder)) == len(client.sent)  # the ledger: what was sent
    return len(client.sent), len(requests.fired), peak


def test_one_open_user_carries_a_high_rate_within_its_cap(tmp_path: Path) -> None:
    """At 400/s and 100 ms answers one user has about 40 in flight: the default cap sends all of them, and
    the old cap of 10 per user (made for 5 events/s) refuses most — counted, never dropped."""
    sent, refused, peak = _one_user_at_400(tmp_path / "default", MAX_IN_FLIGHT)
    assert (sent, refused) == (80, 0) and peak > 10
    sent, refused, peak = _one_user_at_400(tmp_path / "old", 10)
    assert sent + refused == 80 and sent < 40 and peak <= 10


def test_the_default_cap_per_process_is_bounded_and_the_old_split_is_kept_for_comparison() -> None:
    assert OPEN_USERS * MAX_IN_FLIGHT == 1_000
    assert splits(600.0) == {"old": (120, 10), "new": (OPEN_USERS, MAX_IN_FLIGHT)}
    with pytest.raises(ValueError):
        open_users(0, 1)


def test_open_runs_record_what_carried_the_rate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """bench-load's Locust command names the users and their cap, and no --user-rate (a report would read it)."""
    seen: list[list[str]] = []

    class Started(Exception):
        pass

    def capture(plan: Any, **_: Any) -> None:
        seen.append(list(plan.master))
        raise Started

    monkeypatch.setattr(bench, "run_locust", capture)
    monkeypatch.setattr(bench, "stack_sampler", lambda *_, **__: contextlib.nullcontext())
    stack: Any = SimpleNamespace(urls={"database": "postgresql://x@127.0.0.1:1/db"},
                                 postgres=SimpleNamespace(kind="docker"))
    for pacing in (OPEN, CLOSED):
        with pytest.raises(Started):
            bench.locust_run("step", host="http://127.0.0.1:9", stack=stack, out=tmp_path / pacing, offered=300.0,
                             seconds=1.0, user_rate=5.0, audit=False, pacing=pacing, max_in_flight=250, open_users=4)
    open_cmd, closed_cmd = seen
    assert open_cmd[open_cmd.index("--open-users") + 1] == "4"
    assert open_cmd[open_cmd.index("--max-in-flight") + 1] == "250"
    assert "--user-rate" not in open_cmd
    assert closed_cmd[closed_cmd.index("--user-rate") + 1] == "5" and "--open-users" not in closed_cmd


def test_a_user_behind_its_schedule_starts_every_due_story_in_one_turn() -> None:
    """Starved for half a second at 100/s, a user has about 50 stories due: one task call starts them all (each
    greenlet then sends at once, timed from its instant), not one per turn of the hub."""
    clock, stories = FakeClock(), iter(_stories(400))
    loop = OpenLoop(100.0, MAX_IN_FLIGHT, lambda *_: None, clock=clock, rng=random.Random(4))
    clock.now += loop.wait() + 0.5
    try:
        behind = loop.start_due(lambda: next(stories), lambda *_: None)
        assert 50 <= behind <= 51 and loop.wait() > 0
        clock.now += loop.wait()
        assert loop.start_due(lambda: next(stories), lambda *_: None) == 1  # on time: one story per turn
        clock.now += 5.0
        assert loop.start_due(lambda: next(stories), lambda *_: None) == CATCH_UP  # bounded, the rest next turn
    finally:
        loop.stop()
