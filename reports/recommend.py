"""Recommendations: rules that turn each gap (an issue, a thin coverage component, an untried attack) into an action.

Priorities: *now* for what breaks a guarantee (critical issues, unreadable artefacts), *soon* for what
leaves one unproven (missed targets, untested scenarios, unmeasured artefacts, attack classes no test
tried), *later* for coverage below the floors (line < 80 %, branch < 70 %) and skipped tests.

Usage::

    recs = recommend(artefacts, issues, security)
    [(r.priority, r.action) for r in recs]
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reports.findings import Issue
from reports.model import Artefacts, Source
from reports.security import AttackOutcome

PRIORITIES = ("now", "soon", "later")
LINE_FLOOR = 80.0
BRANCH_FLOOR = 70.0


@dataclass(frozen=True)
class Recommendation:
    priority: str
    action: str
    because: str
    source: Source


def _module(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def _single(i: Issue) -> Recommendation | None:
    """The action for one issue, or None when it is grouped with others (or needs none)."""
    if i.kind == "undetected defect":
        action = (
            f"Add a test that fails when defect {i.subject} is applied, then confirm it with "
            f"`payharness defects --only {i.subject}`"
        )
        return Recommendation("now", action, i.title, i.source)
    if i.kind == "defect inconclusive":
        action = (
            f"Re-run `payharness defects --only {i.subject}` and read its JUnit file and record "
            "(defects/<name>.xml, defects/<name>.applied/): a row proves nothing until its run finishes with the "
            "defect applied"
        )
        return Recommendation("now", action, i.title, i.source)
    if i.kind == "clean core fails":
        return Recommendation(
            "now", f"Make the clean core pass {i.subject} before trusting the matrix", i.title, i.source
        )
    if i.kind == "audit anomaly":
        action = f"Find why the core produced {i.subject} under load; the examples in {i.source.path} name the rows"
        return Recommendation("now", action, i.title, i.source)
    if i.kind in ("step unfinished", "step failed"):
        return Recommendation("now", f"Re-run the {i.subject} step and read logs/{i.subject}.log", i.title, i.source)
    if i.kind == "unreadable artefact":
        return Recommendation("now", f"Regenerate {i.source.path} with `{i.source.command}`", i.title, i.source)
    if i.kind == "performance":
        return Recommendation("soon", f"Bring {i.subject} within its target", i.title, i.source)
    if i.kind == "load threshold":
        return Recommendation(
            "soon", f"Bring the load run's webhook latency within its gate ({i.subject})", i.title, i.source
        )
    if i.kind == "not measured":
        return Recommendation("soon", f"Produce {i.source.path}: `{i.source.command}`", i.title, i.source)
    if i.kind == "audit missing":
        return Recommendation("soon", "Run the load with its consistency audit", i.title, i.source)
    return None


def _from_issues(issues: Sequence[Issue]) -> Iterable[Recommendation]:
    failing: dict[str, list[Issue]] = defaultdict(list)
    untested: dict[str, list[Issue]] = defaultdict(list)  # by scenario id prefix: PAYU, WH, DB, API, …
    skipped: list[Issue] = []
    for i in issues:
        if i.kind == "failing test":
            failing[_module(i.subject)].append(i)
        elif i.kind == "untested scenario":
            untested[i.subject.split("-", 1)[0]].append(i)
        elif i.kind == "skipped test":
            skipped.append(i)
        elif (single := _single(i)) is not None:
            yield single
    for module, group in failing.items():
        names = ", ".join(g.subject.split("::")[-1] for g in group[:3]) + (" …" if len(group) > 3 else "")
        action = f"Make the {len(group)} failing test(s) in {module} pass by fixing the core (not the test): {names}"
        yield Recommendation("now", action, group[0].title, group[0].source)
    for group in untested.values():
        ids = [g.subject for g in group]
        marks = ", ".join(f'@pytest.mark.scenario("{x}")' for x in ids[:2]) + (", …" if len(ids) > 2 else "")
        action = (
            f"Cover {len(ids)} untested scenario(s) {', '.join(ids)}: write or run a test for each, linked ({marks})"
        )
        because = "; ".join(f"{g.subject}: {g.detail}" for g in group[:3]) + (" …" if len(group) > 3 else "")
        yield Recommendation("soon", action, because, group[0].source)
    if skipped:
        action = f"Run the {len(skipped)} skipped test(s) where their dependency exists: a skip proves nothing"
        yield Recommendation("later", action, skipped[0].title, skipped[0].source)


def _from_coverage(a: Artefacts) -> Iterable[Recommendation]:
    for comp in a.coverage.components:
        line, branch = comp.counts.line_pct, comp.counts.branch_pct
        low_line = line is not None and line < LINE_FLOOR
        low_branch = branch is not None and branch < BRANCH_FLOOR
        if not (low_line or low_branch):
            continue
        weakest = sorted(comp.files, key=lambda f: f.counts.combined_pct if f.counts.combined_pct is not None else 100)
        names = ", ".join(f"{f.path} ({f.counts.combined_pct}%)" for f in weakest[:2])
        yield Recommendation(
            "later",
            f"Raise coverage of {comp.component} (line {line}%, branch {branch}%); least covered: {names}",
            f"floors: line {LINE_FLOOR:g}%, branch {BRANCH_FLOOR:g}%",
            a.coverage.source,
        )


def _from_security(security: Sequence[AttackOutcome]) -> Iterable[Recommendation]:
    for attack in security:
        if attack.outcome == "not tried":
            yield Recommendation(
                "soon",
                f"Try {attack.name.lower()} attacks: no test of this class ran",
                f"security class {attack.name}: not tried",
                attack.sources[0],
            )


def recommend(a: Artefacts, issues: Sequence[Issue], security: Sequence[AttackOutcome]) -> tuple[Recommendation, ...]:
    found = [*_from_issues(issues), *_from_security(security), *_from_coverage(a)]
    return tuple(sorted(found, key=lambda r: PRIORITIES.index(r.priority)))
