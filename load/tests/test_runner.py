"""The runner's pure helpers: the defect environment, KEY=VALUE parsing and the defaults (no processes started)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from load.runner import build_parser, defect_environment, locust_commands, parse_env, redact


def test_defect_names_and_env_merge() -> None:
    args = build_parser().parse_args(
        [
            "--defect",
            "no_row_lock",
            "--defect-env",
            "PAYHARNESS_DEFECTS=always_200",
            "--defect-env",
            "PAYHARNESS_X=1",
            "--defect",
            "no_row_lock",
        ]
    )
    env = defect_environment(args)
    assert env == {"PAYHARNESS_DEFECTS": "always_200,no_row_lock", "PAYHARNESS_X": "1"}


def test_env_pairs_must_have_a_key_and_a_value_sign() -> None:
    assert parse_env(["A=b=c"]) == {"A": "b=c"}
    with pytest.raises(SystemExit):
        parse_env(["novalue"])


def test_defaults_drive_every_user_class() -> None:
    args: argparse.Namespace = build_parser().parse_args([])
    assert set(args.users) == {"WompiWebhookUser", "PayUWebhookUser", "WompiGatewayUser", "CheckoutUser", "EfectyUser"}
    assert (args.rate, args.duration, args.workers) == (100.0, 30.0, 0)


def test_a_token_secret_that_begins_with_a_dash_reaches_locust_whole(tmp_path: Path) -> None:
    secret = "-4IVyFlAL-yn2xhF4PaaYM4DZd7t0mXSg80MbvAt35Q"  # token_urlsafe can start with "-"
    urls = {name: f"http://127.0.0.1:{port}" for name, port in (("core", 1), ("wompi", 2), ("efecty", 3))}
    stack = SimpleNamespace(urls={**urls, "database": "postgresql://x@127.0.0.1:4/db"},
                            core_env={"PAYHARNESS_AUTH__TOKEN_SECRET": secret})
    plan = locust_commands(build_parser().parse_args([]), cast(Any, stack), tmp_path)
    parser = argparse.ArgumentParser()
    parser.add_argument("--token-secret")  # as load/listeners.py adds it to Locust's parser
    assert parser.parse_known_args(plan.master)[0].token_secret == secret
    kept = " ".join(redact(plan.master))  # what run.json records
    assert secret not in kept and "postgresql://" not in kept and "--token-secret=<secret>" in kept


def test_the_defect_record_reaches_the_stacks_seeding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """payharness defects --load reads what the core and the schema step applied from this folder."""
    from load import runner

    seen: list[Any] = []

    def started(args: Any, artefacts: Path, env: dict[str, str], seeding: Any) -> int:
        seen.append(seeding)
        return 0

    monkeypatch.setattr(runner, "_run", started)
    args = build_parser().parse_args(["--defect", "no_row_lock", "--defect-record", str(tmp_path / "applied"),
                                      "--artefacts", str(tmp_path / "run")])
    assert runner.run(args) == 0
    assert (seen[0].names, seen[0].record) == (("no_row_lock",), (tmp_path / "applied").resolve())
    runner.run(build_parser().parse_args(["--artefacts", str(tmp_path / "run")]))
    assert seen[1].record is None


def test_a_folder_given_again_loses_the_earlier_runs_results_before_the_run_starts(tmp_path: Path,
                                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                                    ) -> None:
    """A run that ends before writing its own audit.json and run.json (a stack that fails to start) must not leave
    an earlier run's passing ones to be read as its result, nor an earlier ledger to be audited with its own."""
    from load import runner
    from load.runs import row

    folder = tmp_path / "run"
    (folder / "ledger").mkdir(parents=True)
    (folder / "ledger" / "w-1.jsonl").write_text("{}\n")
    (folder / "audit.json").write_text(json.dumps({"thresholds": {"ok": True, "breaches": [], "requests": 1}}))
    (folder / "run.json").write_text(json.dumps({"exit_code": 0}))
    (folder / "locust.log").write_text("kept\n")

    def failed_to_start(args: Any, artefacts: Path, env: dict[str, str], seeding: Any) -> int:
        raise RuntimeError("postgres did not start")

    monkeypatch.setattr(runner, "_run", failed_to_start)
    with pytest.raises(RuntimeError):
        runner.run(build_parser().parse_args(["--artefacts", str(folder)]))
    assert sorted(p.name for p in folder.iterdir()) == ["locust.log"]
    assert row(folder).verdict == "inconclusive"
