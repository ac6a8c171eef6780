"""The database out of reach (down, or restarting after a crash): a webhook or an API call is answered 503 with
Retry-After — never 200, and not the 500 of a bug — so the gateway delivers the event again."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError

from core.tests.apikit import make_settings, running_core, signed_wompi_event

# Nothing listens on the discard port: every connection attempt is refused, as while Postgres is down.
DOWN = "postgresql+asyncpg://nobody@127.0.0.1:9/payharness"


def _is_database_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    error = response.json()["error"]
    assert error["code"] == "database_unavailable"
    assert error["support_reference"].startswith("SUP-")


async def test_a_signed_webhook_while_the_database_is_down_is_a_503_to_retry() -> None:
    async with running_core(make_settings(DOWN)) as core:
        response = await core.client.post("/webhooks/wompi", content=signed_wompi_event(),
                                          headers={"content-type": "application/json"})
    _is_database_unavailable(response)


async def test_an_api_call_while_the_database_is_down_is_a_503_to_retry() -> None:
    async with running_core(make_settings(DOWN)) as core:
        response = await core.client.post("/orders", json={"amount": "65000.00", "currency": "COP"},
                                          headers=core.auth("buyer-1"))
    _is_database_unavailable(response)


@pytest.mark.parametrize("error", [asyncpg.CannotConnectNowError("the database system is starting up"),
                                   asyncpg.ConnectionDoesNotExistError("connection was closed in the middle"),
                                   ConnectionResetError(104, "reset")])
async def test_a_server_restarting_or_gone_mid_session_is_a_503(error: Exception, monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    from core.webhooks import wompi

    async def fails(*args: Any, **kwargs: Any) -> None:
        raise error

    monkeypatch.setattr(wompi, "record_and_apply", fails)
    async with running_core(make_settings(DOWN)) as core:
        response = await core.client.post("/webhooks/wompi", content=signed_wompi_event(),
                                          headers={"content-type": "application/json"})
    _is_database_unavailable(response)


def _wrapped(orig: Exception, *, invalidated: bool = False) -> DBAPIError:
    """What the API's engine raises: the driver's error inside SQLAlchemy's (raised ``from`` it)."""
    try:
        raise DBAPIError("COMMIT", {}, orig, connection_invalidated=invalidated) from orig
    except DBAPIError as exc:
        return exc


@pytest.mark.parametrize(("error", "status"), [
    (_wrapped(asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")), 503),
    (_wrapped(RuntimeError("closed"), invalidated=True), 503),
    (_wrapped(asyncpg.UndefinedTableError('relation "orders" does not exist')), 500),  # a bug stays a 500
], ids=["commit-cut-by-a-crash", "invalidated", "broken-query"])
async def test_the_apis_engine_errors_are_a_503_only_when_the_server_went_away(
    error: DBAPIError, status: int, database: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.api import orders

    async def fails(*args: Any, **kwargs: Any) -> None:
        raise error

    monkeypatch.setattr(orders, "order_view", fails)
    async with running_core(make_settings(database.url)) as core:
        response = await core.client.post("/orders", json={"amount": "65000.00", "currency": "COP"},
                                          headers=core.auth("buyer-1"))
    if status == 503:
        _is_database_unavailable(response)
    else:
        assert response.status_code == 500, response.text
        assert response.json()["error"]["code"] == "internal_error"
