"""The two target profiles drive the shop as written: their command starts it, their requests and observe
queries work, and a signed approval moves what they observe. A small stand-in for ``payharness audit --target``
so that a profile mistake shows here first."""

import asyncio
import os
import re
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from examples.seed_shop.tests.conftest import card_token
from examples.seed_shop.tests.events import wompi_event
from harness.target import jsonpath
from harness.target.profile import fill

HERE = Path(__file__).resolve().parent.parent
REPO = HERE.parent.parent
PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def pick(path: str, body: Any) -> Any:
    """The value at a profile's JSON path in an answer, read as payharness reads it."""
    return jsonpath.read(jsonpath.parse(path), body)


async def observe(dsn: str, query: str, **params: Any) -> list[Any]:
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(PARAM.sub(number, query), *(params[n] for n in names)))
    finally:
        await conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def values(shop_db, wompi_sim, payu_sim, efecty_sim) -> dict[str, str]:
    """What payharness fills in a profile's command and environment."""
    w, p = wompi_sim.config, payu_sim.credentials
    return {"python": sys.executable, "port": str(free_port()), "database_url": shop_db,
            "wompi_url": wompi_sim.url, "payu_url": payu_sim.url, "efecty_url": efecty_sim.url,
            "wompi_public_key": w.public_key, "wompi_private_key": w.private_key,
            "wompi_events_secret": w.events_secret, "wompi_integrity_secret": w.integrity_secret,
            "payu_api_key": p["api_key"], "payu_api_login": p["api_login"], "payu_merchant_id": p["merchant_id"],
            "payu_account_id": p["account_id"], "efecty_merchant_api_key": efecty_sim.config.merchant_api_key,
            "efecty_convenio": efecty_sim.config.convenio}


def start(profile: dict[str, Any], values: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    service = profile["service"]
    env = {**os.environ, **fill(service["env"], values)}
    process = subprocess.Popen(fill(service["command"], values), cwd=REPO, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{values['port']}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(url + service["ready_path"], timeout=1).is_success:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    _, err = process.communicate()
    raise AssertionError(f"the shop did not become ready: {err.decode()[-2000:]}")


@pytest.mark.parametrize("name", ["target.toml", "target-fixed.toml"])
def test_the_profile_starts_pays_and_observes_the_shop(name, values, wompi_sim):
    profile = tomllib.loads((HERE / name).read_text())
    wompi_sim.deliveries.target(None)
    process, url = start(profile, values)
    try:
        users, api, seen = profile["auth"]["users"], profile["api"], profile["observe"]
        create = api["create_order"]
        made = httpx.request(create["method"], url + create["path"], headers=users["buyer"],
                             json=fill(create["json"], {"amount": "65000.00", "currency": "COP"}))
        assert made.status_code == 201, made.text
        order_id = pick(create["order_id"], made.json())
        pay = api["pay"]["wompi"]
        paid = httpx.request(pay["method"], url + fill(pay["path"], {"order_id": order_id}), headers=users["buyer"],
                             json=fill(pay["json"], {"wompi_card_token": card_token(wompi_sim)}), timeout=30)
        assert paid.status_code == 200, paid.text
        reference, tx_id = pick(pay["reference"], paid.json()), pick(pay["gateway_id"], paid.json())
        dsn = values["database_url"]
        [status] = asyncio.run(observe(dsn, seen["order_status"], order_id=order_id))
        assert status[0] in seen["status_map"]["pending"]

        body = wompi_event(tx_id=tx_id, reference=reference, status="APPROVED", amount_in_cents=6_500_000,
                           secret=values["wompi_events_secret"])
        hook = httpx.post(url + profile["webhooks"]["wompi"], content=body,
                          headers={"content-type": "application/json"})
        assert hook.status_code == 200, hook.text

        [status] = asyncio.run(observe(dsn, seen["order_status"], order_id=order_id))
        [paid_amount] = asyncio.run(observe(dsn, seen["amount_paid"], order_id=order_id))
        transactions = asyncio.run(observe(dsn, seen["transactions"], order_id=order_id))
        [events] = asyncio.run(observe(dsn, seen["webhook_events"], event_id=tx_id))
        assert status[0] in seen["status_map"]["paid"]
        assert float(paid_amount[0]) == 65000.0
        assert [(t["gateway_id"], t["status"]) for t in transactions] == [(tx_id, "APPROVED")]
        assert events[0] == 1

        for statement in profile["database"]["reset"]:
            asyncio.run(observe(dsn, statement))
        assert asyncio.run(observe(dsn, seen["order_count"]))[0][0] == 0
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_the_hardened_shop_refuses_to_start_without_its_events_secret(values):
    """S8's fix: fail closed (exit 2, naming the setting) instead of skipping verification."""
    profile = tomllib.loads((HERE / "target-fixed.toml").read_text())
    env = {**os.environ, **fill(profile["service"]["env"], values), "WOMPI_EVENTS_SECRET": ""}
    done = subprocess.run(fill(profile["service"]["command"], values), cwd=REPO, env=env, capture_output=True,
                          timeout=60, check=False)
    assert (done.returncode, b"WOMPI_EVENTS_SECRET" in done.stderr) == (2, True), done.stderr
