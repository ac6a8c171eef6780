"""The health-score formula: weights, not-measured inputs counting as 0, bands, and the critical override."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from reports.analyse import analyse
from reports.collect import collect
from reports.model import Source
from reports.score import WEIGHTS, ScoreInput, band_of, health_score
from reports.tests.support import Editor

SRC = Source("x", "x.json", "make x", True)


def _inputs(values: Mapping[str, float | None]) -> list[ScoreInput]:
    return [ScoreInput(name, weight, values.get(name), 0, 0, "", (SRC,)) for name, weight in WEIGHTS]


def test_weights_sum_to_one_hundred() -> None:
    assert sum(w for _, w in WEIGHTS) == 100


def test_all_inputs_perfect_score_one_hundred() -> None:
    health = health_score(_inputs({name: 1.0 for name, _ in WEIGHTS}), critical=0)
    assert (health.score, health.band) == (100.0, "healthy")


def test_score_is_the_weighted_sum() -> None:
    values = {
        "scenarios passing": 0.8,
        "defects detected": 1.0,
        "consistency audit": 1.0,
        "core coverage": 0.6,
        "tests passing": 0.9,
        "performance targets": 0.5,
    }
    expected = 25 * 0.8 + 25 * 1.0 + 15 * 1.0 + 15 * 0.6 + 10 * 0.9 + 10 * 0.5
    assert health_score(_inputs(values), critical=0).score == pytest.approx(expected)


def test_a_not_measured_input_counts_as_zero_and_is_marked() -> None:
    values: dict[str, float | None] = {name: 1.0 for name, _ in WEIGHTS}
    values["consistency audit"] = None
    health = health_score(_inputs(values), critical=0)
    assert health.score == 85.0
    missing = [i for i in health.inputs if not i.measured]
    assert [i.name for i in missing] == ["consistency audit"] and missing[0].points == 0.0


@pytest.mark.parametrize(
    ("score", "critical", "band"),
    [
        (100.0, 0, "healthy"),
        (90.0, 0, "healthy"),
        (89.9, 0, "needs attention"),
        (75.0, 0, "needs attention"),
        (74.9, 0, "at risk"),
        (99.0, 1, "at risk"),
    ],
)
def test_bands(score: float, critical: int, band: str) -> None:
    assert band_of(score, critical) == band


@pytest.mark.parametrize(
    ("score", "critical", "band"),
    [(100.0, 0, "inconclusive"), (89.9, 0, "needs attention"), (74.9, 0, "at risk"), (99.0, 1, "at risk")],
)
def test_an_inconclusive_check_keeps_the_band_from_healthy_and_only_from_healthy(
    score: float, critical: int, band: str
) -> None:
    assert band_of(score, critical, inconclusive=1) == band


def test_inputs_measured_from_the_fixture(artefacts: Path) -> None:
    data = analyse(collect(artefacts))
    inputs = {i.name: i for i in data.score.inputs}
    assert (inputs["scenarios passing"].numerator, inputs["scenarios passing"].denominator) == (5, 6)
    assert inputs["defects detected"].value == 1.0
    assert inputs["consistency audit"].value == 1.0
    assert (inputs["core coverage"].numerator, inputs["core coverage"].denominator) == (245 + 36, 290 + 56)
    assert (inputs["tests passing"].numerator, inputs["tests passing"].denominator) == (7, 7)  # the skip is out
    perf = inputs["performance targets"]
    assert perf.value is not None and perf.denominator == 11  # every load and benchmark row with a target
    expected = sum(i.weight * (i.value or 0) for i in data.score.inputs)
    assert data.score.score == round(expected, 1)
    assert data.score.critical == 0


def test_an_empty_folder_scores_zero_with_every_input_not_measured(tmp_path: Path) -> None:
    data = analyse(collect(tmp_path))
    assert data.score.score == 0.0 and data.score.band == "at risk"
    assert all(not i.measured and i.detail == "not measured" for i in data.score.inputs)
    # Each unmeasured input still names the artefact that would have measured it.
    assert all(i.sources for i in data.score.inputs)


def test_an_audit_anomaly_zeroes_the_audit_input(artefacts: Path, edit: Editor) -> None:
    def anomalous(d: dict[str, Any]) -> None:
        d["audit"].update(ok=False, anomaly_counts={"duplicate_event": 1}, anomalies={})

    edit("load/audit.json", anomalous)
    inputs = {i.name: i for i in analyse(collect(artefacts)).score.inputs}
    assert inputs["consistency audit"].value == 0.0 and inputs["consistency audit"].detail == "1 anomalies"
