"""Open pacing (``--pacing open``): sends start at their scheduled instants whatever the answers, latency counts from
the instant (a late start is latency, not a gap), and a send past a user's in-flight cap is a counted failure.

Stack-free: a fake Locust client answering after a chosen delay, gevent alone (no Locust import, which would
patch this process), and the real ``load.actions.deliver`` writing a real ledger.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import gevent
import pytest

from load.actions import Context, NotSentOnTime, deliver, not_sent
from load.bench import _measure
from load.ledger import LedgerEntry, LedgerWriter, read_ledger
from load.openloop import OpenLoop, late_figures
from load.payloads import Mix, Renderer, Secrets, plan_story, sign_story
from load.shapes import InFlight, Schedule, late_ms, latency_ms
from load.thresholds import NOT_SENT, STEP_LIMITS, Sample, not_sent_count


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# ------------------------------------------------------------------------------------------ pure parts


def test_the_schedule_is_not_moved_by_answers_however_late() -> None:
    clock = FakeClock()
    schedule = Schedule(10.0, clock=clock, rng=random.Random(3))
    first = schedule.take(1)
    clock.now += 5.0  # a five-second answer: a closed pacer would send the next one now
    later = [schedule.take(1) for _ in range(3)]
    assert later == pytest.approx([first + 0.1, first + 0.2, first + 0.3])
    assert schedule.wait() == 0.0  # due already: sent at once, and timed from its instant
    burst = schedule.take(2)  # a burst of two takes two places
    assert schedule.take(1) == pytest.approx(burst + 0.2)


def test_the_in_flight_cap_admits_up_to_it_and_counts_every_refusal() -> None:
    cap = InFlight(3)
    assert cap.admit(2) and cap.admit(1)
    assert not cap.admit(1) and not cap.admit(2)
    assert (cap.count, cap.refused) == (3, 3)
    cap.done(1)
    assert cap.admit(1) and cap.refused == 3
    with pytest.raises(RuntimeError):
        InFlight(1).done(1)
    with pytest.raises(ValueError):
        InFlight(0)


def test_latency_counts_from_the_scheduled_instant_when_there_is_one() -> None:
    assert latency_ms(10.0, 10.3, 10.35) == pytest.approx(350.0)  # started 300 ms late, answered in 50
    assert late_ms(10.0, 10.3) == pytest.approx(300.0)
    assert latency_ms(None, 10.3, 10.35) == pytest.approx(50.0)  # closed: from the send
    assert latency_ms(10.5, 10.3, 10.35) == pytest.approx(50.0)  # never less than the request itself took
    assert late_ms(10.5, 10.3) == 0.0


# --------------------------------------------------------------------------------- a user, played fast


class _Response:
    def __init__(self, client: SlowClient) -> None:
        self.client, self.status_code, self.content, self.error = client, 200, b'{"status": "applied"}', None
        # What Locust measured itself, from its own send: the answer's delay, never the late start.
        self.request_meta: dict[str, Any] = {"response_time": client.answer_s * 1000}

    def __enter__(self) -> _Response:
        return self

    def __exit__(self, *_: object) -> None:
        self.client.reported.append(self.request_meta["response_time"])  # what Locust's statistics get

    def success(self) -> None:
        pass

    def failure(self, _: str) -> None:
        pass


class SlowClient:
    """A Locust-like client whose every POST is answered 200 after ``answer_s`` seconds."""

    def __init__(self, answer_s: float) -> None:
        self.answer_s = answer_s
        self.sent: list[float] = []  # perf_counter at each send
        self.reported: list[float] = []

    def post(self, path: str, **_: Any) -> _Response:
        self.sent.append(time.perf_counter())
        gevent.sleep(self.answer_s)
        return _Response(self)


class Requests:
    """Locust's request event, as the ``not sent`` failures reach it."""

    def __init__(self) -> None:
        self.fired: list[dict[str, Any]] = []

    def fire(self, **kwargs: Any) -> None:
        self.fired.append(kwargs)


def _stories(count: int, mix: str = "none") -> list[Any]:
    render = Renderer(Secrets("events-secret", "api-key", "508029"))
    return [sign_story(plan_story("t0p3n", "wompi", i, Mix.parse(mix)), render).steps for i in range(count)]


