"""Settings: flags beat PAYHARNESS_SIM_* variables, which beat the TOML file, which beats the defaults; a bad
value stops the start with one line naming the setting; secrets are never printed in clear."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulators import serve
from simulators.common.settings import ENV_PREFIX, environment_without_settings, settings_table
from simulators.efecty.__main__ import main as efecty_main
from simulators.payu import PayUConfig
from simulators.payu.__main__ import banner as payu_banner
from simulators.payu.__main__ import config_from_args as payu_config
from simulators.payu.__main__ import parse_args as payu_args
from simulators.payu.__main__ import port_from_args as payu_port
from simulators.wompi.__main__ import config_from_args as wompi_config
from simulators.wompi.__main__ import parse_args as wompi_args

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in [n for n in os.environ if n.startswith(ENV_PREFIX)]:
        monkeypatch.delenv(name)


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "sims.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def configs(argv: list[str]) -> dict[str, object]:
    _, settings = serve.parse_args(argv)
    from simulators.common.settings import build_config

    return {g: build_config(settings, g) for g in ("payu", "wompi", "efecty")}


def test_flags_beat_the_environment_which_beats_the_file_which_beats_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, '[payu]\napi_key = "from-file"\napi_login = "login-from-file"\n'
                           'merchant_id = "100"\n[wompi]\nfinalize_delay_seconds = 7.5\n')
    monkeypatch.setenv("PAYHARNESS_SIM_PAYU_API_KEY", "from-env")
    monkeypatch.setenv("PAYHARNESS_SIM_PAYU_API_LOGIN", "login-from-env")
    got = configs(["--config", path, "--payu-api-key", "from-flag"])
    payu = got["payu"]
    assert isinstance(payu, PayUConfig)
    assert payu.api_key == "from-flag"  # flag over env and file
    assert payu.api_login == "login-from-env"  # env over file
    assert payu.merchant_id == "100"  # file over default
    assert payu.public_key == PayUConfig().public_key  # default
    assert got["wompi"].finalize_delay_seconds == 7.5  # type: ignore[attr-defined]


def test_lists_and_tables_come_in_by_every_route(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYHARNESS_SIM_WOMPI_RETRY_SCHEDULE", "[5, 10]")
    path = write(tmp_path, '[efecty]\nretry_schedule = [1, 2, 3]\n[payu]\naccounts = {"900001" = "CO"}\n')
    got = configs(["--config", path, "--payu-retry-schedule", "60,120", "--no-payu-validate-unique-reference"])
    assert got["payu"].retry_schedule == (60.0, 120.0)  # type: ignore[attr-defined]
    assert got["payu"].validate_unique_reference is False  # type: ignore[attr-defined]
    assert got["payu"].credentials()["account_id"] == "900001"  # type: ignore[attr-defined]
    assert got["wompi"].retry_schedule == (5.0, 10.0)  # type: ignore[attr-defined]
    assert got["efecty"].retry_schedule == (1.0, 2.0, 3.0)  # type: ignore[attr-defined]


def test_the_seed_is_fresh_per_start_unless_given(tmp_path: Path) -> None:
    assert configs([])["payu"].seed != configs([])["payu"].seed  # type: ignore[attr-defined]
    assert {c.seed for c in configs(["--seed", "9"]).values()} == {9}  # type: ignore[attr-defined]
    assert configs(["--config", write(tmp_path, "seed = 4\n")])["efecty"].seed == 4  # type: ignore[attr-defined]


BAD = [
    ("unknown TOML key", "[payu]\napi_kee = 'x'\n", [], "[payu] api_kee: no such setting"),
    ("unknown TOML table", "[stripe]\nkey = 'x'\n", [], "stripe: no such setting"),
    ("wrong type in TOML", "[wompi]\nfinalize_delay_seconds = 'soon'\n", [], "setting wompi.finalize_delay_seconds"),
    ("empty secret in TOML", "[wompi]\nevents_secret = ''\n", [], "wompi.events_secret"),
    ("empty secret by flag", "", ["--efecty-notify-secret", ""], "efecty.notify_secret"),
    ("empty identifier", "", ["--payu-merchant-id", ""], "payu.merchant_id"),
    ("no PayU account", "[payu]\naccounts = {}\n", [], "payu.accounts"),
    ("unknown signing", "", ["--payu-webhook-signing", "CRC32"], "--payu-webhook-signing"),
    ("not TOML", "[payu\n", [], "not valid TOML"),
]


@pytest.mark.parametrize(("toml", "argv", "named"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_setting_stops_the_start_with_one_line_naming_it(
    toml: str, argv: list[str], named: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        serve.parse_args(["--config", write(tmp_path, toml), *argv])
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip()
    assert named in err and len(err.splitlines()) <= 2, err
    assert err.splitlines()[-1].startswith("payharness simulators: error:"), err


def test_a_bad_environment_value_and_an_unknown_variable_are_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PAYHARNESS_SIM_PAYU_CASH_EXPIRY_DAYS", "seven")
    with pytest.raises(SystemExit):
        serve.parse_args([])
    assert "PAYHARNESS_SIM_PAYU_CASH_EXPIRY_DAYS" in capsys.readouterr().err
    monkeypatch.delenv("PAYHARNESS_SIM_PAYU_CASH_EXPIRY_DAYS")
    monkeypatch.setenv("PAYHARNESS_SIM_PAYU_APIKEY", "typo")
    with pytest.raises(SystemExit):
        serve.parse_args([])
    assert "PAYHARNESS_SIM_PAYU_APIKEY: no such setting" in capsys.readouterr().err


def test_a_missing_config_file_is_named(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        serve.parse_args(["--config", str(tmp_path / "absent.toml")])
    assert "absent.toml: no such file" in capsys.readouterr().err


def test_one_gateway_runners_read_the_same_file_and_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, 'seed = 3\n[payu]\napi_key = "file-key-0123456789"\nport = 18081\n'
                           '[wompi]\nintegrity_secret = "file-integrity"\n')
    monkeypatch.setenv("PAYHARNESS_SIM_WOMPI_PRIVATE_KEY", "prv_test_env")
    args = payu_args(["--config", path, "--merchant-id", "555"])
    payu = payu_config(args)
    assert (payu.api_key, payu.merchant_id, payu.seed, payu_port(args)) == ("file-key-0123456789", "555", 3, 18081)
    assert payu_port(payu_args(["--config", path, "--port", "0"])) == 0
    text = payu_banner(payu, 18081)
    assert "file-key-0123456789" not in text and "****6789" in text and "555" in text
    wompi = wompi_config(wompi_args(["--config", path, "--events-url", "http://127.0.0.1:9/e"]))
    assert (wompi.private_key, wompi.integrity_secret, wompi.events_url) == (
        "prv_test_env", "file-integrity", "http://127.0.0.1:9/e")


def test_the_efecty_runner_refuses_a_bad_setting_before_binding(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        efecty_main(["--merchant-api-key", ""])
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and "efecty.merchant_api_key (--merchant-api-key," in err, err


def test_the_readme_lists_every_setting_as_the_code_knows_them() -> None:
    assert settings_table() in README.read_text(encoding="utf-8")


def test_a_child_given_the_parents_settings_as_variables_builds_the_same_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`payharness simulators` resolves once and hands each child its config as PAYHARNESS_SIM_* variables."""
    from simulators.common.settings import child_environment

    path = write(tmp_path, '[payu]\naccounts = {"900001" = "CO"}\nretry_schedule = [1.5, 2]\n'
                           '[wompi]\nevents_secret = "s3cret-from-file-0001"\n[efecty]\nmax_amount = "123.45"\n')
    parent = configs(["--config", path, "--wompi-events-url", "http://127.0.0.1:9/x",
                      "--no-payu-verify-request-signature"])
    for gateway, config in parent.items():
        with monkeypatch.context() as m:
            for name, value in child_environment(config, gateway).items():
                m.setenv(name, value)
            child = configs([])[gateway]
        assert child == config, gateway


