"""The class "a check without its evidence reads as a pass": for every artefact of a healthy audit, deleting
it or breaking it in any of several ways must keep the headline from "healthy" — never a crash either.

The only files exempt are named below with the reason: extras the report shows but no verdict rests on.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reports.analyse import analyse
from reports.collect import collect
from reports.tests.support import DATA

# Shown or linked, but no figure or verdict is drawn from them.
EXTRAS = {
    "load/locust.html": "Locust's own page, linked only",
    "load/locust_failures.csv": "the failures' messages; counts come from audit.json and locust_stats.csv",
}
# Breakages a reader cannot tell from a short file (a history cut at a row boundary still parses).
TORN_UNDETECTABLE = {("load/locust_stats_history.csv", "half")}

BREAKAGES = {
    "deleted": None,
    "empty": b"",
    "half": "HALF",
    "json null": b"null",
    "json list": b"[]",
    "json object": b"{}",
    "garbage": b"<<<\x00not this",
}
FILES = sorted(str(p.relative_to(DATA)) for p in DATA.rglob("*") if p.is_file())
CASES = [(f, b) for f in FILES if f not in EXTRAS for b in BREAKAGES if (f, b) not in TORN_UNDETECTABLE]


def test_the_fixture_is_healthy_to_begin_with() -> None:
    assert analyse(collect(DATA)).score.band == "healthy"


def test_every_file_is_either_judged_or_named_as_an_extra() -> None:
    assert set(EXTRAS) <= set(FILES)
    assert len(CASES) >= 7 * 12


@pytest.mark.parametrize(("name", "breakage"), CASES, ids=[f"{f}:{b}" for f, b in CASES])
def test_a_missing_or_broken_artefact_never_reads_healthy(tmp_path: Path, name: str, breakage: str) -> None:
    folder = tmp_path / "artefacts"
    shutil.copytree(DATA, folder)
    target = folder / name
    content = BREAKAGES[breakage]
    if content is None:
        target.unlink()
    elif content == "HALF":
        whole = target.read_bytes()
        target.write_bytes(whole[: len(whole) // 2])
    else:
        assert isinstance(content, bytes)
        target.write_bytes(content)
    data = analyse(collect(folder))
    assert data.score.band != "healthy", [(i.severity, i.title) for i in data.issues]
