"""The repository root comes from one place, and outside a checkout the commands say so instead of failing later."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness import cli
from harness.paths import NotACheckout, repo_root

ROOT = Path(__file__).resolve().parents[2]
CLIMB = re.compile(r"Path\(__file__\)\.resolve\(\)(\.parents\[(\d+)\]|(?:\.parent\b)+)")


def test_the_checkout_is_found_from_the_package() -> None:
    assert repo_root() == ROOT
    assert (repo_root() / "pyproject.toml").is_file() and (repo_root() / "suites").is_dir()


def test_outside_a_checkout_the_error_names_what_is_missing_and_the_remedy(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    site.mkdir()
    (site / "pyproject.toml").write_text("")
    with pytest.raises(NotACheckout) as info:
        repo_root(site)
    message = str(info.value)
    assert str(site) in message and "conftest.py, suites" in message and "pip install -e" in message


def test_a_command_outside_a_checkout_exits_2_with_the_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def nowhere() -> Path:
        raise NotACheckout("payharness runs from a checkout of its repository (test)")

    monkeypatch.setattr(cli, "repo_root", nowhere)
    assert cli.main(["test"]) == 2
    assert "payharness test: payharness runs from a checkout" in capsys.readouterr().err


def test_no_module_but_harness_paths_climbs_from_its_file_to_the_repository_root() -> None:
    """A module that finds the checkout by counting parents points into site-packages when installed."""
    offenders = []
    for package in ("harness", "core", "simulators", "load", "reports"):
        for source in (ROOT / package).rglob("*.py"):
            rel = source.relative_to(ROOT)
            if "tests" in rel.parts or rel == Path("harness/paths.py"):
                continue
            for match in CLIMB.finditer(source.read_text(encoding="utf-8")):
                climbs = int(match.group(2)) + 1 if match.group(2) else match.group(1).count(".parent")
                if climbs >= len(rel.parts):
                    offenders.append(f"{rel}: {match.group(0)}")
    assert offenders == []
