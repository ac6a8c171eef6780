"""A team's own keys, given by TOML file, by flags or by PAYHARNESS_SIM_* variables, are the ones that verify.

Each case starts ``python -m simulators.serve`` (what ``payharness simulators`` runs) with chosen credentials,
signs a PayU payment and a Wompi transaction with them here (plain hashlib, the documented formulas, none of
the simulators' signing code), and sees them accepted while the default keys are refused; a Wompi event the
simulator sends is checked against the chosen events secret.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulators.common.settings import ENV_PREFIX
from simulators.efecty import EfectyConfig
from simulators.payu import PayUConfig
from simulators.payu.routes import PAYMENTS_PATH
from simulators.payu.testing import card_request
from simulators.wompi import WompiConfig
from simulators.wompi.testing import WompiDriver

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

CHOSEN: dict[str, dict[str, Any]] = {
    "payu": {"merchant_id": "777001", "api_login": "teamLogin0123456", "api_key": "teamApiKey0123456789XYZ"},
    "wompi": {
        "public_key": "pub_test_TeamPublic0123456789",
        "private_key": "prv_test_TeamPrivate0123456789",
        "integrity_secret": "test_integrity_TeamIntegrity0123",
        "events_secret": "test_events_TeamEvents0123456",
        "finalize_delay_seconds": 0,
    },
    "efecty": {"merchant_api_key": "efecty_team_key_0123456789"},
}


def _toml(settings: dict[str, dict[str, Any]]) -> str:
    lines = ["seed = 11"]
    for gateway, values in settings.items():
        lines.append(f"[{gateway}]")
        lines.extend(f"{k} = {json.dumps(v)}" for k, v in values.items())
    return "\n".join(lines) + "\n"


def _launch(route: str, settings: dict[str, dict[str, Any]], tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    """argv and environment that give ``settings`` to the runner by one route only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    argv = [sys.executable, "-m", "simulators.serve", "--json"]
    if route == "file":
        path = tmp_path / "sims.toml"
        path.write_text(_toml(settings), encoding="utf-8")
        argv += ["--config", str(path)]
    elif route == "flags":
        argv += ["--seed", "11"]
        for gateway, values in settings.items():
            for key, value in values.items():
                argv += [f"--{gateway}-{key.replace('_', '-')}", str(value)]
    else:
        env[f"{ENV_PREFIX}SEED"] = "11"
        for gateway, values in settings.items():
            env.update({f"{ENV_PREFIX}{gateway.upper()}_{k.upper()}": str(v) for k, v in values.items()})
    return argv, env


@pytest.fixture
def started(tmp_path: Path) -> Iterator[Callable[[str, dict[str, dict[str, Any]]], tuple[dict[str, Any], str]]]:
    processes: list[subprocess.Popen[str]] = []

    def start(route: str, settings: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], str]:
        argv, env = _launch(route, settings, tmp_path)
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        processes.append(process)
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.rstrip() == "}":
                break
        text = "".join(lines)
        assert text, process.communicate(timeout=10)[1]
        return {r["gateway"]: r for r in json.loads(text)["simulators"]}, text

    yield start
    for process in processes:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)


def payu_signature(api_key: str, merchant_id: str, reference: str, value: str, currency: str) -> str:
    return hashlib.md5(f"{api_key}~{merchant_id}~{reference}~{value}~{currency}".encode()).hexdigest()  # noqa: S324


def wompi_integrity(reference: str, amount_in_cents: int, currency: str, secret: str) -> str:
    return hashlib.sha256(f"{reference}{amount_in_cents}{currency}{secret}".encode()).hexdigest()


def wompi_event_is_signed_with(event: dict[str, Any], secret: str) -> bool:
    values = []
    for path in event["signature"]["properties"]:
        value: Any = event["data"]
        for part in path.split("."):
            value = value[part]
        values.append(str(value))
    digest = hashlib.sha256(f"{''.join(values)}{event['timestamp']}{secret}".encode()).hexdigest()
    return digest == event["signature"]["checksum"].lower()


