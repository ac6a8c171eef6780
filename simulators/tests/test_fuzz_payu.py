"""Fuzzing PayU's service.cgi endpoints (they publish no schema): every answer is PayU's envelope, never a 5xx."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulators.payu import create_app
from simulators.payu.routes import PAYMENTS_PATH, QUERIES_PATH
from simulators.payu.testing import card_request, cash_request, command, pse_request
from simulators.tests._fuzz import FUZZ, FUZZ_RICH, RAW_BODIES, encode, hostile_path_text, mutated, send

_n = itertools.count()

# Valid starting points; a reference is made unique per example so duplicates do not mask deeper checks.
SEEDS: dict[str, Callable[[str], dict[str, Any]]] = {
    "card": lambda ref: card_request(ref),
    "cash": lambda ref: cash_request(ref),
    "pse": lambda ref: pse_request(ref),
    "ping": lambda _: command("PING"),
    "banks": lambda _: command("GET_BANKS_LIST", bankListInformation={"paymentMethod": "PSE", "paymentCountry": "CO"}),
    "methods": lambda _: command("GET_PAYMENT_METHODS"),
}
QUERY_SEEDS: dict[str, Callable[[str], dict[str, Any]]] = {
    "order": lambda _: command("ORDER_DETAIL", details={"orderId": 1400100000}),
    "reference": lambda ref: command("ORDER_DETAIL_BY_REFERENCE_CODE", details={"referenceCode": ref}),
    "transaction": lambda _: command("TRANSACTION_RESPONSE_DETAIL", details={"transactionId": "x"}),
    "ping": lambda _: command("PING"),
}


@pytest.fixture
def payu(live_server: Callable[[Any], str]) -> Iterator[tuple[Any, httpx.Client]]:
    app = create_app()
    with httpx.Client(base_url=live_server(app), timeout=10) as client:
        yield app, client


def payu_envelope(key: str) -> Callable[[httpx.Response], None]:
    """PayU answers 200 (the configured error status) with SUCCESS or an ERROR envelope naming the problem."""

    def check(response: httpx.Response) -> None:
        assert response.status_code == 200, response.text[:300]
        data = response.json()
        assert data["code"] in ("SUCCESS", "ERROR")
        if data["code"] == "ERROR":
            assert data == {"code": "ERROR", "error": data["error"], key: None}
            assert isinstance(data["error"], str) and data["error"]

    return check


def bodies(
    seeds: dict[str, Callable[[str], dict[str, Any]]], *, rich: tuple[str, ...] = ()
) -> st.SearchStrategy[bytes]:
    """Mostly mutated seeds (the ``rich`` ones, which reach the most checks, three times as often), else raw bytes."""
    names = sorted(seeds) + [name for name in rich for _ in range(2)]
    seeded = st.sampled_from(names).flatmap(lambda name: mutated(seeds[name](f"fz-{next(_n)}")))
    return st.one_of(seeded.map(encode), seeded.map(encode), seeded.map(encode), st.sampled_from(RAW_BODIES))


@FUZZ_RICH
@given(
    body=bodies(SEEDS, rich=("card", "cash", "pse")),
    content_type=st.sampled_from(["application/json", "text/plain", "application/xml"]),
)
def test_payments_api_answers_every_body_with_payus_envelope(
    payu: tuple[Any, httpx.Client], body: bytes, content_type: str
) -> None:
    app, client = payu
    send(
        client,
        app,
        "POST",
        PAYMENTS_PATH,
        content=body,
        headers={"content-type": content_type},
        shape=payu_envelope("transactionResponse"),
    )


@FUZZ
@given(body=bodies(QUERY_SEEDS))
def test_queries_api_answers_every_body_with_payus_envelope(payu: tuple[Any, httpx.Client], body: bytes) -> None:
    app, client = payu
    send(
        client,
        app,
        "POST",
        QUERIES_PATH,
        content=body,
        headers={"content-type": "application/json"},
        shape=payu_envelope("result"),
    )


def _not_found_or_page(response: httpx.Response) -> None:
    assert response.status_code in (200, 404, 422)


@FUZZ
@given(vid=hostile_path_text(), page=st.sampled_from(["app/v2", "receipt"]))
def test_receipt_pages_never_fail_on_an_odd_voucher_id(payu: tuple[Any, httpx.Client], vid: str, page: str) -> None:
    app, client = payu
    send(client, app, "GET", f"/ppp-web-gateway-payu/{page}?vid={vid}", shape=_not_found_or_page)
