"""pytest fixtures that run the PayU, Wompi and Efecty simulators for an application's own test suite.

Opt in with ``-p payharness.simulators`` (the installed entry point) or ``-p simulators.pytest_plugin``,
e.g. ``addopts = "-p payharness.simulators"`` under ``[tool.pytest.ini_options]``. Then::

    def test_checkout(wompi_sim, serve_app):
        shop_url = serve_app(create_shop(wompi_url=wompi_sim.url, **wompi_sim.credentials))
        wompi_sim.deliveries.target(shop_url + "/webhooks/wompi")
        ...
        wompi_sim.journal.assert_one("CREATE_TRANSACTION", reference="order-1")

Each simulator starts once per session, on the first test that asks for it: uvicorn in a background
thread serving a socket already bound to a free port (no pick-then-bind race). Each test gets it
reset. Credentials come from ``<gateway>_sim_config`` (override it, session-scoped) or from ini lines
``payharness_<gateway> = field=value``.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterator
from dataclasses import fields, replace
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, TypeVar

import pytest

from simulators.admin_client import Gateway, SimulatorAdmin
from simulators.common.serve import ThreadedServer
from simulators.efecty import EfectyConfig
from simulators.efecty import create_app as efecty_app
from simulators.payu import PayUConfig
from simulators.payu import create_app as payu_app
from simulators.wompi import WompiConfig
from simulators.wompi import create_app as wompi_app

ConfigT = TypeVar("ConfigT")

_FACTORIES: dict[str, tuple[type[Any], Callable[[Any], Any]]] = {
    "payu": (PayUConfig, payu_app),
    "wompi": (WompiConfig, wompi_app),
    "efecty": (EfectyConfig, efecty_app),
}
_SECRET_ENDINGS = ("_key", "_secret")
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


class Simulator(SimulatorAdmin, Generic[ConfigT]):
    """One running simulator: its base ``url``, the ``config`` it runs with, and its admin client.

    Usage: ``httpx.post(wompi_sim.url + "/v1/transactions", ...)``; ``wompi_sim.config.private_key``;
    ``wompi_sim.clock.advance(1800)``.
    """

    def __init__(self, gateway: Gateway, base_url: str, config: ConfigT) -> None:
        super().__init__(gateway, base_url)
        self.config = config

    @property
    def url(self) -> str:
        """Base URL of the simulator's public API, e.g. ``http://127.0.0.1:41237``."""
        return self.base_url

    @property
    def credentials(self) -> dict[str, str]:
        """The identifiers and keys a merchant needs (the config's own ``credentials()`` where it has one)."""
        own = getattr(self.config, "credentials", None)
        if callable(own):
            return {k: str(v) for k, v in own().items()}
        config: Any = self.config
        return {f.name: str(getattr(config, f.name)) for f in fields(config) if f.name.endswith(_SECRET_ENDINGS)}


def pytest_addoption(parser: pytest.Parser) -> None:
    for gateway in _FACTORIES:
        parser.addini(
            f"payharness_{gateway}",
            type="linelist",
            default=[],
            help=f"simulated {gateway} settings, one 'field = value' per line (fields of its config dataclass)",
        )


def config_from_ini(pytestconfig: pytest.Config, gateway: str) -> Any:
    """The gateway's config dataclass with the ini lines ``payharness_<gateway>`` applied to its defaults.

    Only text, number, Decimal and true/false fields can be set this way; fault and chaos plans and
    tuples go through a ``<gateway>_sim_config`` fixture. Usage: ``config_from_ini(pytestconfig, "payu")``.
    """
    config_class, _ = _FACTORIES[gateway]
    hints = typing.get_type_hints(config_class)
    changes: dict[str, Any] = {}
    for line in pytestconfig.getini(f"payharness_{gateway}"):
        name, sep, text = (part.strip() for part in line.partition("="))
        if not sep or name not in hints:
            known = ", ".join(f.name for f in fields(config_class))
            raise pytest.UsageError(f"payharness_{gateway}: {line!r} is not 'field = value' with a field of {known}")
        changes[name] = _convert(f"payharness_{gateway}: {name}", hints[name], text)
    return replace(config_class(), **changes)


