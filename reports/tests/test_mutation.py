"""The mutation score beside coverage: per module and component from mutants.json, never a pass when not run."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from reports.build import build_report
from reports.collect import collect
from reports.tests.support import Editor

SAME_HANDS = "were written by the same hands as the tests that catch them"


def _html_section(html: str) -> str:
    return html[html.index('id="mutation"'):html.index('id="performance"')]


def test_modules_and_coverage_components_get_their_own_figures(artefacts: Path) -> None:
    m = collect(artefacts).mutation
    assert m.status == "measured" and m.tool == "mutmut"
    assert [(r.name, r.counts.total, r.counts.score_pct) for r in m.modules] == [
        ("core/efecty_codes.py", 150, 94.6), ("core/signing", 180, 96.1), ("core/payments", 160, 95.0)]
    # core/signing spans components: its PayU file joins the PayU client, its helper "other core modules".
    payu, other = m.component("PayU client"), m.component("Other core modules")
    assert payu is not None and payu.files == ("core/signing/payu.py",) and payu.counts.killed == 86
    assert other is not None and other.files == ("core/signing/_common.py",)
    assert m.component("Database layer") is None
    # One equivalent mutant: 466 killed of 490 − 1.
    assert (m.total.killed, m.total.judged, m.total.score_pct) == (466, 489, 95.3)


def test_figures_that_do_not_add_up_make_the_artefact_unreadable(artefacts: Path, edit: Editor) -> None:
    edit("mutants.json", lambda d: d["modules"][0].update(killed=d["modules"][0]["killed"] + 5))
    m = collect(artefacts).mutation
    assert m.source.error and "do not add up" in m.source.error
    assert m.status == "not run"


def test_the_score_sits_beside_coverage_with_the_same_hands_caveat(artefacts: Path, tmp_path: Path) -> None:
    data = build_report(artefacts, tmp_path / "out")
    html = (tmp_path / "out" / "report.html").read_text()
    md = (tmp_path / "out" / "report.md").read_text()
    assert "<th>Mutation score</th>" in html and "| Mutation score |" in md
    assert re.search(r"\| PayU client \|.*\| 95\.6 % \|", md)
    assert "95.3 %" in _html_section(html) and ">mutants.json</a>" in _html_section(html)
    # Beside the score, and again at the detection matrix it qualifies.
    assert _html_section(html).count(SAME_HANDS) == 1 and html.count(SAME_HANDS) == 2 and md.count(SAME_HANDS) == 2
    assert data.mutation.status == "measured"
    assert not [i for i in data.issues if i.kind.startswith("mutation")]


def test_without_mutants_json_the_report_says_not_run_in_red(artefacts: Path, tmp_path: Path) -> None:
    (artefacts / "mutants.json").unlink()
    data = build_report(artefacts, tmp_path / "out")
    html = (tmp_path / "out" / "report.html").read_text()
    md = (tmp_path / "out" / "report.md").read_text()
    section = _html_section(html)
    assert '<p class="bad"><strong>Not run</strong>' in section
    assert '<span class="bad">not run</span>' in html  # the coverage table's cells
    assert "**NOT RUN**" in md and SAME_HANDS in md
    assert data.mutation.status == "not run"
    assert [i.title for i in data.issues if i.subject == "mutants"] == ["Not measured: mutants.json is absent"]


def _cut_short(d: dict[str, Any]) -> None:
    d["stopped"], d["complete"] = "budget", False
    row = d["modules"][2]  # core/payments: 40 statemachine mutants were never run
    for entry in (row, row["by_file"][1]):
        entry.update(killed=entry["killed"] - 40, not_run=40, complete=False)


def test_a_run_cut_short_is_inconclusive_in_red_and_never_a_pass(artefacts: Path, edit: Editor,
                                                                  tmp_path: Path) -> None:
    edit("mutants.json", _cut_short)
    data = build_report(artefacts, tmp_path / "out")
    m = data.mutation
    assert m.status == "inconclusive"
    assert [r.status for r in m.modules] == ["measured", "measured", "inconclusive"]
    # Not run counts against the score: 112 killed of 160.
    assert m.modules[2].counts.score_pct == 70.0
    html = (tmp_path / "out" / "report.html").read_text()
    md = (tmp_path / "out" / "report.md").read_text()
    assert '<p class="bad"><strong>Inconclusive</strong>' in _html_section(html)
    assert '<td class="bad">inconclusive</td>' in _html_section(html)
    assert "**INCONCLUSIVE**" in md and "40 of 490 mutants were not run" in md
    issue = next(i for i in data.issues if i.kind == "mutation inconclusive")
    assert issue.severity == "medium" and "40 of 490" in issue.title
    # An incomplete module is not judged against the floor: its score is only a lower bound.
    assert not [i for i in data.issues if i.kind == "mutation score"]
    # The headline cannot say "healthy" while a check is open (the clean fixture scores in the healthy band).
    assert data.score.score >= 90 and data.score.band == "inconclusive"
    assert "— INCONCLUSIVE**" in md


def test_a_complete_module_under_ninety_percent_is_an_issue(artefacts: Path, edit: Editor) -> None:
    def weaker(d: dict[str, Any]) -> None:
        row = d["modules"][0]
        for entry in (row, row["by_file"][0]):
            entry.update(killed=entry["killed"] - 20, survived=entry["survived"] + 20)

    edit("mutants.json", weaker)
    from reports.analyse import analyse

    issues = analyse(collect(artefacts)).issues
    assert [i.title for i in issues if i.kind == "mutation score"] == [
        "Mutation score of core/efecty_codes.py is 81.2 % (under 90 %)"]
