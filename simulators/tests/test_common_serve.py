"""Contract tests for the all-in-one runner: reports endpoints as JSON, serves, stops on SIGTERM."""

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from simulators.efecty import EfectyConfig
from simulators.serve import credentials

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "simulators.serve", *args]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _read_json_document(process: subprocess.Popen[str]) -> dict:
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.rstrip() == "}":
            break
    return json.loads("".join(lines))


def test_runs_efecty_alone_prints_json_and_stops_cleanly_on_sigterm() -> None:
    process = _run("--only", "efecty", "--json")
    try:
        document = _read_json_document(process)
        (report,) = document["simulators"]
        assert report["gateway"] == "efecty" and report["url"].startswith("http://127.0.0.1:")
        assert report["credentials"]["convenio"] == EfectyConfig().convenio
        assert report["credentials"]["merchant_api_key"] == "****" + EfectyConfig().merchant_api_key[-4:]
        health = httpx.get(report["url"] + "/api/v1/health", timeout=5)
        assert health.json() == {"status": "ok"}
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=20)
    assert process.returncode == 0, err


def test_a_port_in_use_is_reported_and_exits_non_zero() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = _run("--only", "efecty", "--efecty-port", str(port))
        _, err = process.communicate(timeout=30)
    assert process.returncode == 1
    assert "simulators.efecty could not start" in err and "Address already in use" in err


def test_credentials_are_read_off_any_config() -> None:
    assert credentials(EfectyConfig(convenio="1"))["convenio"] == "1"

    from dataclasses import dataclass, field

    @dataclass
    class Fake:
        api_key: str = "k"
        merchant_id: int = 7
        accounts: dict[str, str] = field(default_factory=lambda: {"512321": "CO"})
        timeout: float = 1.0
        flag_secret: bool = True

    assert credentials(Fake()) == {"api_key": "k", "merchant_id": "7", "accounts_CO": "512321"}


def test_sigterm_stops_every_simulator_process_and_their_logs_stay_in_the_logs_folder(tmp_path: Path) -> None:
    import psutil

    process = _run("--json", "--logs", str(tmp_path))
    try:
        document = _read_json_document(process)
        assert [r["gateway"] for r in document["simulators"]] == ["payu", "wompi", "efecty"]
        children = psutil.Process(process.pid).children(recursive=True)
        assert len(children) >= 3
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == []
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "simulator-efecty.log", "simulator-payu.log", "simulator-wompi.log"]
