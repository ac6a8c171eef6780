"""Property-based fuzzing of every operation in the core's own OpenAPI schema (schemathesis), live over HTTP.

schemathesis draws requests that fit the published schema and requests that break it (both generation
modes), per operation. Each is sent with a token of the role the operation wants (a buyer's, an admin's
for ``/admin/*``), and the answer is held to the suite's invariants: never a 5xx; a refusal charged
nothing at any simulator and wrote nothing in any core table.

The schema is the one the core's app factory builds, loaded at collection time so that schemathesis
makes one test per operation (its fixture-based loader does not run under this pytest); a test checks
that it is the very document the live core serves.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from core.app import create_app
from core.settings import Settings
from suites.conftest import Live
from suites.hostile.invariants import Witness, assert_5xx_quotes_a_reference
from suites.support.api import Actor

# Per operation. dev and ci keep the whole schema well under a minute; thorough digs.
EXAMPLES = {"thorough": 300, "ci": 20}.get(os.environ.get("HYPOTHESIS_PROFILE", "dev"), 10)


def core_openapi() -> dict[str, Any]:
    """The core's OpenAPI document, built in process: it depends on the code only, not on settings' values."""
    unused = "unused-placeholder-value-of-at-least-32-bytes"
    settings_ = Settings.model_validate({
        "db": {"url": "postgresql+asyncpg://unused@127.0.0.1:1/unused"},
        "payu": {"merchant_id": "1", "account_id": "1", "api_login": unused, "api_key": unused},
        "wompi": {"public_key": "pub_test_x", "private_key": unused, "integrity_secret": unused,
                  "events_secret": unused},
        "efecty": {"base_url": "http://127.0.0.1:1", "api_key": unused, "convenio": "1"},
        "auth": {"token_secret": unused},
    })
    return create_app(settings_).openapi()


schema = schemathesis.openapi.from_dict(core_openapi())


@pytest.fixture
def witness(live: Live) -> Iterator[Witness]:
    with Witness(live) as witnessing:
        yield witnessing


@pytest.mark.scenario("API-HOSTILE-INPUT")
async def test_the_fuzzed_schema_is_the_one_the_live_core_serves(live: Live, core: httpx.AsyncClient) -> None:
    served = await core.get("/openapi.json")
    assert served.status_code == 200
    assert served.json() == core_openapi()


@pytest.mark.scenario("API-HOSTILE-INPUT")
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_request_gets_a_5xx_or_changes_anything_when_refused(
    case: Any, live: Live, witness: Witness
) -> None:
    actor = Actor.admin(live) if case.path.startswith("/admin/") else Actor.buyer(live)
    before = witness.snapshot()
    response = case.call(base_url=live.urls["core"], headers=actor.headers, timeout=30)
    what = f"{case.method} {case.formatted_path}"
    assert_5xx_quotes_a_reference(response.status_code, response.content, what)
    case.validate_response(response, checks=[not_a_server_error])
    witness.check(response.status_code, response.content, before, what)
