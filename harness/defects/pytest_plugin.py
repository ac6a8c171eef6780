"""pytest plugin: which seeded defects this session's stack and template database carry (none by default).

``payharness defects`` runs the suites with ``--seed-defects NAME --seed-record DIR``; the root conftest's
``db_factory`` takes the value from the ``seeding`` fixture, and the suites' ``stack`` from ``db_factory``.
An unknown name stops the run before anything starts.

Usage: registered by the root conftest (``pytest_plugins``); ``pytest suites/races --seed-defects no_row_lock``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.defects import Seeding


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("payharness-defects", "seeded defects (the detection matrix)")
    group.addoption("--seed-defects", default="", metavar="A,B",
                    help="start the session's core and template database with these seeded defects")
    group.addoption("--seed-record", default=None, metavar="DIR",
                    help="folder where whatever applies a seeded defect records that it did")


def seeding_of(config: pytest.Config) -> Seeding:
    """The session's seeding, from the command line."""
    record = config.getoption("--seed-record", default=None)
    return Seeding.named(str(config.getoption("--seed-defects", default="")).split(","),
                         Path(record) if record else None)


def pytest_configure(config: pytest.Config) -> None:
    try:
        seeding_of(config)
    except KeyError as exc:
        raise pytest.UsageError(f"--seed-defects: {exc.args[0]}") from None


@pytest.fixture(scope="session")
def seeding(pytestconfig: pytest.Config) -> Seeding:
    """The seeded defects of this session (an empty ``Seeding`` unless ``--seed-defects`` names some)."""
    return seeding_of(pytestconfig)