def _payu_code(url: str, config: PayUConfig, reference: str, api_key_for_signature: str) -> str:
    signature = payu_signature(api_key_for_signature, config.merchant_id, reference, "65000", "COP")
    body = card_request(reference, value=65000, config=config, signature=signature)
    return str(httpx.post(url + PAYMENTS_PATH, json=body, timeout=10).json()["code"])


async def _wompi_create(url: str, config: WompiConfig, reference: str, secret: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        driver = WompiDriver(http, config)
        body = await driver.transaction_body(reference, 2_500_000, {"type": "NEQUI", "phone_number": "3991111111"})
        body["signature"] = wompi_integrity(reference, 2_500_000, "COP", secret)
        return await driver.create(body)


@pytest.mark.parametrize("route", ["file", "flags", "env"])
async def test_signatures_made_with_the_chosen_keys_verify_and_the_defaults_do_not(
    route: str, started: Callable[..., tuple[dict[str, Any], str]], webhook_receiver: Callable[..., Any]
) -> None:
    receiver, events_url = webhook_receiver()
    settings = {gateway: dict(values) for gateway, values in CHOSEN.items()}
    settings["wompi"]["events_url"] = events_url
    reports, printed = started(route, settings)

    # Printed back: the chosen identifiers in clear, no chosen secret in clear, the given seed.
    assert reports["payu"]["settings"]["merchant_id"] == "777001" and reports["payu"]["seed"] == 11
    assert reports["wompi"]["settings"]["events_url"] == events_url
    for secret in ("api_key", "private_key", "integrity_secret", "events_secret", "merchant_api_key"):
        chosen = next(v[secret] for v in CHOSEN.values() if secret in v)
        assert chosen not in printed

    payu = PayUConfig(**CHOSEN["payu"])
    assert _payu_code(reports["payu"]["url"], payu, f"team-{route}", payu.api_key) == "SUCCESS"
    assert _payu_code(reports["payu"]["url"], payu, f"default-{route}", PayUConfig().api_key) == "ERROR"
    default_login = card_request(f"login-{route}", config=PayUConfig())
    assert httpx.post(reports["payu"]["url"] + PAYMENTS_PATH, json=default_login, timeout=10).json()["code"] == "ERROR"

    wompi = WompiConfig(**{k: v for k, v in settings["wompi"].items() if k != "finalize_delay_seconds"})
    mine = await _wompi_create(reports["wompi"]["url"], wompi, f"team-{route}", wompi.integrity_secret)
    assert mine.status_code == 201, mine.text
    theirs = await _wompi_create(reports["wompi"]["url"], wompi, f"default-{route}", WompiConfig().integrity_secret)
    assert theirs.status_code == 422, theirs.text

    deadline = time.monotonic() + 15
    while not receiver.received and time.monotonic() < deadline:
        time.sleep(0.1)
    event = json.loads(receiver.received[0].body)
    assert event["data"]["transaction"]["id"] == mine.json()["data"]["id"]
    assert wompi_event_is_signed_with(event, wompi.events_secret)
    assert not wompi_event_is_signed_with(event, WompiConfig().events_secret)

    efecty_url = reports["efecty"]["url"] + "/api/v1/vouchers"
    voucher = {"payment_code": f"77{len(route)}001", "amount": "65000.00", "currency": "COP",
               "expires_at": "2099-01-01T00:00:00Z", "reference": "R-1", "description": "Pedido"}
    refused = httpx.post(efecty_url, json=voucher, timeout=10,
                         headers={"Authorization": f"Bearer {EfectyConfig().merchant_api_key}"})
    assert refused.status_code == 401, refused.text
    taken = httpx.post(efecty_url, json=voucher, timeout=10,
                       headers={"Authorization": f"Bearer {CHOSEN['efecty']['merchant_api_key']}"})
    assert taken.status_code == 201, taken.text
