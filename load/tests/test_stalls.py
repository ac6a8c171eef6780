"""The stall analysis: per-second percentiles from the ledger, missed seconds, episodes, suspects, the joins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from load.ledger import LedgerEntry
from load.samples import activity_summary
from load.stalls import (
    Second,
    analyse,
    analyse_folder,
    by_others,
    by_second,
    episodes,
    gc_by_second,
    kind_of,
    missed,
    per_second,
    summary,
    suspects,
)

T0 = 1_800_000_000.0


def entry(n: int, at: float, ms: float, *, role: str = "event", code: int | None = 200) -> LedgerEntry:
    return LedgerEntry(id=f"local:{n}", at=at, gateway="wompi", key=f"k{n}", order="o", attempt="a", status="APPROVED",
                       role=role, signature="s", expect=200, code=code, ms=ms)


def steady(seconds: int, per_second_count: int, ms: float = 5.0,
           slow: dict[int, float] | None = None) -> list[LedgerEntry]:
    out, n = [], 0
    for s in range(seconds):
        for i in range(per_second_count):
            out.append(entry(n, T0 + s + i / per_second_count, (slow or {}).get(s, ms)))
            n += 1
    return out


def test_per_second_counts_webhooks_only_and_ranks_their_latencies() -> None:
    entries = [entry(0, T0, 10), entry(1, T0 + 0.5, 30), entry(2, T0 + 0.6, 900, role="sim_charge"),
               entry(3, T0 + 0.7, 500, code=None), entry(4, T0 + 1.2, 7)]
    start, seconds = per_second(entries)
    assert start == T0
    assert seconds == [Second(0, 2, 10.0, 30.0, 30.0), Second(1, 1, 7.0, 7.0, 7.0)]


def test_a_slow_second_and_a_thin_second_are_missed_but_spawning_and_the_last_second_are_not() -> None:
    entries = steady(10, 20, slow={0: 400.0, 4: 180.0, 9: 400.0})
    entries = [e for e in entries if not (T0 + 6 <= e.at < T0 + 7 and int(e.id.split(":")[1]) % 2)]  # second 6 half
    _, seconds = per_second(entries)
    assert missed(seconds, 20) == [4, 6]
    assert missed(seconds, 10) == [4]
    assert missed(seconds, 20, p99_ms=200) == [6]


def test_a_suspect_kind_is_its_words_before_the_first_figure() -> None:
    assert kind_of("gc pause 92 ms (gen2 x1)") == "gc pause"
    assert kind_of("autovacuum (orders)") == "autovacuum"
    assert kind_of("pg waits LWLock:WALWrite 9") == "pg waits LWLock:WALWrite"


def test_consecutive_missed_seconds_form_one_episode() -> None:
    assert episodes([7, 3, 4, 5, 9, 10]) == [(3, 5), (7, 7), (9, 10)]
    assert episodes([]) == []


def test_suspects_name_a_long_gc_pause_autovacuum_a_checkpoint_and_a_busy_machine() -> None:
    gc = {"count": [40, 3, 1], "pause_ms": [5.0, 3.0, 120.0], "max_ms": 120.0, "workers": 2}
    vacuuming = [{"rel": "transactions", "phase": "scanning heap"}]
    sample = {"machine": {"others": 1.2, "load1": 4.5, "psi_some_ms": 10.0, "steal": 0.0},
              "pg": {"autovacuum": 1, "vacuuming": vacuuming,
                     "checkpointer": {"buffers_written": 812.0, "write_time": 40.0},
                     "waits": {"LWLock:WALWrite": 9, "Client:ClientRead": 50}}}
    found = suspects(sample, gc)
    assert found[0] == "gc pause 120 ms (gen2 x1)"
    assert any(s.startswith("other processes 1.2 cores") for s in found)
    assert "autovacuum (transactions)" in found
    assert any(s.startswith("checkpoint (812 buffers") for s in found)
    assert "pg waits LWLock:WALWrite 9" in found
    vacuuming.append({"rel": "webhook_events", "phase": "analyze: acquiring sample rows"})
    assert "autovacuum (transactions, webhook_events analyze)" in suspects(sample, gc)
    quiet = {"machine": {"others": 0.1}, "pg": {"autovacuum": 0, "checkpointer": {"buffers_written": 0.0},
                                                "waits": {"Client:ClientRead": 90}}}
    assert suspects(quiet, {"count": [9, 0, 0], "pause_ms": [2.0, 0, 0], "max_ms": 0.4, "workers": 2}) == []


def test_a_machine_with_every_cpu_busy_is_a_suspect_only_when_the_sample_says_how_many_it_has() -> None:
    assert suspects({"machine": {"cpus": 2, "busy": 1.96}}, None) == ["cpu saturated 1.96 of 2 cores busy"]
    assert suspects({"machine": {"cpus": 2, "busy": 1.8}}, None) == []
    assert suspects({"machine": {"busy": 1.99}}, None) == []  # a sample written before ``cpus`` was


def test_samples_and_gc_lines_land_on_the_second_they_cover() -> None:
    samples = by_second([{"t": T0 + 3.01, "span": 1.0, "x": 1}, {"t": T0 - 0.5, "span": 1.0, "x": 0}], T0)
    assert list(samples) == [2]
    gc = gc_by_second([{"t": T0 + 2.9, "count": [1, 0, 1], "pause_ms": [0.5, 0, 80.0], "max_ms": 80.0},
                       {"t": T0 + 2.95, "count": [2, 1, 0], "pause_ms": [1.0, 2.0, 0], "max_ms": 2.0}], T0)
    assert gc == {2: {"count": [3, 1, 1], "pause_ms": [1.5, 2.0, 80.0], "max_ms": 80.0, "cpu_ms": 0.0, "workers": 2}}


def test_analyse_puts_the_look_back_seconds_in_an_episode_and_compares_missed_with_good() -> None:
    _, seconds = per_second(steady(12, 10, slow={6: 300.0}))
    samples = {s: {"machine": {"others": 1.5 if s == 5 else 0.1}} for s in range(12)}
    gc = {6: {"count": [1, 0, 1], "pause_ms": [0, 0, 90.0], "max_ms": 90.0, "workers": 2}}
    result = analyse(seconds, 10, samples, gc)
    assert result["missed"] == [6]
    (ep,) = result["episodes"]
    assert [s["at"] for s in ep["seconds"]] == [4, 5, 6]
    assert ep["suspects"][0].startswith("s5: other processes 1.5")
    assert ep["suspects"][1] == "s6: gc pause 90 ms (gen2 x1)"
    assert ep["kinds"] == {"other processes": 1, "gc pause": 1}
    others = next(c for c in result["compare"] if c["signal"] == "other processes' cores")
    assert others == {"signal": "other processes' cores", "missed": 0.1, "good": pytest.approx(0.1)}


def test_analyse_folder_reads_the_artefacts_and_writes_stalls_json(tmp_path: Path) -> None:
    (tmp_path / "ledger").mkdir()
    (tmp_path / "gc").mkdir()
    (tmp_path / "ledger" / "local.jsonl").write_text(
        "\n".join(e.to_json() for e in steady(8, 10, slow={4: 500.0})) + "\n")
    (tmp_path / "run.json").write_text(json.dumps({"rate": 10}))
    (tmp_path / "samples.jsonl").write_text(json.dumps({"t": T0 + 5.0, "span": 1.0, "pg": {"autovacuum": 1}}) + "\n")
    (tmp_path / "gc" / "gc-1.jsonl").write_text(
        json.dumps({"t": T0 + 5.0, "count": [0, 0, 1], "pause_ms": [0, 0, 70.0], "max_ms": 70.0}) + "\n")
    result = analyse_folder(tmp_path)
    assert result["missed"] == [4]
    assert result["episodes"][0]["suspects"] == ["s4: gc pause 70 ms (gen2 x1)", "s4: autovacuum (?)"]
    assert json.loads((tmp_path / "stalls.json").read_text())["missed"] == [4]


def test_activity_counts_client_sessions_autovacuum_and_only_active_waits() -> None:
    rows = [
        {"backend_type": "client backend", "state": "active", "wait": "LWLock:WALWrite", "n": 3},
        {"backend_type": "client backend", "state": "idle", "wait": "Client:ClientRead", "n": 17},
        {"backend_type": "client backend", "state": "active", "wait": "", "n": 2},
        {"backend_type": "autovacuum worker", "state": "active", "wait": "", "n": 1},
        {"backend_type": "checkpointer", "state": "", "wait": "IO:DataFileWrite", "n": 1},
        {"backend_type": "walwriter", "state": "", "wait": "Activity:WalWriterMain", "n": 1},
    ]
    assert activity_summary(rows) == {
        "states": {"active": 5, "idle": 17}, "clients": 22, "autovacuum": 1,
        "waits": {"LWLock:WALWrite": 3, "checkpointer/IO:DataFileWrite": 1},
    }


def test_the_summary_names_each_episode_its_suspect_kinds_and_the_medians() -> None:
    _, seconds = per_second(steady(8, 10, slow={s: 300.0 for s in range(2, 7)}))
    samples = {s: {"machine": {"others": 1.4, "load1": 9.0}} for s in range(8)}
    text = summary(analyse(seconds, 10, samples, {}))
    lines = text.splitlines()
    assert lines[0] == "stalls: 5 of 8 seconds missed p99 100 ms or 90% of 10/s"
    assert lines[1] == "  s2-6 (worst p99 300 ms): other processes 7/7 s"  # two look-back seconds included
    assert "other processes' cores 1.4 vs –" in lines[2]


def test_missed_seconds_are_binned_by_the_cores_other_jobs_used_then() -> None:
    _, seconds = per_second(steady(10, 10, slow={5: 300.0, 6: 300.0}))
    samples = {s: {"machine": {"others": 1.5 if s in (5, 6, 7) else 0.1}} for s in range(10)}
    rows = by_others([(seconds, samples)], 10)
    assert rows == [
        {"others_from": 0.0, "others_to": 0.2, "seconds": 4, "missed": 0},
        {"others_from": 1.4, "others_to": 1.6, "seconds": 3, "missed": 2},
    ]
