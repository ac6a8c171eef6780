"""``payharness core`` / ``token`` entry points: fail closed without secrets, serve with them, mint tokens."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from core.auth import Principal, Role, decode_token
from core.serve import reconcile_main, token_main
from core.tests.apikit import SECRETS, make_settings

ROOT = Path(__file__).resolve().parents[2]
FULL_ENV = {
    "PAYHARNESS_DB__URL": "postgresql+asyncpg://nobody@127.0.0.1:1/none",
    "PAYHARNESS_PAYU__MERCHANT_ID": "508029",
    "PAYHARNESS_PAYU__ACCOUNT_ID": "512321",
    "PAYHARNESS_PAYU__API_LOGIN": SECRETS["payu_api_login"],
    "PAYHARNESS_PAYU__API_KEY": SECRETS["payu_api_key"],
    "PAYHARNESS_WOMPI__PUBLIC_KEY": "pub_test_core_public_key",
    "PAYHARNESS_WOMPI__PRIVATE_KEY": SECRETS["wompi_private_key"],
    "PAYHARNESS_WOMPI__INTEGRITY_SECRET": SECRETS["wompi_integrity"],
    "PAYHARNESS_WOMPI__EVENTS_SECRET": SECRETS["wompi_events"],
    "PAYHARNESS_EFECTY__BASE_URL": "http://127.0.0.1:1",
    "PAYHARNESS_EFECTY__API_KEY": SECRETS["efecty_api_key"],
    "PAYHARNESS_EFECTY__CONVENIO": "110634",
    "PAYHARNESS_AUTH__TOKEN_SECRET": SECRETS["token_secret"],
}


def _env(**changes: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYHARNESS_")}
    env.update(FULL_ENV)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    env["PYTHONPATH"] = str(ROOT)
    return env


def _run_serve(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "core.serve", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.scenario("WH-FAIL-CLOSED")
def test_the_core_refuses_to_start_without_the_wompi_events_secret() -> None:
    result = _run_serve(_env(PAYHARNESS_WOMPI__EVENTS_SECRET=None), "--port", "1")
    assert result.returncode == 2
    assert "PAYHARNESS_WOMPI__EVENTS_SECRET" in result.stderr
    assert "fail closed" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.scenario("WH-FAIL-CLOSED")
def test_with_nothing_configured_every_required_variable_is_named() -> None:
    env = {k: v for k, v in _env().items() if not k.startswith("PAYHARNESS_")}
    result = _run_serve(env)
    assert result.returncode == 2
    for name in (
        "PAYHARNESS_DB__URL",
        "PAYHARNESS_WOMPI__EVENTS_SECRET",
        "PAYHARNESS_PAYU__API_KEY",
        "PAYHARNESS_EFECTY__API_KEY",
        "PAYHARNESS_AUTH__TOKEN_SECRET",
    ):
        assert name in result.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_the_core_serves_with_two_workers_on_loopback() -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "core.serve", "--port", str(port), "--workers", "2"],
        env=_env(),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        answer = None
        while time.monotonic() < deadline and answer is None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/payments/config", timeout=1.0)
            except httpx.TransportError:
                time.sleep(0.2)
        assert answer is not None, "the core did not start within 30 s"
        assert answer.status_code == 200
        assert answer.json()["wompi"]["public_key"] == "pub_test_core_public_key"
        assert "server" not in answer.headers
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if process.stderr:
            process.stderr.close()


def test_token_main_prints_a_token_the_core_accepts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PAYHARNESS_AUTH__TOKEN_SECRET", SECRETS["token_secret"])
    assert token_main(["--sub", "ops-1", "--role", "admin", "--ttl", "120"]) == 0
    token = capsys.readouterr().out.strip()
    auth = make_settings("postgresql+asyncpg://x@127.0.0.1:1/x").auth
    assert decode_token(auth, token) == Principal("ops-1", Role.ADMIN)


def test_token_main_without_a_secret_names_the_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(os.environ):
        if name.startswith("PAYHARNESS_"):
            monkeypatch.delenv(name)
    assert token_main(["--sub", "buyer-1"]) == 2
    assert "PAYHARNESS_AUTH__TOKEN_SECRET" in capsys.readouterr().err


def test_reconcile_main_without_configuration_names_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(os.environ):
        if name.startswith("PAYHARNESS_"):
            monkeypatch.delenv(name)
    assert reconcile_main(["--date", "2025-01-31"]) == 2
    assert "PAYHARNESS_EFECTY__BASE_URL" in capsys.readouterr().err


def test_the_served_app_keeps_its_start_up_objects_out_of_the_collector() -> None:
    # In a child process: freezing is process-wide and would leak into this test run.
    probe = "import gc; from core.app import app_from_env; app_from_env(); print(gc.get_freeze_count())"
    done = subprocess.run([sys.executable, "-c", probe], env=_env(), capture_output=True, text=True, timeout=60,
                          check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) > 10_000  # the framework, routes and models: far more than a few
