"""The pytest plugin and its admin client: opt-in, per-test reset, faults, journal, deliveries, targets."""

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulators.common import HttpError, Latency
from simulators.common.receiver import WebhookReceiver
from simulators.pytest_plugin import Simulator, _convert

ONE_TEST = """
def test_uses_the_simulator(wompi_sim):
    assert wompi_sim.config.public_key == "pub_test_from_ini"
    merchant = wompi_sim.url + "/v1/merchants/pub_test_from_ini"
    import httpx
    assert httpx.get(merchant).status_code == 200
"""


def _pytest(
    tmp_path: Path, *args: str, ini: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "pytest.ini").write_text("[pytest]\n" + textwrap.dedent(ini))
    (tmp_path / "test_one.py").write_text(ONE_TEST)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


WOMPI_INI = "payharness_wompi =\n    public_key = pub_test_from_ini\n"


def test_the_fixtures_exist_only_when_a_run_opts_in(tmp_path: Path) -> None:
    without = _pytest(tmp_path, ini=WOMPI_INI)
    assert without.returncode != 0
    assert "fixture 'wompi_sim' not found" in without.stdout

    with_entry_point = _pytest(tmp_path, "-p", "payharness.simulators", ini=WOMPI_INI)
    assert with_entry_point.returncode == 0, with_entry_point.stdout + with_entry_point.stderr
    assert "1 passed" in with_entry_point.stdout


def test_the_module_name_opts_in_with_plugin_autoload_disabled(tmp_path: Path) -> None:
    run = _pytest(tmp_path, "-p", "simulators.pytest_plugin", ini=WOMPI_INI,
                  env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout


def test_an_ini_line_naming_no_config_field_is_a_usage_error(tmp_path: Path) -> None:
    run = _pytest(
        tmp_path,
        "-p",
        "simulators.pytest_plugin",
        ini="payharness_wompi =\n    publik_key = x\n",
        env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )
    assert run.returncode != 0
    assert "publik_key" in run.stdout + run.stderr
    assert "public_key" in run.stdout + run.stderr


@pytest.mark.parametrize(
    ("hint", "text", "expected"),
    [
        (str, "pub_test_x", "pub_test_x"),
        (int, "118437", 118437),
        (float, "0.5", 0.5),
        (bool, "true", True),
        (bool, "off", False),
        (Decimal, "1000.00", Decimal("1000.00")),
        (str | None, "none", None),
        (str | None, "http://127.0.0.1:9/hook", "http://127.0.0.1:9/hook"),
        (float | None, "30", 30.0),
    ],
)
def test_ini_values_convert_to_the_config_fields_type(hint: Any, text: str, expected: object) -> None:
    value = _convert("field", hint, text)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("hint", "text"), [(int, "12x"), (bool, "maybe"), (Decimal, "1,000"), (tuple[float, ...], "1")]
)
def test_ini_values_that_do_not_fit_are_usage_errors(hint: Any, text: str) -> None:
    with pytest.raises(pytest.UsageError, match="field"):
        _convert("field", hint, text)


def test_each_test_gets_the_simulator_reset(wompi_sim_session: Simulator[Any], request: pytest.FixtureRequest) -> None:
    dirty = wompi_sim_session
    dirty.faults.inject(HttpError(503), path="/v1/*")
    dirty.deliveries.target("http://127.0.0.1:9/elsewhere")
    dirty.clock.advance(3600)
    httpx.get(dirty.url + "/v1/merchants/x")
    assert dirty.journal.entries("request")

    clean: Simulator[Any] = request.getfixturevalue("wompi_sim")

    assert clean is dirty
    assert clean.faults.plan().rules == ()
    assert clean.journal.entries("request") == []
    assert clean.deliveries.current_target() is None
    assert datetime.fromisoformat(clean.clock.now()) < datetime.now().astimezone() + timedelta(minutes=1)


def test_faults_are_added_in_order_counted_and_cleared(wompi_sim: Simulator[Any]) -> None:
    wompi_sim.faults.inject(Latency(1), path="/v1/merchants/*")
    wompi_sim.faults.inject(HttpError(502), path="/v1/merchants/*", method="GET", count=1)
    merchant = f"{wompi_sim.url}/v1/merchants/{wompi_sim.config.public_key}"

    assert httpx.get(merchant).status_code == 502
    assert httpx.get(merchant).status_code == 200
    assert wompi_sim.faults.applied() == [2, 1]

    wompi_sim.faults.clear()
    assert wompi_sim.faults.plan().rules == ()


