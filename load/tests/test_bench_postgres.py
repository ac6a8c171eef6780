"""bench-load's throw-away Postgres gets its own server settings (harness/postgres.py applies them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from load import bench


def test_bench_load_starts_its_stack_with_them(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    given: dict[str, Any] = {}

    class Started(Exception):
        pass

    def start(**kwargs: Any) -> None:
        given.update(kwargs)
        raise Started

    monkeypatch.setattr(bench.Stack, "start", start)
    args = bench.build_parser().parse_args(["--artefacts", str(tmp_path)])
    with pytest.raises(Started):
        bench.run(args, bench.search_plan(args))
    assert given["postgres_settings"] == bench.POSTGRES_SETTINGS
    assert bench.POSTGRES_SETTINGS["max_wal_size"] == "4GB"
