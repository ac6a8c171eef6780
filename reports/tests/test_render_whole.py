"""A report is replaced whole or not at all: a render that fails half-way leaves the last one as it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reports import render
from reports.build import build_report


def test_a_render_failing_half_way_leaves_the_previous_report_untouched(
    artefacts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "report"
    build_report(artefacts, out)
    before = {name: (out / name).read_bytes() for name in ("report.html", "report.md", "report.json")}

    def broken(*args: object, **kwargs: object) -> str:  # the last of the three renderings fails (or is Ctrl-C'd)
        raise KeyboardInterrupt

    monkeypatch.setattr(render, "render_json", broken)
    (artefacts / "run.json").write_text(json.dumps({"steps": [], "git_commit": "changed"}))
    with pytest.raises(KeyboardInterrupt):
        build_report(artefacts, out)
    assert {name: (out / name).read_bytes() for name in before} == before
    assert sorted(p.name for p in out.iterdir() if p.name.endswith(".partial")) == []