def _user(tmp_path: Path, *, rate: float, cap: int, answer_s: float) -> tuple[OpenLoop, SlowClient, Requests, Context]:
    client, requests = SlowClient(answer_s), Requests()
    ctx = Context(LedgerWriter(tmp_path / "ledger", node="test"), "t0p3n")
    loop = OpenLoop(rate, cap, lambda d, n, c: not_sent(requests, d, in_flight=n, cap=c), rng=random.Random(5))
    return loop, client, requests, ctx


def _run(loop: OpenLoop, client: SlowClient, ctx: Context, stories: list[Any]) -> None:
    """The user's task loop: start a story, wait for the next instant (Locust's wait_time), and so on."""
    for steps in stories:
        loop.start(steps, lambda d, r, at: deliver(client, d, r, ctx, scheduled=at))
        gevent.sleep(loop.wait())
    loop.greenlets.join(timeout=10)
    ctx.writer.close()


def test_an_open_user_keeps_its_schedule_while_answers_are_slow(tmp_path: Path) -> None:
    """Ten stories at 50/s against a server answering in 300 ms: all ten go out within 0.2 s, not one per 300 ms."""
    loop, client, _, ctx = _user(tmp_path, rate=50.0, cap=20, answer_s=0.3)
    _run(loop, client, ctx, _stories(10))
    gaps = [b - a for a, b in zip(client.sent, client.sent[1:], strict=False)]
    assert len(client.sent) == 10
    assert client.sent[-1] - client.sent[0] < 0.25, gaps  # a closed user would need 9 × 0.3 s
    entries = read_ledger(tmp_path / "ledger")
    assert len(entries) == 10 and all(e.code == 200 for e in entries)
    assert all(e.ms >= 290 for e in entries)
    assert loop.in_flight.count == 0 and loop.in_flight.refused == 0


def test_a_late_start_is_counted_as_latency_in_the_ledger_and_in_locust(tmp_path: Path) -> None:
    """The loop starved for 400 ms (the generator's CPU taken): the sends go late, and their latency says so."""
    loop, client, _, ctx = _user(tmp_path, rate=20.0, cap=20, answer_s=0.01)
    steps = _stories(3)
    due = loop.wait()
    for story in steps:  # their instants are given out now…
        loop.start(story, lambda d, r, at: deliver(client, d, r, ctx, scheduled=at))
    time.sleep(0.4 + due)  # …then the process is busy elsewhere: no greenlet runs (time.sleep, not gevent's)
    loop.greenlets.join(timeout=10)
    ctx.writer.close()
    entries = read_ledger(tmp_path / "ledger")
    assert len(entries) == 3
    assert min(e.late_ms for e in entries) >= 250  # the third was due 0.1 s after the first
    assert all(e.ms >= e.late_ms + 9 for e in entries)  # late start + the answer's own 10 ms
    assert min(client.reported) >= 250  # Locust's statistics count it too, not just its 10 ms


def test_a_send_past_the_cap_is_a_counted_failure_and_never_reaches_the_ledger(tmp_path: Path) -> None:
    """Cap 3 and a server that hangs 0.5 s: of eight sends due within 0.16 s, three go, five are failures."""
    loop, client, requests, ctx = _user(tmp_path, rate=50.0, cap=3, answer_s=0.5)
    _run(loop, client, ctx, _stories(8))
    assert len(client.sent) == 3 and len(read_ledger(tmp_path / "ledger")) == 3  # the ledger: what was sent
    assert loop.in_flight.refused == 5 and loop.in_flight.count == 0
    assert len(requests.fired) == 5
    for fired in requests.fired:
        assert fired["name"] == f"webhook wompi {NOT_SENT}"
        assert fired["response_time"] is None  # a failure with no latency to give, out of the percentiles
        assert isinstance(fired["exception"], NotSentOnTime) and "cap of 3" in str(fired["exception"])


