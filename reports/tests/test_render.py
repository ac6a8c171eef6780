"""Rendering: three files written, the HTML self-contained, and every number in the JSON traced to an artefact."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from reports.build import build_report
from reports.cli import main
from reports.model import ARTEFACTS

KNOWN_PATHS = {p for paths, _ in ARTEFACTS.values() for p in paths.split("|")}


def _trace(node: Any, trace: tuple[str, ...], where: str, found: list[tuple[str, tuple[str, ...]]]) -> None:
    """Record every number with the artefact paths of the nearest enclosing ``source`` / ``sources``."""
    if isinstance(node, dict):
        if isinstance(node.get("source"), dict) and "path" in node["source"]:
            trace = (node["source"]["path"],)
        if isinstance(node.get("sources"), list) and all(isinstance(s, dict) for s in node["sources"]):
            trace = tuple(s["path"] for s in node["sources"])
        for key, value in node.items():
            _trace(value, trace, f"{where}.{key}", found)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _trace(value, trace, f"{where}[{i}]", found)
    elif isinstance(node, int | float) and not isinstance(node, bool):
        found.append((where, trace))


def test_report_files_are_written(artefacts: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    build_report(artefacts, out)
    for name in ("report.html", "report.md", "report.json"):
        assert (out / name).stat().st_size > 1000, name
    assert sorted(p.name for p in (out / "charts").iterdir()) == [
        "coverage.png",
        "detection.png",
        "latency.png",
        "throughput.png",
    ]
    assert all((out / "charts" / n).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for n in ("latency.png", "coverage.png"))


def test_every_number_in_the_json_traces_to_an_artefact_path(artefacts: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    build_report(artefacts, out)
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    found: list[tuple[str, tuple[str, ...]]] = []
    _trace(data, (), "$", found)
    assert len(found) > 200  # the walk really visited the figures
    untraced = [where for where, trace in found if not trace]
    assert untraced == []
    paths = {p for _, trace in found for p in trace}
    assert paths <= KNOWN_PATHS
    assert all((artefacts / p).is_file() for p in paths)  # this fixture has every artefact
    # Spot-check that figures carry the value of their file, not a retyped one.
    p99 = next(r for r in data["performance"] if r["figure"]["operation"].startswith("Webhook requests, all"))
    assert (p99["figure"]["p99"], p99["source"]["path"]) == (200.0, "load/audit.json")
    payu = next(c for c in data["coverage"]["components"] if c["component"] == "PayU client")
    assert (payu["counts"]["line_pct"], data["coverage"]["source"]["path"]) == (91.7, "coverage.json")


def test_html_is_self_contained_and_names_its_artefacts(artefacts: Path) -> None:
    out = artefacts / "report"
    build_report(artefacts, out)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"<(script|link|iframe)\b", html)
    assert not re.search(r'src="(?!data:image/png;base64,)', html)
    assert len(re.findall(r'<img class="chart" src="data:image/png;base64,', html)) == 4
    # Links are relative to the report folder, and each chart's figure names where it came from.
    for path in ("../coverage.json", "../load/locust_stats_history.csv", "../defects.json", "../load/audit.json"):
        assert f'href="{path}"' in html
    for chart in ("coverage", "latency", "throughput", "detection"):
        figure = html[html.index(f'id="chart-{chart}"') :]
        figure = figure[: figure.index("</figure>")]
        assert 'class="src">Source: <a href="../' in figure
    assert "health 0" not in html and "91.7 %" in html  # the component figure, as measured


def test_an_empty_folder_renders_not_measured_with_the_commands(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    out = tmp_path / "report"
    data = build_report(folder, out)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "coverage.json not measured" in html and "payharness audit (coverage step" in html
    assert "payharness defects --artefacts DIR" in html
    assert html.count("not measured</div>") == 4  # all four charts
    assert 'src="data:image' not in html
    assert data.score.score == 0.0
    plain = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert [c["file"] for c in plain["charts"]] == [None, None, None, None]


def test_cli_writes_into_artefacts_report_by_default(artefacts: Path, capsys: Any) -> None:
    assert main([str(artefacts)]) == 0
    assert (artefacts / "report" / "report.html").is_file()
    printed = capsys.readouterr().out
    assert "health " in printed and str(artefacts / "report" / "report.html") in printed


def test_cli_refuses_a_missing_folder(tmp_path: Path, capsys: Any) -> None:
    assert main([str(tmp_path / "nowhere")]) == 2
    assert "run `payharness audit` first" in capsys.readouterr().err
