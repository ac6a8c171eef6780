"""Parsers: hand-made artefacts in, frozen data out; absent and broken artefacts are marked, never guessed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reports.collect import collect
from reports.model import ARTEFACTS
from reports.parse_bench import parse_bench, parse_bench_db
from reports.parse_measure import OTHER, component_of, parse_coverage, parse_load, parse_run
from reports.parse_tests import junit_nodeid, parse_defects, parse_junit, parse_scenarios
from reports.tests.support import Editor


def test_junit_outcomes_and_node_ids(artefacts: Path) -> None:
    junit = parse_junit(artefacts)
    assert junit.source.present and junit.source.error is None
    assert (junit.count("passed"), junit.count("skipped"), junit.count("failed")) == (7, 1, 0)
    skipped = next(c for c in junit.cases if c.outcome == "skipped")
    assert skipped.nodeid == "core/tests/test_notifications.py::test_voucher_sms_is_sent"
    assert skipped.message == "no SMS gateway in this harness"
    ids = {c.nodeid for c in junit.cases}
    assert "suites/api/test_api_abuse.py::TestBodies::test_a_body_over_the_limit_is_413_by_content_length" in ids


@pytest.mark.parametrize(
    ("classname", "name", "nodeid"),
    [
        ("suites.replay.test_x", "test_a[1]", "suites/replay/test_x.py::test_a[1]"),
        ("suites.api.test_y.TestBodies", "test_b", "suites/api/test_y.py::TestBodies::test_b"),
        ("", "test_c", "test_c"),
    ],
)
def test_junit_classname_becomes_a_pytest_node_id(classname: str, name: str, nodeid: str) -> None:
    assert junit_nodeid(classname, name) == nodeid


def test_junit_failure_and_error_carry_their_first_message_line(artefacts: Path) -> None:
    (artefacts / "junit.xml").write_text(
        '<testsuites><testsuite><testcase classname="suites.a.test_m" name="test_f" time="0.2">'
        '<failure message="assert 1 == 2&#10;more">trace</failure></testcase>'
        '<testcase classname="suites.a.test_m" name="test_e" time="0.1"><error message="boom"/></testcase>'
        "</testsuite></testsuites>"
    )
    cases = {c.nodeid.split("::")[-1]: c for c in parse_junit(artefacts).cases}
    assert (cases["test_f"].outcome, cases["test_f"].message) == ("failed", "assert 1 == 2")
    assert (cases["test_e"].outcome, cases["test_e"].message) == ("error", "boom")


def test_scenarios_keep_catalog_origin_status_and_reason(artefacts: Path) -> None:
    scenarios = {s.id: s for s in parse_scenarios(artefacts).scenarios}
    assert len(scenarios) == 7
    assert scenarios["WH-REPLAY"].status == "passed" and len(scenarios["WH-REPLAY"].tests) == 2
    assert scenarios["EFECTY-NOTIFICATIONS"].runnable is False
    assert scenarios["EFECTY-NOTIFICATIONS"].reason == "the core sends no SMS or e-mail"
    assert scenarios["PAYU-SIGNATURE"].origin == "seed-tested"


@pytest.mark.parametrize(
    ("path", "component"),
    [
        ("core/gateways/payu.py", "PayU client"),
        ("core/gateways/payu_models.py", "PayU client"),
        ("core/signing/payu.py", "PayU client"),
        ("core/gateways/wompi_models.py", "Wompi client"),
        ("core/signing/wompi.py", "Wompi client"),
        ("core/gateways/efecty.py", "Efecty client"),
        ("core/gateways/asobancaria.py", "Efecty client"),
        ("core/gateways/resilience.py", "Gateway plumbing"),
        ("core/gateways/_http.py", "Gateway plumbing"),
        ("core/webhooks/recording.py", "Webhook processing"),
        ("core/payments/ledger.py", "Webhook processing"),
        ("core/api/charges.py", "API"),
        ("core/ratelimit.py", "API"),
        ("core/reconcile.py", "API"),
        ("core/efecty_codes.py", "API"),
        ("core/db/models.py", "Database layer"),
        ("core/settings.py", OTHER),
    ],
)
def test_core_files_map_to_components(path: str, component: str) -> None:
    assert component_of(path) == component


def test_component_percentages_are_sums_not_averages(artefacts: Path) -> None:
    cov = parse_coverage(artefacts)
    payu = next(c for c in cov.components if c.component == "PayU client")
    assert [f.path for f in payu.files] == ["core/gateways/payu.py", "core/signing/payu.py"]
    # 110 of 120 statements (an average of the two files' percentages would say 95 %).
    assert (payu.counts.line_pct, payu.counts.branch_pct) == (91.7, 79.2)
    db = next(c for c in cov.components if c.component == "Database layer")
    assert db.counts.branch_pct is None  # no branches: not 0 %, not 100 %
    assert cov.total.statements == 290 and cov.total.covered_lines == 245
    assert cov.total.combined_pct == round(100 * (245 + 36) / (290 + 56), 1)
    assert [c.component for c in cov.components][-1] == OTHER


def test_defect_matrix_rows(artefacts: Path) -> None:
    matrix = parse_defects(artefacts)
    assert matrix.clean_passed == 7 and matrix.clean_failed == ()
    assert [d.name for d in matrix.defects] == ["no_row_lock", "no_unique_gateway_txn", "no_rate_limit"]
    assert all(d.detected for d in matrix.defects)
    assert matrix.defects[1].load_anomalies == ("duplicate_transaction × 3",)
    assert matrix.defects[0].junit == "defects/no_row_lock.xml"


def test_load_artefacts(artefacts: Path) -> None:
    audit, stats, history, failures = parse_load(artefacts)
    assert audit.audited and audit.ok and audit.anomalies == ()
    assert (audit.requests, audit.p50_ms, audit.p95_ms, audit.p99_ms) == (1200, 12.0, 80.0, 200.0)
    assert dict(audit.by_role)["forged"] == 20 and dict(audit.stats)["event_rows"] == 1100
    assert [r.name for r in stats.rows] == ["webhook wompi", "webhook payu", "api process payment", "Aggregated"]
    assert stats.rows[2].p95_ms == 450.0
    # Only the Aggregated rows are the run's curve; Locust's N/A stays None.
    assert len(history.points) == 5
    assert history.points[0].p50_ms is None and history.points[0].rps == 0.0
    assert history.points[-1].rps == 102.0
    assert failures.source.present and failures.rows == ()


def test_load_audit_with_anomalies_and_breaches(artefacts: Path, edit: Editor) -> None:
    def anomalous(d: dict[str, Any]) -> None:
        d["thresholds"]["breaches"] = ["p99 350 ms > 250 ms"]
        d["audit"].update(
            ok=False,
            anomaly_counts={"lost_event": 2},
            anomalies={"lost_event": [{"subject": "evt-1", "detail": "answered 200 but no row"}]},
        )

    edit("load/audit.json", anomalous)
    audit = parse_load(artefacts)[0]
    assert not audit.ok and audit.breaches == ("p99 350 ms > 250 ms",)
    assert [(a.kind, a.count, a.examples) for a in audit.anomalies] == [
        ("lost_event", 2, ("evt-1: answered 200 but no row",))
    ]


def test_benchmarks_carry_their_own_targets(artefacts: Path) -> None:
    db = {f.operation: f for f in parse_bench_db(artefacts).figures}
    assert db["Embedded Postgres start"].p50 == 1234.5
    assert [(t.on, t.limit) for t in db["Database clone per test"].targets] == [("p50", 300.0)]
    assert db["Template database migration"].targets == ()
    bench = {f.operation: f for f in parse_bench(artefacts).figures}
    sustained = bench["Sustained signed-webhook rate (p99 and errors within limits)"]
    assert (sustained.value, sustained.targets[0].limit, sustained.targets[0].higher_is_better) == (500.0, 400.0, True)
    assert bench["Webhook hold at 500/s (audited)"].p99 == 90.0
    assert bench["Webhook step step-500"].targets[0].limit == 100.0


def test_bench_json_is_also_found_in_its_own_folder(artefacts: Path) -> None:
    (artefacts / "bench").mkdir()
    (artefacts / "bench.json").rename(artefacts / "bench" / "bench.json")
    bench = parse_bench(artefacts)
    assert bench.source.path == "bench/bench.json" and bench.figures


def test_run_metadata(artefacts: Path) -> None:
    run = parse_run(artefacts)
    assert run.duration_s == 360.0 and run.quick
    assert [(s.name, s.exit_code) for s in run.steps] == [("suites", 0), ("load", 0), ("defects", 0)]
    assert run.steps[0].command == "python -m pytest suites"


def test_an_empty_folder_is_all_not_measured(tmp_path: Path) -> None:
    a = collect(tmp_path)
    assert len(a.sources()) == len(ARTEFACTS)
    assert all(not s.present and s.error is None for s in a.sources().values())
    assert a.junit.cases == () and a.coverage.components == () and a.defects.defects == ()
    assert a.load_audit.p99_ms is None and a.run.duration_s is None


def test_broken_artefacts_are_marked_unreadable_not_raised(artefacts: Path) -> None:
    for name in ARTEFACTS:
        path = artefacts / ARTEFACTS[name][0].split("|")[0]
        if path.exists():
            path.write_text("{ not json, not xml, not csv\x00")
    a = collect(artefacts)
    for name, source in a.sources().items():
        if name != "load_html":  # linked, never parsed
            assert source.present and source.error, name