def _convert(where: str, hint: Any, text: str) -> Any:
    args = typing.get_args(hint)
    if type(None) in args:
        if text.lower() in {"", "none", "null"}:
            return None
        hint = next(a for a in args if a is not type(None))
    try:
        if hint is bool:
            if text.lower() not in _TRUE | _FALSE:
                raise ValueError(text)
            return text.lower() in _TRUE
        if hint in (str, int, float, Decimal):
            return hint(text)
    except (ValueError, InvalidOperation):
        raise pytest.UsageError(f"{where}: {text!r} is not a valid {hint.__name__}") from None
    raise pytest.UsageError(f"{where} cannot be set in the ini file; override the fixture with the config instead")


def _run(gateway: Gateway, config: Any) -> Iterator[Simulator[Any]]:
    _, create_app = _FACTORIES[gateway]
    with ThreadedServer(create_app(config)) as server, Simulator(gateway, server.url, config) as sim:
        yield sim


@pytest.fixture(scope="session")
def payu_sim_config(pytestconfig: pytest.Config) -> PayUConfig:
    """The PayU simulator's config for the session; override (session scope) to use your own credentials.

    Usage: ``@pytest.fixture(scope="session") def payu_sim_config(): return PayUConfig(api_key="...")``
    """
    config: PayUConfig = config_from_ini(pytestconfig, "payu")
    return config


@pytest.fixture(scope="session")
def wompi_sim_config(pytestconfig: pytest.Config) -> WompiConfig:
    """The Wompi simulator's config for the session; override (session scope) to use your own keys.

    Usage: ``@pytest.fixture(scope="session") def wompi_sim_config(): return WompiConfig(public_key="pub_test_x")``
    """
    config: WompiConfig = config_from_ini(pytestconfig, "wompi")
    return config


@pytest.fixture(scope="session")
def efecty_sim_config(pytestconfig: pytest.Config) -> EfectyConfig:
    """The Efecty simulator's config for the session; override (session scope) to use your own keys.

    Usage: ``@pytest.fixture(scope="session") def efecty_sim_config(): return EfectyConfig(convenio="123")``
    """
    config: EfectyConfig = config_from_ini(pytestconfig, "efecty")
    return config


@pytest.fixture(scope="session")
def payu_sim_session(payu_sim_config: PayUConfig) -> Iterator[Simulator[PayUConfig]]:
    """The PayU simulator running for the whole session, not reset between tests (prefer ``payu_sim``)."""
    yield from _run("payu", payu_sim_config)


@pytest.fixture(scope="session")
def wompi_sim_session(wompi_sim_config: WompiConfig) -> Iterator[Simulator[WompiConfig]]:
    """The Wompi simulator running for the whole session, not reset between tests (prefer ``wompi_sim``)."""
    yield from _run("wompi", wompi_sim_config)


@pytest.fixture(scope="session")
def efecty_sim_session(efecty_sim_config: EfectyConfig) -> Iterator[Simulator[EfectyConfig]]:
    """The Efecty simulator running for the whole session, not reset between tests (prefer ``efecty_sim``)."""
    yield from _run("efecty", efecty_sim_config)


@pytest.fixture
def payu_sim(payu_sim_session: Simulator[PayUConfig]) -> Simulator[PayUConfig]:
    """The session's PayU simulator, reset for this test. Usage: ``payu_sim.url``, ``payu_sim.clock.advance(60)``."""
    payu_sim_session.reset()
    return payu_sim_session


@pytest.fixture
def wompi_sim(wompi_sim_session: Simulator[WompiConfig]) -> Simulator[WompiConfig]:
    """The session's Wompi simulator, reset for this test. Usage: ``wompi_sim.url``, ``wompi_sim.journal``."""
    wompi_sim_session.reset()
    return wompi_sim_session


@pytest.fixture
def efecty_sim(efecty_sim_session: Simulator[EfectyConfig]) -> Simulator[EfectyConfig]:
    """The session's Efecty simulator, reset for this test. Usage: ``efecty_sim.url``, ``efecty_sim.faults``."""
    efecty_sim_session.reset()
    return efecty_sim_session


@pytest.fixture
def serve_app() -> Iterator[Callable[[Any], str]]:
    """Serve your application (any ASGI app) over real HTTP on a free 127.0.0.1 port for this test.

    Webhooks need a URL the simulator can reach. Usage: ``shop_url = serve_app(create_shop(...))``;
    the app's lifespan runs, and the server stops after the test.
    """
    servers: list[ThreadedServer] = []

    def start(app: Any) -> str:
        server = ThreadedServer(app).start()
        servers.append(server)
        return server.url

    yield start
    for server in reversed(servers):
        server.stop()
