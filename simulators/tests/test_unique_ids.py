"""Ids a simulator hands out differ from one start to the next unless a seed is given (then they repeat)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from simulators.efecty import EfectyConfig
from simulators.efecty.state import EfectyBook
from simulators.payu import PayUConfig
from simulators.payu.state import PayUStore
from simulators.wompi import WompiConfig
from simulators.wompi.state import WompiState

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def payu_ids(config: PayUConfig) -> list[object]:
    store = PayUStore(seed=config.seed)
    return [(store.next_order_id(), store.new_uuid()) for _ in range(5)]


def wompi_ids(config: WompiConfig) -> list[str]:
    state = WompiState(config)
    return [state.new_transaction_id(NOW) for _ in range(5)]


def efecty_operations(config: EfectyConfig) -> list[str]:
    book = EfectyBook(seed=config.seed)
    return [book.inject(f"C{i}", Decimal("1000"), "PT-1", NOW).operation_id for i in range(5)]


def efecty_authorizations(config: EfectyConfig) -> list[str]:
    book = EfectyBook(seed=config.seed)
    return [book.inject(f"C{i}", Decimal("1000"), "PT-1", NOW).authorization_code for i in range(5)]


CASES = [
    pytest.param(PayUConfig, payu_ids, id="payu order and transaction ids"),
    pytest.param(WompiConfig, wompi_ids, id="wompi transaction ids"),
    pytest.param(EfectyConfig, efecty_operations, id="efecty operation ids"),
    pytest.param(EfectyConfig, efecty_authorizations, id="efecty authorization codes"),
]


@pytest.mark.parametrize(("config_class", "ids"), CASES)
def test_two_unseeded_starts_hand_out_different_ids(config_class, ids) -> None:
    first, second = ids(config_class()), ids(config_class())
    assert first != second
    assert not set(first) & set(second)


@pytest.mark.parametrize(("config_class", "ids"), CASES)
def test_the_same_seed_hands_out_the_same_ids(config_class, ids) -> None:
    assert ids(config_class(seed=42)) == ids(config_class(seed=42))
    assert ids(config_class(seed=42)) != ids(config_class(seed=43))