def test_a_burst_goes_out_together_or_not_at_all(tmp_path: Path) -> None:
    """A duplicated event is two requests at one instant: both in flight at once, or both refused by a cap of one."""
    (story,) = _stories(1, "dup=1,ooo=0,invalid=0")
    assert [len(step) for step in story] == [2]
    loop, client, _, ctx = _user(tmp_path / "two", rate=10.0, cap=2, answer_s=0.2)
    _run(loop, client, ctx, [story])
    assert len(client.sent) == 2 and client.sent[1] - client.sent[0] < 0.05
    loop, client, requests, ctx = _user(tmp_path / "one", rate=10.0, cap=1, answer_s=0.2)
    _run(loop, client, ctx, [story])
    assert client.sent == [] and len(requests.fired) == 2 and loop.in_flight.refused == 2


# ------------------------------------------------------------------------------------- the benchmark


def test_a_step_with_one_send_refused_does_not_hold() -> None:
    assert STEP_LIMITS.holds(requests=10_000, failures=1, steady_p99_ms=20.0, offered=500, achieved=499.0)
    assert not STEP_LIMITS.holds(requests=10_000, failures=1, steady_p99_ms=20.0, offered=500, achieved=499.0,
                                 not_sent=1)


def test_every_refused_send_is_counted_whatever_its_gateway() -> None:
    samples = [Sample("webhook wompi", 900, 0), Sample(f"webhook wompi {NOT_SENT}", 4, 4),
               Sample(f"webhook payu {NOT_SENT}", 1, 1), Sample("api create order", 3, 0)]
    assert not_sent_count(samples) == 5


def test_a_bench_step_that_refused_a_send_is_a_miss_even_with_a_good_p99(tmp_path: Path) -> None:
    out = tmp_path / "step-500"
    writer = LedgerWriter(out / "ledger", node="n")
    base = time.time()
    for i in range(5000):  # 500/s for 10 s, every answer in 5 ms
        writer.write(LedgerEntry(id=writer.next_id(), at=base + i / 500, gateway="wompi", key=f"k{i}", order="o",
                                 attempt="a", status="APPROVED", role="event", signature="", expect=200, code=200,
                                 ms=5.0, late_ms=1.0))
    writer.close()
    pacing: dict[str, Any] = {"mode": "open", "user_rate": None, "users_per_process": 4, "max_in_flight": 250,
                              "in_flight_per_process": 1000, "not_sent": 1}
    result = {"thresholds": {"requests": 5001, "failures": 1, "p50_ms": 5, "p95_ms": 5, "p99_ms": 5},
              "pacing": pacing, "exceptions": 0}
    (out / "audit.json").write_text(json.dumps(result))
    m = _measure("step-500", out, 500.0, 10.0, 0, ["locust"], pacing="open")
    assert m.steady_p99_ms == 5.0 and m.achieved >= 475 and m.steady_late_p99_ms == 1.0
    assert (m.not_sent, m.held) == (1, False)
    pacing["not_sent"] = 0
    (out / "audit.json").write_text(json.dumps(result))
    assert _measure("step-500", out, 500.0, 10.0, 0, ["locust"], pacing="open").held
    # an exception in our users' code, or none recorded at all: the generator did not send what was meant
    for exceptions in (3, None):
        (out / "audit.json").write_text(json.dumps({**result, "exceptions": exceptions}))
        assert not _measure("step-500", out, 500.0, 10.0, 0, ["locust"], pacing="open").held


def test_the_generators_share_counts_first_tries_of_webhooks_only() -> None:
    def entry(late: float, *, try_no: int = 1, signature: str = "sig", code: int | None = 200) -> LedgerEntry:
        return LedgerEntry(id="n:1", at=0.0, gateway="wompi", key="k", order="o", attempt="a", status="APPROVED",
                           role="event", signature=signature, expect=200, code=code, try_no=try_no, late_ms=late)

    entries = [entry(float(n)) for n in range(1, 101)]
    entries += [entry(5000.0, try_no=2), entry(5000.0, signature=""), entry(5000.0, code=None)]
    assert late_figures(entries) == {"sends": 100, "p50_ms": 50.0, "p99_ms": 99.0, "max_ms": 100.0}
    assert late_figures([]) == {}