def test_a_childs_base_environment_drops_every_simulator_setting_and_keeps_the_rest() -> None:
    """What the stack and ``payharness simulators`` hand a child before adding the settings they resolved."""
    environ = {"PAYHARNESS_SIM_PAYU_API_KEY": "mine", "payharness_sim_seed": "3", "PATH": "/bin",
               "PAYHARNESS_ARTEFACTS": "/a", "MY_PAYHARNESS_SIM_NOTE": "kept"}
    assert environment_without_settings(environ) == {"PATH": "/bin", "PAYHARNESS_ARTEFACTS": "/a",
                                                     "MY_PAYHARNESS_SIM_NOTE": "kept"}


def test_the_base_environment_defaults_to_this_processs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYHARNESS_SIM_WOMPI_EVENTS_URL", "http://127.0.0.1:9/elsewhere")
    monkeypatch.setenv("PAYHARNESS_OTHER_SETTING", "kept")
    env = environment_without_settings()
    assert "PAYHARNESS_SIM_WOMPI_EVENTS_URL" not in env and env["PAYHARNESS_OTHER_SETTING"] == "kept"


def test_a_simulator_child_gets_the_settings_its_runner_resolved_not_the_callers_own(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``payharness simulators`` resolves the settings once; a PAYHARNESS_SIM_* variable set after that (or one
    the user meant for another gateway) must not reach the child beside them."""
    _, settings = serve.parse_args(["--payu-api-key", "from-flag"])
    monkeypatch.setenv("PAYHARNESS_SIM_PAYU_API_KEY", "the-callers-own")
    monkeypatch.setenv("PAYHARNESS_SIM_WOMPI_EVENTS_URL", "http://127.0.0.1:9/elsewhere")
    service, _ = serve._start("payu", settings, tmp_path)
    try:
        sim = {k: v for k, v in service.env.items() if k.startswith(ENV_PREFIX)}
    finally:
        service.sock.close()
    assert sim["PAYHARNESS_SIM_PAYU_API_KEY"] == "from-flag"
    assert "PAYHARNESS_SIM_WOMPI_EVENTS_URL" not in sim