def test_the_clock_moves_forward_and_runs_what_came_due(efecty_sim: Simulator[Any]) -> None:
    before = datetime.fromisoformat(efecty_sim.clock.now())
    efecty_sim.clock.advance(86_400)
    assert datetime.fromisoformat(efecty_sim.clock.now()) - before >= timedelta(days=1)


def _register(efecty_sim: Simulator[Any], code: str) -> None:
    expires = (datetime.fromisoformat(efecty_sim.clock.now()) + timedelta(days=3)).isoformat()
    body = {"payment_code": code, "amount": "65000.00", "currency": "COP", "expires_at": expires,
            "reference": f"ref-{code}"}
    headers = {"Authorization": f"Bearer {efecty_sim.config.merchant_api_key}"}
    assert httpx.post(efecty_sim.url + "/api/v1/vouchers", json=body, headers=headers).status_code == 201


def test_journal_assertions_count_the_calls_for_one_reference(efecty_sim: Simulator[Any]) -> None:
    _register(efecty_sim, "C-1")
    _register(efecty_sim, "C-2")

    entry = efecty_sim.journal.assert_one("register", reference="C-1")
    assert entry["summary"]["amount"] == "65000.00"
    efecty_sim.journal.assert_count(2, "register")
    efecty_sim.journal.assert_count(0, "register", reference="C-3")
    with pytest.raises(AssertionError, match="expected 1 register for reference 'C-3', the journal holds 0"):
        efecty_sim.journal.assert_one("register", reference="C-3")
    with pytest.raises(AssertionError, match="expected 1 register, the journal holds 2"):
        efecty_sim.journal.assert_one("register")


def test_deliveries_follow_the_target_and_can_be_waited_for(
    efecty_sim: Simulator[Any], serve_app: Callable[[Any], str]
) -> None:
    first, second = WebhookReceiver(), WebhookReceiver(statuses=[500])
    first_url, second_url = serve_app(first.app()) + "/hook", serve_app(second.app()) + "/hook"

    efecty_sim.deliveries.target(first_url)
    assert efecty_sim.deliveries.current_target() == first_url
    _register(efecty_sim, "C-1")
    efecty_sim.post("/__admin/vouchers/C-1/pay")
    [attempt] = efecty_sim.deliveries.wait(url=first_url, outcome="delivered")
    assert attempt["status"] == 200
    assert len(first.received) == 1

    efecty_sim.deliveries.target(second_url)
    _register(efecty_sim, "C-2")
    efecty_sim.post("/__admin/vouchers/C-2/pay")
    efecty_sim.deliveries.wait(url=second_url, outcome="retry_scheduled")
    efecty_sim.clock.advance(60)
    efecty_sim.deliveries.wait(url=second_url, outcome="delivered")
    assert [a["status"] for a in efecty_sim.deliveries.attempts(url=second_url)] == [500, 200]
    assert len(first.received) == 1


def test_payu_confirmations_follow_the_account_target(
    payu_sim: Simulator[Any], serve_app: Callable[[Any], str]
) -> None:
    receiver = WebhookReceiver()
    url = serve_app(receiver.app()) + "/payu"
    payu_sim.deliveries.target(url)
    assert payu_sim.deliveries.current_target() == url
    payu_sim.deliveries.target(None)
    assert payu_sim.deliveries.current_target() is None
    with pytest.raises(httpx.HTTPStatusError):
        payu_sim.deliveries.target("ftp://nowhere")


def test_waiting_for_a_delivery_that_never_comes_fails_with_what_did(wompi_sim: Simulator[Any]) -> None:
    with pytest.raises(AssertionError, match=r"waited 0.1s for 1 webhook attempt\(s\) to http://x/hook"):
        wompi_sim.deliveries.wait(url="http://x/hook", timeout=0.1)


def test_the_readme_snippet_is_the_example_shops_test_code() -> None:
    root = Path(__file__).resolve().parents[2]
    readme = (root / "simulators" / "README.md").read_text()
    section = readme.split("## Use the simulators in your own test suite", 1)[1]
    snippet = section.split("```python\n", 1)[1].split("```", 1)[0]
    tests = (root / "examples" / "shop_checkout" / "tests" / "test_checkout.py").read_text()
    assert "def test_" in snippet and "wompi_sim" in snippet
    assert snippet in tests


@pytest.mark.parametrize("gateway", ["payu", "efecty"])
def test_a_reset_restores_the_configured_delivery_target(gateway: str, request: pytest.FixtureRequest) -> None:
    sim: Simulator[Any] = request.getfixturevalue(f"{gateway}_sim")
    sim.deliveries.target("http://127.0.0.1:9/moved")
    assert sim.deliveries.current_target() == "http://127.0.0.1:9/moved"
    sim.reset()
    assert sim.deliveries.current_target() is None
