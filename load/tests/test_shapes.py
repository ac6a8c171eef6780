"""Shapes produce the stages they describe; the pacer keeps a user's rate and never bursts past its lag."""

from __future__ import annotations

import random

import pytest

from load.shapes import Pacer, Stage, build_stages, stage_at, users_for


def test_steady_is_one_stage() -> None:
    assert build_stages("steady", users=20, duration=60) == (Stage(60, 20, 20.0),)


def test_ramp_climbs_to_the_target_then_holds() -> None:
    stages = build_stages("ramp", users=100, duration=100)
    assert [s.users for s in stages] == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 100]
    assert stages[9].until == pytest.approx(30.0)
    assert stages[-1].until == 100


def test_spike_doubles_the_users_for_a_while() -> None:
    stages = build_stages("spike", users=50, duration=100)
    assert [(s.until, s.users) for s in stages] == [(40.0, 50), (pytest.approx(55.0), 100), (100, 50)]
    assert stage_at(stages, 45) == stages[1]
    assert stage_at(stages, 99.9) == stages[2]
    assert stage_at(stages, 100) is None


def test_unknown_shape_and_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown shape"):
        build_stages("sawtooth", users=1, duration=1)
    with pytest.raises(ValueError):
        build_stages("steady", users=0, duration=1)


def test_users_for_a_rate() -> None:
    assert users_for(500, 5) == 100
    assert users_for(501, 5) == 101
    assert users_for(1, 5) == 1


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_pacer_holds_the_rate_counting_bursts() -> None:
    clock = FakeClock()
    pacer = Pacer(10.0, clock=clock, rng=random.Random(1))
    clock.now = pacer.first_delay()
    sent = 0
    while clock.now < 10.0:
        burst = 2 if sent % 10 == 0 else 1
        sent += burst
        clock.now += 0.01 + pacer.after(burst)  # each request takes 10 ms
    assert 98 <= sent <= 103


def test_pacer_catches_up_only_by_its_lag() -> None:
    clock = FakeClock()
    pacer = Pacer(100.0, clock=clock, max_lag=0.5, rng=random.Random(2))
    clock.now = 5.0  # a five-second stall
    waits = [pacer.after(1) for _ in range(60)]
    # At most ~half a second of requests go out back to back, then the pace resumes.
    assert sum(1 for w in waits if w == 0) <= 51
    assert waits[-1] > 0
