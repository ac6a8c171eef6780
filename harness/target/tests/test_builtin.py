"""The core's catalog seen from a foreign target: each scenario's test families, read from the markers, with why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.paths import repo_root
from harness.pytest_scenarios import load_catalog
from harness.target.applicability import FAMILIES, MODULES, ROOTS
from harness.target.builtin import builtin_scenarios, location, marked_ids, why_not_location, write_builtin_scenarios

MODULE = '''
import pytest
from pytest import mark

pytestmark = [pytest.mark.scenario("A-MODULE"), pytest.mark.slow]


@pytest.mark.scenario("A-TEST", "A-SECOND")
def test_one() -> None: ...


@mark.scenario("A-BARE")
class TestMany:
    @pytest.mark.parametrize("x", [pytest.param(1, marks=pytest.mark.scenario("A-PARAM"))])
    def test_two(self, x: int) -> None:
        scenario("NOT-A-MARK")
        pytest.mark.slow("NOT-A-SCENARIO")
'''
CATALOG = '''
[[scenario]]
id = "RACE"
point = "webhooks"
title = "races"
source = "added"

[[scenario]]
id = "SPREAD"
point = "database"
title = "tested in a family and in the core's unit tests"
source = "seed-tested"

[[scenario]]
id = "NOWHERE"
point = "api"
title = "no test names it"
source = "added"

[[scenario]]
id = "OFF"
point = "efecty"
title = "the catalog says why"
source = "added"
runnable = false
reason = "out of scope"
'''


def test_every_form_of_the_scenario_marker_is_read_and_nothing_else() -> None:
    assert marked_ids(MODULE) == {"A-MODULE", "A-TEST", "A-SECOND", "A-BARE", "A-PARAM"}


def test_a_test_file_belongs_to_its_family_module_or_root() -> None:
    assert location(Path("suites/races/deep/test_x.py")) == "suites/races"
    assert location(Path("suites/test_up_args.py")) == "suites/test_up_args.py"
    assert location(Path("core/tests/test_api_input.py")) == "core/tests"
    assert why_not_location("suites/races") == FAMILIES["races"]
    assert why_not_location("suites/test_up_args.py") == MODULES["test_up_args.py"]
    assert why_not_location("suites/portable") is None
    assert why_not_location("load/tests") == ROOTS["load/tests"]
    with pytest.raises(KeyError, match="ROOTS"):
        why_not_location("simulators/tests")


def test_each_scenario_lists_the_families_its_tests_live_in_and_each_family_its_reason(tmp_path: Path) -> None:
    for path, ids in (("suites/races/test_a.py", ("RACE", "SPREAD")), ("core/tests/test_b.py", ("SPREAD",)),
                      ("suites/races/helpers.py", ("NOWHERE",))):  # not a test module: not collected
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        marks = ", ".join(f'"{i}"' for i in ids)
        (tmp_path / path).write_text(f"import pytest\n\n@pytest.mark.scenario({marks})\ndef test_x(): ...\n")
    (tmp_path / "suites" / "scenarios.toml").write_text(CATALOG)
    found = builtin_scenarios(tmp_path, tmp_path / "suites" / "scenarios.toml")
    assert found["catalog"] == "suites/scenarios.toml"
    assert found["locations"] == {"suites/races": FAMILIES["races"], "core/tests": ROOTS["core/tests"]}
    by_id = {s["id"]: s for s in found["scenarios"]}
    assert list(by_id) == ["RACE", "SPREAD", "NOWHERE", "OFF"]
    assert by_id["RACE"]["locations"] == ["suites/races"]
    assert by_id["SPREAD"]["locations"] == ["core/tests", "suites/races"]
    assert by_id["NOWHERE"]["locations"] == []
    assert (by_id["OFF"]["runnable"], by_id["OFF"]["reason"]) == (False, "out of scope")


def test_every_runnable_scenario_of_the_core_catalog_has_tests_somewhere_and_every_family_a_reason(
        tmp_path: Path) -> None:
    written = json.loads(write_builtin_scenarios(tmp_path).read_text(encoding="utf-8"))
    runnable = {e["id"] for e in load_catalog() if e.get("runnable", True)}
    assert {s["id"] for s in written["scenarios"] if s["locations"]} == runnable
    assert all(reason for reason in written["locations"].values())  # the core's catalog names no portable test
    assert {"suites/races", "suites/replay", "core/tests"} <= set(written["locations"])
    assert written["catalog"] == (repo_root() / "suites" / "scenarios.toml").relative_to(repo_root()).as_posix()
