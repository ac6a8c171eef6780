"""The report's stall section: load/stalls.json (and bench-load phases') present, absent, unreadable, none or found."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from reports.analyse import analyse
from reports.build import build_report
from reports.collect import collect
from reports.parse_stalls import parse_stalls
from reports.tests.support import DATA
from reports.tests.test_render import _trace

# What load/stalls.py's ``analyse`` wrote for a 30 s run at 100/s: seconds 12-13 (a 85 ms gen2 pause the
# second before, the machine's two CPUs busy, WAL-write waits) and 20 (nothing in the samples) missed.
FOUND = DATA.parent / "stalls_found.json"
STALLS = "load/stalls.json"


def _report(artefacts: Path, out: Path) -> tuple[str, str, dict[str, Any]]:
    build_report(artefacts, out)
    return ((out / "report.md").read_text(encoding="utf-8"), (out / "report.html").read_text(encoding="utf-8"),
            json.loads((out / "report.json").read_text(encoding="utf-8")))


def test_a_run_without_stalls_says_none_found_in_the_seconds_it_analysed(artefacts: Path, tmp_path: Path) -> None:
    (run,) = parse_stalls(artefacts)
    assert (run.status, run.seconds, run.sampled_seconds, run.gc_seconds) == ("none found", 14, 14, 14)
    md, html, _ = _report(artefacts, tmp_path / "report")
    assert f"* **load run** ([{STALLS}](../artefacts/{STALLS})): none found in the 11 s judged of 14 s (a second" in md
    assert "exceeds 100 ms or fewer than 90 % of 100/s were sent; the first 2 s and the last 1 s are not judged" in md
    assert "Sampled: 14 s of `samples.jsonl`, 14 s of the core's GC counters." in md
    assert '<td class="good">none found in the 11 s judged of 14 s</td>' in html


def test_stalls_found_show_each_episode_with_what_the_samples_showed(artefacts: Path, tmp_path: Path) -> None:
    shutil.copy(FOUND, artefacts / STALLS)
    (run,) = parse_stalls(artefacts)
    assert (run.status, run.missed, run.sampled_seconds, run.gc_seconds) == ("stalls found", (12, 13, 20), 30, 1)
    first, second = run.episodes
    assert (first.first, first.last, first.worst_p99_ms) == (12, 13, 310.0)
    assert (first.lowest_sent, first.span_seconds) == (60, 4)  # two look-back seconds
    assert first.kinds == (("cpu saturated", 2), ("gc pause", 1), ("pg waits LWLock:WALWrite", 1))
    assert second.kinds == () and second.lowest_sent == 100
    md, html, data = _report(artefacts, tmp_path / "report")
    assert "**3 of the 27 s judged missed**, in 2 episodes" in md
    assert ("| 12–13 | 310 | 60 | cpu saturated 2/4 s, gc pause 1/4 s, pg waits LWLock:WALWrite 1/4 s |"
            " s11: gc pause 85 ms (gen2 x1); s12: cpu saturated 1.97 of 2 cores busy; s12: pg waits") in md
    assert "| 20 | 140 | 100 | nothing stood out |" in md
    assert "machine busy 1.97 vs 1.5" in md and "generator cores" not in md  # a signal never sampled is left out
    assert "3 of the 27 s judged missed, 2 episodes" in html and "cpu saturated 2/4 s" in html
    found: list[tuple[str, tuple[str, ...]]] = []
    _trace(data["stalls"], (), "$.stalls", found)
    assert found and all(trace == (STALLS,) for _, trace in found)


def test_without_samples_the_section_says_what_was_not_measured(artefacts: Path, tmp_path: Path) -> None:
    data = json.loads(FOUND.read_text())
    data.update(sampled_seconds=0, gc_seconds=0)
    (artefacts / STALLS).write_text(json.dumps(data))
    md, html, _ = _report(artefacts, tmp_path / "report")
    assert ("Sampled: 0 s of `samples.jsonl`, 0 s of the core's GC counters — what the machine and Postgres did is"
            " **not measured** (no samples) — the core's collections are **not measured** (no `gc/`).") in md
    assert "machine and Postgres not measured (no samples)" in html


def test_an_absent_analysis_is_not_measured_with_the_command_that_writes_it(artefacts: Path, tmp_path: Path) -> None:
    (artefacts / STALLS).unlink()
    (run,) = parse_stalls(artefacts)
    assert run.status == "not measured" and run.seconds == 0 and run.episodes == ()
    issues = {i.source.path: i for i in analyse(collect(artefacts)).issues if i.kind == "not measured"}
    assert "payharness load --artefacts DIR/load" in issues[STALLS].detail
    md, _, _ = _report(artefacts, tmp_path / "report")
    assert "* **load run**: not measured — load/stalls.json is absent; produced by `payharness load" in md
    assert "none found" not in md


def test_an_unreadable_analysis_is_said_so_and_is_a_high_issue(artefacts: Path, tmp_path: Path) -> None:
    data = json.loads(FOUND.read_text())
    del data["missed"]
    (artefacts / STALLS).write_text(json.dumps(data))
    (run,) = parse_stalls(artefacts)
    assert run.status == "unreadable" and run.source.error == "KeyError: 'missed'"
    issues = [i for i in analyse(collect(artefacts)).issues if i.kind == "unreadable artefact"]
    assert [i.source.path for i in issues] == [STALLS] and issues[0].severity == "high"
    md, _, _ = _report(artefacts, tmp_path / "report")
    assert "* **load run**: load/stalls.json unreadable (KeyError: 'missed')." in md


def test_bench_phases_analyses_follow_the_load_run_holds_first(artefacts: Path, tmp_path: Path) -> None:
    for phase in ("step-1000", "step-250", "hold-520"):
        (artefacts / "bench" / phase).mkdir(parents=True)
        shutil.copy(artefacts / STALLS, artefacts / "bench" / phase / "stalls.json")
    shutil.copy(FOUND, artefacts / "bench" / "hold-520" / "stalls.json")
    runs = parse_stalls(artefacts)
    assert [r.label for r in runs] == ["load run", "bench-load hold-520", "bench-load step-250", "bench-load step-1000"]
    assert [r.status for r in runs] == ["none found", "stalls found", "none found", "none found"]
    md, _, _ = _report(artefacts, tmp_path / "report")
    hold = "bench/hold-520/stalls.json"
    assert f"* **bench-load hold-520** ([{hold}](../artefacts/{hold})): **3 of the 27 s judged missed**" in md
    assert "Bench-load hold-520, episodes" in md
