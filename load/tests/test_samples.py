"""The sampler's pure parts and the benchmark's CPU lists: window means, counter deltas, taskset lists."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pytest

from load.bench import cpu_list, cpu_set
from load.samples import Sampler, _deltas, window_means


def test_window_means_average_the_samples_whose_second_lies_inside(tmp_path: Path) -> None:
    path = tmp_path / "samples.jsonl"
    lines = [{"t": 100.0 + i, "span": 1.0, "machine": {"busy": 2.0, "others": float(i), "load1": 3.0,
                                                       "psi_some_ms": None}} for i in range(6)]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    means = window_means(path, 101.0, 103.0)  # a line covers the second before t: those of t = 102 and 103
    assert means == {"busy": 2.0, "others": 2.5, "load1": 3.0}
    assert window_means(tmp_path / "absent.jsonl", 0, 1) == {}


def test_counter_deltas_start_at_zero_and_follow_the_counter() -> None:
    assert _deltas({"a": 5.0, "b": 2.0}, {"a": 3.0}) == {"a": 2.0, "b": 0.0}


def test_cpu_lists_read_as_taskset_reads_them() -> None:
    assert cpu_list("0") == {0}
    assert cpu_list("0,2-3") == {0, 2, 3}


def test_a_cpu_the_machine_lacks_is_refused_at_parse_time() -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        cpu_set("4096")
    with pytest.raises(argparse.ArgumentTypeError):
        cpu_set("one")
    assert cpu_set("0") == "0"


def test_a_sampler_without_a_database_writes_cpu_and_machine_lines_and_stops(tmp_path: Path) -> None:
    path = tmp_path / "samples.jsonl"
    with Sampler(None, path) as sampler:
        deadline = time.monotonic() + 10
        while sampler.lines < 2:
            assert time.monotonic() < deadline, f"no two lines within 10 s ({sampler.error})"
            time.sleep(0.1)
    lines = [json.loads(raw) for raw in path.read_text().splitlines()]
    assert len(lines) >= 2 and sampler.error is None
    assert {"t", "span", "cpu", "machine"} <= set(lines[-1]) and "pg" not in lines[-1]
    assert lines[-1]["cpu"]["ours"] >= 0 and lines[-1]["machine"]["busy"] >= 0
    assert lines[1]["t"] > lines[0]["t"]
