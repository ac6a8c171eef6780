"""A report is replaced whole or not at all: a render that fails half-way leaves the last one as it was."""

from __future__ import annotations

import json
import os
import signal
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


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_a_ctrl_c_while_files_are_replaced_lands_after_the_last_one(
    artefacts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The signal arrives after the first file is in: the rest (charts included) still go in before it acts."""
    fresh = tmp_path / "fresh"
    build_report(artefacts, fresh)
    out = tmp_path / "report"
    build_report(artefacts, out)
    (out / "charts" / "gone.png").write_bytes(b"a chart this run does not draw")
    real_replace = Path.replace
    calls = []

    def replace_then_ctrl_c(self: Path, target: Path | str) -> Path:
        done = real_replace(self, target)
        calls.append(target)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGINT)
        return done

    monkeypatch.setattr(Path, "replace", replace_then_ctrl_c)
    (artefacts / "run.json").write_text(json.dumps({"started_at": "x", "steps": [], "git_commit": "changed"}))
    with pytest.raises(KeyboardInterrupt):
        build_report(artefacts, out)
    monkeypatch.undo()
    build_report(artefacts, fresh)  # what a whole run on the changed artefacts writes
    written, expected = _files(out), _files(fresh)
    assert len(calls) == len(expected) >= 4  # three texts and at least one chart
    # the same files as a whole run (generated_at aside), no partial and no stale chart left
    assert sorted(written) == sorted(expected)
    assert all(written[name] == expected[name] for name in written if name.startswith("charts/"))
    assert json.loads(written["report.json"])["run"]["git_commit"] == "changed"


def test_a_ctrl_c_while_partials_are_written_changes_nothing(
    artefacts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "report"
    build_report(artefacts, out)
    before = _files(out)
    real_write = Path.write_bytes
    calls = []

    def write_then_ctrl_c(self: Path, data: bytes) -> int:
        calls.append(self)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_then_ctrl_c)
    (artefacts / "run.json").write_text(json.dumps({"started_at": "x", "steps": [], "git_commit": "changed"}))
    with pytest.raises(KeyboardInterrupt):
        build_report(artefacts, out)
    assert _files(out) == before
