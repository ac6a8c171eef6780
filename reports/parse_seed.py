"""Parse the seed report's findings as mapped to portable scenarios (``seed_findings.toml``).

Usage: ``parse_seed_findings(Path("artefacts/audit-1")).findings[0].scenarios``
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from reports.model import SeedFinding, SeedFindings, Source
from reports.parse_tests import guarded


def _finding(raw: dict[str, object]) -> SeedFinding:
    scenarios = raw.get("scenarios") or []
    if not isinstance(scenarios, list):
        raise ValueError(f"finding {raw.get('id')}: scenarios must be a list")
    return SeedFinding(
        id=str(raw["id"]),
        title=str(raw.get("title", "")),
        seed_section=str(raw.get("seed_section", "")),
        seed_severity=str(raw.get("seed_severity", "")),
        seed_tested=bool(raw.get("seed_tested", False)),
        scenarios=tuple(str(s) for s in scenarios),
        note=str(raw.get("note", "")),
    )


def _seed(path: Path, source: Source) -> SeedFindings:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return SeedFindings(source, tuple(_finding(f) for f in data.get("finding", [])))


def parse_seed_findings(artefacts: Path) -> SeedFindings | None:
    """None when the folder has no seed findings (an audit of the core); else what they say."""
    return guarded(artefacts, "seed_findings", SeedFindings, _seed) if (artefacts / "seed_findings.toml").exists() \
        else None
