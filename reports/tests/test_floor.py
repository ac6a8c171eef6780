"""Where the floor is: each part at the core's ceiling against its own bare minimum, from one bench.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reports.build import build_report
from reports.floor import Floor, floor_profile
from reports.parse_capacity import parse_capacity
from reports.tests.support import built
from reports.tests.test_render import _trace


def bench(core: dict[str, float], bare: dict[str, float], null_generator: float | None = 0.1,
          **result: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "machine": {"cpus": 2, "load_average": [0.5, 0.4, 0.3]}, "core_workers": 2,
        "core_ceiling": {"achieved": 800.0, "cpu_ms_per_request": core, "locust_workers": 0},
        "bare_ceiling": {"achieved": 1000.0, "cpu_ms_per_request": bare},
        "result": {"sustained_rate": 400.0, "sustained_is_lower_bound": False, "ratio_sustained_to_bare": 0.4,
                   "target": {"rate": 1000, "ratio": 0.8}, **result},
    }
    if null_generator is not None:
        data["generator"] = {"achieved": 3000.0, "cpu_ms_per_request": {"generator": null_generator, "bare": 0.05}}
    return data


CORE = {"core": 1.0, "postgres": 0.6, "generator": 0.4, "simulators": 0.05, "other": 0.02}
BARE = {"bare": 0.7, "postgres": 0.5, "generator": 0.35}


def write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def floor_of(tmp_path: Path, data: dict[str, Any]) -> Floor | None:
    write(tmp_path / "bench.json", data)
    return floor_profile(parse_capacity(tmp_path))


def test_each_part_is_set_against_its_own_minimum_from_the_same_run(tmp_path: Path) -> None:
    floor = floor_of(tmp_path, bench(CORE, BARE))
    assert floor is not None
    rows = {r.part: (r.measured_ms, r.minimum_ms, r.excess_ms) for r in floor.rows}
    # the core against the bare endpoint, Postgres against Postgres under the bare endpoint, the generator
    # against Locust sending to the null endpoint (not the generator at the bare ceiling, 0.35)
    assert rows == {"core": (1.0, 0.7, 0.3), "Postgres": (0.6, 0.5, 0.1), "generator": (0.4, 0.1, 0.3)}
    assert (floor.path_ms, floor.minimum_path_ms, floor.off_path_ms) == (2.0, 1.3, 0.07)
    assert floor.limit_at_measured == 1000.0  # 2 CPUs x 1000 / 2.0 ms
    assert floor.limit_at_minimum == pytest.approx(1538.5)
    assert floor.budget_ms == 2.0  # 2 CPUs at 1,000/s
    assert floor.headroom == 0.5  # sustained 400 / core ceiling 800
    assert floor.held_at_minimum == pytest.approx(769.2, abs=0.1)
    # 1,538/s unpaced at the minimum, but at this run's held share 769/s: beyond the machine at p99 < 100 ms
    assert floor.verdict.startswith("beyond this machine at p99 < 100 ms")


def test_the_verdict_follows_the_figures(tmp_path: Path) -> None:
    cheap = floor_of(tmp_path, bench(CORE, {"bare": 0.3, "postgres": 0.3, "generator": 0.2}, null_generator=0.1))
    assert cheap is not None and cheap.limit_at_minimum == pytest.approx(2857.1)
    # 2,857/s unpaced at the minimum, 1,428.6/s at this run's held share 0.5: the target is within reach
    assert cheap.held_at_minimum == pytest.approx(1428.6, abs=0.1)
    assert cheap.verdict.startswith("within this machine's CPUs at the bare minimum")
    costly = floor_of(tmp_path, bench(CORE, {"bare": 1.5, "postgres": 0.8, "generator": 0.3}, null_generator=0.3))
    assert costly is not None and costly.verdict.startswith("beyond this machine: even with every part")
    unknown = floor_of(tmp_path, bench(CORE, BARE, null_generator=None))
    assert unknown is not None and unknown.minimum_path_ms is None
    assert unknown.verdict.startswith("not decided")


def test_no_floor_without_a_core_ceiling_with_cpu(tmp_path: Path) -> None:
    assert floor_of(tmp_path, bench({}, BARE)) is None
    assert floor_profile(parse_capacity(tmp_path / "absent")) is None


def test_the_report_shows_the_floor_and_traces_its_numbers_to_bench_json(artefacts: Path, tmp_path: Path) -> None:
    write(artefacts / "bench.json", bench(CORE, BARE))
    out = tmp_path / "report"
    build_report(artefacts, out)
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "### Where the floor is" in md
    assert "| core | 1 | 0.7 | 0.3 | the core's statements behind a bare Starlette endpoint (bare ceiling) |" in md
    assert "| **the path** | 2 | 1.3 |" in md
    assert "allow at most 1000 webhooks/s unpaced at the measured path and 1538.5/s" in md
    assert "**The rate target is beyond this machine at p99 < 100 ms" in md
    html = (out / "report.html").read_text(encoding="utf-8")
    assert '<h3 id="floor">Where the floor is</h3>' in html and "<b>The rate target is beyond this machine" in html
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    found: list[tuple[str, tuple[str, ...]]] = []
    _trace(data["floor"], (), "$.floor", found)
    assert found and all(trace == ("bench.json",) for _, trace in found)


def test_the_ratio_verdict_needs_the_bare_endpoint_paced(tmp_path: Path) -> None:
    floor = floor_of(tmp_path, bench(CORE, BARE))
    assert floor is not None and floor.ratio_verdict.startswith("not measured")
    below = floor_of(tmp_path, bench(CORE, BARE, bare_paced_sustained=700.0, ratio_bare_paced_to_bare=0.7))
    assert below is not None
    assert below.ratio_verdict == ("beyond the floor: the bare endpoint itself, paced the same way, held 0.7 of its "
                                   "own ceiling, under the target 0.8")
    bound = floor_of(tmp_path, bench(CORE, BARE, bare_paced_sustained=700.0, ratio_bare_paced_to_bare=0.7,
                                     bare_paced_is_lower_bound=True))
    assert bound is not None and bound.ratio_verdict.startswith("not decided: the bare endpoint held at least 0.7")
    above = floor_of(tmp_path, bench(CORE, BARE, bare_paced_sustained=850.0, ratio_bare_paced_to_bare=0.85))
    # core ceiling 800 / bare 1,000 = 0.8 unpaced; the target 0.8 needs the core to hold all of its own ceiling,
    # more than the bare endpoint held of its own (0.85): beyond the floor although the bare endpoint cleared 0.8
    assert above is not None and (above.ceiling_ratio, above.share_needed, above.headroom) == (0.8, 1.0, 0.5)
    assert above.ratio_verdict == (
        "beyond the floor: at 0.8 of the bare ceiling unpaced, the core would have to hold 1 of its own ceiling paced "
        "(it held 0.5), more than the bare endpoint itself, paced the same way, held of its own (0.85)")
    data = bench(CORE, BARE, bare_paced_sustained=900.0, ratio_bare_paced_to_bare=0.9)
    data["bare_ceiling"]["achieved"] = 900.0  # the core's ceiling 800 is 0.889 of it: it needs 0.9 of its own
    within = floor_of(tmp_path, data)
    assert within is not None and (within.ceiling_ratio, within.share_needed) == (0.889, 0.9)
    assert within.ratio_verdict == ("within the floor: the bare endpoint itself, paced the same way, held 0.9 of its "
                                    "own ceiling; the core, at 0.889 of the bare ceiling unpaced, would have to hold "
                                    "0.9 of its own ceiling paced and held 0.5")


def _step(rate: float, held: bool, **cost: float) -> dict[str, Any]:
    return {"offered": rate, "held": held, "cpu_ms_per_request": cost}


def test_the_core_and_the_bare_endpoint_are_set_side_by_side_at_the_same_paced_rates(artefacts: Path,
                                                                                      tmp_path: Path) -> None:
    data = bench(CORE, BARE, bare_paced_sustained=850.0, ratio_bare_paced_to_bare=0.85)
    data["steps"] = [_step(600, True, core=0.55, postgres=0.3, generator=0.3),
                     _step(900, False, core=0.5, postgres=0.29, generator=0.25),
                     _step(750, True, core=0.52, postgres=0.3, generator=0.27),  # the bare endpoint never ran 750
                     _step(600, True, core=9.0, postgres=9.0, generator=9.0)]  # a search back at 600: the first counts
    data["bare_paced"] = {"steps": [_step(900, True, bare=0.3, postgres=0.28, generator=0.24),
                                    _step(600, True, bare=0.35, postgres=0.31, generator=0.3)]}
    floor = floor_of(tmp_path, data)
    assert floor is not None
    rows = [(p.rate, p.app_ms, p.postgres_ms, p.generator_ms, p.held, p.app_excess_ms, p.path_ms) for p in floor.paced]
    assert rows == [(600.0, (0.55, 0.35), (0.3, 0.31), (0.3, 0.3), (True, True), 0.2, (1.15, 0.96)),
                    (900.0, (0.5, 0.3), (0.29, 0.28), (0.25, 0.24), (False, True), 0.2, (1.04, 0.82))]
    write(artefacts / "bench.json", data)
    report = built(artefacts, tmp_path / "report")
    assert "| 900 | 0.5 · 0.3 | 0.2 | — · — | 0.29 · 0.28 | 0.25 · 0.24 | 1.04 · 0.82 | no · yes |" in report.md
    assert "<td class=\"n\">1.04 · 0.82</td><td>no · yes</td>" in report.html
    assert [row["rate"] for row in report.data["floor"]["paced"]] == [600.0, 900.0]


def test_a_core_whose_own_ceiling_is_under_the_target_ratio_is_beyond_it_whatever_the_bare_endpoint_held(
        tmp_path: Path) -> None:
    data = bench(CORE, BARE, bare_paced_sustained=1000.0, ratio_bare_paced_to_bare=0.9)
    data["bare_ceiling"]["achieved"] = 1100.0  # the core's ceiling 800 is 0.727 of it, under 0.8
    floor = floor_of(tmp_path, data)
    assert floor is not None and (floor.ceiling_ratio, floor.share_needed) == (0.727, 1.1)
    assert floor.ratio_verdict == (
        "beyond the core's own ceiling: unpaced, the core reached 0.727 of the bare ceiling, under the target 0.8; "
        "the target would need it to hold 1.1 of that ceiling paced, and no paced rate holds more than the ceiling")


def test_the_verified_endpoint_splits_the_cores_excess_and_decides_the_receivers_floor(artefacts: Path,
                                                                                     tmp_path: Path) -> None:
    """--verified: the core's checks and recording without its HTTP layer. At a paced rate it splits the core's
    excess over the bare endpoint in two (core − verified: the HTTP layer; verified − bare: the receiver's work),
    and its held share of the bare ceiling decides whether any HTTP layer of ours stands between the core and the
    ratio target."""
    data = bench(CORE, BARE, bare_paced_sustained=850.0, ratio_bare_paced_to_bare=0.85, verified_ceiling=900.0,
                 verified_paced_sustained=750.0, ratio_verified_paced_to_bare=0.75,
                 verified_paced_is_lower_bound=False, receiver_floor_below_target=True)
    data["steps"] = [_step(600, True, core=0.55, postgres=0.3, generator=0.3)]
    data["bare_paced"] = {"steps": [_step(600, True, bare=0.35, postgres=0.31, generator=0.3)]}
    data["verified_paced"] = {"steps": [_step(600, True, verified=0.5, postgres=0.3, generator=0.3)]}
    floor = floor_of(tmp_path, data)
    assert floor is not None
    [row] = floor.paced
    assert (row.verified_app_ms, row.http_layer_ms, row.receiver_work_ms, row.verified_held) == (0.5, 0.05, 0.15, True)
    # a bench.json from before the verified endpoint had a role of its own: its CPU was counted as "bare"
    older = {**data, "verified_paced": {"steps": [_step(600, True, bare=0.5, postgres=0.3, generator=0.3)]}}
    older_floor = floor_of(tmp_path, older)
    assert older_floor is not None and older_floor.paced[0].verified_app_ms == 0.5
    assert floor.receiver_verdict.startswith(
        "below the target: the core's own checks and recording with no HTTP layer held 0.75 of the bare ceiling "
        "paced, under 0.8 (unpaced, its ceiling was 0.900 of the bare one)")
    write(artefacts / "bench.json", data)
    report = built(artefacts, tmp_path / "report")
    assert "| 600 | 0.55 · 0.35 | 0.2 | 0.05 · 0.15 | 0.3 · 0.31 |" in report.md
    assert "held 750/s for the hold): below the target" in report.md
    assert '<td class="n">0.05 · 0.15</td>' in report.html
    assert report.data["floor"]["receiver_verdict"].startswith("below the target")

    undecided = dict(data["result"], receiver_floor_below_target=None, verified_paced_is_lower_bound=True)
    floor = floor_of(tmp_path, {**data, "result": undecided})
    assert floor is not None
    assert floor.receiver_verdict.startswith("not decided: the verified endpoint held at least 0.75")
    above = dict(data["result"], receiver_floor_below_target=False, verified_paced_sustained=820.0,
                 ratio_verified_paced_to_bare=0.82)
    floor = floor_of(tmp_path, {**data, "result": above})
    assert floor is not None and floor.receiver_verdict.startswith("not below the target")
    ceiling_only = dict(data["result"], receiver_floor_below_target=True, verified_paced_sustained=None,
                        ratio_verified_paced_to_bare=None, verified_ceiling=780.0)
    floor = floor_of(tmp_path, {**data, "result": ceiling_only})
    assert floor is not None and floor.receiver_verdict.startswith(
        "below the target: unpaced, the core's own checks and recording with no HTTP layer reached 0.78 of the bare "
        "ceiling, under 0.8, and no paced rate holds more than its ceiling")
    absent = floor_of(tmp_path, bench(CORE, BARE))
    assert absent is not None and absent.receiver_verdict.startswith("not measured")
