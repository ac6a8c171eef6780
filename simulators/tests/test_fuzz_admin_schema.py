"""Fuzzing the routes each simulator publishes an OpenAPI schema for (admin, receipts) with schemathesis, live.

The schemas are built from the app factories at collection time, so schemathesis makes one test per
operation (its fixture-based loader does not run under this pytest); a test checks each is the very
document the live simulator serves. Property: never a 5xx.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from simulators.common.serve import ThreadedServer
from simulators.efecty import create_app as efecty_app
from simulators.payu import create_app as payu_app
from simulators.wompi import create_app as wompi_app

EXAMPLES = {"thorough": 200, "ci": 15}.get(os.environ.get("HYPOTHESIS_PROFILE", "dev"), 15)
FACTORIES: dict[str, Callable[[], Any]] = {"payu": payu_app, "wompi": wompi_app, "efecty": efecty_app}
SCHEMA_PATHS = {"payu": "/__admin/openapi.json", "wompi": "/__admin/openapi.json", "efecty": "/openapi.json"}

payu_schema = schemathesis.openapi.from_dict(payu_app().openapi())
wompi_schema = schemathesis.openapi.from_dict(wompi_app().openapi())
efecty_schema = schemathesis.openapi.from_dict(efecty_app().openapi())


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, str]]:
    started = {name: ThreadedServer(factory()).start() for name, factory in FACTORIES.items()}
    yield {name: server.url for name, server in started.items()}
    for server in started.values():
        server.stop()


@pytest.mark.parametrize("gateway", sorted(FACTORIES))
def test_the_fuzzed_schema_is_the_one_the_live_simulator_serves(servers: dict[str, str], gateway: str) -> None:
    served = httpx.get(servers[gateway] + SCHEMA_PATHS[gateway], timeout=5)
    assert served.status_code == 200
    assert served.json() == FACTORIES[gateway]().openapi()


SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))


def _check(case: Any, base_url: str) -> None:
    response = case.call(base_url=base_url, timeout=30)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
    )
    case.validate_response(response, checks=[not_a_server_error])


@payu_schema.parametrize()
@SETTINGS
def test_payu_published_routes_never_answer_5xx(case: Any, servers: dict[str, str]) -> None:
    _check(case, servers["payu"])


@wompi_schema.parametrize()
@SETTINGS
def test_wompi_published_routes_never_answer_5xx(case: Any, servers: dict[str, str]) -> None:
    _check(case, servers["wompi"])


@efecty_schema.parametrize()
@SETTINGS
def test_efecty_published_routes_never_answer_5xx(case: Any, servers: dict[str, str]) -> None:
    _check(case, servers["efecty"])
